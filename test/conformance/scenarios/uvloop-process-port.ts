// Cases of uvloop's tests/test_process.py (_TestProcess, _AsyncioTests,
// Test_UV_Process_Delayed), which uvloop runs on its loop and on asyncio's
// own, that had no counterpart in this suite: test_process_cwd_1 (with an
// empty env), test_process_executable_1 (Popen's executable=),
// test_process_pid_1, test_process_send_signal_1,
// test_process_streams_basic_1, test_subprocess_fd_leak_1 / _2,
// test_subprocess_invalid_stdin, test_stdin_stdout_file,
// test_stdin_stderr_file, test_close_gets_process_closed,
// test_communicate_large_stdout_*, test_write_huge_stdin_* and
// test_process_delayed_stdio__not_paused__*; and the process behaviours
// of the same kind uvloop's issues were about: many children at once,
// arguments and shell quoting reaching the child unchanged, stdio as an fd
// of a file or of a fifo.
//
// The children are sh, coreutils and perl where uvloop's are python, except
// where the child must handle a signal mid-read (python3): a python3 that
// pyenv starts is slow enough, under ASan, to hit a case's hang bound.
import { closeSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createSubprocessExec,
  createSubprocessShell,
  type ReadTransport,
  type SubprocessProtocol,
  type SubprocessTransport,
  type UvError,
  type WriteTransport,
} from 'asyncuv';
import { makeFifo } from '../fifo.js';
import { MySubprocessProtocol } from '../protocols.js';
import {
  type CaseBody,
  featureCases,
  future,
  type MakeLoop,
  type Test,
  until,
  withLoop,
  within,
} from '../harness.js';
import { Collect } from '../protocols.js';

const SIG = constants.signals;

// An fd number no process here has open (past any RLIMIT_NOFILE Node runs
// with), so no concurrent case can open it between the choice and the call.
const kClosedFd = 2 ** 30;

