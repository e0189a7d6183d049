// Leak checks for tests on Node's own loop: the kinds of resources a test
// may create (sockets, servers, timers, processes...) must be back to what
// they were before it, so that the process can exit.
import type { ExecutionContext } from 'ava';

const WATCHED = new Set([
  'TCPSocketWrap',
  'TCPServerWrap',
  'TCPWrap',
  'PipeWrap',
  'PipeServerWrap',
  'UDPWrap',
  'ProcessWrap',
  'Timeout',
  'Immediate',
  'TLSWrap',
  'FSReqCallback',
  'GetAddrInfoReqWrap',
  'SignalWrap',
]);

export type ResourceCounts = Record<string, number>;

export function resourceCounts(): ResourceCounts {
  const counts: ResourceCounts = {};
  for (const name of process.getActiveResourcesInfo()) {
    if (WATCHED.has(name)) counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** Waits (up to 2 s) until the watched resources are back to `baseline`, then asserts it. */
export async function assertNoLeaks(t: ExecutionContext, baseline: ResourceCounts): Promise<void> {
  const same = (): boolean => JSON.stringify(resourceCounts()) === JSON.stringify(baseline);
  const deadline = Date.now() + 2000;
  while (!same() && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  t.deepEqual(resourceCounts(), baseline, 'every socket, timer and process of the test is gone');
}
