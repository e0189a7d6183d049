import test from 'ava';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
} from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { Loop, Pipe, Process, TCP, UvError, type SpawnOptions } from '../../handles/index.js';
import { assertNoHandlesAndClose } from '../helpers/loop-test.js';

function closeAll(
  ...handles: Array<{ close(cb?: () => void): void } | null | undefined>
): Promise<void> {
  return Promise.all(
    handles.map((h) => new Promise<void>((resolve) => (h ? h.close(resolve) : resolve()))),
  ).then(() => {});
}

/** Reads a stream to EOF. */
function readAll(stream: Pipe | TCP): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.readStart((err, data) => {
      if (err) return reject(err);
      if (data === null) return resolve(Buffer.concat(chunks));
      chunks.push(data);
    });
  });
}

interface Run {
  proc: Process;
  exit: Promise<[number, number]>;
}

/** Spawns with an onExit that resolves `exit` with [exitStatus, termSignal]. */
function run(loop: Loop, opts: Omit<SpawnOptions, 'onExit'>): Run {
  let onExit!: (status: number, signal: number) => void;
  const exit = new Promise<[number, number]>(
    (resolve) => (onExit = (status, signal) => resolve([status, signal])),
  );
  return { proc: Process.spawn(loop, { ...opts, onExit }), exit };
}

/** Runs a command with stdout piped; resolves with its output and exit. */
async function output(
  loop: Loop,
  opts: Omit<SpawnOptions, 'onExit'>,
): Promise<{ out: string; exit: [number, number] }> {
  const { proc, exit } = run(loop, { ...opts, stdio: opts.stdio ?? ['ignore', 'pipe', 'inherit'] });
  const out = (await readAll(proc.stdio[1]!)).toString();
  const result = { out, exit: await exit };
  await closeAll(proc.stdio[1], proc);
  return result;
}

test('exit codes reach onExit, and the handle is active until the exit', async (t) => {
  const loop = new Loop();
  const { proc, exit } = run(loop, { file: '/bin/sh', args: ['-c', 'exit 3'] });
  t.true(proc.pid > 0);
  t.true(proc.active);
  // A ref'd running child keeps the loop alive; unref'd, it does not.
  t.true(loop.alive);
  proc.unref();
  t.false(loop.alive);
  proc.ref();
  t.true(loop.alive);
  t.is(proc.exitStatus, null);
  t.deepEqual(await exit, [3, 0]);
  t.false(proc.active);
  t.is(proc.exitStatus, 3);
  t.is(proc.termSignal, 0);
  const ok = run(loop, { file: 'true' }); // found in PATH
  t.deepEqual(await ok.exit, [0, 0]);
  await closeAll(proc, ok.proc);
  await assertNoHandlesAndClose(t, loop);
});

test('kill() ends a child with SIGTERM by default, and with a named or numbered signal', async (t) => {
  const loop = new Loop();
  const a = run(loop, { file: 'sleep', args: ['30'] });
  a.proc.kill();
  t.deepEqual(await a.exit, [0, constants.signals.SIGTERM]);
  t.is(a.proc.termSignal, constants.signals.SIGTERM);
  const b = run(loop, { file: 'sleep', args: ['30'] });
  b.proc.kill('SIGKILL');
  t.deepEqual(await b.exit, [0, 9]);
  const c = run(loop, { file: 'sleep', args: ['30'] });
  c.proc.kill(0); // only checks that it is there
  c.proc.kill(constants.signals.SIGINT);
  t.deepEqual(await c.exit, [0, constants.signals.SIGINT]);
  // After the exit the pid may be someone else's: never signalled.
  const err = t.throws(() => c.proc.kill(), { instanceOf: UvError });
  t.is((err as UvError).code, 'ESRCH');
  t.throws(() => c.proc.kill('SIGNOPE'), { code: 'ERR_UNKNOWN_SIGNAL' });
  await closeAll(a.proc, b.proc, c.proc);
  t.throws(() => a.proc.kill(), { code: 'ERR_HANDLE_CLOSED' });
  await assertNoHandlesAndClose(t, loop);
});

