/**
 * The verdict every checker gives. 'unknown' means the checker ran out of its search budget:
 * it is never a pass (a run with an unknown verdict does not exit 0).
 */
export type Verdict = 'pass' | 'fail' | 'unknown';

/** The verdict of several checkers (or several names): any fail wins, then any unknown. */
export function combineVerdicts(verdicts: Iterable<Verdict>): Verdict {
  let combined: Verdict = 'pass';
  for (const verdict of verdicts) {
    if (verdict === 'fail') return 'fail';
    if (verdict === 'unknown') combined = 'unknown';
  }
  return combined;
}
