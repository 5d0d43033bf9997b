/**
 * `encodeEntries`: a run of Raft log entries encoded exactly as `encodeRecords` (msgpackr with
 * records, `runtime/codec.ts`) encodes it — byte for byte — by `EntryWriter`, for the values
 * entries are made of: plain objects (as records), arrays, strings, numbers, booleans, null,
 * undefined, pids and refs. Anything else (or more shapes in one run than msgpackr numbers in one
 * byte) makes the writer give up, and `encodeRecords` encodes the run.
 *
 * Why: the leader encodes every batch it appends once, and msgpackr's general encoder took about
 * 0.8–1.6 µs per registration entry for it (some 11% of the leader's main thread under load);
 * the writer takes about half that (`npm run bench -- wire`). The bytes must not change: they
 * are the log's format, which followers and stores of every release read.
 *
 * What msgpackr writes (1.12, `Packr({ useRecords: true, moreTypes: true })`, no shared
 * structures), and so what the writer writes:
 *   - a plain object (`constructor === Object`) as a record: the first object of a key sequence in
 *     one `pack` call is `d4 72 <id>` (fixext1 'r'), its keys as an array of strings, then its
 *     values; later objects of that sequence in the same call are `<id>` and the values. Ids go
 *     from 0x40 up in order of first appearance, starting again at 0x40 in every call (the ids
 *     are cleared when a call ends; only the trie of key sequences stays). Past 64 shapes msgpackr
 *     reuses ids, forgetting the oldest: the writer gives up at the 65th.
 *   - integers 0–0x3f as one byte; 0x40–0xff as `cc xx` (0x40–0x7f are record ids); then `cd`,
 *     `ce`; negative 32-bit integers as fixint, `d0`, `d1`, `d2`; every other number (floats,
 *     NaN, ±Infinity, integers of 2^32 and up or below -2^31) as float64. -0 is written as 0.
 *   - strings by their UTF-8 length (fixstr, str8, str16, str32); below 64 UTF-16 units msgpackr
 *     encodes by hand (a lone surrogate as its own three bytes), from 64 with Node's encoder (a
 *     lone surrogate as U+FFFD): the writer does the same.
 *   - pids and refs (codec.ts's extensions) as `d4 50 00` / `d4 52 00` and `[node, id, creation]`;
 *     undefined as `d4 00 00`.
 *
 * State across calls: msgpackr keeps, in the one shared record packer, a trie of the key
 * sequences it has seen, each node holding its keys as `__keys__`. A key named `__keys__` lands on
 * that property (found while writing this; a bug of msgpackr's), after which msgpackr wrote later
 * shapes with broken keys: bytes that do not decode. `encodeRecords` now keeps such values away
 * from the record packer (runtime/codec.ts `mayUpsetRecords`); the writer gives up on those keys
 * too, so what it writes is always what `encodeRecords` writes.
 */
import { Pid, Ref, encode, encodeRecords } from '../runtime/index.js';

/** codec.ts's extension types for pids and refs (`EXT_PID`, `EXT_REF`; not on runtime's face). */
const EXT_PID = 0x50;
const EXT_REF = 0x52;

/** msgpackr's own record ids (no shared structures): 0x40–0x7f, one byte each. */
const RECORD_ID_FIRST = 0x40;
const RECORD_ID_LIMIT = 0x80;
/** Nesting deeper than this goes to msgpackr. */
const DEPTH_MAX = 32;
/**
 * Nodes of the key-sequence trie remembered across calls (a key of a shape is a node, and has
 * its memos); past this the writer starts afresh. Counted by keys, not shapes: metadata of many
 * distinct keys would otherwise grow it without a useful bound.
 */
export const TRIE_NODES_MAX = 16_384;
/** Below this many UTF-16 units msgpackr encodes a string by hand (see the header). */
const SHORT_STRING_UNITS = 0x40;
/** Values of up to this many bytes are remembered (see `Memo`). */
const MEMO_BYTES_MAX = 48;
/** Room every value may assume without asking (a float64 is 9 bytes); strings and record definitions ask. */
const SLACK_BYTES = 16;
/**
 * Runs are written into a slab and handed out as views of it, without a copy (as msgpackr
 * does); a run that does not fit in what is left of a slab moves to a new one.
 */