test('a missing program is ENOENT and leaves no handle, not even its pipes', async (t) => {
  const loop = new Loop();
  const err = t.throws(
    () =>
      Process.spawn(loop, {
        file: '/nonexistent/asyncuv-no-such-program',
        stdio: ['pipe', 'pipe', 'pipe'],
        onExit: () => t.fail('no exit for a failed spawn'),
      }),
    { instanceOf: UvError },
  );
  t.is((err as UvError).code, 'ENOENT');
  t.is((err as UvError).syscall, 'spawn');
  t.regex((err as UvError).message, /asyncuv-no-such-program/);
  const eacces = t.throws(() => Process.spawn(loop, { file: tmpdir() }), { instanceOf: UvError });
  t.is((eacces as UvError).code, 'EACCES');
  await assertNoHandlesAndClose(t, loop);
});

test('env replaces the environment and cwd sets the directory', async (t) => {
  const loop = new Loop();
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'asyncuv-cwd-')));
  const { out, exit } = await output(loop, {
    file: '/bin/sh',
    args: ['-c', 'echo "$FOO|$HOME|$(pwd)"'],
    env: { FOO: 'bar baz' },
    cwd: dir,
  });
  t.deepEqual(exit, [0, 0]);
  t.is(out, `bar baz||${dir}\n`); // HOME was not passed on
  const missing = t.throws(
    () => Process.spawn(loop, { file: '/bin/true', cwd: join(dir, 'nope') }),
    { instanceOf: UvError },
  );
  t.is((missing as UvError).code, 'ENOENT');
  rmSync(dir, { recursive: true });
  await assertNoHandlesAndClose(t, loop);
});

test('args follow the program and argv0 is what the child sees as argv[0]', async (t) => {
  const loop = new Loop();
  const { out } = await output(loop, {
    file: '/bin/cat',
    argv0: 'my-cat',
    args: ['/proc/self/cmdline'],
  });
  t.deepEqual(out.split('\0'), ['my-cat', '/proc/self/cmdline', '']);
  await assertNoHandlesAndClose(t, loop);
});

