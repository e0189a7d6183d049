// Cases of uvloop's tests/test_signals.py, which uvloop runs on its loop
// and on asyncio's own: test_signals_sigint_pycode_stop,
// test_signals_sigint_uvcode, test_signals_sigint_uvcode_two_loop_runs,
// test_signals_sigint_and_custom_handler and
// test_signals_and_custom_handler_1. As there, the loop under test spawns
// a program running the same kind of loop (test/fixtures/uvloop-signal-child.ts)
// and signals it; a line the child prints is awaited before each signal,
// where uvloop sleeps. SIGUSR2 and SIGWINCH stand for SIGUSR1 and SIGUSR2:
// SIGUSR1 starts Node's inspector.
//
// Then handlers in this process (serial, as signals.ts): two signals at
// once, a handler that throws, an async handler that rejects, re-adding a
// removed handler, a signal that comes while a callback blocks the loop,
// and a SIGCHLD handler beside the loop's own children (uvloop refuses
// SIGCHLD, asyncio takes it: asyncio's rule).
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AbstractEventLoop,
  createSubprocessExec,
  type SubprocessProcess as Process,
} from 'asyncuv';
import { MySubprocessProtocol } from '../protocols.js';
import {
  featureCases,
  future,
  type MakeLoop,
  type Test,
  until,
  withLoop,
  within,
} from '../harness.js';

const SIG = constants.signals;
const child = fileURLToPath(new URL('../../fixtures/uvloop-signal-child.js', import.meta.url));
const keepAlive = (): void => {};

/** Starts the fixture in `mode` on the same kind of loop as `loop`, from `loop`. */
async function startChild(loop: AbstractEventLoop, kind: string, mode: string): Promise<Process> {
  return createSubprocessExec(process.execPath, [child, kind, mode], {
    loop,
    stdout: 'pipe',
    stderr: 'pipe',
  });
}

async function line(proc: Process, what: string): Promise<string> {
  return (await within(proc.stdout!.readline(), what, 20_000)).toString();
}

