// A child's life and its pipes' ends (test_subprocess.py: test_stdin_broken_pipe,
// test_read_stdout_after_process_exit, test_empty_input, test_devnull_*,
// test_close_dont_kill_finished, test_communicate with large data,
// concurrent waits; test_events.py SubprocessTestsMixin:
// test_subprocess_close_after_finish, test_subprocess_close_client_stream;
// test_subprocess.py: test_devstdin_input, test_subprocess_communicate_stdout).
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSubprocessExec, createSubprocessShell, type WriteTransport } from 'asyncuv';
import { MySubprocessProtocol } from '../protocols.js';
import { featureCases, type MakeLoop, type Test, until, untilStalled, within } from '../harness.js';

const SIG = constants.signals;

export function processLifecycle(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = featureCases(test, makeLoop, 'subprocess', name);

  it('no pipes: getPipeTransport is null for 0-2; close() after the exit keeps its code', async ({
    loop,
  }, t) => {
    const [transport, proto] = await loop.subprocessShell(
      () => new MySubprocessProtocol(),
      'exit 7',
      { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' },
    );
    for (const fd of [0, 1, 2]) t.is(transport.getPipeTransport(fd), null, `fd ${fd}`);
    await within(proto.completed, 'processExited');
    t.is(transport.getReturncode(), 7);
    t.is(transport.close(), undefined);
    t.is(transport.getReturncode(), 7, 'close() does not kill a child that has exited');
    await within(proto.disconnected, 'connectionLost');
    t.deepEqual(proto.violations, []);
  });

  it('closing the stdout pipe transport early: pipeConnectionLost(1), then cat dies of SIGPIPE', async ({
    loop,
  }, t) => {
    const [transport, proto] = await loop.subprocessExec(() => new MySubprocessProtocol(), 'cat');
    const stdin = transport.getPipeTransport(0) as WriteTransport;
    stdin.write('test');
    await until(() => proto.data[1]!.toString() === 'test', 'the echo');
    transport.getPipeTransport(1)!.close();
    await until(() => 1 in proto.pipesLost, 'pipeConnectionLost(1)');
    t.is(proto.pipesLost[1], null);
    t.is(transport.getReturncode(), null, 'cat runs on until it writes');
    stdin.write('xxx');
    await within(proto.completed, 'processExited');
    t.is(transport.getReturncode(), -SIG.SIGPIPE);
    transport.close();
    await within(proto.disconnected, 'connectionLost');
    t.deepEqual(proto.violations, []);
  });

  it('stdin.drain() rejects with EPIPE or ECONNRESET once the child exits unread', async ({
    loop,
  }, t) => {
    const proc = await createSubprocessExec('true', [], { loop, stdin: 'pipe' });
    const stdin = proc.stdin!;
    // More than any pipe holds, so that the write is still pending at the exit.
    stdin.write(Buffer.alloc(4 * 1024 * 1024 + 1, 'x'));
    const err = await t.throwsAsync(within(stdin.drain(), 'drain', 10000));
    t.true(['EPIPE', 'ECONNRESET'].includes((err as { code?: string }).code ?? ''), String(err));
    t.is(await within(proc.wait(), 'exit'), 0);
    stdin.close();
  });

  it('stdout is still readable after wait() resolved', async ({ loop }, t) => {
    const proc = await createSubprocessShell('printf "some output"; exit 3', {
      loop,
      stdout: 'pipe',
    });
    t.is(await within(proc.wait(), 'exit'), 3);
    t.is((await within(proc.stdout!.read(), 'read')).toString(), 'some output');
    t.true(proc.stdout!.atEof());
  });

  it('communicate() with empty input, and with stdin left open by the call', async ({
    loop,
  }, t) => {
    const empty = await createSubprocessExec('cat', [], { loop, stdin: 'pipe', stdout: 'pipe' });
    const [out] = await within(empty.communicate(Buffer.alloc(0)), 'communicate(empty)');
    t.is(out!.length, 0);
    t.is(empty.returncode, 0);
    const none = await createSubprocessExec('cat', [], { loop, stdin: 'pipe', stdout: 'pipe' });
    const [out2, err2] = await within(none.communicate(), 'communicate()');
    t.is(out2!.length, 0, 'communicate() without input closes stdin: cat sees EOF');
    t.is(err2, null);
    t.is(none.returncode, 0);
  });

  it("stdio 'ignore' (DEVNULL) for stdin, stdout and stderr", async ({ loop }, t) => {
    const input = await createSubprocessExec('cat', [], { loop, stdin: 'ignore', stdout: 'pipe' });
    t.is(input.stdin, null);
    const [out] = await within(input.communicate(), 'stdin ignored');
    t.is(out!.length, 0, 'cat reads EOF from /dev/null');
    const output = await createSubprocessShell('echo out; echo err >&2', {
      loop,
      stdout: 'ignore',
      stderr: 'ignore',
    });
    t.is(output.stdout, null);
    t.is(output.stderr, null);
    t.deepEqual(await within(output.communicate(), 'stdout ignored'), [null, null]);
    t.is(output.returncode, 0);
  });

  it('communicate() moves 4 MiB + 1 (PIPE_MAX_SIZE) through cat both ways without deadlock', async ({
    loop,
  }, t) => {
    const proc = await createSubprocessExec('cat', [], { loop, stdin: 'pipe', stdout: 'pipe' });
    const input = Buffer.alloc(4 * 1024 * 1024 + 1);
    for (let i = 0; i + 4 <= input.length; i += 4096) input.writeUInt32LE(i, i);
    const [out, err] = await within(proc.communicate(input), 'communicate', 20000);
    t.is(err, null);
    t.is(out!.length, input.length);
    t.true(out!.equals(input));
    t.is(proc.returncode, 0);
  });

  it('concurrent wait() calls all resolve with the return code', async ({ loop }, t) => {
    const proc = await createSubprocessShell('read x; exit 5', { loop, stdin: 'pipe' });
    const waits = [proc.wait(), proc.wait(), proc.wait()];
    proc.stdin!.write('go\n');
    t.deepEqual(await within(Promise.all(waits), 'the waits'), [5, 5, 5]);
    t.is(await within(proc.wait(), 'a wait after the exit'), 5);
    proc.stdin!.close();
  });

  it('a child that signals itself has return code -signum', async ({ loop }, t) => {
    const proc = await createSubprocessShell('kill -TERM $$; sleep 30', { loop });
    t.is(await within(proc.wait(), 'exit'), -SIG.SIGTERM);
    t.is(proc.returncode, -SIG.SIGTERM);
  });

  it('a cwd that does not exist, or a program that is not executable, rejects; nothing is left', async ({
    loop,
  }, t) => {
    const noDir = join(tmpdir(), `asyncuv-no-such-dir-${process.pid}`);
    await t.throwsAsync(
      loop.subprocessExec(() => new MySubprocessProtocol(), 'true', [], { cwd: noDir }),
      { code: 'ENOENT' },
    );
    await t.throwsAsync(createSubprocessExec('true', [], { loop, cwd: noDir }), {
      code: 'ENOENT',
    });
    // A directory is found on the path given but cannot be executed.
    await t.throwsAsync(
      loop.subprocessExec(() => new MySubprocessProtocol(), tmpdir(), [], { stdin: 'pipe' }),
      { code: 'EACCES' },
    );
  });

  it('an empty env reaches the child as empty', async ({ loop }, t) => {
    const proc = await createSubprocessExec('/usr/bin/env', [], { loop, env: {}, stdout: 'pipe' });
    const [out] = await within(proc.communicate(), 'communicate');
    t.is(out!.toString(), '');
    t.is(proc.returncode, 0);
  });

  it('pausing the stdout pipe transport holds the child back; resuming delivers every byte', async ({
    loop,
  }, t) => {
    // More than the pipe can hand over before pauseReading() runs: libuv
    // reads up to 32 x 64 KiB in one wake-up, and the child writes from
    // its spawn on, so a slow first turn could let a 1 MiB child finish.
    // 4 MiB is twice that; more only adds wake-ups (a pipe hands over 64
    // KiB at a time), which an ASan build on a loaded machine is short of.
    const size = 4 * 1024 * 1024;
    const [transport, proto] = await loop.subprocessExec(() => new MySubprocessProtocol(), 'sh', [
      '-c',
      `head -c ${size} /dev/zero; echo done >&2`,
    ]);
    const stdout = transport.getPipeTransport(1)!;
    stdout.pauseReading();
    t.false(stdout.isReading());
    await new Promise((r) => setTimeout(r, 50));
    const held = proto.data[1]!.length;
    t.true(held < size, `only what came before the pause: ${held}`);
    t.is(transport.getReturncode(), null, 'the child waits on its full pipe');
    t.is(proto.data[2]!.toString(), '');
    stdout.resumeReading();
    // The bytes come at the machine's pace: awaited is that they keep
    // coming until connectionLost, not how fast.
    let lost = false;
    void proto.disconnected.then(() => (lost = true));
    await untilStalled(
      () => lost,
      () => proto.data[1]!.length,
      'connectionLost, the bytes read',
    );
    t.is(proto.data[1]!.length, size);
    t.is(proto.data[2]!.toString(), 'done\n');
    t.is(transport.getReturncode(), 0);
    t.deepEqual(proto.violations, []);
  });

  it('subprocessShell refuses a command that is not a string; bad stdio specs are usage errors', async ({
    loop,
  }, t) => {
    const make = (): MySubprocessProtocol => new MySubprocessProtocol();
    await t.throwsAsync(async () => loop.subprocessShell(make, 42 as never), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
    await t.throwsAsync(async () => loop.subprocessShell(make, ['true'] as never), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
    for (const opts of [
      { stdin: 'bogus' },
      { stdout: 'stdout' },
      { stdin: 'stdout' },
      { stderr: -1 },
      { stdout: 1.5 },
    ]) {
      const err = await t.throwsAsync(async () =>
        loop.subprocessShell(make, 'true', opts as never),
      );
      const code = (err as { code?: unknown } | undefined)?.code;
      t.true(
        code === 'ERR_INVALID_ARG_VALUE' || code === 'ERR_INVALID_ARG_TYPE',
        `${JSON.stringify(opts)}: ${String(err)}`,
      );
    }
  });

  it('stdin closed early: the child sees EOF and the output so far comes back', async ({
    loop,
  }, t) => {
    const proc = await createSubprocessExec('cat', [], { loop, stdin: 'pipe', stdout: 'pipe' });
    proc.stdin!.write('abc');
    proc.stdin!.close();
    t.true(proc.stdin!.isClosing());
    await within(proc.stdin!.waitClosed(), 'stdin waitClosed');
    t.is((await within(proc.stdout!.read(), 'read to EOF')).toString(), 'abc');
    t.is(await within(proc.wait(), 'exit'), 0);
  });

  it('test_devstdin_input: the piped fds are pipes, which the child can open again by name (/dev/stdin, /dev/stdout, /dev/stderr)', async ({
    loop,
  }, t) => {
    // asyncio's children get Popen's os.pipe() on Linux. A Unix socket
    // pair (what libuv and Node make for a piped fd) cannot be opened
    // through /proc/self/fd: ENXIO, and `cmd < /dev/stdin`, `tee
    // /dev/stderr` or `echo > /dev/stdout` fail in the child.
    const script = 'wc -c < /dev/stdin; echo out > /dev/stdout; echo err > /dev/stderr';
    const proc = await createSubprocessExec('sh', ['-c', script], {
      loop,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [out, err] = await within(proc.communicate(Buffer.from('abc')), 'communicate');
    t.is(err!.toString(), 'err\n');
    t.is(out!.toString().replace(/^ +/, ''), '3\nout\n');
    t.is(proc.returncode, 0);
    // stderr 'stdout' (asyncio.STDOUT): the one pipe, opened by both names.
    const merged = await createSubprocessExec(
      'sh',
      ['-c', 'echo a > /dev/stdout; echo b > /dev/stderr'],
      {
        loop,
        stdin: 'ignore',
        stdout: 'pipe',
        stderr: 'stdout',
      },
    );
    const [both] = await within(merged.communicate(), 'communicate (merged)');
    t.is(both!.toString(), 'a\nb\n');
    t.is(merged.returncode, 0);
  });

  it('test_subprocess_communicate_stdout: ten children at once, each communicate() gets its own output', async ({
    loop,
  }, t) => {
    const outputs = Array.from({ length: 10 }, (_, i) => `foo${i}`);
    const results = await within(
      Promise.all(
        outputs.map(async (word) => {
          const proc = await createSubprocessExec('echo', [word], { loop, stdout: 'pipe' });
          const [out] = await proc.communicate();
          return out!.toString().trim();
        }),
      ),
      'ten communicate() calls',
    );
    t.deepEqual(results, outputs);
  });
}
