// Minimal ambient types for sodium-native (it ships none); only the AEAD that seal.ts uses.
declare module 'sodium-native' {
  const sodium: {
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(
      ciphertext: Uint8Array,
      mac: Uint8Array,
      message: Uint8Array,
      additionalData: Uint8Array | null,
      nsec: null,
      nonce: Uint8Array,
      key: Uint8Array,
    ): void;
    /** Throws if the mac does not verify (then `message` is left as it was). */
    crypto_aead_chacha20poly1305_ietf_decrypt_detached(
      message: Uint8Array,
      nsec: null,
      ciphertext: Uint8Array,
      mac: Uint8Array,
      additionalData: Uint8Array | null,
      nonce: Uint8Array,
      key: Uint8Array,
    ): void;
  };
  export default sodium;
}
