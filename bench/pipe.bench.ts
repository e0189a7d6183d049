// Unix socket echo: a client and a server on one socket path ping-pong a
// 1 KiB message N times, one message in flight, so every round trip
// crosses the loop twice. asyncuv's Pipe on its private loop vs node:net.
import { rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Loop, Pipe } from 'asyncuv';
import { formatTable, perSecond, runCase, type BenchCase } from './harness.js';

const kRoundTrips = 20_000;
const kMessage = Buffer.alloc(1024, 0x61);

function socketPath(tag: string): string {
  const path = join(tmpdir(), `asyncuv-bench-${tag}-${process.pid}.sock`);
  rmSync(path, { force: true });
  return path;
}

async function asyncuvEcho(count: number): Promise<void> {
  const loop = new Loop();
  const path = socketPath('uv');
  const server = new Pipe(loop);
  let conn: Pipe | undefined;
  server.bind(path);
  server.listen(16, () => {
    conn = new Pipe(loop);
    server.accept(conn);
    conn.readStart((err, data) => {
      if (err === null && data !== null) conn!.write(data);
    });
  });
  const client = new Pipe(loop);
  await new Promise<void>((resolve, reject) =>
    client.connect(path, (err) => (err ? reject(err) : resolve())),
  );
  await new Promise<void>((resolve) => {
    let left = count;
    let got = 0;
    client.readStart((err, data) => {
      if (err !== null || data === null) return;
      got += data.length;
      if (got < kMessage.length) return;
      got -= kMessage.length;
      if (--left === 0) resolve();
      else client.write(kMessage);
    });
    client.write(kMessage);
  });
  await new Promise<void>((resolve) => {
    client.close();
    conn?.close();
    server.close(resolve);
  });
  loop.close();
}

async function netEcho(count: number): Promise<void> {
  const path = socketPath('net');
  const server = createServer((socket) => socket.on('data', (d) => socket.write(d)));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const client = createConnection(path);
  await new Promise<void>((resolve) => client.on('connect', resolve));
  await new Promise<void>((resolve) => {
    let left = count;
    let got = 0;
    client.on('data', (data) => {
      got += data.length;
      if (got < kMessage.length) return;
      got -= kMessage.length;
      if (--left === 0) resolve();
      else client.write(kMessage);
    });
    client.write(kMessage);
  });
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export const cases: BenchCase[] = [
  {
    name: `unix socket echo, 1 KiB ping-pong x ${kRoundTrips}`,
    unit: 'round trips',
    ours: {
      label: 'asyncuv Pipe',
      run: () => perSecond(kRoundTrips, () => asyncuvEcho(kRoundTrips)),
    },
    theirs: { label: 'node:net', run: () => perSecond(kRoundTrips, () => netEcho(kRoundTrips)) },
    rounds: 5,
  },
];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = [];
  for (const c of cases) results.push(await runCase(c, (msg) => process.stderr.write(`${msg}\n`)));
  console.log(formatTable(results));
}
