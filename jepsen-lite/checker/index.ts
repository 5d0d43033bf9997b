/**
 * The jepsen-lite checkers: pure functions from a recorded run (history.jsonl events,
 * singletons.jsonl events, final reads) to a report with a verdict. Each verdict is 'pass',
 * 'fail' or 'unknown' (a search ran out of budget — never counted as a pass).
 * - `checkLinearizable`: per-name linearizability of register / unregister / whereis.
 * - `checkSingletons`: fenced singleton instances never overlap; tokens increase; every key
 *   runs after the final heal.
 * - `checkLostRegistrations`: acknowledged registrations survive to the final reads.
 * - `measureLocalReadStaleness`: how stale the (allowed-stale) local reads were; never fails.
 * - `checkAcknowledgedCommits`: every acknowledged write is in its group's committed history
 *   at the revision it was acknowledged with.
 * - `removalOperations`: the registry's own removals (from its watch) as operations the first
 *   and third take.
 */
export { type Verdict, combineVerdicts } from './verdict.js';
export {
  FAILURE_SEARCH_STEPS_MAX,
  FAILURE_WINDOW_CUTS_MAX,
  LINEARIZABILITY_STEPS_MAX,
  type LinearizabilityFailure,
  type LinearizabilityOptions,
  type LinearizabilityReport,
  checkLinearizable,
  checkLinearizableOperations,
  formatLinearizabilityFailure,
} from './linearizable.js';
export {
  type SingletonCheckOptions,
  type SingletonInstance,
  type SingletonReport,
  type SingletonViolation,
  type SingletonViolationKind,
  checkSingletons,
  formatSingletonViolations,
} from './singletons.js';
export {
  type LostRegistration,
  type LostRegistrationOptions,
  type LostRegistrationReport,
  checkLostRegistrationOperations,
  checkLostRegistrations,
} from './lost-registrations.js';
export {
  type StalenessReport,
  measureLocalReadStaleness,
  measureLocalReadStalenessOfOperations,
} from './staleness.js';
export { isRemoval, labelAcknowledgedUnregisters, removalOperations } from './removals.js';
export {
  type AcknowledgedOptions,
  type AcknowledgedReport,
  type CommittedHistory,
  type UncommittedWrite,
  checkAcknowledgedCommits,
  withHomeGroups,
} from './acknowledged.js';
