/**
 * Pids and refs: small immutable values `{node, id, creation}` with a stable printed form that
 * parses back. `creation` is the incarnation of the node (bumped at every start), so a pid of
 * an earlier incarnation is known to be dead.
 *
 * Printed forms: pid `<a@127.0.0.1.42.3>` is written `<node#id.creation>`, e.g.
 * `<a@127.0.0.1#42.3>`; ref `#Ref<a@127.0.0.1#7.3>`. Node names never contain `#`.
 */
import { fedError } from './kernel/errors.js';

/** `name@host`: name of letters, digits, `_` and `-`; host of letters, digits, `.`, `_`, `-`, `:`. */
const NODE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,128}@[A-Za-z0-9._:-]{1,255}$/;

export function isValidNodeName(name: string): boolean {
  return NODE_NAME_PATTERN.test(name);
}

export function assertNodeName(name: string): void {
  if (!isValidNodeName(name)) {
    throw fedError('badarg', `invalid node name ${JSON.stringify(name)}: expected name@host`);
  }
}

export class Pid {
  readonly node: string;
  readonly id: number;
  readonly creation: number;

  constructor(node: string, id: number, creation: number) {
    this.node = node;
    this.id = id;
    this.creation = creation;
    // An immutable value, at run time too: a pid is a Map key's source and crosses nodes.
    Object.freeze(this);
  }

  equals(other: unknown): boolean {
    return (
      other instanceof Pid && other.id === this.id && other.node === this.node && other.creation === this.creation
    );
  }

  /** A string usable as a Map key; equal to the printed form. */
  get key(): string {
    return `<${this.node}#${this.id}.${this.creation}>`;
  }

  toString(): string {
    return this.key;
  }

  toJSON(): string {
    return this.key;
  }

  static parse(text: string): Pid {
    const match = /^<([^#<>]+)#(\d+)\.(\d+)>$/.exec(text);
    if (match === null || !isValidNodeName(match[1] as string)) {
      throw fedError('badarg', `not a pid: ${JSON.stringify(text)}`);
    }
    return new Pid(match[1] as string, Number(match[2]), Number(match[3]));
  }
}

export class Ref {
  readonly node: string;
  readonly id: number;
  readonly creation: number;

  constructor(node: string, id: number, creation: number) {
    this.node = node;
    this.id = id;
    this.creation = creation;
    Object.freeze(this);
  }

  equals(other: unknown): boolean {
    return (
      other instanceof Ref && other.id === this.id && other.node === this.node && other.creation === this.creation
    );
  }

  get key(): string {
    return `#Ref<${this.node}#${this.id}.${this.creation}>`;
  }

  toString(): string {
    return this.key;
  }

  toJSON(): string {
    return this.key;
  }

  static parse(text: string): Ref {
    const match = /^#Ref<([^#<>]+)#(\d+)\.(\d+)>$/.exec(text);
    if (match === null || !isValidNodeName(match[1] as string)) {
      throw fedError('badarg', `not a ref: ${JSON.stringify(text)}`);
    }
    return new Ref(match[1] as string, Number(match[2]), Number(match[3]));
  }
}
