// subprocess.Popen's options that asyncio passes through subprocess_exec /
// subprocess_shell and create_subprocess_*: start_new_session (setsid),
// pass_fds (our fds under the same numbers in the child), user and group
// (as numbers). Checked before anything is spawned, on both loops
// (test_subprocess.py's test_start_new_session, test_pass_fds,
// test_user / test_group; test_events.py's test_subprocess_exec_invalid_args).
import { existsSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSubprocessExec, createSubprocessShell, type SubprocessOptions } from 'asyncuv';
import { makeFifo } from '../fifo.js';
import { MySubprocessProtocol } from '../protocols.js';
import { featureCases, type MakeLoop, type Test, until, within } from '../harness.js';
import { runFixture } from '../../helpers/child.js';

/** The session id of `pid` ('self' for ours), from /proc/<pid>/stat. */
function sessionOf(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command, whose name may hold spaces and parentheses:
  // state, ppid, pgrp, session.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

/** What process.kill(pid, 0) throws: ESRCH once the child is reaped (a zombie still answers). */
function probe(pid: number): string | undefined {
  try {
    process.kill(pid, 0);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
}

/**
 * A shell command that writes `text` to the child's fd `fd`. dash, the usual
 * /bin/sh, takes one digit in `>&N` and our fds are past 9, so the write
 * goes through /proc/self/fd/N: it fails (dash: "cannot create") when the child has
 * no fd N.
 */
function writeToFd(fd: number, text: string): string {
  return `echo ${text} > /proc/self/fd/${fd}`;
}

// An fd number no process here has open (past any RLIMIT_NOFILE Node runs
// with), so no concurrent case can open it between the choice and the call.
const kClosedFd = 2 ** 30;

export function subprocessOptions(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = featureCases(test, makeLoop, 'subprocess', `${name}: subprocess options`);

  it('startNewSession: the child leads a session of its own; without it the child shares ours', async ({
    loop,
  }, t) => {
    const own = await createSubprocessExec('sleep', ['30'], { loop, startNewSession: true });
    const shared = await createSubprocessExec('sleep', ['30'], { loop });
    const sharedToo = await createSubprocessExec('sleep', ['30'], {
      loop,
      startNewSession: false,
    });
    try {
      // The spawn resolves after the exec, so the setsid before it has run.
      t.is(sessionOf(own.pid), own.pid, 'setsid: the child is its session leader');
      t.not(sessionOf('self'), own.pid);
      t.is(sessionOf(shared.pid), sessionOf('self'));
      t.is(sessionOf(sharedToo.pid), sessionOf('self'));
    } finally {
      for (const proc of [own, shared, sharedToo]) proc.kill();
    }
    for (const proc of [own, shared, sharedToo]) {
      t.is(await within(proc.wait(), 'the exit'), -9, 'kill() reaches it as before');
    }
  });

  it('close() kills and reaps a startNewSession child, as any running child', async ({
    loop,
  }, t) => {
    const [transport, proto] = await loop.subprocessExec(
      () => new MySubprocessProtocol(),
      'sleep',
      ['30'],
      { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore', startNewSession: true },
    );
    const pid = transport.getPid();
    t.is(sessionOf(pid), pid);
    t.is(probe(pid), undefined, 'running');
    loop.close();
    await until(() => probe(pid) === 'ESRCH', 'the child to be killed and reaped');
    t.false(proto.exited, 'processExited is not called by a closed loop');
  });

  it("a startNewSession child still holds the process open until it exits (it is not unref'd)", async (_ctx, t) => {
    const result = await within(
      runFixture('new-session-exit.js', [name === 'node' ? 'node' : 'uv']),
      'the fixture',
      30000,
    );
    t.is(result.code, 0, result.stderr);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as object);
    t.true((lines[0] as { pid?: number }).pid! > 0, 'the child started');
    t.deepEqual(lines[1], { exited: 3 }, 'the exit came before the process ended');
  });

  it('passFds: the child writes to our fd under its own number', async ({ loop }, t) => {
    const fifo = await makeFifo();
    try {
      const fd = fifo.writeFd;
      const proc = await createSubprocessShell(
        `readlink /proc/self/fd/${fd}; ${writeToFd(fd, 'hi')}`,
        {
          loop,
          stdout: 'pipe',
          stderr: 'pipe',
          passFds: [fd],
        },
      );
      const [stdout, stderr] = await within(proc.communicate(), 'the child');
      t.is(stderr!.toString(), '');
      t.is(proc.returncode, 0);
      t.is(stdout!.toString(), `${readlinkSync(`/proc/self/fd/${fd}`)}\n`, 'the same file');
      t.is(fifo.readNow().toString(), 'hi\n');
    } finally {
      fifo.dispose();
    }
  });

  it("passFds with stderr 'stdout': the passed fd and the merged output both reach us", async ({
    loop,
  }, t) => {
    const fifo = await makeFifo();
    try {
      const [transport, proto] = await loop.subprocessExec(
        () => new MySubprocessProtocol(),
        'sh',
        ['-c', `echo out; echo err >&2; ${writeToFd(fifo.writeFd, 'hi')}`],
        { stdin: 'ignore', stdout: 'pipe', stderr: 'stdout', passFds: [fifo.writeFd] },
      );
      await within(proto.disconnected, 'connectionLost');
      t.is(transport.getReturncode(), 0);
      t.is(proto.data[1]!.toString(), 'out\nerr\n');
      t.is(fifo.readNow().toString(), 'hi\n');
      transport.close();
    } finally {
      fifo.dispose();
    }
  });

  it('an fd not in passFds is closed in the child', async ({ loop }, t) => {
    const passed = await makeFifo();
    const kept = await makeFifo();
    try {
      // Alone, then next to a passed fd (with the numbers between them ignored).
      const alone = await createSubprocessShell(writeToFd(kept.writeFd, 'x'), {
        loop,
        stderr: 'pipe',
      });
      const [, aloneErr] = await within(alone.communicate(), 'the first child');
      t.not(alone.returncode, 0);
      t.regex(aloneErr!.toString(), /cannot create/);
      const both = await createSubprocessShell(
        `${writeToFd(passed.writeFd, 'a')}; ${writeToFd(kept.writeFd, 'b')}`,
        { loop, stderr: 'pipe', passFds: [passed.writeFd] },
      );
      const [, bothErr] = await within(both.communicate(), 'the second child');
      t.not(both.returncode, 0);
      t.regex(bothErr!.toString(), /cannot create/);
      t.is(passed.readNow().toString(), 'a\n');
      t.is(kept.readNow().toString(), '', 'nothing reached the fd that was not passed');
    } finally {
      passed.dispose();
      kept.dispose();
    }
  });

  it('uid and gid: the child runs as them (root), or the spawn fails with EPERM (others)', async ({
    loop,
  }, t) => {
    if (process.getuid!() === 0) {
      const proc = await createSubprocessShell('id -u; id -g', {
        loop,
        stdout: 'pipe',
        uid: 65534,
        gid: 65534,
      });
      const [stdout] = await within(proc.communicate(), 'id');
      t.is(stdout!.toString(), '65534\n65534\n');
      t.is(proc.returncode, 0);
      const gidOnly = await createSubprocessShell('id -u; id -g', {
        loop,
        stdout: 'pipe',
        gid: 65534,
      });
      const [gidOut] = await within(gidOnly.communicate(), 'id with gid only');
      t.is(gidOut!.toString(), '0\n65534\n');
    } else {
      // Root's ids, which a process that is not root cannot take.
      for (const opts of [{ uid: 0 }, { gid: 0, uid: 0 }]) {
        const err = await t.throwsAsync(
          createSubprocessShell('true', { loop, ...opts }),
          { code: 'EPERM' },
          JSON.stringify(opts),
        );
        t.is(err?.name, 'UvError');
      }
      t.deepEqual(loop.liveResources(), {}, 'no child is left');
    }
  });

  it('bad options are refused before anything is spawned: typed errors, no child', async ({
    loop,
  }, t) => {
    const marker = join(
      tmpdir(),
      `asyncuv-spawned-${process.pid}-${Math.random().toString(36).slice(2)}`,
    );
    const make = (): MySubprocessProtocol => new MySubprocessProtocol();
    const cases: Array<[string, SubprocessOptions, string]> = [
      ['passFds [0]', { passFds: [0] }, 'ERR_OUT_OF_RANGE'],
      ['passFds [2]', { passFds: [2] }, 'ERR_OUT_OF_RANGE'],
      ['a negative fd', { passFds: [-1] }, 'ERR_OUT_OF_RANGE'],
      ['a fractional fd', { passFds: [3.5] }, 'ERR_OUT_OF_RANGE'],
      ['NaN', { passFds: [NaN] }, 'ERR_OUT_OF_RANGE'],
      ['an fd as a string', { passFds: ['3' as never] }, 'ERR_INVALID_ARG_TYPE'],
      ['passFds not an array', { passFds: 3 as never }, 'ERR_INVALID_ARG_TYPE'],
      ['a repeated fd', { passFds: [1000, 1000] }, 'ERR_INVALID_ARG_VALUE'],
      ['startNewSession not a boolean', { startNewSession: 1 as never }, 'ERR_INVALID_ARG_TYPE'],
      ['a negative uid', { uid: -1 }, 'ERR_OUT_OF_RANGE'],
      ['a fractional uid', { uid: 1.5 }, 'ERR_OUT_OF_RANGE'],
      ['a uid past int32', { uid: 2 ** 31 }, 'ERR_OUT_OF_RANGE'],
      ['a uid as a string', { uid: '0' as never }, 'ERR_INVALID_ARG_TYPE'],
      ['a negative gid', { gid: -1 }, 'ERR_OUT_OF_RANGE'],
      ['a gid as a string', { gid: '0' as never }, 'ERR_INVALID_ARG_TYPE'],
    ];
    try {
      for (const [what, opts, code] of cases) {
        const shell = loop.subprocessShell(make, `touch ${marker}`, opts);
        const err = await t.throwsAsync(shell, { code }, what);
        t.is(err?.name, 'UsageError', what);
        const exec = createSubprocessExec('touch', [marker], { loop, ...opts });
        await t.throwsAsync(exec, { code }, `${what} (createSubprocessExec)`);
      }
      // A closed fd: EBADF from our check (fstat), not from a child that failed.
      for (const passFds of [[kClosedFd], [3, kClosedFd]]) {
        const err = await t.throwsAsync(
          loop.subprocessShell(make, `touch ${marker}`, { passFds }),
          {
            code: 'EBADF',
          },
        );
        t.is(err?.name, 'UvError');
        t.is((err as Error & { syscall?: string }).syscall, 'fstat');
      }
      t.deepEqual(loop.liveResources(), {}, 'no child was started');
      t.false(existsSync(marker), 'no child ran');
    } finally {
      rmSync(marker, { force: true });
    }
  });
}
