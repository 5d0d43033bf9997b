// runtime — one node. The public face of the folder; other folders import only this file.
export * from './kernel/index.js';
export { Pid, Ref, isValidNodeName, assertNodeName } from './pid.js';
export { encode, decode } from './codec.js';
