// Prepare: the shared loop-watcher behaviours, then what is particular to Prepare.
import { loopTest } from '../helpers/loop-test.js';
import { loopWatcherCases } from '../helpers/loop-watcher-cases.js';
import { Prepare, Timer } from '../../handles/index.js';

loopWatcherCases(Prepare);

loopTest('Prepare runs once per iteration and lets the poll block', (t, loop) => {
  // Unlike Idle, an active Prepare does not make the poll non-blocking:
  // run('once') still waits in poll for the timer.
  const prepare = new Prepare(loop);
  const timer = new Timer(loop);
  let prepares = 0;
  let fired = 0;
  prepare.start(() => prepares++);
  timer.start(() => fired++, 30);
  const start = Date.now();
  loop.run('once');
  t.true(Date.now() - start >= 25, `run('once') returned after ${Date.now() - start} ms`);
  t.is(prepares, 1);
  t.is(fired, 1);
  prepare.close();
  timer.close();
});

loopTest("a timer started from Prepare is seen by the same iteration's poll", (t, loop) => {
  // Prepare is the hook for "work to do before blocking": a timer it starts
  // sets the poll timeout of this very iteration.
  const prepare = new Prepare(loop);
  const timer = new Timer(loop);
  let fired = 0;
  prepare.start((h) => {
    h.stop();
    timer.start(() => fired++, 5);
  });
  const start = Date.now();
  loop.run('once');
  t.is(fired, 1);
  t.true(Date.now() - start < 1000);
  prepare.close();
  timer.close();
});
