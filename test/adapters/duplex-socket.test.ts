// toDuplex()'s stream offers what node:http, node:tls and HTTP clients use
// of a net.Socket, with net.Socket's behaviour: each test runs the same body
// and assertions on a net.Socket (the reference) and on toDuplex() of a
// UvEventLoop and a NodeEventLoop transport (test/adapters/side-by-side.ts).
// Timings are asserted only as lower bounds; waits are for events.
import test from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { LoopAgent, Loop, NodeEventLoop, UvEventLoop } from 'asyncuv';
import { runFixture } from '../helpers/child.js';
import { until } from '../helpers/loop-test.js';
import { KINDS, type Kind, connectedPair } from './side-by-side.js';
import { keepAliveTimer } from '../helpers/keepalive-timer.js';

const DEADLINE_MS = 15_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const loopName = (kind: Kind): string => (kind === 'uv' ? 'UvEventLoop' : 'NodeEventLoop');

/** Runs the duplex-unref fixture: true if it still runs `ms` after it connected (then kills it). */
function stillRunningAfterConnect(args: string[], ms: number): Promise<boolean> {
  const fixture = fileURLToPath(new URL('../fixtures/duplex-unref.js', import.meta.url));
  const stdio: ['ignore', 'pipe', 'inherit'] = ['ignore', 'pipe', 'inherit'];
  const child = spawn(process.execPath, [fixture, ...args], { stdio });
  return new Promise((resolve) => {
    let exited = false;
    const killer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
    child.on('exit', () => {
      exited = true;
      clearTimeout(killer);
    });
    child.stdout.once('data', () => {
      setTimeout(() => {
        resolve(!exited);
        child.kill('SIGKILL');
      }, ms);
    });
    child.on('close', () => resolve(false));
  });
}