const SLAB_BYTES = 64 * 1024;
/** A run starts in a fresh slab when less than this is left of the current one. */
const SLAB_ROOM_MIN = 8 * 1024;
/** Keys msgpackr's record writer treats specially: `__keys__` (see the header), `hasOwnProperty` (it calls it). */
const AWKWARD_KEYS: ReadonlySet<string> = new Set(['__keys__', 'hasOwnProperty']);

/** A key sequence, as msgpackr's record writer knows it. */
interface Shape {
  readonly keys: readonly string[];
  /** The keys as a msgpack array (what follows `d4 72 <id>`); undefined: keys the writer leaves to msgpackr. */
  readonly keysBytes: Buffer | undefined;
  /** The call in which this shape was last given a record id, and the id. */
  call: number;
  id: number;
  /** For each key, the shape of the object last seen under it (tried first next time). */
  readonly guesses: (Shape | undefined)[];
  /** For each key, the string last seen under it (see `Memo`). */
  readonly texts: TextMemo[];
}

/**
 * The bytes of a value written in one place, kept once the same value came twice in a row:
 * much repeats from entry to entry (an entry's type, a command's op, a pid and its node), and
 * copying bytes four at a time costs less than encoding them again.
 */
interface Memo {
  /** The bytes, as big-endian 32-bit words (the last one padded). */
  words: Uint32Array | undefined;
  bytes: number;
}

/** The string last written in one place. */
interface TextMemo extends Memo {
  text: string | undefined;
}

/** The pid or ref last written (frozen: the same object has the same fields). */
interface IdMemo extends Memo {
  id: Pid | Ref | undefined;
}

function textMemo(): TextMemo {
  return { text: undefined, words: undefined, bytes: 0 };
}

interface ShapeNode {
  readonly next: Map<string, ShapeNode>;
  shape: Shape | undefined;
}

/** Whether Object.prototype has enumerable keys (for-in would list them; msgpackr skips them). */
function objectPrototypeEnumerates(): boolean {
  for (const key in Object.prototype) if (key !== undefined) return true;
  return false;
}

/**
 * Writes values as msgpackr's record packer does (see the header), or gives up. Cheaper than
 * msgpackr mostly by knowing what to expect: each place in a shape (and the elements of an array)
 * remembers the shape of the object last written there, which is checked by the one for-in that
 * writes the values, and the string or pid last written there, whose bytes are copied when the
 * same one comes again. State across calls is the writer's own (shapes, guesses, memos: hints
 * that never change a byte); record ids start again at 0x40 in every call, as msgpackr's do.
 */
export class EntryWriter {
  #buffer: Buffer = Buffer.allocUnsafeSlow(SLAB_BYTES);
  #view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset, this.#buffer.length);
  /** Past this, a value asks for room (SLACK_BYTES before the end). */
  #safeEnd = SLAB_BYTES - SLACK_BYTES;
  /** Where the run being written starts in the slab, and where it has got to. */
  #start = 0;
  #at = 0;
  #call = 0;
  #nextId = RECORD_ID_FIRST;
  /** The shapes given record ids in this call, by id. */
  readonly #given: Shape[] = [];
  #root: ShapeNode = { next: new Map(), shape: undefined };
  #trieNodes = 0;
  /** The pid or ref last written, and the node of the last one written in full. */
  readonly #ids: IdMemo = { id: undefined, words: undefined, bytes: 0 };
  readonly #nodes: TextMemo = textMemo();
  /** The shape guess for the top-level value (and the elements of a top-level array). */
  #topGuesses: (Shape | undefined)[] = [undefined];

  /** Nodes in the key-sequence trie now (bounded: see TRIE_NODES_MAX). */
  get trieNodes(): number {
    return this.#trieNodes;
  }

