/**
 * The pure core of federation: hash slots, the directory state machine kept in the root
 * group's Raft log, the rebalancing plan, routing decisions with the directory cache, and the
 * scale model. No I/O, clocks or randomness outside an injected seed; gateways and the network
 * are built on top of this. `federation/index.ts` re-exports it.
 */
export { SLOT_COUNT, slotOf, isSlot, crc16, hash32 } from './slots.js';
export {
  Directory,
  GATEWAYS_MAX,
  GROUPS_MAX,
  MOVES_IN_PROGRESS_MAX,
  DIRECTORY_EVENTS_MAX,
  GATEWAY_ADDRESS_LENGTH_MAX,
  isValidGroupId,
  validateGateways,
  refusalError,
  refusalErrorCode,
  type GroupId,
  type GroupState,
  type Gateway,
  type GroupRecord,
  type MovePhase,
  type SlotMove,
  type DirectoryCommand,
  type DirectoryRefusalCode,
  type DirectoryRefusal,
  type DirectoryResult,
  type DirectoryChange,
  type DirectoryEvent,
  type DirectorySnapshot,
  type DirectoryView,
} from './directory.js';
export { moveOutcome, reconcileSteps, type MoveOutcome, type ReconcileSteps } from './handover.js';
export { planRebalance, rebalanceTargets, type PlannedMove, type RebalanceOptions } from './rebalance.js';
export {
  homeGroup,
  routeRequest,
  routeSlot,
  orderGateways,
  pickGateway,
  DirectoryCache,
  MOVE_WAIT_RETRY_MS,
  MOVED_REDIRECTS_MAX,
  type RequestKind,
  type RouteDecision,
  type MovedAnswer,
  type GatewayHealth,
  type CacheUpdate,
} from './routing.js';
export {
  defaultScaleParameters,
  modelGroupSizes,
  modelFigures,
  connectionsOf,
  registrationMessages,
  remoteWhereisMessages,
  replicationMessages,
  readIndexRound,
  singleGroupLinearizableRead,
  type ScaleParameters,
  type RegistrationCase,
  type WhereisCase,
  type ModelFigures,
} from './scale-model.js';