for (const kind of KINDS) {
  const name = kind === 'net' ? 'net.Socket' : `toDuplex(${loopName(kind)} transport)`;

  test(`${name}: address(), remote and local address, port and family`, async (t) => {
    const pair = await connectedPair(t, kind);
    try {
      const { server, client } = pair;
      const expected = { address: '127.0.0.1', family: 'IPv4', port: client.remotePort };
      t.deepEqual(server.address(), expected);
      t.is(server.remoteAddress, '127.0.0.1');
      t.is(server.remotePort, client.localPort);
      t.is(server.remoteFamily, 'IPv4');
      t.is(server.localAddress, '127.0.0.1');
      t.is(server.localPort, client.remotePort);
    } finally {
      await pair.close();
    }
  });

  test(`${name}: bytesRead and bytesWritten`, async (t) => {
    const pair = await connectedPair(t, kind);
    try {
      const { server, client } = pair;
      t.is(server.bytesRead, 0);
      t.is(server.bytesWritten, 0);
      let got = 0;
      server.on('data', (d: Buffer) => (got += d.length));
      client.write(Buffer.alloc(1000));
      await until(() => got === 1000, 'the client bytes');
      t.is(server.bytesRead, 1000);
      server.write(Buffer.alloc(500));
      t.is(server.bytesWritten, 500, 'counted as soon as written, as net.Socket does');
      let back = 0;
      client.on('data', (d: Buffer) => (back += d.length));
      await until(() => back === 500, 'the server bytes');
      t.is(server.bytesWritten, 500);
    } finally {
      await pair.close();
    }
  });

  test(`${name}: bufferSize, the deprecated writableLength (undefined once destroyed)`, async (t) => {
    const pair = await connectedPair(t, kind);
    try {
      const { server, client } = pair;
      t.is(server.bufferSize, 0);
      client.pause();
      // More than the kernel's buffers take while the client does not read.
      while (server.write(Buffer.alloc(256 * 1024)));
      t.true(server.bufferSize! > 0);
      t.is(server.bufferSize, server.writableLength);
      client.resume();
      await once(server, 'drain');
      t.is(server.bufferSize, server.writableLength);
      server.destroy();
      t.is(server.bufferSize as number | undefined, undefined);
    } finally {
      await pair.close();
    }
  });

  test(`${name}: setTimeout(): 'timeout' when idle, pushed back by reads`, async (t) => {
    const pair = await connectedPair(t, kind);
    try {
      const { server, client } = pair;
      let lastData = 0;
      server.on('data', () => (lastData = Date.now()));
      // When it fired, and how long after the last read it had seen.
      const timeouts: number[] = [];
      const returned = server.setTimeout(600, () => timeouts.push(Date.now() - lastData));
      t.true(returned === server, 'returns the socket');
      t.is(server.timeout, 600);
      // Reads 200 ms apart for 1 s: if they did not push the timer back it
      // would fire 200 ms after one of them. (A loaded machine can make the
      // timer late, never early: the bound holds either way.)
      for (let i = 0; i < 6; i++) {
        client.write('x');
        await sleep(200);
      }
      await until(() => timeouts.length === 1, "the 'timeout' event");
      t.true(timeouts[0]! >= 550, `fired ${timeouts[0]} ms after the last read`);
      t.false(server.destroyed, 'a timeout closes nothing by itself');
      client.write('still open');
      await until(() => server.bytesRead === 6 + 'still open'.length, 'bytes after the timeout');
    } finally {
      await pair.close();
    }
  });

  test(`${name}: setTimeout() is pushed back by writes; setTimeout(0, cb) disarms`, async (t) => {
    const pair = await connectedPair(t, kind);
    try {
      const { server } = pair;
      let lastWrite = 0;
      const timeouts: number[] = [];
      const onTimeout = (): void => void timeouts.push(Date.now() - lastWrite);
      server.setTimeout(600, onTimeout);
      for (let i = 0; i < 6; i++) {
        server.write('y');
        lastWrite = Date.now();
        await sleep(200);
      }
      await until(() => timeouts.length === 1, "the 'timeout' event");
      t.true(timeouts[0]! >= 550, `fired ${timeouts[0]} ms after the last write`);
      server.setTimeout(200, onTimeout);
      server.setTimeout(0, onTimeout);
      t.is(server.listenerCount('timeout'), 0);
      t.is(server.timeout, 0);
      await sleep(500);
      t.is(timeouts.length, 1, 'disarmed');
    } finally {
      await pair.close();
    }
  });

  test(`${name}: setTimeout(0), then the same delay again (node:http per request)`, async (t) => {
    const pair = await connectedPair(t, kind);
    try {
      const { server } = pair;
      const timeouts: number[] = [];
      let armed = 0;
      server.on('timeout', () => timeouts.push(Date.now() - armed));
      // node:http arms the keep-alive timeout after a response and turns it
      // off at the next request: turned off, it never fires.
      server.setTimeout(300);
      server.setTimeout(0);
      await sleep(600);
      t.deepEqual(timeouts, [], 'disarmed');
      armed = Date.now();
      server.setTimeout(300);
      await until(() => timeouts.length === 1, "the 'timeout' event");
      t.true(timeouts[0]! >= 250, `fired ${timeouts[0]} ms after it was armed again`);
      server.setTimeout(0);
      server.write('z'); // activity while disarmed does not arm it
      await sleep(600);
      t.is(timeouts.length, 1, 'fired once');
    } finally {
      await pair.close();
    }
  });

  test(`${name}: setTimeout() refuses a negative or non-number delay`, async (t) => {
    const pair = await connectedPair(t, kind);
    try {
      t.throws(() => pair.server.setTimeout(-1), { code: 'ERR_OUT_OF_RANGE' });
      t.throws(() => pair.server.setTimeout('1' as never), { code: 'ERR_INVALID_ARG_TYPE' });
    } finally {
      await pair.close();
    }
  });

  test(`${name}: destroySoon() flushes what was written, ends, then closes`, async (t) => {
    const pair = await connectedPair(t, kind);
    try {
      const { server, client } = pair;
      let got = 0;
      client.on('data', (d: Buffer) => (got += d.length));
      const ended = once(client, 'end');
      const closed = once(server, 'close');
      server.write(Buffer.alloc(1024 * 1024));
      server.destroySoon();
      await ended;
      t.is(got, 1024 * 1024);
      await closed;
      t.true(server.destroyed);
    } finally {
      await pair.close();
    }
  });

  test(`${name}: the peer's EOF ends our side after what was written, then 'close' (allowHalfOpen false, the default)`, async (t) => {
    const pair = await connectedPair(t, kind);
    try {
      const { server, client } = pair;
      let got = 0;
      client.on('data', (d: Buffer) => (got += d.length));
      const clientEnded = once(client, 'end');
      const serverEnded = once(server, 'end');
      const closed = once(server, 'close');
      server.resume();
      server.write(Buffer.alloc(512 * 1024));
      client.end();
      await serverEnded;
      await clientEnded;
      t.is(got, 512 * 1024, 'what was written before the EOF arrived, all of it');
      await closed;
      t.false(server.writable);
    } finally {
      await pair.close();
    }
  });

  test(`${name}: allowHalfOpen: true answers after the peer's EOF`, async (t) => {
    const pair = await connectedPair(t, kind, { allowHalfOpen: true });
    try {
      const { server, client } = pair;
      const chunks: Buffer[] = [];
      server.on('data', (d: Buffer) => chunks.push(d));
      server.once('end', () => {
        t.true(server.writable, 'still writable after the peer ended');
        server.end(`got ${Buffer.concat(chunks).toString()}`);
      });
      const answer: Buffer[] = [];
      client.on('data', (d: Buffer) => answer.push(d));
      const clientEnded = once(client, 'end');
      const closed = once(server, 'close');
      client.end('question');
      await clientEnded;
      t.is(Buffer.concat(answer).toString(), 'got question');
      await closed;
    } finally {
      await pair.close();
    }
  });

  test(`${name}: setKeepAlive() turns probes on, the delay in seconds, and off`, async (t) => {
    const pair = await connectedPair(t, kind);
    try {
      const { server, client } = pair;
      t.is(await keepAliveTimer(client.remotePort!), null, 'off by default');
      t.true(server.setKeepAlive(true, 10_000) === server, 'returns the socket');
      const timer = await keepAliveTimer(client.remotePort!);
      // 10 s, less the time ss took to look.
      t.true(timer !== null && timer > 3 && timer <= 10, `keepalive timer ${timer}`);
      server.setKeepAlive(false);
      t.is(await keepAliveTimer(client.remotePort!), null, 'off again');
    } finally {
      await pair.close();
    }
  });

  const reaches = kind === 'net' ? '' : ', reaches its socket';
  test(`${name}: setNoDelay() returns the socket${reaches}`, async (t) => {
    const pair = await connectedPair(t, kind);
    try {
      const { server } = pair;
      if (kind !== 'net') {
        // Node offers no way to read TCP_NODELAY back: watch the call reach the socket.
        type NoDelay = { setNoDelay(on: boolean): unknown };
        type WithSocket = { transport: { getExtraInfo(n: string): NoDelay } };
        const socket = (server as unknown as WithSocket).transport.getExtraInfo('socket');
        const calls: boolean[] = [];
        const original = socket.setNoDelay.bind(socket);
        socket.setNoDelay = (on: boolean) => {
          calls.push(on);
          return original(on);
        };
        server.setNoDelay(false);
        server.setNoDelay();
        t.deepEqual(calls, [false, true]);
      }
      t.true(server.setNoDelay(true) === server, 'returns the socket');
    } finally {
      await pair.close();
    }
  });

  test(`${name}: unref() lets the process exit, connected; ref() keeps it alive`, async (t) => {
    const unref = await runFixture('duplex-unref.js', [kind, 'unref'], { timeoutMs: DEADLINE_MS });
    t.false(unref.timedOut, `exited by itself: ${unref.stdout}${unref.stderr}`);
    t.is(unref.code, 0, unref.stderr);
    t.regex(unref.stdout, /connected/);
    // ref() after unref(): the open connection keeps it alive.
    const alive = await stillRunningAfterConnect([kind, 'ref'], 1500);
    t.true(alive, 'still running 1.5 s after connecting');
  });
}

