// A loop whose timers were all cancelled holds nothing armed: the process
// exits by itself (an armed timer for a cancelled deadline kept it alive
// until that deadline).
import test from 'ava';
import { runFixture } from '../helpers/child.js';

for (const kind of ['uv', 'node']) {
  test(`${kind}: a process whose loop timers were all cancelled exits by itself`, async (t) => {
    const result = await runFixture('cancelled-timers-exit.js', [kind], { timeoutMs: 15_000 });
    t.false(result.timedOut, 'the process had to be killed');
    t.is(result.code, 0, result.stderr);
    t.is(result.stdout, 'cancelled\n');
  });
}
