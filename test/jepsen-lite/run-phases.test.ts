// The workload phase of a run: the nemesis and the clients run side by side, and the phase
// settles only when both have. If the clients throw, the nemesis is told to stop (its signal
// aborts) and is awaited before the error comes out — so no fault is still being applied when
// the runner stops the cluster — and the other way round; the nemesis is told to stop at the
// end of the workload. Fake phases (promises driven by their signals), no processes.
import { describe, expect, it } from 'vitest';
import { runSideBySide } from '../../jepsen-lite/run.js';

/** A phase that runs until its signal aborts, then takes one more turn to heal; records what it saw. */
function untilAborted(record: string[], name: string): (signal: AbortSignal) => Promise<void> {
  return (signal) =>
    new Promise<void>((resolve) => {
      const done = (): void => {
        record.push(`${name} aborted`);
        setImmediate(() => {
          record.push(`${name} healed`);
          resolve();
        });
      };
      if (signal.aborted) done();
      else signal.addEventListener('abort', done, { once: true });
    });
}

describe('runner phases — side by side', () => {
  it('phases — a client error stops the nemesis and waits for it to heal before it is thrown', async () => {
    const record: string[] = [];
    const outcome = runSideBySide(
      untilAborted(record, 'nemesis'),
      async () => {
        await new Promise((resolve) => setImmediate(resolve));
        throw new Error('client broke');
      },
      60_000,
    ).catch((error: Error) => {
      record.push(`threw ${error.message}`);
    });
    await outcome;
    expect(record).toEqual(['nemesis aborted', 'nemesis healed', 'threw client broke']);
  });

  it('phases — a nemesis error stops the clients and waits for them', async () => {
    const record: string[] = [];
    await runSideBySide(
      async () => {
        throw new Error('nemesis broke');
      },
      untilAborted(record, 'clients'),
      60_000,
    ).catch((error: Error) => record.push(`threw ${error.message}`));
    expect(record).toEqual(['clients aborted', 'clients healed', 'threw nemesis broke']);
  });

  it('phases — at the end of the workload the nemesis is told to stop; the clients stop by themselves', async () => {
    const record: string[] = [];
    await runSideBySide(untilAborted(record, 'nemesis'), async (signal) => {
      record.push(`clients done, signal aborted: ${signal.aborted}`);
    }, 1);
    expect(record).toEqual(['clients done, signal aborted: false', 'nemesis aborted', 'nemesis healed']);
  });
});
