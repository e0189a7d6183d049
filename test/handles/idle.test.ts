// Idle: the shared loop-watcher behaviours, then what is particular to Idle.
import { loopTest } from '../helpers/loop-test.js';
import { loopWatcherCases } from '../helpers/loop-watcher-cases.js';
import { Idle, Timer } from '../../handles/index.js';

loopWatcherCases(Idle);

loopTest('an active Idle keeps run("once") from blocking in poll', (t, loop) => {
  const idle = new Idle(loop);
  const timer = new Timer(loop);
  let idles = 0;
  let fired = 0;
  idle.start(() => idles++);
  timer.start(() => fired++, 2000);
  const start = Date.now();
  t.true(loop.run('once'));
  t.true(Date.now() - start < 1000, `run('once') took ${Date.now() - start} ms`);
  t.is(idles, 1);
  t.is(fired, 0);
  idle.close();
  timer.close();
});

loopTest('Idle runs before the due timers of the same iteration', (t, loop) => {
  const order: string[] = [];
  const idle = new Idle(loop);
  const timer = new Timer(loop);
  idle.start(() => order.push('idle'));
  timer.start(() => order.push('timer'), 0);
  loop.run('nowait');
  t.deepEqual(order, ['idle', 'timer']);
  idle.close();
  timer.close();
});
