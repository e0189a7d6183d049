// UvEventLoop runs its iterations from an Idle handle, which stays started
// for one empty iteration after the ready queue empties (code resumed by an
// await typically schedules again) and then stops: a loop with nothing to
// do is not alive and does not spin.
import test from 'ava';
import { Loop, UvEventLoop } from 'asyncuv';
import { closeEventLoop } from '../helpers/event-loop-test.js';
import { until } from '../helpers/loop-test.js';

test('callSoon after await keeps iterating; once idle, the loop stops being alive', async (t) => {
  const uv = new Loop();
  const loop = new UvEventLoop(uv);
  try {
    const order: number[] = [];
    await loop.runUntilComplete(async () => {
      for (let i = 0; i < 1000; i++) {
        await new Promise<void>((resolve) => loop.callSoon(resolve));
        order.push(i);
      }
    });
    t.is(order.length, 1000);
    t.true(
      order.every((v, i) => v === i),
      'each await resumed in order',
    );
    // Nothing is scheduled any more: the Idle stops after one empty iteration.
    await until(() => !uv.alive, 'the idle to stop');
    t.false(uv.alive);
    // And it starts again for new work.
    const later = await new Promise<string>((resolve) => loop.callSoon(() => resolve('ran')));
    t.is(later, 'ran');
    await until(() => !uv.alive, 'the idle to stop again');
  } finally {
    await closeEventLoop(t, loop, uv);
  }
});
