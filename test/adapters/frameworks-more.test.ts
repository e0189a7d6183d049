// More real npm frameworks on our loop, side by side with node:http (the
// harness of frameworks.test.ts): hapi, served through its documented
// custom listener (`Hapi.server({ listener, autoListen: false })`, then the
// listener listens: serveHttp given the http.Server on our side,
// `server.listen()` on node's).
import test from 'ava';
import http from 'node:http';
import { Readable } from 'node:stream';
import Hapi from '@hapi/hapi';
import { type App, chunks, hashBody, httpClient, pooled, sideBySide } from './framework-harness.js';

/** The routes of the harness as hapi routes, on a server attached to a fresh http.Server. */
async function hapiApp(): Promise<{ listener: App; close: () => Promise<void> }> {
  const listener = http.createServer();
  const server = Hapi.server({ listener, autoListen: false });
  server.route([
    {
      method: 'GET',
      path: '/json',
      handler: (request) => ({ hello: 'hapi', x: request.query['x'] as unknown }),
    },
    { method: 'POST', path: '/echo', handler: (request) => request.payload },
    {
      method: 'GET',
      path: '/stream',
      handler: (_request, h) =>
        h.response(Readable.from(chunks, { objectMode: false })).type('text/plain'),
    },
    {
      method: 'POST',
      path: '/upload',
      options: { payload: { output: 'stream', parse: false, maxBytes: 16 * 1024 * 1024 } },
      handler: (request) => hashBody(request.payload as http.IncomingMessage),
    },
  ]);
  await server.start();
  return { listener, close: () => server.stop() };
}

test('hapi on serveHttp answers undici and axios as on node:http', async (t) => {
  const result = (await sideBySide(t, hapiApp, httpClient)) as Record<string, unknown[]>;
  t.deepEqual(result['json']!.slice(0, 1), [200]);
  t.deepEqual(result['json']![2], { hello: 'hapi', x: '1' });
  t.deepEqual(result['echo'], [200, { a: [1, 2, 3], b: 'ü' }]);
  t.is(result['stream']![0], 200);
  t.is(result['stream']![2], result['streamExpected']);
  t.is(result['upload']![1], result['upload']![2], 'the 3 MiB upload arrived intact');
  t.is(result['missing']![0], 404);
  t.deepEqual(result['axios'], [200, { hello: 'hapi', x: '2' }, 200, { n: 42 }]);
});

test('hapi on serveHttp: 120 requests over a pipelining undici Pool', async (t) => {
  const answers = (await sideBySide(t, hapiApp, pooled)) as [number, { x: string }][];
  t.is(answers.length, 120);
  answers.forEach(([status, body], i) => {
    t.is(status, 200);
    t.is(body.x, String(i));
  });
});
