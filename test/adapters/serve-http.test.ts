import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { Loop, UvEventLoop, serveHttp } from 'asyncuv';
import { assertNoHandlesAndClose } from '../helpers/loop-test.js';
import { withPrograms } from '../helpers/tools.js';

async function withHttp(
  t: ExecutionContext,
  listener: http.RequestListener,
  body: (port: number, h: Awaited<ReturnType<typeof serveHttp>>) => Promise<void>,
): Promise<void> {
  const uv = new Loop();
  const loop = new UvEventLoop(uv);
  const h = await serveHttp(loop, listener, '127.0.0.1', 0);
  try {
    await body(h.port, h);
  } finally {
    await h.close();
    loop.close();
    await assertNoHandlesAndClose(t, uv);
  }
}

function get(
  port: number,
  path: string,
  agent: http.Agent,
  body?: Buffer,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { port, host: '127.0.0.1', path, agent, method: body ? 'POST' : 'GET' },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () =>
          resolve({ status: res.statusCode!, text: Buffer.concat(parts).toString() }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('requests over keep-alive connections on our loop', async (t) => {
  let sockets = 0;
  await withHttp(
    t,
    (req, res) => res.end(`hello ${req.url}`),
    async (port, h) => {
      h.http.on('connection', () => sockets++);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      for (let i = 0; i < 20; i++)
        t.deepEqual(await get(port, `/n${i}`, agent), { status: 200, text: `hello /n${i}` });
      t.is(sockets, 1, 'one keep-alive connection served all 20');
      agent.destroy();
    },
  );
});

test('a 16 MiB POST body is hashed intact', async (t) => {
  await withHttp(
    t,
    (req, res) => {
      const hash = createHash('sha256');
      req.on('data', (d: Buffer) => hash.update(d));
      req.on('end', () => res.end(hash.digest('hex')));
    },
    async (port) => {
      const body = randomBytes(16 * 1024 * 1024);
      const agent = new http.Agent();
      const reply = await get(port, '/upload', agent, body);
      t.is(reply.text, createHash('sha256').update(body).digest('hex'));
      agent.destroy();
    },
  );
});

test('pipelined requests are answered in order', async (t) => {
  await withHttp(
    t,
    (req, res) => res.end(req.url),
    async (port) => {
      const text = await new Promise<string>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () =>
          s.write(
            'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
          ),
        );
        let acc = '';
        s.on('data', (d) => (acc += d));
        s.on('end', () => resolve(acc));
      });
      const bodies = text
        .split('\r\n\r\n')
        .slice(1)
        .map((b) => b.split('HTTP/1.1')[0]!.trim());
      t.deepEqual(bodies, ['/a', '/b', '/c']);
    },
  );
});

test('upgrade events reach the http server with the socket', async (t) => {
  await withHttp(
    t,
    (_req, res) => res.end(),
    async (port, h) => {
      h.http.on('upgrade', (req, socket) => {
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n',
        );
        socket.on('data', (d: Buffer) => socket.write(d));
        socket.on('end', () => socket.end());
      });
      const echoed = await new Promise<string>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () =>
          s.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n'),
        );
        let acc = '';
        s.on('data', (d) => {
          acc += d;
          if (acc.includes('\r\n\r\n') && !acc.includes('ping')) s.write('ping');
          if (acc.endsWith('ping')) {
            s.end();
            resolve(acc);
          }
        });
      });
      t.regex(echoed, /^HTTP\/1.1 101/);
      t.true(echoed.endsWith('ping'));
    },
  );
});

// curl is a client nobody here wrote.
withPrograms(test, ['curl'])('curl talks to it', async (t) => {
  await withHttp(
    t,
    (_req, res) => res.end('from asyncuv'),
    async (port) => {
      const out = await new Promise<string>((resolve, reject) =>
        execFile('curl', ['-s', `http://127.0.0.1:${port}/x`], (e, stdout) =>
          e ? reject(e) : resolve(stdout),
        ),
      );
      t.is(out, 'from asyncuv');
    },
  );
});

test('close() ends idle keep-alive connections now, one in flight after it', async (t) => {
  const uv = new Loop();
  const loop = new UvEventLoop(uv);
  let release = (): void => {};
  const started = new Promise<void>((resolve) => {
    release = resolve;
  });
  let respond: (() => void) | undefined;
  const h = await serveHttp(
    loop,
    (req, res) => {
      if (req.url === '/slow') {
        respond = () => res.end('slow');
        release();
      } else res.end('fast');
    },
    '127.0.0.1',
    0,
  );
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const closedSockets: Promise<void>[] = [];
  agent.on('free', (socket: net.Socket) => {
    closedSockets.push(new Promise((r) => socket.once('close', () => r())));
  });
  // The slow request holds one connection; the fast one leaves another idle.
  const slow = get(h.port, '/slow', agent);
  await started;
  t.deepEqual(await get(h.port, '/fast', agent), { status: 200, text: 'fast' });
  let closed = false;
  const closing = h.close().then(() => {
    closed = true;
  });
  await Promise.all(closedSockets); // the idle connection, ended by close()
  t.false(closed, 'close() waits for the request in flight');
  respond!();
  t.deepEqual(await slow, { status: 200, text: 'slow' });
  await closing;
  t.true(closed);
  agent.destroy();
  loop.close();
  const deadline = Date.now() + 10_000;
  while (Object.keys(uv.handleCounts()).length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  t.deepEqual(uv.handleCounts(), {});
  uv.close();
});
