// Check: the shared loop-watcher behaviours, then what is particular to Check.
import { loopTest } from '../helpers/loop-test.js';
import { loopWatcherCases } from '../helpers/loop-watcher-cases.js';
import { Check, Timer } from '../../handles/index.js';

loopWatcherCases(Check);

loopTest('Check runs after the poll and before due timers in run("once")', (t, loop) => {
  const check = new Check(loop);
  const timer = new Timer(loop);
  const order: Array<[string, number]> = [];
  const start = Date.now();
  check.start(() => order.push(['check', Date.now() - start]));
  timer.start(() => order.push(['timer', Date.now() - start]), 30);
  loop.run('once');
  t.deepEqual(
    order.map(([what]) => what),
    ['check', 'timer'],
  );
  t.true(order[0]![1] >= 25, `check ran ${order[0]![1]} ms in, after the poll waited`);
  check.close();
  timer.close();
});

loopTest('a handle closed from Check gets its close callback in the same iteration', (t, loop) => {
  // libuv runs close callbacks right after the check phase.
  const check = new Check(loop);
  const order: string[] = [];
  check.start((h) => {
    order.push('check');
    h.close(() => order.push('closed'));
  });
  loop.run('nowait');
  t.deepEqual(order, ['check', 'closed']);
});
