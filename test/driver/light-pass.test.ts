// Light passes (native/loop_wrap.h, rule 9): while only Idle callbacks are
// ready, a batch runs them without uv_run for up to 7 passes between full
// ones. What a program sees must not change: the Idle callbacks run in the
// same order as in full passes, Prepare/Check phases are never skipped, and
// timers, I/O, stop() and closes behave as they do in full passes. The
// order checks compare a run with light passes to one with `{ passes: 1 }`,
// where every pass is a full one. A batch whose Idle never stops is bounded
// by a 5 ms budget, so that Node's loop (the node:net client, the other
// tests of this file, their timeouts) keeps getting turns.
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { deferred, loopTest, within } from '../helpers/loop-test.js';
import { Check, Idle, Loop, Prepare, TCP, Timer, UsageError } from '../../handles/index.js';
import { kNative } from '../../handles/internal.js';

function lightPasses(loop: Loop): number {
  return (loop[kNative].driverState() as unknown as { lightPasses: number }).lightPasses;
}

/**
 * Three Idles A, B, C. A's first call stops and restarts B (B then waits for
 * the next pass, as libuv's idle phase does), its third closes C. Resolves
 * with the log of calls once A has run `calls` times.
 */
async function idleOrder(loop: Loop, calls: number): Promise<string[]> {
  const log: string[] = [];
  const done = deferred();
  const a = new Idle(loop);
  const b = new Idle(loop);
  const c = new Idle(loop);
  let n = 0;
  const onB = (): void => void log.push('B');
  a.start(() => {
    log.push(`A${++n}`);
    if (n === 1) {
      b.stop();
      b.start(onB);
    }
    if (n === 3) c.close();
    if (n === calls) {
      a.close();
      b.close();
      done.resolve();
    }
  });
  b.start(onB);
  c.start(() => void log.push('C'));
  await within(done.promise, `${calls} passes of three idles`);
  return log;
}

loopTest('light passes run the Idle callbacks in the order full passes do', async (t, loop) => {
  loop.setBatchLimits({ passes: 1 });
  const full = await idleOrder(loop, 24);
  t.is(lightPasses(loop), 0, '{ passes: 1 } runs full passes only');
  loop.setBatchLimits({ passes: 16, budgetMs: 60_000 });
  const light = await idleOrder(loop, 24);
  t.true(lightPasses(loop) > 0, 'the second run used light passes');
  t.deepEqual(light, full);
  // libuv's order: the Idle started last runs first; a restarted one moves to the front.
  t.deepEqual(light.slice(0, 10), ['C', 'B', 'A1', 'B', 'C', 'A2', 'B', 'C', 'A3', 'B']);
  t.is(light.at(-1), 'A24');
  t.false(light.slice(9).includes('C'), 'C runs no more once A3 closed it');
});

for (const Phase of [Prepare, Check]) {
  loopTest(`an active ${Phase.name} keeps every pass a full one`, async (t, loop) => {
    loop.setBatchLimits({ passes: 16, budgetMs: 60_000 });
    const phase = new Phase(loop);
    let phaseCalls = 0;
    phase.start(() => phaseCalls++);
    const idle = new Idle(loop);
    let idleCalls = 0;
    const done = deferred();
    idle.start(() => {
      if (++idleCalls === 100) done.resolve();
    });
    await within(done.promise, '100 idle callbacks');
    idle.close();
    phase.close();
    t.is(lightPasses(loop), 0);
    // Each pass runs both phases: the counts differ by at most the pass in progress.
    t.true(Math.abs(phaseCalls - idleCalls) <= 1, `${phaseCalls} vs ${idleCalls}`);
  });
}

loopTest('a timer of the loop fires while an Idle spins in light passes', async (t, loop) => {
  loop.setBatchLimits({ passes: 1 << 20, budgetMs: 5 });
  const idle = new Idle(loop);
  const timer = new Timer(loop);
  const fired = deferred<number>();
  // A 2 ms timer, started once light passes run, must fire with light passes
  // between its start and its firing. On a slow machine (ASan, load) the
  // first full pass after the start may find it due already: then it is
  // started again, so the check does not depend on how long a pass takes.
  let attempts = 0;
  let atStart = 0;
  const attempt = (): void => {
    attempts++;
    atStart = lightPasses(loop);
    timer.start(
      () => {
        if (lightPasses(loop) > atStart) fired.resolve(attempts);
        else if (attempts < 100) attempt();
        else fired.reject(new Error('no light pass ran while a timer was pending, 100 times'));
      },
      2,
      0,
    );
  };
  idle.start(() => {
    if (attempts === 0 && lightPasses(loop) > 0) attempt();
  });
  const tries = await within(fired.promise, 'the Timer');
  t.log(`${tries} attempt(s)`);
  t.true(tries >= 1 && tries <= 100);
  timer.close();
  idle.close();
});

loopTest('reads reach a TCP handle while an Idle spins in light passes', async (t, loop) => {
  loop.setBatchLimits({ passes: 1 << 20, budgetMs: 5 });
  const idle = new Idle(loop);
  idle.start(() => {});
  const server = new TCP(loop);
  server.bind('127.0.0.1', 0);
  const got = deferred<string>();
  server.listen(8, () => {
    const conn = new TCP(loop);
    server.accept(conn);
    conn.readStart((_err, data) => {
      if (data !== null) got.resolve(data.toString());
      conn.close();
    });
  });
  const client = createConnection(server.getsockname().port, '127.0.0.1');
  client.end('over the light passes');
  t.is(await within(got.promise, 'the read'), 'over the light passes');
  await once(client, 'close');
  t.true(lightPasses(loop) > 0);
  server.close();
  idle.close();
});

loopTest('stop() and close() from an Idle callback behave as in a full pass', async (t, loop) => {
  loop.setBatchLimits({ passes: 16, budgetMs: 60_000 });
  const idle = new Idle(loop);
  const done = deferred();
  let n = 0;
  let refused: unknown;
  idle.start(() => {
    if (++n < 5) return; // past the first pass of the batch: a light one
    loop.stop();
    try {
      loop.close();
    } catch (error) {
      refused = error;
    }
    idle.close();
    done.resolve();
  });
  await within(done.promise, 'five idle callbacks');
  t.true(lightPasses(loop) > 0);
  t.true(refused instanceof UsageError);
  t.is((refused as UsageError).code, 'ERR_LOOP_RUNNING');
  // The stop ended that batch only: the loop still runs what comes next.
  const timer = new Timer(loop);
  const fired = deferred();
  timer.start(() => fired.resolve(), 1, 0);
  await within(fired.promise, 'a Timer after the stop');
  timer.close();
});
