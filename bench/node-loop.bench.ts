// NodeEventLoop against plain node:net on the same machine: what the asyncio
// layer (ready queue, transports, flow control) costs on top of Node's own
// sockets.
// - ping-pong: 1 KiB messages echoed one at a time, client and server both
//   on NodeEventLoop Protocols vs both on node:net 'data' handlers;
// - bulk receive: 256 MiB from a node:net sender, read by a BufferedProtocol
//   on NodeEventLoop (Node's onread into the protocol's buffer, no Buffer
//   per read) vs a node:net 'data' handler.
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { NodeEventLoop, type BufferedProtocol, type Protocol, type Transport } from 'asyncuv';
import { formatTable, perSecond, runCase, type BenchCase } from './harness.js';

const kRoundTrips = 20_000;
const kMessage = Buffer.alloc(1024, 0x61);
const kBulk = 256 * 1024 * 1024;

async function loopPingPong(count: number): Promise<void> {
  const loop = new NodeEventLoop();
  const server = await loop.createServer(
    () => {
      let t: Transport;
      return {
        connectionMade: (x: Transport) => void (t = x),
        dataReceived: (d: Buffer) => t.write(d),
      } satisfies Protocol;
    },
    '127.0.0.1',
    0,
  );
  const port = (server.sockets()[0] as { port: number }).port;
  let transport!: Transport;
  await new Promise<void>((resolve) => {
    let left = count;
    let got = 0;
    void loop
      .createConnection(
        () => ({
          dataReceived: (d: Buffer) => {
            got += d.length;
            if (got < kMessage.length) return;
            got -= kMessage.length;
            if (--left === 0) resolve();
            else transport.write(kMessage);
          },
        }),
        '127.0.0.1',
        port,
      )
      .then(([t]) => {
        transport = t;
        t.write(kMessage);
      });
  });
  transport.close();
  server.close();
  await server.waitClosed();
  loop.close();
}

async function netPingPong(count: number): Promise<void> {
  const server = net.createServer((s) => s.on('data', (d) => s.write(d)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve) => {
    let left = count;
    let got = 0;
    client.on('data', (d) => {
      got += d.length;
      if (got < kMessage.length) return;
      got -= kMessage.length;
      if (--left === 0) resolve();
      else client.write(kMessage);
    });
    client.on('connect', () => client.write(kMessage));
  });
  client.destroy();
  await new Promise((r) => server.close(r));
}

/** A node:net server that sends `total` bytes to whoever connects, then ends. */
async function bulkSender(total: number): Promise<{ port: number; close: () => Promise<void> }> {
  const chunk = Buffer.alloc(256 * 1024, 0x62);
  const server = net.createServer((s) => {
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        sent += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

async function loopBulk(total: number): Promise<void> {
  const sender = await bulkSender(total);
  const loop = new NodeEventLoop();
  const buffer = Buffer.alloc(64 * 1024);
  await new Promise<void>((resolve) => {
    let got = 0;
    const protocol: BufferedProtocol = {
      getBuffer: () => buffer,
      bufferUpdated: (n) => {
        got += n;
      },
      eofReceived: () => {
        if (got !== total) throw new Error(`got ${got} of ${total}`);
        resolve();
      },
    };
    void loop.createConnection(() => protocol, '127.0.0.1', sender.port);
  });
  await sender.close();
  loop.close();
}

async function netBulk(total: number): Promise<void> {
  const sender = await bulkSender(total);
  await new Promise<void>((resolve) => {
    let got = 0;
    const client = net.connect({ port: sender.port, host: '127.0.0.1' });
    client.on('data', (d) => void (got += d.length));
    client.on('end', () => {
      if (got !== total) throw new Error(`got ${got} of ${total}`);
      client.destroy();
      resolve();
    });
  });
  await sender.close();
}

export const cases: BenchCase[] = [
  {
    name: `tcp ping-pong, 1 KiB x ${kRoundTrips}`,
    unit: 'round trips',
    ours: {
      label: 'NodeEventLoop Protocols',
      run: () => perSecond(kRoundTrips, () => loopPingPong(kRoundTrips)),
    },
    theirs: {
      label: 'node:net',
      run: () => perSecond(kRoundTrips, () => netPingPong(kRoundTrips)),
    },
    rounds: 5,
  },
  {
    name: 'tcp bulk receive, 256 MiB',
    unit: 'MiB',
    ours: {
      label: 'NodeEventLoop BufferedProtocol (onread)',
      run: () => perSecond(kBulk / 1024 / 1024, () => loopBulk(kBulk)),
    },
    theirs: {
      label: "node:net 'data'",
      run: () => perSecond(kBulk / 1024 / 1024, () => netBulk(kBulk)),
    },
    rounds: 5,
  },
];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = [];
  for (const c of cases) results.push(await runCase(c, (msg) => process.stderr.write(`${msg}\n`)));
  console.log(formatTable(results));
}
