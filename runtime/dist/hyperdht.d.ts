// Minimal ambient types for hyperdht (it ships none); only what runtime/dist and its tests use.
declare module 'hyperdht' {
  const HyperDHT: any;
  export default HyperDHT;
}
declare module 'hyperdht/testnet.js' {
  const createTestnet: (size?: number, options?: { host?: string; port?: number; bootstrap?: unknown[] }) => Promise<{
    bootstrap: { host: string; port: number }[];
    nodes: unknown[];
    createNode(options?: Record<string, unknown>): any;
    destroy(): Promise<void>;
  }>;
  export default createTestnet;
}
