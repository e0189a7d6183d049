// serveHttp given an http.Server the caller made (what hapi's `listener`
// option needs: the framework attaches to the server, 'listening' included,
// before it listens), and http.close() stopping the loop's server from
// accepting, as it closes a listening node:http server's socket. Each case
// runs on a plain node:http server too, as the reference. And what
// net.Server keeps of its connections: getConnections(), and http.close(cb)
// calling back once they are gone.
import test from 'ava';
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { serveHttp } from 'asyncuv';
import { onUvEventLoop } from '../helpers/event-loop-test.js';
import { until, within } from '../helpers/loop-test.js';
import { KINDS, httpServer } from './side-by-side.js';

/** A server that says which port its 'listening' listener saw, attached before it listens. */
function reporting(): { server: http.Server; seen: () => number | undefined } {
  const server = http.createServer();
  let port: number | undefined;
  server.once('listening', () => (port = (server.address() as AddressInfo).port));
  server.on('request', (req, res) => res.end(`${req.method} ${req.url} on ${port}`));
  return { server, seen: () => port };
}

async function get(port: number, path: string): Promise<[number, string]> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { connection: 'close' } });
  return [res.status, await res.text()];
}

/** Resolves with the connect error's code, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

test('serveHttp serves an http.Server made before: its listeners, address() and listening event', (t) =>
  onUvEventLoop(t, async (loop) => {
    const ours = reporting();
    const web = await serveHttp(loop, ours.server, '127.0.0.1', 0);
    t.is(web.http, ours.server);
    t.true(ours.server.listening === false, 'node:http has no socket of its own listening');
    t.is(ours.seen(), web.port, "the 'listening' listener saw the loop's port");
    const answer = await get(web.port, '/a?b');
    await web.close();

    const ref = reporting();
    ref.server.listen(0, '127.0.0.1');
    await once(ref.server, 'listening');
    const port = (ref.server.address() as AddressInfo).port;
    const reference = await get(port, '/a?b');
    ref.server.close();
    await once(ref.server, 'close');
    t.deepEqual(answer, [200, `GET /a?b on ${web.port}`]);
    t.deepEqual(reference, [200, `GET /a?b on ${port}`]);
  }));

test('serveHttp refuses a server that listens, node:http options with a server, and a non-function', (t) =>
  onUvEventLoop(t, async (loop) => {
    const listening = http.createServer();
    listening.listen(0, '127.0.0.1');
    await once(listening, 'listening');
    try {
      await t.throwsAsync(serveHttp(loop, listening, '127.0.0.1', 0), {
        code: 'ERR_INVALID_ARG_VALUE',
        message: 'the http.Server given already listens',
      });
    } finally {
      listening.close();
    }
    await t.throwsAsync(
      serveHttp(loop, http.createServer(), '127.0.0.1', 0, { maxHeaderSize: 100 }),
      { code: 'ERR_INVALID_ARG_VALUE', message: /node:http options \(maxHeaderSize\)/ },
    );
    await t.throwsAsync(serveHttp(loop, {} as http.Server, '127.0.0.1', 0), {
      code: 'ERR_INVALID_ARG_TYPE',
      message: /must be a function or an http\.Server\. Received an instance of Object/,
    });
  }));

test('http.close() stops the loop server accepting, as it does a listening node:http server', (t) =>
  onUvEventLoop(t, async (loop) => {
    const web = await serveHttp(loop, (_req, res) => res.end('hi'), '127.0.0.1', 0);
    const before = await get(web.port, '/');
    web.http.close();
    await once(web.http, 'close');
    const ours = [before, await tryConnect(web.port), web.server.sockets()];
    await web.close();

    const ref = http.createServer((_req, res) => res.end('hi'));
    ref.listen(0, '127.0.0.1');
    await once(ref, 'listening');
    const port = (ref.address() as AddressInfo).port;
    const refBefore = await get(port, '/');
    ref.close();
    await once(ref, 'close');
    const reference = [refBefore, await tryConnect(port), []];
    t.deepEqual(ours, reference);
    t.deepEqual(ours, [[200, 'hi'], 'ECONNREFUSED', []]);
  }));

/** The count http.Server#getConnections() gives. */
function connectionCount(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((err, count) => (err ? reject(err) : resolve(count))),
  );
}

for (const kind of KINDS) {
  test(`getConnections() counts the open connections, as a listening node:http server does (${kind})`, async (t) => {
    const served = await httpServer(t, kind, (_req, res) => res.end('ok'));
    const clients: net.Socket[] = [];
    try {
      t.is(await connectionCount(served.http), 0);
      for (let i = 0; i < 3; i++) {
        const client = net.connect(served.port, '127.0.0.1');
        clients.push(client);
        client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        await once(client, 'data'); // answered: the connection stays, keep-alive
      }
      t.is(await connectionCount(served.http), 3);
      clients.pop()!.destroy();
      // Asked again until the server has seen the close (or 10 s).
      let count = 3;
      for (const bound = Date.now() + 10_000; count !== 2 && Date.now() < bound;) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        count = await connectionCount(served.http);
      }
      t.is(count, 2);
    } finally {
      for (const client of clients) client.destroy();
      await served.close();
    }
  });
}

for (const kind of KINDS) {
  test(`http.close(cb): no new connection, cb() once the open ones end; a second close(cb) gets ERR_SERVER_NOT_RUNNING (${kind})`, async (t) => {
    let respond!: () => void;
    const served = await httpServer(t, kind, (_req, res) => (respond = () => res.end('late')));
    const client = net.connect(served.port, '127.0.0.1');
    try {
      client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => respond !== undefined, 'the request');
      const events: unknown[] = [];
      const closed = new Promise<void>((resolve) =>
        served.http.close((err) => {
          events.push(['close cb', (err as NodeJS.ErrnoException | undefined)?.code ?? null]);
          resolve();
        }),
      );
      t.is(await tryConnect(served.port), 'ECONNREFUSED', 'no longer accepting');
      await new Promise((resolve) => setImmediate(resolve));
      events.push('response');
      respond();
      const [answer] = (await once(client, 'data')) as [Buffer];
      t.regex(String(answer), /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nlate$/);
      client.destroy();
      await within(closed, 'the close callback');
      const again = await new Promise((resolve) =>
        served.http.close((err) => resolve((err as NodeJS.ErrnoException | undefined)?.code)),
      );
      t.deepEqual(events, ['response', ['close cb', null]]);
      t.is(again, 'ERR_SERVER_NOT_RUNNING');
    } finally {
      client.destroy();
      await served.close();
    }
  });
}