/** A file in the temp dir, removed by the returned function. */
function tempFile(tag: string): [string, () => void] {
  const path = join(
    tmpdir(),
    `asyncuv-uvproc-${tag}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
  );
  return [path, () => rmSync(path, { force: true })];
}

/** How many fds this process has open. */
function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** uvloop's TestProto of Test_UV_Process_Delayed: what happened, in order. */
class StagesProto implements SubprocessProtocol {
  stages: string[] = [];
  lost = 0;
  transport: SubprocessTransport | undefined;
  readonly closed = future();
  connectionMade(transport: SubprocessTransport): void {
    this.transport = transport;
    this.stages.push('CM');
  }
  pipeDataReceived(fd: number, data: Buffer): void {
    if (fd === 1) this.stages.push(`STDOUT ${JSON.stringify(data.toString())}`);
  }
  pipeConnectionLost(fd: number, err: Error | null): void {
    if (fd === 1) this.stages.push(`STDOUT LOST ${String(err)}`);
  }
  processExited(): void {
    this.stages.push('PROC_EXIT');
  }
  connectionLost(err: Error | null): void {
    this.stages.push(`CL ${this.lost} ${String(err)}`);
    this.lost++;
    this.closed.resolve();
  }
}

/** A read protocol that collects the bytes until the end. */
// uvloop's _test_communicate_large_stdout: a child that copies its stdin
// to its stdout one byte at a time (uvloop issue #363). perl, not dd
// bs=1: dd asks aligned_alloc for 1 byte aligned to 4096, which the ASan
// runtime that test-asan.sh preloads into every child refuses.
const COPY_BY_BYTE = [
  'perl',
  '-e',
  'binmode STDIN; binmode STDOUT; while (read(STDIN, my $c, 1)) { print $c }',
];

// uvloop's _test_write_huge_stdin: counts the lines up to END. GNU sed
// takes each line as it comes (awk would wait for a full buffer) and
// prints END's line number, the count plus one. It reads on to EOF rather
// than quitting at END: a child that exits as soon as it has read the last
// byte can beat the completion of the write that sent it, and Node then
// destroys the child's stdin under that write (EPIPE, seen under load in
// CI on NodeEventLoop); the case is about the bytes, not that race.
const COUNT_LINES = ['sed', '-n', '/^END$/='];

export function uvloopProcessPort(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = featureCases(test, makeLoop, 'subprocess', `${name}: uvloop`);

  it('test_process_env_1, test_process_cwd_1: a shell with only the env given, in the cwd given', async ({
    loop,
  }, t) => {
    const env = await createSubprocessShell('echo $FOO$BAR', {
      loop,
      env: { FOO: 'sp', BAR: 'am' },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [out, err] = await within(env.communicate(), 'communicate (env)');
    t.is(out!.toString(), 'spam\n');
    t.is(err!.toString(), '');
    t.is(env.returncode, 0);
    // An empty env: no PATH; pwd is the shell's own.
    const cwd = await createSubprocessShell('pwd', {
      loop,
      cwd: '/',
      env: {},
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [out2] = await within(cwd.communicate(), 'communicate (cwd)');
    t.is(out2!.toString(), '/\n');
    t.is(cwd.returncode, 0);
  });

  it('test_process_pid_1: the child’s own pid is proc.pid, also with stderr to stdout', async ({
    loop,
  }, t) => {
    for (const stderr of ['pipe', 'stdout'] as const) {
      const proc = await createSubprocessExec('sh', ['-c', 'echo $$'], {
        loop,
        stdin: 'pipe',
        stdout: 'pipe',
        stderr,
      });
      const [out] = await within(proc.communicate(), 'communicate');
      t.is(out!.toString(), `${proc.pid}\n`, `stderr ${stderr}`);
    }
  });

  it('test_process_send_signal_1: a signal the child handles, between lines of a dialogue', async ({
    loop,
  }, t) => {
    const prog = [
      'import signal',
      'def handler(signum, frame):',
      '    if signum == signal.SIGUSR1:',
      "        print('WORLD', flush=True)",
      'signal.signal(signal.SIGUSR1, handler)',
      'a = input()',
      'print(a, flush=True)',
      'a = input()',
      'print(a, flush=True)',
      'exit(11)',
    ].join('\n');
    const proc = await createSubprocessExec('python3', ['-W', 'ignore', '-c', prog], {
      loop,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    proc.stdin!.write('HELLO\n');
    await within(proc.stdin!.drain(), 'drain');
    t.is((await within(proc.stdout!.readline(), 'HELLO')).toString(), 'HELLO\n');
    proc.sendSignal('SIGUSR1');
    proc.stdin!.write('!\n');
    await within(proc.stdin!.drain(), 'drain');
    t.is((await within(proc.stdout!.readline(), 'WORLD')).toString(), 'WORLD\n');
    t.is((await within(proc.stdout!.readline(), '!')).toString(), '!\n');
    t.is(await within(proc.wait(), 'exit'), 11);
    proc.stdin!.close();
  });

  it('test_process_streams_basic_1: stdin and stderr in a dialogue; the pipe transports are one-way', async ({
    loop,
  }, t) => {
    const prog = [
      'while read a; do',
      '  case "$a" in',
      '    stop) exit 20 ;;',
      '    stderr) echo OUCH >&2 ;;',
      '    *) echo ">$a<" ;;',
      '  esac',
      'done',
    ].join('\n');
    const [transport, proto] = await loop.subprocessExec(() => new MySubprocessProtocol(), 'sh', [
      '-c',
      prog,
    ]);
    t.true(transport.getPid() > 0);
    t.is(transport.getReturncode(), null);
    // asyncio: stdout is a ReadTransport, with no write. (stdin's
    // pause_reading, which asyncio lacks, is refused by the types here:
    // getPipeTransport(0) is a WriteTransport.)
    const stdin = transport.getPipeTransport(0)!;
    const stdout = transport.getPipeTransport(1) as ReadTransport & Partial<WriteTransport>;
    t.throws(() => stdout.write!('wat'), { code: 'ERR_TRANSPORT_NOT_WRITABLE' });
    stdin.write('foobar\n');
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (proto.data[1]!.toString() === '>foobar<\n') resolve();
          else setTimeout(check, 5);
        };
        check();
      }),
      'the echo',
    );
    stdin.write('stderr\n');
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (proto.data[2]!.toString() === 'OUCH\n') resolve();
          else setTimeout(check, 5);
        };
        check();
      }),
      'OUCH on stderr',
    );
    stdin.write('stop\n');
    await within(proto.completed, 'processExited');
    t.is(transport.getReturncode(), 20);
    transport.close();
    await within(proto.disconnected, 'connectionLost');
    t.deepEqual(proto.violations, []);
  });

  it('test_subprocess_invalid_stdin: an fd that is not open as stdin, stdout or stderr: EBADF, nothing left', async ({
    loop,
  }, t) => {
    for (const stdio of ['stdin', 'stdout', 'stderr'] as const) {
      const err = await t.throwsAsync(
        createSubprocessExec('true', [], { loop, [stdio]: kClosedFd }),
        undefined,
        stdio,
      );
      t.is((err as UvError | undefined)?.code, 'EBADF', `${stdio}: ${String(err)}`);
    }
  });

  it('test_stdin_stdout_file: stdout to a file’s fd; the file holds what the child wrote', async ({
    loop,
  }, t) => {
    const [path, remove] = tempFile('stdout');
    const fd = openSync(path, 'w+');
    try {
      const proc = await createSubprocessExec('cat', [], { loop, stdin: 'pipe', stdout: fd });
      t.is(proc.stdout, null);
      proc.stdin!.write('some data');
      await within(proc.stdin!.drain(), 'drain');
      proc.stdin!.close();
      t.is(await within(proc.wait(), 'exit'), 0);
      t.is(readFileSync(path, 'utf8'), 'some data');
    } finally {
      closeSync(fd);
      remove();
    }
  });

  it('test_stdin_stderr_file: stderr to a file’s fd, stdin from a file’s fd', async ({
    loop,
  }, t) => {
    const [errPath, removeErr] = tempFile('stderr');
    const [inPath, removeIn] = tempFile('stdin');
    writeFileSync(inPath, 'ZeroDivisionError\n');
    const errFd = openSync(errPath, 'w+');
    const inFd = openSync(inPath, 'r');
    try {
      // uvloop's child is python3 -c '1/0'; this one copies its stdin to its stderr.
      const proc = await createSubprocessExec('sh', ['-c', 'cat >&2; exit 1'], {
        loop,
        stdin: inFd,
        stderr: errFd,
      });
      t.is(await within(proc.wait(), 'exit'), 1);
      t.true(readFileSync(errPath, 'utf8').includes('ZeroDivisionError'));
    } finally {
      closeSync(errFd);
      closeSync(inFd);
      removeErr();
      removeIn();
    }
  });

  it('stdout to the write end of a fifo: a read pipe transport on its read end gets the output, then EOF', async ({
    loop,
  }, t) => {
    const fifo = await makeFifo();
    try {
      const proto = new Collect();
      await loop.connectReadPipe(() => proto, fifo.readFd);
      fifo.closeRead = () => {}; // the transport owns it now
      const proc = await createSubprocessShell('echo one; echo two', {
        loop,
        stdout: fifo.writeFd,
      });
      t.is(await within(proc.wait(), 'exit'), 0);
      fifo.closeWrite(); // the last writer gone: EOF
      t.is(await within(proto.lost.promise, 'EOF'), null);
      t.is(proto.data, 'one\ntwo\n');
    } finally {
      fifo.dispose();
    }
  });

  it('test_close_gets_process_closed: close() of a running child: no return code yet, then killed and reaped', async ({
    loop,
  }, t) => {
    const [transport, proto] = await loop.subprocessExec(
      () => new MySubprocessProtocol(),
      'sleep',
      ['3600'],
    );
    const pid = transport.getPid();
    transport.close();
    t.is(transport.getReturncode(), null, 'the kill is not the exit');
    await within(proto.disconnected, 'connectionLost');
    t.is(transport.getReturncode(), -SIG.SIGKILL);
    t.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  });

  for (const size of [65536, 65537, 1000000]) {
    it(`test_communicate_large_stdout_${size}: communicate() through a child copying one character at a time`, async ({
      loop,
    }, t) => {
      const proc = await createSubprocessExec(COPY_BY_BYTE[0]!, COPY_BY_BYTE.slice(1), {
        loop,
        stdin: 'pipe',
        stdout: 'pipe',
        stderr: 'pipe',
      });
      const input = Buffer.alloc(size, 'x');
      const [out, err] = await within(proc.communicate(input), 'communicate', 60_000);
      t.is(err!.toString(), '');
      t.is(out!.length, size);
      t.true(out!.equals(input));
      t.is(proc.returncode, 0);
    });
  }

  for (const size of [8192, 8193, 219263, 219264]) {
    it(`test_write_huge_stdin_${size}: ${size} bytes of lines to stdin, drained, all counted`, async ({
      loop,
    }, t) => {
      const proc = await createSubprocessExec(COUNT_LINES[0]!, COUNT_LINES.slice(1), {
        loop,
        stdin: 'pipe',
        stdout: 'pipe',
      });
      const lines = size - 'END\n'.length;
      const data = Buffer.concat([Buffer.alloc(lines, '\n'), Buffer.from('END\n')]);
      t.is(data.length, size);
      proc.stdin!.write(data);
      await within(proc.stdin!.drain(), 'drain', 30_000);
      proc.stdin!.close();
      t.is(await within(proc.wait(), 'exit', 30_000), 0);
      t.is(Number((await within(proc.stdout!.read(), 'read')).toString()), lines + 1);
    });
  }

  for (const stdin of ['pipe', 'inherit'] as const) {
    it(`test_process_delayed_stdio__not_paused (stdin ${stdin}): connectionMade, the output, its end, the exit, then one connectionLost(null) last`, async ({
      loop,
    }, t) => {
      const [transport, proto] = await loop.subprocessShell(() => new StagesProto(), 'echo 1', {
        stdin,
        stdout: 'pipe',
        stderr: 'pipe',
      });
      await within(proto.closed.promise, 'connectionLost');
      t.is(transport.getReturncode(), 0);
      t.is(proto.transport, transport);
      t.deepEqual(
        [...proto.stages].sort(),
        ['CL 0 null', 'CM', 'PROC_EXIT', 'STDOUT "1\\n"', 'STDOUT LOST null'].sort(),
      );
      t.is(proto.stages[0], 'CM');
      t.is(proto.stages.at(-1), 'CL 0 null');
      transport.close();
    });
  }

  it('many children at once: each communicate() gets its own child’s output and code', async ({
    loop,
  }, t) => {
    const n = 32;
    const procs = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        createSubprocessExec('sh', ['-c', 'cat; echo "child $1"; exit $1', 'sh', String(i)], {
          loop,
          stdin: 'pipe',
          stdout: 'pipe',
        }),
      ),
    );
    const outs = await within(
      Promise.all(procs.map((p, i) => p.communicate(`in ${i}\n`))),
      'every communicate',
      60_000,
    );
    outs.forEach(([out], i) => t.is(out!.toString(), `in ${i}\nchild ${i}\n`));
    procs.forEach((p, i) => t.is(p.returncode, i));
    t.is(new Set(procs.map((p) => p.pid)).size, n, 'n distinct children');
  });

  it('arguments reach the child unchanged (spaces, quotes, $, newlines, empty); a shell command is the shell’s to parse', async ({
    loop,
  }, t) => {
    const args = ['a b', '"q"', "'s'", '$HOME', 'x\ny', '', '*', '\\', 'é ü'];
    // The child prints each argument and a NUL.
    const proc = await createSubprocessExec('sh', ['-c', 'printf "%s\\0" "$@"', 'sh', ...args], {
      loop,
      stdout: 'pipe',
    });
    const [out] = await within(proc.communicate(), 'communicate');
    t.deepEqual(out!.toString().split('\0').slice(0, -1), args);
    const shell = await createSubprocessShell(
      `printf '%s|' "a  b" 'c"d' "e'f" \\$X "$X" ''; echo`,
      { loop, stdout: 'pipe', env: { X: 'x y' } },
    );
    const [out2] = await within(shell.communicate(), 'communicate');
    t.is(out2!.toString(), `a  b|c"d|e'f|$X|x y||\n`);
  });

  it('executable (Popen’s executable=): the file run, while the program stays argv[0]', async ({
    loop,
  }, t) => {
    // test_process_executable_1: a program name that does not exist runs.
    const spammer = await createSubprocessExec('doesnotexist', ['-c', 'echo spam'], {
      loop,
      executable: 'sh',
      stdout: 'pipe',
    });
    const [spam] = await within(spammer.communicate(), 'communicate');
    t.is(spam!.toString(), 'spam\n');
    // sh -c sets $0 to its own argv[0] when no further argument follows.
    for (const stderr of ['pipe', 'stdout'] as const) {
      const sh = await createSubprocessExec('my-name', ['-c', 'echo "$0"; echo err >&2'], {
        loop,
        executable: '/bin/sh',
        stdout: 'pipe',
        stderr,
      });
      const [out, err] = await within(sh.communicate(), 'communicate');
      if (stderr === 'stdout') {
        t.is(out!.toString(), 'my-name\nerr\n', 'stderr to stdout');
        t.is(err, null);
      } else {
        t.is(out!.toString(), 'my-name\n');
        t.is(err!.toString(), 'err\n');
      }
      t.is(sh.returncode, 0);
    }
    // The protocol API, and the shell: executable replaces /bin/sh, whose name stays argv[0].
    const [transport, proto] = await loop.subprocessShell(
      () => new MySubprocessProtocol(),
      'echo "$0"',
      { executable: 'sh' },
    );
    await within(proto.disconnected, 'connectionLost');
    t.is(proto.data[1]!.toString(), '/bin/sh\n');
    t.is(transport.getReturncode(), 0);
    transport.close();
  });

  it('executable: a file that does not exist is ENOENT naming it; bad values are usage errors, no child', async ({
    loop,
  }, t) => {
    const missing = await t.throwsAsync(
      createSubprocessExec('sh', ['-c', 'true'], { loop, executable: 'asyncuv-no-such-program' }),
    );
    t.is((missing as UvError | undefined)?.code, 'ENOENT');
    t.true(String(missing).includes('asyncuv-no-such-program'), String(missing));
    const make = (): MySubprocessProtocol => new MySubprocessProtocol();
    for (const [executable, code] of [
      [42, 'ERR_INVALID_ARG_TYPE'],
      [null, 'ERR_INVALID_ARG_TYPE'],
      ['', 'ERR_INVALID_ARG_VALUE'],
      ['/bin/sh\0x', 'ERR_INVALID_ARG_VALUE'],
    ] as const) {
      await t.throwsAsync(
        async () => loop.subprocessExec(make, 'sh', ['-c', 'true'], { executable } as never),
        { code },
        JSON.stringify(executable),
      );
      await t.throwsAsync(
        async () => loop.subprocessShell(make, 'true', { executable } as never),
        { code },
        JSON.stringify(executable),
      );
      await t.throwsAsync(
        async () => createSubprocessExec('sh', [], { loop, executable } as never),
        { code },
        JSON.stringify(executable),
      );
    }
  });

  it('a missing program with stderr to stdout is ENOENT too, before any child', async ({
    loop,
  }, t) => {
    const err = await t.throwsAsync(
      createSubprocessExec('asyncuv-no-such-program', [], {
        loop,
        stdout: 'pipe',
        stderr: 'stdout',
      }),
    );
    t.is((err as UvError | undefined)?.code, 'ENOENT', String(err));
  });

  // Counting this process's fds needs no other case opening or closing
  // any meanwhile: serial, and ava runs a file's serial cases before the rest.
  const serial = (title: string, body: CaseBody): void =>
    test.serial(`${name}: uvloop ${title}`, (t) => withLoop(t, makeLoop, (ctx) => body(ctx, t)));
  if (makeLoop.unsupported?.['subprocess'] !== undefined) return;

  serial('test_subprocess_fd_leak_1: failed spawns leave no fd behind', async ({ loop }, t) => {
    const spawnMissing = async (): Promise<void> => {
      for (let i = 0; i < 10; i++) {
        await t.throwsAsync(
          createSubprocessExec('asyncuv-nonexistent', [], {
            loop,
            stdout: 'ignore',
            stderr: 'ignore',
          }),
          { code: 'ENOENT' },
        );
        await t.throwsAsync(
          createSubprocessExec('asyncuv-nonexistent', [], {
            loop,
            stdout: 'pipe',
            stderr: 'stdout',
          }),
          { code: 'ENOENT' },
        );
      }
    };
    await spawnMissing();
    const before = openFds();
    await spawnMissing();
    t.is(openFds(), before);
  });

  serial(
    'test_subprocess_fd_leak_2: children that ran and exited leave no fd behind',
    async ({ loop }, t) => {
      const spawnSome = async (): Promise<void> => {
        for (let i = 0; i < 10; i++) {
          const p = await createSubprocessExec('ls', [], {
            loop,
            stdout: 'ignore',
            stderr: 'ignore',
          });
          await within(p.wait(), 'ls');
          const q = await createSubprocessExec('ls', [], {
            loop,
            stdout: 'pipe',
            stderr: 'stdout',
          });
          await within(q.communicate(), 'ls');
        }
      };
      // The pipes' handles close their fds in a later turn.
      const settled = (): Promise<void> =>
        until(() => Object.keys(loop.liveResources()).length === 0, 'the pipes to close');
      await spawnSome();
      await settled();
      const before = openFds();
      await spawnSome();
      await settled();
      await until(() => openFds() === before, `${before} fds open again (${openFds()} now)`);
      t.is(openFds(), before);
    },
  );
}
