// The native load generator (bench/loadgen/echo_client.c) is what every TCP
// echo benchmark stands on: these tests run the built client for about a
// second against real node:net echo servers so that a broken client fails
// CI instead of producing silently wrong numbers.
import test from 'ava';
import { createServer, type Server, type Socket } from 'node:net';
import { echoClientPath, pingPong, stream } from '../../bench/loadgen/echo-client.js';
import { startNodeEchoServer } from '../../bench/loadgen/echo-servers.js';

test('the echo client is built next to the addon', (t) => {
  t.truthy(
    echoClientPath(),
    'build/Release/asyncuv-echo-client is missing: run npm run build:native',
  );
});

test('ping-pong against node:net reports round trips and no errors', async (t) => {
  const server = await startNodeEchoServer();
  try {
    const report = await pingPong({
      port: server.port,
      conns: 4,
      size: 1024,
      seconds: 1,
      warmup: 0.1,
    });
    t.is(report.errors, 0);
    t.is(report.conns, 4);
    t.true(report.roundtrips > 0);
    t.true(report.total_roundtrips >= report.roundtrips);
    t.true(report.rate > 0);
  } finally {
    await server.close();
  }
});

test('stream mode gets every byte back from node:net', async (t) => {
  const server = await startNodeEchoServer();
  try {
    const bytes = 8 * 1024 * 1024 + 123;
    const report = await stream({ port: server.port, bytes, seconds: 20 });
    t.is(report.errors, 0);
    t.is(report.bytes, bytes);
    t.true(report.mb_per_s > 0);
  } finally {
    await server.close();
  }
});

// A server that answers with the wrong bytes must be an error, not a round trip.
test('wrong echoed bytes fail the run with a non-zero exit', async (t) => {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (d) => socket.write(Buffer.alloc(d.length, 0x5a)));
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  try {
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    // The client ends at its first failed connection, so the window only
    // bounds a loaded machine's wait for the first echo (0.3 s once saw none).
    await t.throwsAsync(pingPong({ port: address.port, conns: 1, seconds: 20, warmup: 0 }), {
      message: /differ/,
    });
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('a refused connection fails the run with a non-zero exit', async (t) => {
  // Bind then close to get a port that nothing listens on.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  await t.throwsAsync(pingPong({ port: address.port, conns: 2, seconds: 0.3, warmup: 0 }), {
    message: /refused/,
  });
});
