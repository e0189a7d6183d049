// startThreadedServer: one port served by worker threads, each with its own
// UvEventLoop, with real clients (node:net, node:tls, node:http, node:https)
// in this thread. Serial: every test checks that the supervisor's socket on
// this thread's default Loop is closed at the end.
import test, { type ExecutionContext } from 'ava';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  Loop,
  Mutex,
  startThreadedServer,
  UsageError,
  UvError,
  type Balance,
  type ThreadedServer,
  type ThreadedServerOptions,
} from 'asyncuv';
import { waitFor, within } from '../helpers/loop-test.js';
import { jsonLines, runFixture } from '../helpers/child.js';
import { selfSignedCert } from './tls-cert.js';
import { withPrograms } from '../helpers/tools.js';

const echoModule = new URL('../fixtures/threaded-echo.js', import.meta.url);
const httpModule = new URL('../fixtures/threaded-http.js', import.meta.url);
const balances: Balance[] = ['reuseport', 'shared-socket'];
const kHost = '127.0.0.1';
const kWaitMs = 15_000;

/** A client of the line protocol of fixtures/threaded-echo.ts, over TCP or TLS. */
class LineClient {
  readonly closed: Promise<void>;
  #pending = '';
  #lines: string[] = [];
  #waiters: Array<(line: string) => void> = [];

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (d: string) => {
      this.#pending += d;
      let nl: number;
      while ((nl = this.#pending.indexOf('\n')) >= 0) {
        const line = this.#pending.slice(0, nl);
        this.#pending = this.#pending.slice(nl + 1);
        const waiter = this.#waiters.shift();
        if (waiter) waiter(line);
        else this.#lines.push(line);
      }
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async connect(port: number, secure?: tls.ConnectionOptions): Promise<LineClient> {
    const socket = secure
      ? tls.connect({ ...secure, port, host: kHost })
      : net.connect(port, kHost);
    const client = new LineClient(socket);
    // once() rejects on 'error': a refused connection rejects here.
    await within(once(socket, secure ? 'secureConnect' : 'connect'), 'connect', kWaitMs);
    return client;
  }

  ask(line: string): Promise<string> {
    this.socket.write(`${line}\n`);
    const ready = this.#lines.shift();
    const answer =
      ready !== undefined
        ? Promise.resolve(ready)
        : new Promise<string>((resolve) => this.#waiters.push(resolve));
    return within(answer, `an answer to ${line}`, kWaitMs);
  }

  close(): void {
    this.socket.end();
  }
}

/** Moves the echo fixture's gate on: every thread blocked in 'block' goes on. */
function release(gate: SharedArrayBuffer): void {
  const cell = new Int32Array(gate);
  Atomics.add(cell, 0, 1);
  Atomics.notify(cell, 0);
}

/**
 * Connections until each of `threads` threads holds `perThread` of them
 * (the others are closed). With 'reuseport' the kernel hashes connections
 * over the threads; with 'shared-socket' whichever thread accepts first
 * wins, so a thread that has its share is blocked (fixture 'block') until
 * the others have theirs.
 */
async function spread(
  port: number,
  threads: number,
  perThread: number,
  balance: Balance,
  gate: SharedArrayBuffer,
): Promise<LineClient[][]> {
  const byThread: LineClient[][] = Array.from({ length: threads }, () => []);
  const short = (): boolean => byThread.some((list) => list.length < perThread);
  try {
    for (let i = 0; i < 500 && short(); i++) {
      const client = await LineClient.connect(port);
      const list = byThread[Number(await client.ask('who'))]!;
      if (list.length === perThread) {
        client.close();
        continue;
      }
      list.push(client);
      if (list.length === perThread && balance === 'shared-socket' && short())
        await client.ask('block');
    }
  } finally {
    release(gate);
  }
  return byThread;
}

/**
 * Connects until a connection is refused, and returns the error code; a
 * connection accepted meanwhile (a thread not yet stopped) is closed.
 */
async function firstRefusal(port: number): Promise<string> {
  for (let i = 0; i < 2000; i++) {
    try {
      const late = await LineClient.connect(port);
      late.close();
      await late.closed;
    } catch (err) {
      const code = String((err as NodeJS.ErrnoException).code);
      // A connection still in the backlog when the last listener closes is
      // reset by the kernel: not yet a refusal, try again.
      if (code !== 'ECONNRESET') return code;
    }
  }
  return 'never refused';
}

async function start(
  t: ExecutionContext,
  module: URL,
  opts: Partial<ThreadedServerOptions> = {},
): Promise<ThreadedServer> {
  const server = await within(
    startThreadedServer(module, { host: kHost, port: 0, threads: 2, ...opts }),
    'startThreadedServer',
    kWaitMs,
  );
  t.teardown(() => server.close({ deadlineMs: 0 }));
  return server;
}

/** Closes the server and checks that no thread and no handle is left. */
async function closeAndCheck(
  t: ExecutionContext,
  server: ThreadedServer,
  deadlineMs?: number,
): Promise<void> {
  await within(server.close(deadlineMs === undefined ? {} : { deadlineMs }), 'close()', kWaitMs);
  const stats = server.stats();
  t.true(
    stats.threads.every((th) => th.state === 'closed' && th.threadId === null && th.open === 0),
    JSON.stringify(stats),
  );
  await waitFor(() => Object.keys(Loop.default().handleCounts()).length === 0, kWaitMs);
  t.deepEqual(Loop.default().handleCounts(), {}, "the supervisor's socket is closed");
}

for (const balance of balances) {
  test.serial(
    `${balance}: connections reach every thread, and stats() counts them per thread`,
    async (t) => {
      const gate = new SharedArrayBuffer(4);
      const server = await start(t, echoModule, { threads: 3, balance, shared: { gate } });
      t.is(server.balance, balance);
      t.is(server.threads, 3);
      t.true(server.port > 0);
      const byThread = await spread(server.port, 3, 2, balance, gate);
      const clients = byThread.flat();
      t.is(clients.length, 6);
      for (const [i, client] of clients.entries())
        t.is(await client.ask(`hello ${i}`), `hello ${i}`);
      const stats = server.stats();
      t.is(stats.open, 6);
      t.deepEqual(
        stats.threads.map((th) => th.open),
        [2, 2, 2],
      );
      t.true(
        stats.threads.every(
          (th) => th.state === 'serving' && th.restarts === 0 && th.threadId !== null,
        ),
      );
      t.is(
        stats.accepted,
        stats.threads.reduce((n, th) => n + th.accepted, 0),
      );
      for (const client of clients) client.close();
      t.true(await waitFor(() => server.stats().open === 0, kWaitMs), 'connections counted closed');
      await closeAndCheck(t, server);
    },
  );

  test.serial(
    `${balance}: a thread that throws is restarted; no connection of the other thread is lost`,
    async (t) => {
      const gate = new SharedArrayBuffer(4);
      const server = await start(t, echoModule, { balance, shared: { gate } });
      const events: unknown[] = [];
      server.on('error', (err, th) => events.push(['error', th.index, err.message]));
      server.on('exit', (th) => events.push(['exit', th.index, th.code]));
      const restarted = new Promise<number>((resolve) =>
        server.on('restart', (th) => {
          events.push(['restart', th.index, th.restarts]);
          resolve(th.threadId);
        }),
      );
      const [doomed, survivors] = (await spread(server.port, 2, 3, balance, gate)) as [
        LineClient[],
        LineClient[],
      ];
      const oldThreadId = server.stats().threads[0]!.threadId;

      // The survivors keep talking through the crash and the restart.
      let talking = true;
      let answered = 0;
      const traffic = Promise.all(
        survivors.map(async (client, c) => {
          for (let i = 0; talking; i++) {
            t.is(await client.ask(`client ${c} message ${i}`), `client ${c} message ${i}`);
            answered++;
          }
        }),
      );
      doomed[0]!.socket.write('crash\n');
      const newThreadId = await within(restarted, "'restart'", kWaitMs);
      await within(
        Promise.all(doomed.map((client) => client.closed)),
        "the crashed thread's connections to end",
        kWaitMs,
      );
      const before = answered;
      await waitFor(() => answered >= before + 20, kWaitMs);
      talking = false;
      await traffic;
      t.true(
        survivors.every((client) => !client.socket.destroyed),
        'every connection of the other thread is still open',
      );
      t.deepEqual(events, [
        ['error', 0, 'thread 0 crashes as asked'],
        ['exit', 0, 1],
        ['restart', 0, 1],
      ]);
      const stats = server.stats();
      t.like(stats.threads[0], { state: 'serving', restarts: 1, open: 0, threadId: newThreadId });
      t.not(newThreadId, oldThreadId);
      t.like(stats.threads[1], { state: 'serving', restarts: 0, open: 3 });
      // The replacement serves new connections.
      const [again] = (await spread(server.port, 2, 1, balance, gate)) as [
        LineClient[],
        LineClient[],
      ];
      t.is(await again[0]!.ask('after the restart'), 'after the restart');
      await closeAndCheck(t, server, 0);
    },
  );

  test.serial(
    `${balance}: close() stops accepting everywhere and lets open connections finish`,
    async (t) => {
      const gate = new SharedArrayBuffer(4);
      const server = await start(t, echoModule, { balance, shared: { gate } });
      const clients = (await spread(server.port, 2, 2, balance, gate)).flat();
      let closed = false;
      const closing = server.close().then(() => {
        closed = true;
      });
      // New connections are refused once every thread has stopped accepting
      // (one accepted meanwhile is simply closed by this client).
      const refused = await firstRefusal(server.port);
      t.is(refused, 'ECONNREFUSED');
      for (const [i, client] of clients.entries())
        t.is(await client.ask(`still here ${i}`), `still here ${i}`);
      t.false(closed, 'close() waits for the open connections');
      t.is(server.stats().open, 4);
      for (const client of clients) client.close();
      await within(closing, 'close()', kWaitMs);
      await closeAndCheck(t, server);
    },
  );

  test.serial(
    `${balance}: close({ deadlineMs }) aborts the connections still open at the deadline`,
    async (t) => {
      const gate = new SharedArrayBuffer(4);
      const server = await start(t, echoModule, { balance, shared: { gate } });
      const clients = (await spread(server.port, 2, 2, balance, gate)).flat();
      await closeAndCheck(t, server, 200);
      await within(
        Promise.all(clients.map((client) => client.closed)),
        'the server to end every connection',
        kWaitMs,
      );
      t.pass();
    },
  );

  test.serial(
    `${balance}: requestListener, a real HTTP client; a shared counter under a Mutex is exact`,
    async (t) => {
      const mutex = new Mutex();
      const counter = new SharedArrayBuffer(4);
      const server = await start(t, httpModule, {
        balance,
        shared: { mutex: mutex.handle, counter },
      });
      const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
      const sockets = new Set<net.Socket>();
      const byThread = new Map<string, number>();
      const requests = 400;
      await within(
        Promise.all(
          Array.from(
            { length: requests },
            () =>
              new Promise<void>((resolve, reject) => {
                const req = http.get(
                  { agent, host: kHost, port: server.port, path: '/count' },
                  (res) => {
                    let body = '';
                    res
                      .setEncoding('utf8')
                      .on('data', (d: string) => (body += d))
                      .on('end', () => {
                        t.is(res.statusCode, 200);
                        byThread.set(body, (byThread.get(body) ?? 0) + 1);
                        resolve();
                      });
                  },
                );
                req.on('socket', (s) => sockets.add(s));
                req.on('error', reject);
              }),
          ),
        ),
        'the requests',
        30_000,
      );
      t.is(new Int32Array(counter)[0], requests, 'every increment of every thread counted once');
      t.is(server.stats().accepted, sockets.size);
      const perThread = JSON.stringify(Object.fromEntries(byThread));
      t.log(`${balance}: requests per thread ${perThread} over ${sockets.size} connections`);
      // Idle keep-alive connections do not hold close() up.
      await closeAndCheck(t, server);
      agent.destroy();
    },
  );

  test.serial(`${balance}: TLS on every thread, for protocols and for HTTPS`, async (t) => {
    const { key, cert } = await selfSignedCert();
    const secure = { ca: cert, servername: 'localhost' };
    const echo = await start(t, echoModule, { balance, ssl: { key, cert } });
    const client = await LineClient.connect(echo.port, secure);
    t.regex(await client.ask('who'), /^[01]$/);
    t.is(await client.ask('over TLS'), 'over TLS');
    t.is((client.socket as tls.TLSSocket).getProtocol()?.startsWith('TLS'), true);
    client.close();
    await closeAndCheck(t, echo);

    const mutex = new Mutex();
    const counter = new SharedArrayBuffer(4);
    const web = await start(t, httpModule, {
      balance,
      ssl: { key, cert },
      shared: { mutex: mutex.handle, counter },
    });
    const agent = new https.Agent({ ...secure, keepAlive: true });
    for (let i = 0; i < 3; i++) {
      const body = await within(
        new Promise<string>((resolve, reject) => {
          https
            .get({ agent, host: kHost, port: web.port, path: '/count' }, (res) => {
              let text = '';
              res
                .setEncoding('utf8')
                .on('data', (d: string) => (text += d))
                .on('end', () => resolve(text));
            })
            .on('error', reject);
        }),
        'an HTTPS response',
        kWaitMs,
      );
      t.regex(body, /^[01]$/);
    }
    t.is(new Int32Array(counter)[0], 3);
    agent.destroy();
    await closeAndCheck(t, web);
  });
}

test.serial(
  'a thread that exits by itself is reported with its exit code and restarted',
  async (t) => {
    const gate = new SharedArrayBuffer(4);
    const server = await start(t, echoModule, { balance: 'shared-socket', shared: { gate } });
    const events: unknown[] = [];
    server.on('error', (err) => events.push(['error', err.message]));
    server.on('exit', (th) => events.push(['exit', th.index, th.code]));
    const restarted = new Promise<void>((resolve) =>
      server.on('restart', (th) => {
        events.push(['restart', th.index, th.restarts]);
        resolve();
      }),
    );
    const [[onZero], [onOne]] = (await spread(server.port, 2, 1, 'shared-socket', gate)) as [
      LineClient[],
      LineClient[],
    ];
    onOne!.socket.write('exit 7\n');
    await within(restarted, "'restart'", kWaitMs);
    t.deepEqual(events, [
      ['exit', 1, 7],
      ['restart', 1, 1],
    ]);
    // close() waits for the connection still open on thread 0; a later
    // close() with a deadline cuts it short, and both resolve together.
    const closing = server.close();
    t.is(await onZero!.ask('still served'), 'still served');
    t.is(server.close({ deadlineMs: 0 }), closing);
    await within(onZero!.closed, 'the connection aborted', kWaitMs);
    await closeAndCheck(t, server);
  },
);

test.serial(
  'a replacement that fails to start is retried, with a growing delay, until one serves',
  async (t) => {
    const gate = new SharedArrayBuffer(4);
    const failSetups = new SharedArrayBuffer(4);
    const server = await start(t, echoModule, { shared: { gate, failSetups } });
    const events: unknown[] = [];
    server.on('error', (err, th) => events.push(['error', th.index, err.message]));
    server.on('exit', (th) => events.push(['exit', th.index, th.code]));
    const restarted = new Promise<void>((resolve) =>
      server.on('restart', (th) => {
        events.push(['restart', th.index, th.restarts]);
        resolve();
      }),
    );
    const [[onZero]] = (await spread(server.port, 2, 1, 'reuseport', gate)) as [
      LineClient[],
      LineClient[],
    ];
    Atomics.store(new Int32Array(failSetups), 0, 2);
    onZero!.socket.write('exit 3\n');
    await within(restarted, "'restart'", kWaitMs);
    t.deepEqual(events, [
      ['exit', 0, 3],
      ['error', 0, 'setup fails as asked'],
      ['exit', 0, 1],
      ['error', 0, 'setup fails as asked'],
      ['exit', 0, 1],
      ['restart', 0, 3],
    ]);
    t.like(server.stats().threads[0], { state: 'serving', restarts: 3 });
    await closeAndCheck(t, server, 0);
  },
);

test.serial(
  'a module that cannot be served rejects with a clear error and leaves nothing behind',
  async (t) => {
    const module = (source: string): string => `data:text/javascript,${encodeURIComponent(source)}`;
    const cases: Array<[string, object]> = [
      [
        module('export const nothing = 1;'),
        {
          instanceOf: UsageError,
          code: 'ERR_INVALID_ARG_VALUE',
          message: /must export either protocolFactory\(\) or requestListener/,
        },
      ],
      [
        module('export function protocolFactory() {} export function requestListener() {}'),
        { instanceOf: UsageError, message: /not both/ },
      ],
      [
        module('export function protocolFactory() {} export const setup = 3;'),
        { instanceOf: UsageError, message: /setup that is not a function/ },
      ],
      [
        module(
          'export function protocolFactory() {}\n' +
            "export async function setup() { throw new Error('no database'); }",
        ),
        { message: 'no database' },
      ],
      [new URL('./no-such-module.js', echoModule).href, { code: 'ERR_MODULE_NOT_FOUND' }],
    ];
    for (const [url, expected] of cases) {
      await t.throwsAsync(
        within(
          startThreadedServer(url, { host: kHost, port: 0, threads: 2 }),
          'startThreadedServer',
          kWaitMs,
        ),
        expected,
      );
      t.deepEqual(Loop.default().handleCounts(), {}, 'no socket left');
    }
  },
);

/** The backlog of each socket listening on `port`, as ss(8) shows it (Send-Q). */
async function backlogsOf(port: number): Promise<number[]> {
  const { stdout } = await promisify(execFile)('ss', ['-ltnH', `( sport = :${port} )`]);
  // State Recv-Q Send-Q Local:Port Peer:Port, one line per listening socket.
  return stdout
    .trim()
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => Number(line.trim().split(/\s+/)[2]));
}

// docs/threads.md, the options: backlog per listening socket (one per thread
// with 'reuseport', the one shared with 'shared-socket'), by default
// createServer's 100 for a protocolFactory and node:http's 511 for a
// requestListener; a given backlog wins. The supervisor's own socket on the
// port never listens, so it is not among them.
withPrograms(test.serial, ['ss'])(
  'backlog: 100 for a protocolFactory, 511 for a requestListener, or the one given',
  async (t) => {
    const cases: Array<[URL, Balance, number | undefined, number[]]> = [
      [echoModule, 'reuseport', undefined, [100, 100]],
      [httpModule, 'reuseport', undefined, [511, 511]],
      [echoModule, 'reuseport', 64, [64, 64]],
      [echoModule, 'shared-socket', undefined, [100]],
      [httpModule, 'shared-socket', 32, [32]],
    ];
    for (const [module, balance, backlog, expected] of cases) {
      const shared = { mutex: new Mutex().handle, counter: new SharedArrayBuffer(4) };
      const server = await start(t, module, {
        balance,
        shared,
        ...(backlog === undefined ? {} : { backlog }),
      });
      const what = `${module.pathname.split('/').pop()!}, ${balance}, backlog ${String(backlog)}`;
      t.deepEqual(await backlogsOf(server.port), expected, what);
      await closeAndCheck(t, server);
    }
  },
);

test.serial('bad options are usage errors; a port in use is EADDRINUSE', async (t) => {
  const start = (opts: unknown, url: unknown = echoModule): Promise<ThreadedServer> =>
    startThreadedServer(url as URL, opts as ThreadedServerOptions);
  await t.throwsAsync(start({ host: kHost, port: 0 }, './relative.js'), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /moduleUrl/,
  });
  await t.throwsAsync(start({ port: 0 }), { code: 'ERR_INVALID_ARG_TYPE', message: /opts\.host/ });
  await t.throwsAsync(start({ host: kHost, port: 70000 }), { code: 'ERR_OUT_OF_RANGE' });
  // docs/threads.md: a package name would resolve from asyncuv's folder, not
  // the caller's, so it is refused as a relative path is; threads 1 to 1024.
  await t.throwsAsync(start({ host: kHost, port: 0 }, 'some-package'), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /moduleUrl/,
  });
  await t.throwsAsync(start({ host: kHost, port: 0, threads: 0 }), { code: 'ERR_OUT_OF_RANGE' });
  await t.throwsAsync(start({ host: kHost, port: 0, threads: 1025 }), { code: 'ERR_OUT_OF_RANGE' });
  await t.throwsAsync(start({ host: kHost, port: 0, balance: 'round-robin' }), {
    code: 'ERR_INVALID_ARG_VALUE',
  });
  await t.throwsAsync(start({ host: kHost, port: 0, shared: { f() {} } }), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /structured-cloneable/,
  });
  const { key, cert } = await selfSignedCert();
  await t.throwsAsync(
    start({ host: kHost, port: 0, ssl: { secureContext: tls.createSecureContext({ key, cert }) } }),
    { code: 'ERR_INVALID_ARG_VALUE', message: /SecureContext/ },
  );
  await t.throwsAsync(start({ host: kHost, port: 0, ssl: { key, cert, SNICallback: () => {} } }), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /SNICallback/,
  });
  await t.throwsAsync(start({ host: kHost, port: 0, ssl: { key: 'not a key', cert } }));

  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, kHost, resolve));
  const port = (taken.address() as net.AddressInfo).port;
  for (const balance of balances) {
    const err = await t.throwsAsync(start({ host: kHost, port, balance }));
    t.true(err instanceof UvError);
    t.like(err, { code: 'EADDRINUSE', syscall: 'bind' });
    t.deepEqual(Loop.default().handleCounts(), {}, 'no socket left');
  }
  await new Promise((resolve) => taken.close(resolve));

  const server = await start({ host: kHost, port: 0, threads: 1 });
  t.throws(() => server.on('bogus' as 'error', () => {}), { code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => server.close({ deadlineMs: -1 }), { code: 'ERR_OUT_OF_RANGE' });
  const closing = server.close();
  t.is(server.close(), closing, 'a second close() returns the same promise');
  await within(closing, 'close()', kWaitMs);
  t.deepEqual(Loop.default().handleCounts(), {});
});

