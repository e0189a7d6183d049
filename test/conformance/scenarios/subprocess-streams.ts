// asyncio.subprocess on both loops (test_subprocess.py: test_communicate,
// test_stdin_stdout, test_shell, test_kill, test_terminate,
// test_send_signal, test_stdin_broken_pipe, test_stdout_stderr_to_stdout,
// test_cancel_wait, test_cancel_communicate): real children, their pipes
// as StreamWriter/StreamReaders.
import { readFileSync, readlinkSync } from 'node:fs';
import { constants } from 'node:os';
import {
  CancelledError,
  NodeEventLoop,
  TimeoutError,
  UvError,
  UvEventLoop,
  createSubprocessExec,
  createSubprocessShell,
  waitFor,
} from 'asyncuv';
import { featureCases, type MakeLoop, type Test, until, within } from '../harness.js';

const SIG = constants.signals;

type Options = Parameters<typeof createSubprocessExec>[2];

/** createSubprocessExec of `sh -c script`. */
function sh(script: string, opts: Options): ReturnType<typeof createSubprocessExec> {
  return createSubprocessExec('sh', ['-c', script], opts);
}

/** The child's state letter in /proc (T: stopped). */
function procState(pid: number): string | undefined {
  return readFileSync(`/proc/${pid}/stat`, 'latin1').split(' ')[2];
}