test('stdio: ignore is /dev/null, inherit is our own fd, a number is that fd', async (t) => {
  const loop = new Loop();
  const ignored = await output(loop, {
    file: 'readlink',
    args: ['/proc/self/fd/0', '/proc/self/fd/2'],
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  t.is(ignored.out, '/dev/null\n/dev/null\n');
  // Missing entries are 'ignore' too.
  const missing = await output(loop, {
    file: 'readlink',
    args: ['/proc/self/fd/2'],
    stdio: ['ignore', 'pipe'],
  });
  t.is(missing.out, '/dev/null\n');
  // So are holes (as child_process accepts them): a hole, not an undefined entry.
  const holes = await output(loop, {
    file: 'readlink',
    args: ['/proc/self/fd/0'],
    // eslint-disable-next-line no-sparse-arrays
    stdio: [, 'pipe'] as never,
  });
  t.is(holes.out, '/dev/null\n');
  const inherited = await output(loop, {
    file: 'readlink',
    args: ['/proc/self/fd/2'],
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.is(inherited.out, `${readlinkSync('/proc/self/fd/2')}\n`);

  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-fd-'));
  const file = join(dir, 'out.txt');
  const fd = openSync(file, 'w');
  const { proc, exit } = run(loop, {
    file: '/bin/sh',
    args: ['-c', 'echo to-a-file; echo err-too >&2'],
    stdio: ['ignore', fd, fd],
  });
  t.deepEqual(await exit, [0, 0]);
  closeSync(fd);
  t.is(readFileSync(file, 'utf8'), 'to-a-file\nerr-too\n');
  rmSync(dir, { recursive: true });
  await closeAll(proc);
  await assertNoHandlesAndClose(t, loop);
});

test("stdio: 'pipe' above fd 2 is a pipe both ways", async (t) => {
  const loop = new Loop();
  const { proc, exit } = run(loop, {
    file: '/bin/sh',
    args: ['-c', 'read line <&3; echo "got $line" >&3'],
    stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
  });
  const fd3 = proc.stdio[3]!;
  t.deepEqual(proc.stdio.slice(0, 3), [null, null, null]);
  t.true(fd3.readable);
  t.true(fd3.writable);
  fd3.write('over fd 3\n');
  t.is((await readAll(fd3)).toString(), 'got over fd 3\n');
  t.deepEqual(await exit, [0, 0]);
  await closeAll(fd3, proc);
  await assertNoHandlesAndClose(t, loop);
});

test('stdio: an open stream (a TCP connection) is inherited as the child fd', async (t) => {
  const loop = new Loop();
  const server = new TCP(loop);
  server.bind('127.0.0.1', 0);
  const received = new Promise<Buffer>((resolve) =>
    server.listen(1, () => {
      const conn = new TCP(loop);
      server.accept(conn);
      readAll(conn).then((data) => conn.close(() => resolve(data)));
    }),
  );
  const client = new TCP(loop);
  await new Promise<void>((resolve, reject) =>
    client.connect('127.0.0.1', server.getsockname().port, (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  const { proc, exit } = run(loop, {
    file: '/bin/sh',
    args: ['-c', 'echo over tcp'],
    stdio: ['ignore', client, 'inherit'],
  });
  t.is(proc.stdio[1], null); // inherited, not created
  t.deepEqual(await exit, [0, 0]);
  client.close(); // the child's copy is closed already: EOF reaches the server
  t.is((await received).toString(), 'over tcp\n');
  await closeAll(proc, server);
  await assertNoHandlesAndClose(t, loop);
});

test('stdout through a pipe is read fully (1,000,000 bytes from head)', async (t) => {
  const loop = new Loop();
  const { out, exit } = await output(loop, { file: 'head', args: ['-c', '1000000', '/dev/zero'] });
  t.deepEqual(exit, [0, 0]);
  t.is(out.length, 1_000_000);
  t.true(/^\0+$/.test(out));
  await assertNoHandlesAndClose(t, loop);
});

test('stdin piped to cat comes back on stdout', async (t) => {
  const loop = new Loop();
  const { proc, exit } = run(loop, { file: 'cat', stdio: ['pipe', 'pipe', 'inherit'] });
  const [stdin, stdout] = [proc.stdio[0]!, proc.stdio[1]!];
  t.true(stdin.writable);
  t.false(stdin.readable);
  t.true(stdout.readable);
  t.false(stdout.writable);
  const payload = Buffer.alloc(300_000);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
  const echoed = readAll(stdout);
  let writeErr: unknown = 'not called';
  stdin.write(payload, (err) => (writeErr = err));
  stdin.shutdown(() => stdin.close()); // cat sees EOF and exits
  t.true((await echoed).equals(payload));
  t.is(writeErr, null);
  t.deepEqual(await exit, [0, 0]);
  await closeAll(stdout, proc);
  await assertNoHandlesAndClose(t, loop);
});

test('detached children lead their own session', async (t) => {
  const loop = new Loop();
  const sessionOf = (pid: number): number =>
    Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[3]);
  const attached = run(loop, { file: 'sleep', args: ['30'] });
  const detached = run(loop, { file: 'sleep', args: ['30'], detached: true });
  t.is(sessionOf(detached.proc.pid), detached.proc.pid);
  t.is(sessionOf(attached.proc.pid), sessionOf(process.pid));
  attached.proc.kill('SIGKILL');
  detached.proc.kill('SIGKILL');
  t.deepEqual(await Promise.all([attached.exit, detached.exit]), [
    [0, 9],
    [0, 9],
  ]);
  await closeAll(attached.proc, detached.proc);
  await assertNoHandlesAndClose(t, loop);
});

test('uid and gid are set in the child', async (t) => {
  const loop = new Loop();
  const nobody = 65534;
  if (process.getuid!() === 0) {
    const { out, exit } = await output(loop, {
      file: 'id',
      args: ['-u'],
      uid: nobody,
      gid: nobody,
    });
    t.deepEqual(exit, [0, 0]);
    t.is(out, `${nobody}\n`);
  } else {
    // Without privileges the child cannot change user: a typed error.
    t.throws(() => Process.spawn(loop, { file: 'id', uid: 0 }), {
      instanceOf: UvError,
      message: /EPERM/,
    });
  }
  t.throws(() => Process.spawn(loop, { file: 'id', uid: -1 }), { code: 'ERR_OUT_OF_RANGE' });
  await assertNoHandlesAndClose(t, loop);
});

/** Our fds above 2 that lack O_CLOEXEC: only ones inherited from our own parent. */
function inheritedFds(): string[] {
  const O_CLOEXEC = 0o2000000;
  return readdirSync('/proc/self/fd').filter((fd) => {
    if (Number(fd) <= 2) return false;
    try {
      const flags = /flags:\s*(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))!;
      return (parseInt(flags[1]!, 8) & O_CLOEXEC) === 0;
    } catch {
      return false; // the directory's own fd, closed by now
    }
  });
}

test('no parent fd leaks into the child', async (t) => {
  const loop = new Loop();
  // Open some fds of every kind we create: a listening Unix socket, TCP
  // sockets, a file, and an IPC pipe to another child.
  const path = join(tmpdir(), `asyncuv-leak-${process.pid}.sock`);
  const pipe = new Pipe(loop);
  pipe.bind(path);
  pipe.listen(1, () => {});
  const tcp = new TCP(loop);
  tcp.bind('127.0.0.1', 0);
  tcp.listen(1, () => {});
  const file = openSync('/dev/null', 'r');
  const other = run(loop, { file: 'sleep', args: ['30'], stdio: ['pipe', 'pipe', 'pipe'] });
  const { proc, exit } = run(loop, {
    file: 'sleep',
    args: ['30'],
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ours = [
    pipe.fileno(),
    tcp.fileno(),
    file,
    loop.fileno(),
    ...[...other.proc.stdio, proc.stdio[1]].map((p) => p!.fileno()),
  ];
  // uv_spawn returns after the exec, so the fd table is the child's final
  // one. Fds this process itself inherited without close-on-exec (from
  // whoever started the test runner) pass on, as they do through
  // child_process and any exec; every fd opened here must not.
  const expected = ['0', '1', '2', ...inheritedFds()].sort();
  for (const child of [proc, other.proc]) {
    // Right after the exec the child is still starting up, and the dynamic
    // loader and setlocale() open files of their own for a moment (seen here
    // as an fd 3 on a locale file, and far more often under the ASan runtime
    // that npm run test:asan preloads): read the table once it sleeps.
    for (
      let i = 0;
      i < 400 && !readFileSync(`/proc/${child.pid}/wchan`, 'utf8').includes('nanosleep');
      i++
    )
      await sleep(5);
    const fds = readdirSync(`/proc/${child.pid}/fd`).sort();
    t.deepEqual(fds, expected);
    for (const fd of ours) t.false(fds.includes(String(fd)), `fd ${fd} leaked`);
  }
  proc.kill();
  other.proc.kill();
  t.deepEqual(await exit, [0, constants.signals.SIGTERM]);
  await other.exit;
  closeSync(file);
  await closeAll(pipe, tcp, proc, ...proc.stdio, other.proc, ...other.proc.stdio);
  await assertNoHandlesAndClose(t, loop);
});

test('closing the handle does not kill the child', async (t) => {
  const loop = new Loop();
  let exited = false;
  const proc = Process.spawn(loop, { file: 'sleep', args: ['30'], onExit: () => (exited = true) });
  const pid = proc.pid;
  await closeAll(proc);
  await sleep(50);
  t.false(exited);
  t.true(process.kill(pid, 0)); // still there
  t.not(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0], 'Z');
  process.kill(pid, 'SIGKILL'); // nobody watches it any more: clean up by hand
  await assertNoHandlesAndClose(t, loop);
});

test('bad options are typed errors and leak nothing', async (t) => {
  const loop = new Loop();
  t.throws(() => Process.spawn(loop, null as never), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => Process.spawn(loop, { file: '' }), { code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => Process.spawn(loop, { file: 'a\0b' }), { code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => Process.spawn(loop, { file: 'true', args: [1 as never] }), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  t.throws(() => Process.spawn(loop, { file: 'true', env: { 'A=B': 'c' } }), {
    code: 'ERR_INVALID_ARG_VALUE',
  });
  t.throws(() => Process.spawn(loop, { file: 'true', stdio: ['pipe', 'bogus' as never] }), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  t.throws(() => Process.spawn(loop, { file: 'true', stdio: [-1] }), { code: 'ERR_OUT_OF_RANGE' });
  const other = new Loop();
  const foreign = new Pipe(other);
  t.throws(() => Process.spawn(loop, { file: 'true', stdio: [foreign] }), {
    code: 'ERR_INVALID_ARG_VALUE',
  });
  foreign.close();
  const fresh = new Pipe(loop);
  t.throws(() => Process.spawn(loop, { file: 'true', stdio: ['ignore', fresh, fresh] }), {
    code: 'ERR_INVALID_ARG_VALUE',
  });
  t.throws(() => fresh.fileno(), { instanceOf: UvError }); // still unopened
  fresh.close();
  const closedPipe = new Pipe(loop);
  closedPipe.close();
  t.throws(() => Process.spawn(loop, { file: 'true', stdio: ['pipe', closedPipe] }), {
    code: 'ERR_HANDLE_CLOSED',
  });
  // A closed fd: the child could not get it, so the spawn fails up front.
  const fd = openSync('/dev/null', 'r');
  closeSync(fd);
  const ebadf = t.throws(() => Process.spawn(loop, { file: 'true', stdio: ['pipe', fd] }), {
    instanceOf: UvError,
  });
  t.is((ebadf as UvError).code, 'EBADF');
  await assertNoHandlesAndClose(t, other);
  await assertNoHandlesAndClose(t, loop);
});

test('a running child is watched even when nothing references its handle', async (t) => {
  const loop = new Loop();
  let termSignal = -1;
  let pid = 0;
  const exited = new Promise<void>((resolve) => {
    // Only the pid is kept; the handle stays pinned until the exit.
    pid = Process.spawn(loop, {
      file: 'sleep',
      args: ['30'],
      onExit: (_status, signal) => ((termSignal = signal), resolve()),
    }).pid;
  });
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await sleep(10);
  }
  t.deepEqual(loop.handleCounts(), { process: 1 });
  process.kill(pid, 'SIGTERM');
  await exited;
  t.is(termSignal, constants.signals.SIGTERM);
  // Inactive and unreachable now: the GC closes it.
  for (let i = 0; i < 50 && Object.keys(loop.handleCounts()).length > 0; i++) {
    globalThis.gc?.();
    await sleep(10);
  }
  await assertNoHandlesAndClose(t, loop);
});

test('a worker that exits or is terminated with live children, pipes and queued handle writes tears down cleanly', async (t) => {
  const script = new URL('../fixtures/spawn-worker.js', import.meta.url);
  for (const exit of [true, false]) {
    const worker = new Worker(script, { workerData: { exit } });
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const pids = await new Promise<number[]>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (!exit) await worker.terminate();
    const code = await exited;
    t.is(code, exit ? 0 : 1);
    // Teardown closes the handles; like close(), that does not kill children.
    for (const pid of pids) {
      t.true(process.kill(pid, 0));
      process.kill(pid, 'SIGKILL');
    }
  }
});
