// Edges of a child's life through asyncio.subprocess and the subprocess
// transport (test_subprocess.py: test_pause_reading,
// test_stdin_not_inheritable, test_kill_issue43884, test_proc_exited
// (SubprocessTransportTests), test_communicate with output larger than a
// pipe on both streams, a child that closes its stdout early; and the
// readers' limit checked before the spawn, as test_streams.py's
// test_invalid_limit; test_events.py: test_subprocess_exec_invalid_args,
// with subprocess.Popen's checks of NUL bytes and env values).
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSubprocessExec, createSubprocessShell } from 'asyncuv';
import { MySubprocessProtocol } from '../protocols.js';
import { featureCases, type MakeLoop, type Test, until, within } from '../harness.js';

const SIG = constants.signals;
const MiB = 1024 * 1024;

export function subprocessEdges(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = featureCases(test, makeLoop, 'subprocess', `${name}: subprocess`);

  it('a small limit pauses the stdout pipe: the child waits on it; communicate() gets every byte', async ({
    loop,
  }, t) => {
    // 4 MiB: twice what the pipe holds plus what libuv reads from it in one
    // wake-up (up to 32 reads of 64 KiB, held by the transport once paused),
    // so that head must be left waiting on its full pipe. No more: with a
    // limit of 10 every chunk is a pause and a resume, one turn of Node's
    // loop each on NodeEventLoop, and those turns are what a loaded
    // process is short of.
    const size = 4 * MiB;
    const proc = await createSubprocessExec('head', ['-c', String(size), '/dev/zero'], {
      loop,
      stdout: 'pipe',
      limit: 10,
    });
    await until(() => proc.stdout!.bufferedSize > 20, 'output above twice the limit');
    await sleep(100);
    // Unpaused, the reader would have taken all of it and head would have exited.
    t.true(proc.stdout!.bufferedSize < size, `buffered ${proc.stdout!.bufferedSize}`);
    t.is(proc.returncode, null, 'head waits on its full pipe');
    const [stdout] = await within(proc.communicate(), 'communicate');
    t.is(stdout!.length, size);
    t.is(proc.returncode, 0);
  });

  it("a child's stdin is not inherited by the next child: communicate() still ends", async ({
    loop,
  }, t) => {
    const cat = await createSubprocessExec('cat', [], { loop, stdin: 'pipe', stdout: 'pipe' });
    // Spawned while cat's stdin is open: holding its write end would keep cat
    // from ever seeing EOF.
    const sleeper = await createSubprocessExec('sleep', ['30'], { loop, stdin: 'ignore' });
    try {
      const [stdout] = await within(cat.communicate('abc'), 'communicate', 5000);
      t.is(stdout!.toString(), 'abc');
      t.is(cat.returncode, 0);
      t.is(sleeper.returncode, null);
    } finally {
      sleeper.kill();
      await within(sleeper.wait(), 'sleeper exit');
    }
  });

  it('wait() after kill() resolves though a grandchild still holds stdout', async ({ loop }, t) => {
    const proc = await createSubprocessShell('sleep 30 & echo $!; wait', { loop, stdout: 'pipe' });
    const grandchild = Number((await within(proc.stdout!.readline(), 'the pid')).toString());
    t.true(grandchild > 0);
    try {
      proc.kill();
      t.is(await within(proc.wait(), 'wait after kill', 5000), -SIG.SIGKILL);
      t.is(proc.returncode, -SIG.SIGKILL);
      t.false(proc.stdout!.atEof(), 'the pipe is still open');
    } finally {
      process.kill(grandchild, 'SIGKILL');
    }
    t.is((await within(proc.stdout!.read(), 'EOF once the grandchild is gone')).length, 0);
  });

  it('after the exit: processExited then connectionLost(null); signals are no-ops; close() is harmless', async ({
    loop,
  }, t) => {
    const [transport, proto] = await loop.subprocessShell(
      () => new MySubprocessProtocol(),
      'exit 6',
      {
        stdin: 'ignore',
        stdout: 'ignore',
        stderr: 'ignore',
      },
    );
    const pid = transport.getPid();
    t.true(pid > 0);
    await within(proto.disconnected, 'connectionLost');
    t.true(proto.exited);
    t.is(transport.getReturncode(), 6);
    t.false(transport.isClosing(), 'ended by the child, not closed');
    // asyncio raises ProcessLookupError here; this API makes them no-ops
    // (docs/loop.md), never a signal to a pid that may be reused.
    t.notThrows(() => transport.sendSignal('SIGTERM'));
    t.notThrows(() => transport.terminate());
    t.notThrows(() => transport.kill());
    transport.close();
    t.is(transport.getReturncode(), 6);
    t.deepEqual(proto.violations, []);
  });

  it('output larger than a pipe on stdout and stderr both: communicate() reads them together', async ({
    loop,
  }, t) => {
    const script = `head -c ${MiB} /dev/zero; head -c ${2 * MiB} /dev/zero >&2; echo end`;
    const proc = await createSubprocessShell(script, { loop, stdout: 'pipe', stderr: 'pipe' });
    const [stdout, stderr] = await within(proc.communicate(), 'communicate', 20000);
    t.is(stdout!.length, MiB + 4);
    t.is(stdout!.subarray(MiB).toString(), 'end\n');
    t.is(stderr!.length, 2 * MiB);
    t.is(proc.returncode, 0);
  });

  it('a child that closes its stdout early: the reader sees EOF while it runs; the exit comes later', async ({
    loop,
  }, t) => {
    const proc = await createSubprocessShell('echo bye; exec 1>&-; read x; exit 4', {
      loop,
      stdin: 'pipe',
      stdout: 'pipe',
    });
    t.true(existsSync(`/proc/${proc.pid}`), 'pid is the running child');
    t.is((await within(proc.stdout!.read(), 'stdout to EOF')).toString(), 'bye\n');
    t.true(proc.stdout!.atEof());
    await sleep(20);
    t.is(proc.returncode, null, 'still running');
    proc.stdin!.write('go\n');
    t.is(await within(proc.wait(), 'exit'), 4);
    proc.stdin!.close();
    await within(
      proc.stdin!.waitClosed().catch(() => {}),
      'stdin closed',
    );
  });

  it('a readers limit below 1 is refused before the child is spawned', async ({ loop }, t) => {
    for (const limit of [0, -1, 1.5]) {
      await t.throwsAsync(
        createSubprocessExec('sh', ['-c', 'echo spawned >&2'], { loop, stdout: 'pipe', limit }),
        { code: 'ERR_OUT_OF_RANGE' },
      );
      await t.throwsAsync(createSubprocessShell('exit 0', { loop, stdout: 'pipe', limit }), {
        code: 'ERR_OUT_OF_RANGE',
      });
    }
    t.deepEqual(loop.liveResources(), {}, 'no child was started');
  });

  it('program, args, env and cwd are checked before the spawn: typed errors, no child', async ({
    loop,
  }, t) => {
    const make = (): MySubprocessProtocol => new MySubprocessProtocol();
    const cases: Array<[string, () => Promise<unknown>, string]> = [
      ['empty program', () => loop.subprocessExec(make, '', []), 'ERR_INVALID_ARG_VALUE'],
      [
        'NUL in an argument',
        () => loop.subprocessExec(make, 'echo', ['a\0b']),
        'ERR_INVALID_ARG_VALUE',
      ],
      [
        'NUL in the program',
        () => loop.subprocessExec(make, 'ec\0ho', []),
        'ERR_INVALID_ARG_VALUE',
      ],
      [
        'NUL in a shell command',
        () => loop.subprocessShell(make, 'echo a\0b'),
        'ERR_INVALID_ARG_VALUE',
      ],
      [
        'an env value that is a number',
        () => loop.subprocessExec(make, 'true', [], { env: { A: 1 as never } }),
        'ERR_INVALID_ARG_TYPE',
      ],
      [
        'NUL in an env value',
        () => loop.subprocessExec(make, 'true', [], { env: { A: 'x\0y' } }),
        'ERR_INVALID_ARG_VALUE',
      ],
      [
        "'=' in an env name",
        () => loop.subprocessExec(make, 'true', [], { env: { 'A=B': 'x' } }),
        'ERR_INVALID_ARG_VALUE',
      ],
      [
        'NUL in cwd',
        () => loop.subprocessExec(make, 'true', [], { cwd: '/\0tmp' }),
        'ERR_INVALID_ARG_VALUE',
      ],
      [
        'env value through createSubprocessExec',
        () => createSubprocessExec('true', [], { loop, env: { N: 2 as never } }),
        'ERR_INVALID_ARG_TYPE',
      ],
    ];
    for (const [what, start, code] of cases) {
      const err = await t.throwsAsync(start(), { code }, what);
      t.is(err?.constructor.name, 'UsageError', what);
    }
    t.deepEqual(loop.liveResources(), {}, 'no child was started');
  });
}
