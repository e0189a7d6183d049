// AsyncLocalStorage through the adapters, on both loops, against node:http
// on Node's own sockets as the reference: a serveHttp handler and its
// body's events run in the context of the serveHttp call (node:http's in
// that of listen()), a store entered per request (the request-id
// middleware pattern) is seen after awaits in that request, and a
// LoopAgent request's response callbacks run in the context of the
// http.request() call.
import test from 'ava';
import { AsyncLocalStorage } from 'node:async_hooks';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoopAgent, serveHttp } from 'asyncuv';
import { bothEventLoops } from '../helpers/event-loop-test.js';

const als = new AsyncLocalStorage<string>();

interface Seen {
  handler: string | undefined;
  body: string | undefined;
  afterAwait: string | undefined;
}

/** Records what the store is in the handler, in a body event and after an await in the request's own run(). */
function recordingApp(seen: Seen[]): http.RequestListener {
  return (req, res) => {
    const handler = als.getStore();
    let body: string | undefined;
    req.on('data', () => (body = als.getStore()));
    req.on('end', () => {
      void als.run(`request ${req.url}`, async () => {
        await sleep(1);
        seen.push({ handler, body, afterAwait: als.getStore() });
        res.end('ok');
      });
    });
  };
}

/** POSTs to `url` with `agent` from the context `store`; resolves with the store the response's end saw. */
function post(
  port: number,
  path: string,
  agent: http.Agent | undefined,
  store: string,
): Promise<string | undefined> {
  return als.run(store, () => {
    return new Promise<string | undefined>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(als.getStore()));
      });
      req.on('error', reject);
      req.end('body');
    });
  });
}

test('node:http on Node sockets, the reference: handler and body in the listen() context, the request store after awaits', async (t) => {
  const seen: Seen[] = [];
  const server = http.createServer(recordingApp(seen));
  als.run('server', () => server.listen(0, '127.0.0.1'));
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: true });
  t.is(await post(port, '/a', agent, 'client 1'), 'client 1');
  t.is(await post(port, '/b', agent, 'client 2'), 'client 2');
  t.deepEqual(seen, [
    { handler: 'server', body: 'server', afterAwait: 'request /a' },
    { handler: 'server', body: 'server', afterAwait: 'request /b' },
  ]);
  agent.destroy();
  server.close();
  await once(server, 'close');
});

for (const [name, onLoop] of bothEventLoops) {
  test(`${name}: serveHttp and LoopAgent keep every store where node:http on Node sockets keeps it`, (t) =>
    onLoop(t, async (loop) => {
      const seen: Seen[] = [];
      const served = await als.run('server', () =>
        serveHttp(loop, recordingApp(seen), '127.0.0.1', 0),
      );
      const agent = new LoopAgent(loop, { keepAlive: true });
      // Two requests over one kept-alive connection, from two contexts.
      t.is(await post(served.port, '/a', agent, 'client 1'), 'client 1');
      t.is(await post(served.port, '/b', agent, 'client 2'), 'client 2');
      t.deepEqual(seen, [
        { handler: 'server', body: 'server', afterAwait: 'request /a' },
        { handler: 'server', body: 'server', afterAwait: 'request /b' },
      ]);
      agent.destroy();
      await served.close();
    }));
}
