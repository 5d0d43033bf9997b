// The package's main entry: the public faces of each layer, and the client that speaks to a
// running node (as the CLI does).
export * from './runtime/index.js';
export * from './registry/index.js';
export { connectAdmin, type AdminClient } from './cli/admin-client.js';
export type { AdminRequest, AdminReply, Consistency as ReadConsistency, NameInfo, MemberInfo } from './cli/admin-protocol.js';
export { startNodeStack, type NodeStack, type NodeStackOptions } from './cli/node-stack.js';