  /** `value` as `encodeRecords` encodes it (a view of the writer's slab), or undefined if the writer leaves it to msgpackr. */
  write(value: unknown): Buffer | undefined {
    if (objectPrototypeEnumerates()) return undefined;
    if (this.#trieNodes > TRIE_NODES_MAX) {
      this.#root = { next: new Map(), shape: undefined };
      this.#trieNodes = 0;
      this.#topGuesses = [undefined];
    }
    this.#call++;
    this.#nextId = RECORD_ID_FIRST;
    if (this.#buffer.length - this.#at < SLAB_ROOM_MIN) this.#setBuffer(Buffer.allocUnsafeSlow(SLAB_BYTES));
    this.#start = this.#at;
    if (!this.#value(value, this.#topGuesses, 0, 0)) {
      this.#at = this.#start;
      return undefined;
    }
    return this.#buffer.subarray(this.#start, this.#at);
  }

  /** Any value; strings and numbers (most of an entry) are written without going further. */
  #value(value: unknown, guesses: (Shape | undefined)[], slot: number, depth: number): boolean {
    if (this.#at > this.#safeEnd) this.#reserve(SLACK_BYTES);
    if (typeof value === 'string') this.#string(value);
    else if (typeof value === 'number') this.#number(value);
    else return this.#other(value, guesses, slot, depth);
    return true;
  }

  #other(value: unknown, guesses: (Shape | undefined)[], slot: number, depth: number): boolean {
    switch (typeof value) {
      case 'boolean':
        this.#buffer[this.#at++] = value ? 0xc3 : 0xc2;
        return true;
      case 'undefined': {
        const buffer = this.#buffer;
        buffer[this.#at] = 0xd4;
        buffer[this.#at + 1] = 0;
        buffer[this.#at + 2] = 0;
        this.#at += 3;
        return true;
      }
      case 'object': {
        if (value === null) {
          this.#buffer[this.#at++] = 0xc0;
          return true;
        }
        if (depth >= DEPTH_MAX) return false;
        // As msgpackr: plain objects and arrays by their constructor, then extensions by class.
        // A plain object's prototype must be Object.prototype too, so that its for-in lists its
        // own keys only (see `#record`); a pid's or ref's must be theirs (not an own
        // `constructor` key, not a subclass).
        const constructor = (value as object).constructor;
        if (constructor === Object) return Object.getPrototypeOf(value) === Object.prototype && this.#record(value as Record<string, unknown>, guesses, slot, depth);
        if (constructor === Array) return Array.isArray(value) && this.#array(value, guesses, slot, depth);
        if (constructor === Pid) return Object.getPrototypeOf(value) === Pid.prototype && this.#id(EXT_PID, value as Pid, depth);
        if (constructor === Ref) return Object.getPrototypeOf(value) === Ref.prototype && this.#id(EXT_REF, value as Ref, depth);
        return false;
      }
      default:
        // string and number are done; bigint, function, symbol: msgpackr's.
        return false;
    }
  }

  /**
   * A plain object as a record, in the shape last seen in this place if its keys are those (one
   * for-in, which compares the keys as it writes the values: no array made, the values read by
   * the enumeration cache), else — the run rewound to the object — in its own shape, looked up.
   * for-in lists inherited keys too, msgpackr own keys only: the object's prototype is
   * Object.prototype (checked by the caller), which has no enumerable keys (checked by `write`).
   */
  #record(object: Record<string, unknown>, guesses: (Shape | undefined)[], slot: number, depth: number): boolean {
    const guess = guesses[slot];
    const shape = guess === undefined || guess.keysBytes === undefined ? this.#lookUp(object, guesses, slot) : guess;
    const keysBytes = shape.keysBytes;
    if (keysBytes === undefined) return false;
    const from = this.#at - this.#start;
    const idsFrom = this.#nextId;
    if (shape.call === this.#call) {
      this.#buffer[this.#at++] = shape.id;
    } else {
      if (this.#nextId >= RECORD_ID_LIMIT) return false;
      shape.call = this.#call;
      shape.id = this.#nextId++;
      this.#given[shape.id - RECORD_ID_FIRST] = shape;
      this.#reserve(3 + keysBytes.length + SLACK_BYTES);
      const buffer = this.#buffer;
      buffer[this.#at] = 0xd4;
      buffer[this.#at + 1] = 0x72;
      buffer[this.#at + 2] = shape.id;
      keysBytes.copy(buffer, this.#at + 3);
      this.#at += 3 + keysBytes.length;
    }
    const keys = shape.keys;
    const inner = shape.guesses;
    const texts = shape.texts;
    let index = 0;
    for (const key in object) {
      if (key !== keys[index]) return this.#again(object, guesses, slot, depth, shape, from, idsFrom);
      // `#value`, with strings and numbers written here (most of an entry).
      const value = object[key];
      if (this.#at > this.#safeEnd) this.#reserve(SLACK_BYTES);
      if (typeof value === 'string') this.#memoString(value, texts[index] as TextMemo);
      else if (typeof value === 'number') this.#number(value);
      else if (!this.#other(value, inner, index, depth + 1)) return false;
      index++;
    }
    return index === keys.length || this.#again(object, guesses, slot, depth, shape, from, idsFrom);
  }

  /** The object's keys were not `tried`'s: rewound to it, written in its own shape (looked up). */
  #again(object: Record<string, unknown>, guesses: (Shape | undefined)[], slot: number, depth: number, tried: Shape, from: number, idsFrom: number): boolean {
    this.#rewind(from, idsFrom);
    // Its own shape is what for-in lists (see `#record`); were it not, the writer gives up.
    return this.#lookUp(object, guesses, slot) !== tried && this.#record(object, guesses, slot, depth);
  }

  /** The shape of `object`'s keys, now the guess for its place. */
  #lookUp(object: Record<string, unknown>, guesses: (Shape | undefined)[], slot: number): Shape {
    const shape = this.#shapeOf(Object.keys(object));
    guesses[slot] = shape;
    return shape;
  }

  /** Back to `from` (from the run's start), and the record ids given out since `idsFrom` not given. */
  #rewind(from: number, idsFrom: number): void {
    this.#at = this.#start + from;
    for (let id = idsFrom; id < this.#nextId; id++) (this.#given[id - RECORD_ID_FIRST] as Shape).call = 0;
    this.#nextId = idsFrom;
  }

  /** The shape of `keys`, remembered from an earlier object or made now. */
  #shapeOf(keys: readonly string[]): Shape {
    let node = this.#root;
    for (const key of keys) {
      let next = node.next.get(key);
      if (next === undefined) {
        next = { next: new Map(), shape: undefined };
        node.next.set(key, next);
        this.#trieNodes++;
      }
      node = next;
    }
    if (node.shape === undefined) {
      const supported = !keys.some((key) => AWKWARD_KEYS.has(key));
      // Strings and an array header are written the same with records on or off.
      node.shape = {
        keys,
        keysBytes: supported ? encode(keys) : undefined,
        call: 0,
        id: 0,
        guesses: keys.map(() => undefined),
        texts: keys.map(textMemo),
      };
    }
    return node.shape;
  }

  #array(array: unknown[], guesses: (Shape | undefined)[], slot: number, depth: number): boolean {
    const length = array.length;
    const buffer = this.#buffer;
    if (length < 0x10) {
      buffer[this.#at++] = 0x90 | length;
    } else if (length < 0x10000) {
      buffer[this.#at] = 0xdc;
      buffer[this.#at + 1] = length >> 8;
      buffer[this.#at + 2] = length & 0xff;
      this.#at += 3;
    } else {
      buffer[this.#at] = 0xdd;
      this.#view.setUint32(this.#at + 1, length);
      this.#at += 5;
    }
    // The elements share the array's guess: they are mostly of one shape.
    for (let index = 0; index < length; index++) if (!this.#value(array[index], guesses, slot, depth + 1)) return false;
    return true;
  }

  /** A pid or a ref, as codec.ts's extension writes it: the tag, then `[node, id, creation]` (whatever they hold). */
  #id(type: number, id: Pid | Ref, depth: number): boolean {
    const node = id.node as unknown;
    const number = id.id as unknown;
    const creation = id.creation as unknown;
    const memo = this.#ids;
    if (id === memo.id && this.#copy(memo)) return true;
    const from = this.#at - this.#start;
    const buffer = this.#buffer;
    buffer[this.#at] = 0xd4;
    buffer[this.#at + 1] = type;
    buffer[this.#at + 2] = 0;
    buffer[this.#at + 3] = 0x93;
    this.#at += 4;
    if (typeof node === 'string' && typeof number === 'number' && typeof creation === 'number') {
      this.#memoString(node, this.#nodes);
      this.#reserve(18);
      this.#number(number);
      this.#number(creation);
      // The same pid twice in a row: its bytes are kept for the next time.
      if (id === memo.id) this.#capture(from, memo);
      else memo.words = undefined;
      memo.id = id;
      return true;
    }
    const none: (Shape | undefined)[] = [undefined];
    return this.#value(node, none, 0, depth + 1) && this.#value(number, none, 0, depth + 1) && this.#value(creation, none, 0, depth + 1);
  }

  /** As msgpackr writes a number with records on (see the header); 9 bytes of room assumed. */
  #number(value: number): void {
    const buffer = this.#buffer;
    const at = this.#at;
    if (value >>> 0 === value) {
      if (value < 0x40) {
        buffer[at] = value;
        this.#at = at + 1;
      } else if (value < 0x100) {
        buffer[at] = 0xcc;
        buffer[at + 1] = value;
        this.#at = at + 2;
      } else if (value < 0x10000) {
        buffer[at] = 0xcd;
        buffer[at + 1] = value >> 8;
        buffer[at + 2] = value & 0xff;
        this.#at = at + 3;
      } else {
        buffer[at] = 0xce;
        this.#view.setUint32(at + 1, value);
        this.#at = at + 5;
      }
    } else if (value >> 0 === value) {
      if (value >= -0x20) {
        buffer[at] = 0x100 + value;
        this.#at = at + 1;
      } else if (value >= -0x80) {
        buffer[at] = 0xd0;
        buffer[at + 1] = value + 0x100;
        this.#at = at + 2;
      } else if (value >= -0x8000) {
        buffer[at] = 0xd1;
        this.#view.setInt16(at + 1, value);
        this.#at = at + 3;
      } else {
        buffer[at] = 0xd2;
        this.#view.setInt32(at + 1, value);
        this.#at = at + 5;
      }
    } else {
      buffer[at] = 0xcb;
      this.#view.setFloat64(at + 1, value);
      this.#at = at + 9;
    }
  }

  /** A string, its bytes copied if it is the one `memo` remembers (see `Memo`). */
  #memoString(value: string, memo: TextMemo): void {
    if (value !== memo.text) {
      memo.text = value;
      memo.words = undefined;
      this.#string(value);
      return;
    }
    if (this.#copy(memo)) return;
    const from = this.#at - this.#start;
    this.#string(value);
    this.#capture(from, memo);
  }

  /** The bytes `memo` holds, copied four at a time; false if it holds none (or there is no room). */
  #copy(memo: Memo): boolean {
    const words = memo.words;
    const at = this.#at;
    // The last word may write up to three bytes past the value: inside the slack, and overwritten next.
    if (words === undefined || at + words.length * 4 > this.#safeEnd) return false;
    const view = this.#view;
    for (let index = 0; index < words.length; index++) view.setUint32(at + index * 4, words[index] as number);
    this.#at = at + memo.bytes;
    return true;
  }

  /** Keep in `memo` the bytes written since `from` (from the run's start), if they are few. */
  #capture(from: number, memo: Memo): void {
    const start = this.#start + from;
    const bytes = this.#at - start;
    if (bytes > MEMO_BYTES_MAX) return;
    const words = new Uint32Array(Math.ceil(bytes / 4));
    const buffer = this.#buffer;
    for (let index = 0; index < bytes; index++) words[index >> 2] = ((words[index >> 2] as number) | ((buffer[start + index] as number) << (24 - 8 * (index & 3)))) >>> 0;
    memo.words = words;
    memo.bytes = bytes;
  }

  /** A string, with its own room; SLACK_BYTES are left after it. Short ASCII here (kept small, to be inlined). */
  #string(value: string): void {
    const length = value.length;
    const start = this.#at;
    if (length >= 0x20 || start + 1 + length > this.#safeEnd) {
      this.#anyString(value);
      return;
    }
    const buffer = this.#buffer;
    let at = start + 1;
    for (let index = 0; index < length; index++) {
      const code = value.charCodeAt(index);
      if (code >= 0x80) {
        this.#anyString(value);
        return;
      }
      buffer[at++] = code;
    }
    buffer[start] = 0xa0 | length;
    this.#at = at;
  }

  #anyString(value: string): void {
    const length = value.length;
    if (length >= SHORT_STRING_UNITS) {
      this.#longString(value);
      return;
    }
    // At most three bytes per unit: at most 189 bytes, a fixstr or a str8.
    this.#reserve(length * 3 + 2 + SLACK_BYTES);
    const buffer = this.#buffer;
    const start = this.#at;
    const headerBytes = length < 0x20 ? 1 : 2;
    let at = start + headerBytes;
    let index = 0;
    for (; index < length; index++) {
      const code = value.charCodeAt(index);
      if (code >= 0x80) break;
      buffer[at++] = code;
    }
    if (index < length) at = this.#shortUtf8(value, index, at);
    const bytes = at - start - headerBytes;
    if (bytes < 0x20) {
      // (Only with a one-byte header: 32 units or more are 32 bytes or more.)
      buffer[start] = 0xa0 | bytes;
    } else {
      if (headerBytes === 1) {
        buffer.copyWithin(start + 2, start + 1, at);
        at++;
      }
      buffer[start] = 0xd9;
      buffer[start + 1] = bytes;
    }
    this.#at = at;
  }

  /** msgpackr's hand encoder from `index` on (non-ASCII text of fewer than 64 units), into `at`. */
  #shortUtf8(value: string, index: number, at: number): number {
    const buffer = this.#buffer;
    const length = value.length;
    for (; index < length; index++) {
      let code = value.charCodeAt(index);
      let low: number;
      if (code < 0x80) {
        buffer[at++] = code;
      } else if (code < 0x800) {
        buffer[at++] = (code >> 6) | 0xc0;
        buffer[at++] = (code & 0x3f) | 0x80;
      } else if ((code & 0xfc00) === 0xd800 && ((low = value.charCodeAt(index + 1)) & 0xfc00) === 0xdc00) {
        code = 0x10000 + ((code & 0x03ff) << 10) + (low & 0x03ff);
        index++;
        buffer[at++] = (code >> 18) | 0xf0;
        buffer[at++] = ((code >> 12) & 0x3f) | 0x80;
        buffer[at++] = ((code >> 6) & 0x3f) | 0x80;
        buffer[at++] = (code & 0x3f) | 0x80;
      } else {
        buffer[at++] = (code >> 12) | 0xe0;
        buffer[at++] = ((code >> 6) & 0x3f) | 0x80;
        buffer[at++] = (code & 0x3f) | 0x80;
      }
    }
    return at;
  }

  /** 64 units or more: Node's UTF-8 encoder, as msgpackr's; the header by the byte length (str8 at least). */
  #longString(value: string): void {
    const length = value.length;
    this.#reserve(length * 3 + 5 + SLACK_BYTES);
    const buffer = this.#buffer;
    const start = this.#at;
    const bytes = buffer.write(value, start + 5, 'utf8');
    let headerBytes: number;
    if (bytes < 0x100) {
      buffer[start] = 0xd9;
      buffer[start + 1] = bytes;
      headerBytes = 2;
    } else if (bytes < 0x10000) {
      buffer[start] = 0xda;
      buffer[start + 1] = bytes >> 8;
      buffer[start + 2] = bytes & 0xff;
      headerBytes = 3;
    } else {
      buffer[start] = 0xdb;
      this.#view.setUint32(start + 1, bytes);
      headerBytes = 5;
    }
    // Written after room for the longest header: moved up to its own.
    if (headerBytes < 5) buffer.copy(buffer, start + headerBytes, start + 5, start + 5 + bytes);
    this.#at = start + headerBytes + bytes;
  }

  /** Room for `bytes` more: else the run so far moves to a new slab (the old one keeps the runs handed out). */
  #reserve(bytes: number): void {
    if (this.#at + bytes <= this.#buffer.length) return;
    const used = this.#at - this.#start;
    let size = SLAB_BYTES;
    while (size < 2 * (used + bytes)) size *= 2;
    const slab = Buffer.allocUnsafeSlow(size);
    this.#buffer.copy(slab, 0, this.#start, this.#at);
    this.#setBuffer(slab);
    this.#start = 0;
    this.#at = used;
  }

  #setBuffer(buffer: Buffer): void {
    this.#buffer = buffer;
    this.#view = new DataView(buffer.buffer, buffer.byteOffset, buffer.length);
    this.#safeEnd = buffer.length - SLACK_BYTES;
    this.#start = 0;
    this.#at = 0;
  }
}

const writer = new EntryWriter();

/**
 * `encodeRecords(entries)`, byte for byte: by `EntryWriter` when it can, else by `encodeRecords`
 * (see the header). For Raft log entries (and any array of plain data).
 */
export function encodeEntries(entries: readonly unknown[]): Buffer {
  return writer.write(entries) ?? encodeRecords(entries);
}
