// UDP echo: one client socket and one server socket on loopback ping-pong
// N datagrams of 64 bytes. With one in flight at a time every round trip
// crosses the loop twice; with a window of 32 several datagrams arrive per
// loop iteration. asyncuv's UDP on its private loop vs node:dgram.
// 32 x 64 B stays far below a socket's receive buffer, so nothing is dropped.
import { createSocket } from 'node:dgram';
import { pathToFileURL } from 'node:url';
import { Loop, UDP } from 'asyncuv';
import { formatTable, perSecond, runCase, type BenchCase } from './harness.js';

const kDatagrams = 20_000;
const kPayload = Buffer.alloc(64, 0x61);
const kWindow = 32;

async function asyncuvEcho(count: number, window = 1): Promise<void> {
  const loop = new Loop();
  const server = new UDP(loop);
  server.bind('127.0.0.1', 0);
  server.recvStart((err, data, rinfo) => {
    if (err === null) server.send(data!, rinfo!.address, rinfo!.port);
  });
  const { port } = server.getsockname();
  const client = new UDP(loop);
  client.bind('127.0.0.1', 0);
  await new Promise<void>((resolve) => {
    let left = count;
    let toSend = count - window;
    client.recvStart((err) => {
      if (err !== null) return;
      if (--left === 0) resolve();
      else if (toSend-- > 0) client.send(kPayload, '127.0.0.1', port);
    });
    for (let i = 0; i < window; i++) client.send(kPayload, '127.0.0.1', port);
  });
  await new Promise<void>((resolve) => {
    client.close();
    server.close(resolve);
  });
  loop.close();
}

async function dgramEcho(count: number, window = 1): Promise<void> {
  const server = createSocket('udp4');
  server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const client = createSocket('udp4');
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => {
    let left = count;
    let toSend = count - window;
    client.on('message', () => {
      if (--left === 0) resolve();
      else if (toSend-- > 0) client.send(kPayload, port, '127.0.0.1');
    });
    for (let i = 0; i < window; i++) client.send(kPayload, port, '127.0.0.1');
  });
  await Promise.all([
    new Promise<void>((r) => client.close(r)),
    new Promise<void>((r) => server.close(r)),
  ]);
}

export const cases: BenchCase[] = [
  {
    name: `udp echo, 64 B ping-pong x ${kDatagrams}`,
    unit: 'round trips',
    ours: { label: 'asyncuv UDP', run: () => perSecond(kDatagrams, () => asyncuvEcho(kDatagrams)) },
    theirs: { label: 'node:dgram', run: () => perSecond(kDatagrams, () => dgramEcho(kDatagrams)) },
    rounds: 5,
  },
  {
    name: `udp echo, 64 B, ${kWindow} in flight x ${kDatagrams}`,
    unit: 'datagrams',
    ours: {
      label: 'asyncuv UDP',
      run: () => perSecond(kDatagrams, () => asyncuvEcho(kDatagrams, kWindow)),
    },
    theirs: {
      label: 'node:dgram',
      run: () => perSecond(kDatagrams, () => dgramEcho(kDatagrams, kWindow)),
    },
    rounds: 5,
  },
];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = [];
  for (const c of cases) results.push(await runCase(c, (msg) => process.stderr.write(`${msg}\n`)));
  console.log(formatTable(results));
}