export function subprocessStreams(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = featureCases(test, makeLoop, 'subprocess', name);

  it('createSubprocessExec: communicate(input) via cat: [stdout, null]', async ({ loop }, t) => {
    const proc = await createSubprocessExec('cat', [], { loop, stdin: 'pipe', stdout: 'pipe' });
    t.true(proc.pid > 0);
    t.is(proc.returncode, null);
    t.not(proc.stdin, null);
    t.is(proc.stderr, null, 'stderr is inherited unless asked for');
    const input = Buffer.from('Python The Winner');
    const [stdout, stderr] = await within(proc.communicate(input), 'communicate');
    t.is(stdout!.toString(), 'Python The Winner');
    t.is(stderr, null);
    t.is(proc.returncode, 0);
  });

  // docs/streams.md: as in asyncio, a stream that is not asked for is
  // inherited (the child's fd is ours), 'ignore' is /dev/null; and every
  // pipe is closed once communicate() resolves, whatever input type it got.
  it('a stream not asked for is inherited; communicate() closes every pipe', async ({
    loop,
  }, t) => {
    const target = (pid: number | 'self', fd: number): string =>
      readlinkSync(`/proc/${pid}/fd/${fd}`);
    const inherited = await createSubprocessExec('sleep', ['30'], { loop, stdout: 'ignore' });
    try {
      t.is(target(inherited.pid, 0), target('self', 0));
      t.is(target(inherited.pid, 1), '/dev/null');
      t.is(target(inherited.pid, 2), target('self', 2));
    } finally {
      inherited.kill();
    }
    t.is(await within(inherited.wait(), 'exit'), -SIG.SIGKILL);
    for (const input of ['text', Buffer.from('text'), new Uint8Array(Buffer.from('text'))]) {
      const proc = await createSubprocessExec('cat', [], {
        loop,
        stdin: 'pipe',
        stdout: 'pipe',
        stderr: 'pipe',
      });
      const [stdout, stderr] = await within(proc.communicate(input), 'communicate');
      t.is(stdout!.toString(), 'text');
      t.is(stderr!.length, 0);
      t.true(proc.stdin!.transport.isClosing(), 'stdin closed');
      t.true(proc.stdout!.atEof() && proc.stderr!.atEof(), 'stdout and stderr at EOF');
    }
  });

  it('stdout and stderr are separate readers; the exit code is returncode', async ({ loop }, t) => {
    const opts = { loop, stdout: 'pipe', stderr: 'pipe' } as const;
    const proc = await sh('echo out; echo err >&2; exit 7', opts);
    t.is(proc.stdin, null);
    t.is((await within(proc.stdout!.readline(), 'stdout line')).toString(), 'out\n');
    t.is((await within(proc.stderr!.readline(), 'stderr line')).toString(), 'err\n');
    t.is(await within(proc.wait(), 'wait'), 7);
    t.is(proc.returncode, 7);
    t.is((await proc.stdout!.read()).length, 0, 'EOF after the last line');
  });

  it("stderr: 'stdout' sends the child's stderr into the stdout reader", async ({ loop }, t) => {
    const proc = await sh('echo one; echo two >&2', { loop, stdout: 'pipe', stderr: 'stdout' });
    t.is(proc.stderr, null);
    const [stdout] = await within(proc.communicate(), 'communicate');
    t.is(stdout!.toString(), 'one\ntwo\n');
  });

  it('createSubprocessShell runs /bin/sh -c; env and cwd pass through', async ({ loop }, t) => {
    const env = { GREETING: 'hello', PATH: process.env['PATH'] ?? '' };
    const proc = await createSubprocessShell('echo "$GREETING from $(pwd)"', {
      loop,
      stdout: 'pipe',
      env,
      cwd: '/',
    });
    const [stdout] = await within(proc.communicate(), 'communicate');
    t.is(stdout!.toString(), 'hello from /\n');
    t.is(proc.returncode, 0);
  });

  it('line-by-line through stdin and stdout (test_stdin_stdout)', async ({ loop }, t) => {
    const proc = await createSubprocessExec('cat', [], { loop, stdin: 'pipe', stdout: 'pipe' });
    for (const line of ['first\n', 'second\n']) {
      proc.stdin!.write(line);
      await proc.stdin!.drain();
      t.is((await within(proc.stdout!.readline(), line)).toString(), line);
    }
    proc.stdin!.close();
    await within(proc.stdin!.waitClosed(), 'stdin waitClosed');
    t.is(await within(proc.wait(), 'exit'), 0);
    t.is((await proc.stdout!.read()).length, 0);
  });

  it('stdin flow control: drain waits while above the high-water mark', async ({ loop }, t) => {
    // The child stops itself before it reads anything; nothing drains the
    // pipe until SIGCONT.
    const proc = await sh('kill -STOP $$; exec cat >/dev/null', { loop, stdin: 'pipe' });
    const stdin = proc.stdin!;
    const [low, high] = stdin.transport.getWriteBufferLimits();
    stdin.write(Buffer.alloc(1024 * 1024, 'x'));
    t.true(stdin.transport.getWriteBufferSize() > high, 'the pipe took at most its kernel buffer');
    let drained = false;
    const drain = stdin.drain().then(() => (drained = true));
    // Stopped (state T in /proc), the child cannot read: SIGCONT must not
    // come before its own SIGSTOP, or it would stop for good.
    await until(() => procState(proc.pid) === 'T', 'the child stopped');
    await new Promise((resolve) => setImmediate(resolve));
    t.false(drained, 'drain() waits while the buffer is above the high-water mark');
    t.true(stdin.transport.getWriteBufferSize() > high);
    proc.sendSignal('SIGCONT');
    await within(drain, 'drain after the child reads', 10000);
    t.true(stdin.transport.getWriteBufferSize() <= low);
    stdin.close();
    await within(stdin.waitClosed(), 'stdin closed', 10000);
    t.is(await within(proc.wait(), 'exit', 10000), 0);
  });

  it('communicate() ignores a child that never reads stdin (EPIPE)', async ({ loop }, t) => {
    const proc = await sh('echo done', { loop, stdin: 'pipe', stdout: 'pipe' });
    const input = Buffer.alloc(4 * 1024 * 1024, 'z');
    const [stdout] = await within(proc.communicate(input), 'communicate', 10000);
    t.is(stdout!.toString(), 'done\n');
    t.is(proc.returncode, 0);
  });

  it('kill(), terminate() and sendSignal() give return code -signum', async ({ loop }, t) => {
    const cases: Array<[(p: Awaited<ReturnType<typeof createSubprocessExec>>) => void, number]> = [
      [(p) => p.kill(), -SIG.SIGKILL],
      [(p) => p.terminate(), -SIG.SIGTERM],
      [(p) => p.sendSignal('SIGHUP'), -SIG.SIGHUP],
      [(p) => p.sendSignal(SIG.SIGUSR1), -SIG.SIGUSR1],
    ];
    for (const [send, code] of cases) {
      const proc = await createSubprocessExec('sleep', ['30'], { loop });
      send(proc);
      t.is(await within(proc.wait(), 'exit'), code);
      t.is(proc.returncode, code);
      proc.kill(); // after the exit: nothing to do, no error
    }
  });

  it('wait({ signal }) rejects on abort and leaves the child running', async ({ loop }, t) => {
    const proc = await createSubprocessExec('sleep', ['30'], { loop });
    const signal = AbortSignal.timeout(20);
    const err = await t.throwsAsync(proc.wait({ signal }), { instanceOf: CancelledError });
    t.is((err!.cause as Error).name, 'TimeoutError');
    t.is(proc.returncode, null);
    proc.kill();
    t.is(await within(proc.wait(), 'exit'), -SIG.SIGKILL);
  });

  it('under waitFor, communicate() times out; the output is kept', async ({ loop }, t) => {
    // exec: the sleep must hold the pipes, so that the kill ends them.
    const script = 'echo first; echo oops >&2; exec sleep 30';
    const proc = await sh(script, { loop, stdout: 'pipe', stderr: 'pipe' });
    const buffered = (): number =>
      Math.min(proc.stdout?.bufferedSize ?? 0, proc.stderr?.bufferedSize ?? 0);
    await until(() => buffered() > 0, 'output');
    const communicate = waitFor((signal) => proc.communicate(null, { signal }), 0.05);
    await t.throwsAsync(communicate, { instanceOf: TimeoutError });
    t.is(proc.returncode, null);
    proc.kill();
    const [stdout, stderr] = await within(proc.communicate(), 'communicate after kill');
    t.is(stdout!.toString(), 'first\n');
    t.is(stderr!.toString(), 'oops\n');
    t.is(proc.returncode, -SIG.SIGKILL);
  });

  it('bad arguments are typed errors; a missing program is ENOENT', async ({ loop }, t) => {
    await t.throwsAsync(createSubprocessExec('/nonexistent/program', [], { loop }), {
      instanceOf: UvError,
      code: 'ENOENT',
    });
    const badType = { code: 'ERR_INVALID_ARG_TYPE' };
    await t.throwsAsync(createSubprocessExec(42 as never, [], { loop }), badType);
    await t.throwsAsync(createSubprocessExec('true', 'x' as never, { loop }), badType);
    await t.throwsAsync(createSubprocessShell(42 as never, { loop }), badType);
    await t.throwsAsync(createSubprocessExec('true', [], null as never), badType);
    const proc = await createSubprocessExec('true', [], { loop, stdout: 'pipe' });
    // Input for a child whose stdin is not a pipe would be silently lost.
    await t.throwsAsync(proc.communicate('lost'), { code: 'ERR_INVALID_STATE' });
    await t.throwsAsync(proc.communicate(42 as never), { code: 'ERR_INVALID_ARG_TYPE' });
    await t.throwsAsync(proc.wait({ signal: 'x' as never }), { code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => proc.sendSignal('SIGNOPE'), { code: 'ERR_UNKNOWN_SIGNAL' });
    await within(proc.communicate(), 'exit');
    t.is(proc.returncode, 0);
  });

  // docs/streams.md: a limit below 1 is refused before anything is opened,
  // as by the stream functions: no child is started.
  it('a limit below 1 or not an integer is ERR_OUT_OF_RANGE, and no child starts', async ({
    loop,
  }, t) => {
    for (const limit of [0, -1, 1.5]) {
      await t.throwsAsync(createSubprocessExec('true', [], { loop, stdout: 'pipe', limit }), {
        code: 'ERR_OUT_OF_RANGE',
      });
      await t.throwsAsync(createSubprocessShell('true', { loop, stdout: 'pipe', limit }), {
        code: 'ERR_OUT_OF_RANGE',
      });
    }
    t.deepEqual(loop.liveResources(), {}, 'nothing was spawned');
  });

  it('the limit option bounds the readers', async ({ loop }, t) => {
    const proc = await sh('printf "%s\\n" 0123456789abcdef', { loop, stdout: 'pipe', limit: 8 });
    t.is(proc.stdout!.limit, 8);
    await t.throwsAsync(proc.stdout!.readline(), { code: 'ERR_LIMIT_OVERRUN' });
    t.is(await within(proc.wait(), 'exit'), 0);
    t.is((await within(proc.stdout!.read(), 'EOF')).length, 0);
  });

  it('without opts.loop, the running loop is used', async ({ loop }, t) => {
    // What this loop holds of the child: a libuv process handle, or a Node child.
    const children = (): number =>
      loop instanceof UvEventLoop
        ? (loop.uvloop.handleCounts()['process'] ?? 0)
        : ((loop as unknown as NodeEventLoop).liveResources()['subprocess'] ?? 0);
    const script = 'read x; echo on the running loop';
    const proc = await loop.runUntilComplete(() => sh(script, { stdin: 'pipe', stdout: 'pipe' }));
    t.is(children(), 1);
    const [stdout] = await within(proc.communicate('go\n'), 'communicate');
    t.is(stdout!.toString(), 'on the running loop\n');
  });
}