/** Blocks this thread for `ms`: no callback of any loop runs meanwhile. */
function block(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function uvloopSignalsPort(test: Test, makeLoop: MakeLoop, name: string): void {
  const kind = name === 'node' ? 'node' : 'uv';
  const it = featureCases(test, makeLoop, 'subprocess', `${name}: uvloop`);

  it('test_signals_sigint_pycode_stop: SIGINT ends a child whose loop is blocked in a callback, unhandled', async ({
    loop,
  }, t) => {
    const proc = await startChild(loop, kind, 'busy');
    t.is(await line(proc, 'READY'), 'READY\n');
    proc.sendSignal('SIGINT');
    const [out, err] = await within(proc.communicate(), 'the child to end', 20_000);
    t.is(proc.returncode, -SIG.SIGINT, err!.toString());
    t.is(out!.toString(), '');
  });

  for (const mode of ['server', 'server-two-runs']) {
    it(`test_signals_sigint_uvcode${mode === 'server' ? '' : '_two_loop_runs'}: SIGINT ends a child serving in runForever`, async ({
      loop,
    }, t) => {
      const proc = await startChild(loop, kind, mode);
      t.is(await line(proc, 'READY'), 'READY\n');
      proc.sendSignal('SIGINT');
      const [, err] = await within(proc.communicate(), 'the child to end', 20_000);
      t.is(proc.returncode, -SIG.SIGINT, err!.toString());
    });
  }

  it('test_signals_sigint_and_custom_handler: the child’s SIGHUP and SIGINT handlers run; SIGINT’s ends its run, exit 0', async ({
    loop,
  }, t) => {
    const proc = await startChild(loop, kind, 'handlers');
    t.is(await line(proc, 'READY'), 'READY\n');
    proc.sendSignal('SIGHUP');
    t.is(await line(proc, 'the SIGHUP handler'), '!s-hup!\n');
    proc.sendSignal('SIGINT');
    t.is(await line(proc, 'the SIGINT handler'), '!s-int!\n');
    const [out, err] = await within(proc.communicate(), 'the child to end', 20_000);
    t.is(err!.toString(), '');
    t.is(out!.toString(), '');
    t.is(proc.returncode, 0);
  });

  it('test_signals_and_custom_handler_1: a handler removes another; that signal then has its default action again', async ({
    loop,
  }, t) => {
    const proc = await startChild(loop, kind, 'remove');
    t.is(await line(proc, 'READY'), 'READY\n');
    for (let i = 0; i < 2; i++) {
      proc.sendSignal('SIGUSR2');
      t.is(await line(proc, 'GOTIT'), 'GOTIT\n');
    }
    proc.sendSignal('SIGWINCH');
    t.is(await line(proc, 'REMOVED'), 'REMOVED\n');
    // asyncio's remove_signal_handler restores SIG_DFL: SIGUSR2 ends the child.
    proc.sendSignal('SIGUSR2');
    const [out, err] = await within(proc.communicate(), 'the child to end', 20_000);
    t.is(err!.toString(), '');
    t.is(out!.toString(), '');
    t.is(proc.returncode, -SIG.SIGUSR2);
  });

  it("stderr 'stdout' with stdout 'inherit': the child's stderr goes where our stdout goes, not to our stderr", async ({
    loop,
  }, t) => {
    const proc = await startChild(loop, kind, 'stderr-to-stdout');
    const [out, err] = await within(proc.communicate(), 'the child to end', 20_000);
    t.is(proc.returncode, 0, err!.toString());
    t.is(out!.toString(), 'out\nerr\n');
    t.is(err!.toString(), '');
  });

  // In this process: real signals to ourselves, so one case at a time.
  test.before(() => {
    process.on('SIGUSR2', keepAlive);
    process.on('SIGWINCH', keepAlive);
  });
  test.after.always(() => {
    process.off('SIGUSR2', keepAlive);
    process.off('SIGWINCH', keepAlive);
  });

  test.serial(`${name}: uvloop signals: two signals, each to its own handler, in one run`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const got: string[] = [];
      const both = future();
      const note = (what: string): void => {
        got.push(what);
        if (got.length === 2) both.resolve();
      };
      loop.addSignalHandler('SIGUSR2', note, 'usr2');
      loop.addSignalHandler('SIGWINCH', note, 'winch');
      await loop.runUntilComplete(async () => {
        process.kill(process.pid, 'SIGUSR2');
        process.kill(process.pid, 'SIGWINCH');
        await within(both.promise, 'both handlers');
      });
      t.deepEqual(got.sort(), ['usr2', 'winch']);
      t.true(loop.removeSignalHandler('SIGUSR2'));
      t.true(loop.removeSignalHandler('SIGWINCH'));
    }),
  );

  test.serial(
    `${name}: uvloop signals: a handler that throws is reported with its handle; the loop and the handler go on`,
    (t) =>
      withLoop(
        t,
        makeLoop,
        async ({ loop, exceptions }) => {
          let calls = 0;
          const boom = new Error('boom');
          loop.addSignalHandler('SIGUSR2', () => {
            calls++;
            throw boom;
          });
          process.kill(process.pid, 'SIGUSR2');
          await until(() => exceptions.length === 1, 'the report');
          t.is(exceptions[0]!.exception, boom);
          t.true(
            exceptions[0]!.message.startsWith('Exception in callback'),
            exceptions[0]!.message,
          );
          t.not(exceptions[0]!.handle, undefined);
          process.kill(process.pid, 'SIGUSR2');
          await until(() => exceptions.length === 2, 'the second report');
          t.is(calls, 2);
          t.true(loop.removeSignalHandler('SIGUSR2'));
        },
        { expectExceptions: true },
      ),
  );

  test.serial(
    `${name}: uvloop signals: test_signals_coro_callback: an async handler’s rejection is reported (asyncio refuses coroutines)`,
    (t) =>
      withLoop(
        t,
        makeLoop,
        async ({ loop, exceptions }) => {
          const boom = new Error('async boom');
          loop.addSignalHandler('SIGWINCH', async () => {
            await Promise.resolve();
            throw boom;
          });
          process.kill(process.pid, 'SIGWINCH');
          await until(() => exceptions.length === 1, 'the report');
          t.is(exceptions[0]!.exception, boom);
          t.true(loop.removeSignalHandler('SIGWINCH'));
        },
        { expectExceptions: true },
      ),
  );

  test.serial(`${name}: uvloop signals: a removed handler added again is called again`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const calls: string[] = [];
      loop.addSignalHandler('SIGWINCH', () => calls.push('first'));
      process.kill(process.pid, 'SIGWINCH');
      await until(() => calls.length === 1, 'the first handler');
      t.true(loop.removeSignalHandler('SIGWINCH'));
      loop.addSignalHandler('SIGWINCH', () => calls.push('again'));
      process.kill(process.pid, 'SIGWINCH');
      await until(() => calls.length === 2, 'the handler added again');
      t.deepEqual(calls, ['first', 'again']);
      t.true(loop.removeSignalHandler('SIGWINCH'));
    }),
  );

  test.serial(
    `${name}: uvloop signals: a signal that comes while a callback blocks the loop runs its handler after that callback, once`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const order: string[] = [];
        loop.addSignalHandler('SIGUSR2', () => order.push('handler'));
        await loop.runUntilComplete(async () => {
          const blocked = future();
          loop.callSoon(() => {
            process.kill(process.pid, 'SIGUSR2');
            block(100);
            order.push('blocking callback done');
            blocked.resolve();
          });
          await blocked.promise;
          await until(() => order.length === 2, 'the handler');
        });
        await sleep(20);
        t.deepEqual(order, ['blocking callback done', 'handler']);
        t.true(loop.removeSignalHandler('SIGUSR2'));
      }),
  );

  if (makeLoop.unsupported?.['subprocess'] !== undefined) return;
  test.serial(
    `${name}: uvloop signals: test_signals_no_SIGCHLD (asyncio's rule): a SIGCHLD handler runs when a child of the loop exits; the child is still reaped and reported`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        let calls = 0;
        loop.addSignalHandler('SIGCHLD', () => calls++);
        const [transport, proto] = await loop.subprocessExec(
          () => new MySubprocessProtocol(),
          'sh',
          ['-c', 'exit 3'],
        );
        await within(proto.disconnected, 'connectionLost');
        t.is(transport.getReturncode(), 3);
        await until(() => calls >= 1, 'the SIGCHLD handler');
        transport.close();
        t.true(loop.removeSignalHandler('SIGCHLD'));
        // Without the handler, children are still reaped.
        const [again, proto2] = await loop.subprocessExec(() => new MySubprocessProtocol(), 'sh', [
          '-c',
          'exit 4',
        ]);
        await within(proto2.disconnected, 'connectionLost');
        t.is(again.getReturncode(), 4);
        again.close();
      }),
  );
}
