// What a new user's first program does with the installed package, run by
// scripts/consumer-test.sh from a fresh project (and under qemu for the
// linux-arm64 prebuilt binary): an echo through UvEventLoop, a Mutex shared
// with a worker, and the same protocol on NodeEventLoop. It throws on any
// wrong answer; the process must then exit by itself.
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

/** A Protocol that echoes every byte back. */
function echoProtocol() {
  let transport;
  return {
    connectionMade(t) {
      transport = t;
    },
    dataReceived(data) {
      transport.write(data);
    },
  };
}

/** Sends `payload` through an echo server on `loop` and returns what came back. */
async function echoOn(loop, payload) {
  const server = await loop.createServer(echoProtocol, '127.0.0.1', 0);
  const { port } = server.sockets()[0];
  const received = [];
  let size = 0;
  let done;
  const complete = new Promise((resolve) => (done = resolve));
  const [transport] = await loop.createConnection(
    () => ({
      dataReceived(data) {
        received.push(data);
        size += data.length;
        if (size >= payload.length) done();
      },
    }),
    '127.0.0.1',
    port,
  );
  transport.write(payload);
  await complete;
  transport.close();
  server.close();
  await server.waitClosed();
  return Buffer.concat(received);
}

/** `lib` is the package's namespace, from import or from require(). */
export async function smoke(lib, workerUrl) {
  const payload = Buffer.alloc(256 * 1024, 'asyncuv');

  const uv = new lib.UvEventLoop();
  assert.ok((await uv.runUntilComplete(echoOn(uv, payload))).equals(payload), 'UvEventLoop echo');
  uv.close();

  const node = new lib.NodeEventLoop();
  assert.ok(
    (await node.runUntilComplete(echoOn(node, payload))).equals(payload),
    'NodeEventLoop echo',
  );
  node.close();

  const mutex = new lib.Mutex();
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const rounds = 20_000;
  const worker = new Worker(workerUrl, { workerData: { mutex: mutex.handle, counter, rounds } });
  for (let i = 0; i < rounds; i++) {
    await mutex.lockAsync();
    // A read and a write apart: without the lock, increments get lost.
    const v = counter[0];
    counter[0] = v + 1;
    mutex.unlock();
  }
  const [code] = await new Promise((resolve) => worker.once('exit', (...a) => resolve(a)));
  assert.equal(code, 0, 'the worker exits cleanly');
  assert.equal(counter[0], 2 * rounds, 'a Mutex shared with a worker keeps every increment');

  assert.deepEqual(lib.Loop.default().handleCounts(), {}, 'no handle left open');
  return { echoed: payload.length, increments: counter[0] };
}