// The node:http client with a LoopAgent (its sockets are toDuplex() streams),
// against the same client with Node's own Agent.
interface ClientAgent {
  agent: http.Agent;
  close: () => void;
}

function clientAgent(kind: Kind, options: http.AgentOptions): ClientAgent {
  if (kind === 'net') {
    const agent = new http.Agent(options);
    return { agent, close: () => agent.destroy() };
  }
  const uv = kind === 'uv' ? new Loop() : undefined;
  const loop = uv !== undefined ? new UvEventLoop(uv) : new NodeEventLoop();
  const agent = new LoopAgent(loop, options);
  return {
    agent,
    close: () => {
      agent.destroy();
      loop.close();
      uv?.close();
    },
  };
}

for (const kind of KINDS) {
  const on = kind === 'net' ? 'net.Socket' : `toDuplex(${loopName(kind)} transport)`;
  const name = `node:http client on ${on}`;

  test(`${name}: a keep-alive Agent reuses one connection`, async (t) => {
    let connections = 0;
    const server = http.createServer((req, res) => res.end(`hi ${req.url}`)).listen(0, '127.0.0.1');
    server.on('connection', () => connections++);
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const { agent, close } = clientAgent(kind, { keepAlive: true, maxSockets: 1 });
    try {
      for (const path of ['/a', '/b', '/c']) {
        const body = await new Promise<string>((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port, path, agent }, (res) => {
              let text = '';
              res.on('data', (d) => (text += d));
              res.on('end', () => resolve(text));
            })
            .on('error', reject);
        });
        t.is(body, `hi ${path}`);
      }
      t.is(connections, 1);
    } finally {
      close();
      server.closeAllConnections();
      server.close();
    }
  });

  test(`${name}: the timeout option emits 'timeout' when the server stalls`, async (t) => {
    const held = new Set<net.Socket>();
    const stalled = net
      .createServer((socket) => {
        held.add(socket);
        socket.on('error', () => {});
      })
      .listen(0, '127.0.0.1');
    await once(stalled, 'listening');
    const { port } = stalled.address() as net.AddressInfo;
    const { agent, close } = clientAgent(kind, {});
    try {
      const started = Date.now();
      const outcome = await new Promise<string>((resolve) => {
        const options = { host: '127.0.0.1', port, agent, timeout: 300 };
        const req = http.get(options, () => resolve('response'));
        req.on('timeout', () => {
          resolve(`timeout after ${Date.now() - started} ms`);
          req.destroy();
        });
        req.on('error', () => {});
      });
      t.regex(outcome, /^timeout after \d+ ms$/);
      t.true(Date.now() - started >= 300);
    } finally {
      close();
      for (const socket of held) socket.destroy();
      stalled.close();
    }
  });
}