test('a program that serves on threads, restarts one, and closes exits by itself', async (t) => {
  const result = await runFixture('threaded-exit-child.js', [], { timeoutMs: 60_000 });
  t.false(result.timedOut, `still running after 60 s: ${result.stdout}${result.stderr}`);
  t.is(result.code, 0, result.stderr);
  const [report] = jsonLines(result.stdout);
  t.deepEqual(report, { served: true, restarted: true, closed: true });
});

test.serial(
  'close({ deadlineMs }) aborts an HTTP request unanswered at the deadline',
  async (t) => {
    // The module counts the requests it got (in shared memory) and never answers them.
    const module = `data:text/javascript,${encodeURIComponent(
      'let seen; export function setup(shared) { seen = new Int32Array(shared.seen); }\n' +
        'export function requestListener() { Atomics.add(seen, 0, 1); }',
    )}`;
    const seen = new SharedArrayBuffer(4);
    const server = await start(t, new URL(module), { shared: { seen } });
    const answer = new Promise<string>((resolve) => {
      http
        .get({ host: kHost, port: server.port, path: '/' }, () => resolve('answered'))
        .on('error', (err: NodeJS.ErrnoException) => resolve(String(err.code)));
    });
    const got = await waitFor(() => Atomics.load(new Int32Array(seen), 0) === 1, kWaitMs);
    t.true(got, 'the request reached its thread');
    await closeAndCheck(t, server, 100);
    t.is(await within(answer, 'the client to see the abort', kWaitMs), 'ECONNRESET');
  },
);
