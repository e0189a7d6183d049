// The C++-only echo server (bench/native/bench_echo.cc) is a benchmark export, but
// it shares the loop with real handles, so it must keep the loop's rules:
// counted handles, nothing left after close(), and a loop closed under it
// frees everything without a crash or a double free.
import test from 'ava';
import { Worker } from 'node:worker_threads';
import { Loop } from 'asyncuv';
import { benchEchoServer } from '../../bench/bench-echo-server.js';
import { pingPong, stream } from '../../bench/loadgen/echo-client.js';
import { assertNoHandlesAndClose, newLoop } from '../helpers/loop-test.js';

test('echoes ping-pong and a stream, then closes every handle', async (t) => {
  const loop = newLoop(t);
  const server = benchEchoServer('127.0.0.1', 0, loop);
  t.true(server.port > 0);
  t.deepEqual(loop.handleCounts(), { tcp: 1 });
  // No warm-up and a long window: on a loaded machine the connects alone can
  // take most of a short one, leaving no round trip to count.
  const report = await pingPong({ port: server.port, conns: 8, seconds: 2, warmup: 0 });
  t.is(report.errors, 0);
  t.true(report.roundtrips > 0);
  const streamed = await stream({ port: server.port, bytes: 16 * 1024 * 1024, seconds: 20 });
  t.is(streamed.errors, 0);
  await server.close();
  await assertNoHandlesAndClose(t, loop);
});

test('listens on ::1', async (t) => {
  const loop = newLoop(t);
  const server = benchEchoServer('::1', 0, loop);
  const report = await pingPong({
    host: '::1',
    port: server.port,
    conns: 1,
    seconds: 1,
    warmup: 0,
  });
  t.is(report.errors, 0);
  await server.close();
  await assertNoHandlesAndClose(t, loop);
});

test('a port in use is an EADDRINUSE UvError and leaves nothing behind', async (t) => {
  const loop = newLoop(t);
  const first = benchEchoServer('127.0.0.1', 0, loop);
  t.throws(() => benchEchoServer('127.0.0.1', first.port, loop), { code: 'EADDRINUSE' });
  await first.close();
  await assertNoHandlesAndClose(t, loop);
});

test('closing the loop with connections open frees them; close() afterwards is harmless', async (t) => {
  const loop = new Loop();
  const server = benchEchoServer('127.0.0.1', 0, loop);
  // The client sees its connections reset or ended when the loop closes.
  const load = pingPong({ port: server.port, conns: 4, seconds: 1, warmup: 0 }).then(
    () => 'ok',
    () => 'failed',
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  loop.close();
  t.deepEqual(loop.handleCounts(), {});
  await server.close();
  await server.close();
  t.is(await load, 'failed');
});

test('the server survives garbage collection while it listens', async (t) => {
  const loop = newLoop(t);
  const { port } = benchEchoServer('127.0.0.1', 0, loop);
  // Nothing in JS holds the server now; it must keep serving (it is pinned).
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((resolve) => setImmediate(resolve));
  const report = await pingPong({ port, conns: 1, seconds: 1, warmup: 0 });
  t.is(report.errors, 0);
  loop.close();
  t.deepEqual(loop.handleCounts(), {});
});

test('a worker that exits with the server open tears down cleanly', async (t) => {
  const worker = new Worker(new URL('../fixtures/bench-echo-worker.js', import.meta.url));
  const port = await new Promise<number>((resolve) => worker.once('message', resolve));
  const report = await pingPong({ port, conns: 2, seconds: 0.2, warmup: 0 });
  t.is(report.errors, 0);
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  worker.postMessage('exit');
  t.is(await exited, 0);
});

test('terminating a worker with the server open does not crash', async (t) => {
  const worker = new Worker(new URL('../fixtures/bench-echo-worker.js', import.meta.url));
  const port = await new Promise<number>((resolve) => worker.once('message', resolve));
  const load = pingPong({ port, conns: 2, seconds: 1, warmup: 0 }).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await worker.terminate();
  await load;
  t.pass();
});
