// A memcheck smoke run (scripts/test-valgrind.sh): every kind of handle, the
// fs and dns requests, the asyncio layer and the cross-thread primitives,
// each used once, without ava (ava under valgrind takes far too long).
// Each step checks its result; any failure ends the process non-zero. The
// last step asserts that no handle is left open, then the process exits
// naturally so that env teardown runs under valgrind too.
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import {
  Async,
  Check,
  dns,
  FSEvent,
  FSPoll,
  fs,
  Idle,
  Loop,
  Mutex,
  Pipe,
  Poll,
  Prepare,
  Process,
  Queue,
  Semaphore,
  Signal,
  TCP,
  Timer,
  TTY,
  UDP,
  UvEventLoop,
  type Protocol,
  type Transport,
} from '../../index.js';

type Closable = { close(cb?: () => void): void };

function closed(...handles: Closable[]): Promise<void> {
  return Promise.all(handles.map((h) => new Promise<void>((resolve) => h.close(resolve)))).then(
    () => {},
  );
}

async function step(name: string, body: () => Promise<void>): Promise<void> {
  const started = Date.now();
  await body();
  console.log(`ok ${name} (${Date.now() - started} ms)`);
}

/** Reads from a stream until `n` bytes arrived. */
function readN(stream: TCP | Pipe, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  return new Promise((resolve, reject) =>
    stream.readStart((err, data) => {
      if (err) return reject(err);
      if (data === null) return reject(new Error('early EOF'));
      parts.push(data);
      size += data.length;
      if (size >= n) {
        stream.readStop();
        resolve(Buffer.concat(parts));
      }
    }),
  );
}

function echoOnAccept<S extends TCP | Pipe>(server: S, make: () => S, accepted: S[]): void {
  server.listen(8, (err) => {
    if (err) throw err;
    const conn = make();
    (server as TCP).accept(conn as TCP);
    accepted.push(conn);
    conn.readStart((e, data) => {
      if (e || data === null) conn.close();
      else conn.write(data);
    });
  });
}

