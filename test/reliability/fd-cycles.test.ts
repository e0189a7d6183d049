// No descriptor leaks across 10,000 connect/close cycles, at the handle
// level and at the UvEventLoop level: /proc/self/fd holds the same number
// of entries before and after (both ends of every connection live in this
// process). The full count runs here: about 1-2 s per level on this
// machine (scripts/fd-cycles-main.ts prints the timings).
import test from 'ava';
import { handleCycles, transportCycles, type CycleResult } from '../../scripts/fd-cycles.js';

function check(t: import('ava').ExecutionContext, r: CycleResult): void {
  t.log(`${r.cycles} cycles in ${r.seconds.toFixed(2)} s, fds ${r.fdsBefore} -> ${r.fdsAfter}`);
  t.is(r.fdsAfter, r.fdsBefore);
  t.deepEqual(r.liveHandles, {});
}

// Serial: the counts are of the whole process.
test.serial('10,000 TCP handle connect/close cycles leave no fd behind', async (t) => {
  check(t, await handleCycles(10_000));
});

test.serial('10,000 UvEventLoop createConnection/close cycles leave no fd behind', async (t) => {
  check(t, await transportCycles(10_000));
});