async function main(): Promise<void> {
  const loop = new Loop();
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-valgrind-'));

  await step('timer, idle, prepare, check', async () => {
    const seen: string[] = [];
    const timer = new Timer(loop);
    const idle = new Idle(loop);
    const prepare = new Prepare(loop);
    const check = new Check(loop);
    await new Promise<void>((resolve) => {
      idle.start(() => seen.push('idle'));
      prepare.start(() => seen.push('prepare'));
      check.start(() => seen.push('check'));
      timer.start(() => resolve(), 5);
    });
    assert.ok(seen.includes('idle') && seen.includes('prepare') && seen.includes('check'));
    await closed(timer, idle, prepare, check);
  });

  await step('signal', async () => {
    const signal = new Signal(loop);
    const got = new Promise<number>((resolve) =>
      signal.start((signum) => resolve(signum), 'SIGUSR2'),
    );
    process.kill(process.pid, 'SIGUSR2');
    assert.ok((await got) > 0);
    await closed(signal);
  });

  await step('tcp echo', async () => {
    const server = new TCP(loop);
    const accepted: TCP[] = [];
    server.bind('127.0.0.1', 0);
    echoOnAccept(server, () => new TCP(loop), accepted);
    const client = new TCP(loop);
    await new Promise<void>((resolve, reject) =>
      client.connect('127.0.0.1', server.getsockname().port, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    const payload = Buffer.alloc(300_000, 7);
    const got = readN(client, payload.length);
    client.write(payload);
    assert.ok((await got).equals(payload));
    await closed(client, server, ...accepted);
  });

  await step('pipe echo', async () => {
    const path = join(dir, 'echo.sock');
    const server = new Pipe(loop);
    const accepted: Pipe[] = [];
    server.bind(path);
    echoOnAccept(server, () => new Pipe(loop), accepted);
    const client = new Pipe(loop);
    await new Promise<void>((resolve, reject) =>
      client.connect(path, (err) => (err ? reject(err) : resolve())),
    );
    const got = readN(client, 5);
    client.write('hello');
    assert.equal((await got).toString(), 'hello');
    await closed(client, server, ...accepted);
  });

  await step('udp echo', async () => {
    const server = new UDP(loop);
    server.bind('127.0.0.1', 0);
    server.recvStart((err, data, rinfo) => {
      if (!err && data && rinfo) server.send(data, rinfo.address, rinfo.port);
    });
    const client = new UDP(loop);
    client.bind('127.0.0.1', 0);
    const got = new Promise<string>((resolve) =>
      client.recvStart((_err, data) => data && resolve(data.toString())),
    );
    await new Promise<void>((resolve, reject) =>
      client.send('datagram', '127.0.0.1', server.getsockname().port, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    assert.equal(await got, 'datagram');
    await closed(client, server);
  });

  await step('process with piped stdout', async () => {
    let exited!: (status: number) => void;
    const exit = new Promise<number>((resolve) => (exited = resolve));
    const proc = Process.spawn(loop, {
      file: '/bin/sh',
      args: ['-c', 'echo from-child'],
      stdio: ['ignore', 'pipe', 'inherit'],
      onExit: (status) => exited(status),
    });
    const out = proc.stdio[1] as Pipe;
    const text = await new Promise<string>((resolve, reject) => {
      const parts: Buffer[] = [];
      out.readStart((err, data) =>
        err
          ? reject(err)
          : data === null
            ? resolve(Buffer.concat(parts).toString())
            : parts.push(data),
      );
    });
    assert.equal(text, 'from-child\n');
    assert.equal(await exit, 0);
    await closed(out, proc);
  });

  await step('poll on a socket fd', async () => {
    // The client end of a Unix socket connection, watched by fd from a second loop.
    const server = new Pipe(loop);
    const path = join(dir, 'poll.sock');
    const accepted: Pipe[] = [];
    server.bind(path);
    server.listen(1, () => {
      const conn = new Pipe(loop);
      server.accept(conn);
      accepted.push(conn);
      conn.write('x');
    });
    const client = new Pipe(loop);
    await new Promise<void>((resolve, reject) =>
      client.connect(path, (err) => (err ? reject(err) : resolve())),
    );
    const other = new Loop();
    const poll = new Poll(other, client.fileno());
    await new Promise<void>((resolve, reject) =>
      poll.start({ readable: true }, (err, events) =>
        err ? reject(err) : events.readable && resolve(),
      ),
    );
    await closed(poll);
    other.close();
    await closed(client, server, ...accepted);
  });

  await step('fs requests', async () => {
    const path = join(dir, 'data');
    const fd = await fs.open(loop, path, 'w+', 0o600);
    assert.equal(await fs.write(loop, fd, 'hello, world'), 12);
    const buf = Buffer.alloc(5);
    assert.equal(await fs.read(loop, fd, buf, 0, 5, 7), 5);
    assert.equal(buf.toString(), 'world');
    assert.equal((await fs.fstat(loop, fd)).size, 12);
    await fs.close(loop, fd);
    const names = (await fs.scandir(loop, dir)).map((d) => d.name);
    assert.ok(names.includes('data'));
    await fs.rename(loop, path, `${path}2`);
    await fs.unlink(loop, `${path}2`);
  });

  await step('fs poll and fs event', async () => {
    const path = join(dir, 'watched');
    writeFileSync(path, 'a');
    const event = new FSEvent(loop);
    const changed = new Promise<void>((resolve) => event.start(dir, () => resolve()));
    const poll = new FSPoll(loop);
    const polled = new Promise<void>((resolve) => poll.start(path, 20, () => resolve()));
    await new Promise((r) => setTimeout(r, 100));
    writeFileSync(path, 'bigger');
    await changed;
    await polled;
    await closed(event, poll);
  });

  await step('tty on a pty master', async () => {
    // The TTY owns the fd from here on and closes it (libuv closes fds above 2).
    const tty = new TTY(loop, openSync('/dev/ptmx', 'r+'), true);
    const { columns, rows } = tty.getWinsize();
    assert.ok(columns >= 0 && rows >= 0);
    tty.setMode('raw');
    tty.setMode('normal');
    await closed(tty);
  });

  await step('dns', async () => {
    const addrs = await dns.getaddrinfo(loop, 'localhost', 80, { family: 'IPv4' });
    assert.ok(addrs.some((a) => a.address === '127.0.0.1'));
    const info = await dns.getnameinfo(loop, '127.0.0.1', 80);
    assert.ok(typeof info.host === 'string');
  });

  await step('asyncio layer: server, connection, subprocess', async () => {
    const aloop = new UvEventLoop();
    class Echo implements Protocol {
      #t!: Transport;
      connectionMade(t: Transport): void {
        this.#t = t;
      }
      dataReceived(data: Buffer): void {
        this.#t.write(data);
      }
    }
    const server = await aloop.createServer(() => new Echo(), '127.0.0.1', 0);
    const address = server.sockets()[0]!;
    assert.ok('port' in address);
    const port = address.port;
    let reply!: (data: string) => void;
    const replied = new Promise<string>((resolve) => (reply = resolve));
    const [transport] = await aloop.createConnection(
      () => ({ dataReceived: (d: Buffer) => reply(String(d)) }),
      '127.0.0.1',
      port,
    );
    transport.write('ping');
    assert.equal(await replied, 'ping');
    transport.close();
    server.close();
    await server.waitClosed();
    let exited!: () => void;
    const done = new Promise<void>((resolve) => (exited = resolve));
    const [sub] = await aloop.subprocessExec(
      () => ({ processExited: () => exited() }),
      '/bin/true',
    );
    await done;
    sub.close();
    await new Promise((r) => setTimeout(r, 20));
    aloop.close();
  });

  await step('worker: async wake-up, contended mutex, semaphore, queue', async () => {
    const mutex = new Mutex();
    const semaphore = new Semaphore(0);
    const queue = new Queue<string>();
    let woken!: () => void;
    const wake = new Promise<void>((resolve) => (woken = resolve));
    const async = new Async(loop, () => woken());
    await mutex.lockAsync();
    const worker = new Worker(new URL(import.meta.url), {
      workerData: {
        async: async.handle,
        mutex: mutex.handle,
        semaphore: semaphore.handle,
        queue: queue.handle,
      },
    });
    const exit = new Promise<number>((resolve) => worker.on('exit', resolve));
    worker.on('error', (e) => {
      throw e;
    });
    await wake; // the worker is running and blocks on the mutex now
    await new Promise((r) => setTimeout(r, 20));
    mutex.unlock();
    await semaphore.acquireAsync();
    assert.equal(await queue.getAsync(), 'from-worker');
    assert.equal(await exit, 0);
    await closed(async);
  });

  await step('no handle left open', async () => {
    for (let i = 0; i < 200 && Object.keys(loop.handleCounts()).length > 0; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(loop.handleCounts(), {});
    loop.close();
    rmSync(dir, { recursive: true });
  });
}

function worker(): void {
  const data = workerData as {
    async: Parameters<typeof Async.from>[0];
    mutex: Parameters<typeof Mutex.from>[0];
    semaphore: Parameters<typeof Semaphore.from>[0];
    queue: Parameters<typeof Queue.from>[0];
  };
  Async.from(data.async).send();
  const mutex = Mutex.from(data.mutex);
  mutex.lock(); // blocks this worker until the main thread unlocks
  mutex.unlock();
  Semaphore.from(data.semaphore).release();
  Queue.from<string>(data.queue).put('from-worker');
  // A handle still open at exit is closed by env teardown.
  const timer = new Timer();
  timer.start(() => {}, 60_000);
  timer.unref();
  parentPort?.close();
}

if (isMainThread) {
  main().then(
    () => console.log('smoke: all steps passed'),
    (error: unknown) => {
      console.error('smoke: failed:', error);
      process.exitCode = 1;
    },
  );
} else {
  worker();
}
