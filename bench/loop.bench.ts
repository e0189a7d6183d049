// The asyncio layer against Node's own machinery, side by side:
// - callSoon chains vs setImmediate chains (one callback per loop turn);
// - 100k callLater timers vs 100k setTimeout timers;
// - a Protocol echo server on UvEventLoop vs a node:net echo server;
// - a StreamReader/StreamWriter echo server vs the same node:net server.
// The echo clients are node:net ping-pong clients in this same process (1
// KiB, one message in flight per connection), identical for both servers,
// so the client's cost is in both numbers; a native load generator would
// measure the servers alone.
import net from 'node:net';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { Loop, UvEventLoop, startServer, type AbstractEventLoop, type Protocol, type Server, type Transport } from 'asyncuv';
import { formatTable, perSecond, runCase, type BenchCase } from './harness.js';

const kChain = 200_000;
const kTimers = 100_000;
const kRoundTrips = 10_000;
const kMessage = Buffer.alloc(1024, 0x62);

/** A UvEventLoop on its own private libuv loop, and how to dispose of both. */
function freshLoop(): { loop: AbstractEventLoop; dispose(): Promise<void> } {
  const uvloop = new Loop();
  const loop = new UvEventLoop(uvloop) as unknown as AbstractEventLoop;
  return {
    loop,
    async dispose() {
      loop.close();
      for (let i = 0; i < 200 && Object.keys(uvloop.handleCounts()).length > 0; i++) await new Promise((r) => setTimeout(r, 5));
      uvloop.close();
    },
  };
}

async function callSoonChain(): Promise<void> {
  const { loop, dispose } = freshLoop();
  await new Promise<void>((resolve) => {
    let left = kChain;
    const step = (): void => {
      if (--left === 0) resolve();
      else loop.callSoon(step);
    };
    loop.callSoon(step);
  });
  await dispose();
}

async function setImmediateChain(): Promise<void> {
  await new Promise<void>((resolve) => {
    let left = kChain;
    const step = (): void => {
      if (--left === 0) resolve();
      else setImmediate(step);
    };
    setImmediate(step);
  });
}

// Timers spread over 0-49 ms, so the heap holds many distinct deadlines.
async function callLaterTimers(): Promise<void> {
  const { loop, dispose } = freshLoop();
  await new Promise<void>((resolve) => {
    let left = kTimers;
    const fired = (): void => {
      if (--left === 0) resolve();
    };
    for (let i = 0; i < kTimers; i++) loop.callLater((i % 50) / 1000, fired);
  });
  await dispose();
}

async function setTimeoutTimers(): Promise<void> {
  await new Promise<void>((resolve) => {
    let left = kTimers;
    const fired = (): void => {
      if (--left === 0) resolve();
    };
    for (let i = 0; i < kTimers; i++) setTimeout(fired, i % 50);
  });
}

/** Ping-pongs kRoundTrips 1 KiB messages over `connections` node:net clients. */
async function pingPong(port: number, connections: number): Promise<void> {
  const perConnection = Math.ceil(kRoundTrips / connections);
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
      await once(socket, 'connect');
      await new Promise<void>((resolve, reject) => {
        let left = perConnection;
        let pending = kMessage.length;
        socket.on('error', reject);
        socket.on('data', (d: Buffer) => {
          pending -= d.length;
          if (pending > 0) return;
          if (--left === 0) return resolve();
          pending = kMessage.length;
          socket.write(kMessage);
        });
        socket.write(kMessage);
      });
      socket.destroy();
    }),
  );
}

class EchoProtocol implements Protocol {
  #transport: Transport | undefined;
  connectionMade(t: Transport): void {
    this.#transport = t;
  }
  dataReceived(data: Buffer): void {
    this.#transport!.write(data);
  }
}

async function withUvServer(make: (loop: AbstractEventLoop) => Promise<Server>, connections: number): Promise<void> {
  const { loop, dispose } = freshLoop();
  const server = await make(loop);
  await pingPong((server.sockets()[0] as { port: number }).port, connections);
  server.close();
  await server.waitClosed();
  await dispose();
}

const protocolServer = (loop: AbstractEventLoop): Promise<Server> => loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0);

const streamsServer = (loop: AbstractEventLoop): Promise<Server> =>
  startServer(
    async (reader, writer) => {
      for (;;) {
        const data = await reader.read(65536);
        if (data.length === 0) break;
        writer.write(data);
        await writer.drain();
      }
      writer.close();
    },
    '127.0.0.1',
    0,
    { loop },
  );

async function withNetServer(connections: number): Promise<void> {
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('data', (d) => socket.write(d));
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  await pingPong((server.address() as net.AddressInfo).port, connections);
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export const cases: BenchCase[] = [
  {
    name: `callSoon chain x ${kChain}`,
    unit: 'callbacks',
    ours: { label: 'UvEventLoop.callSoon', run: () => perSecond(kChain, callSoonChain) },
    theirs: { label: 'setImmediate', run: () => perSecond(kChain, setImmediateChain) },
  },
  {
    name: `${kTimers} timers over 0-49 ms`,
    unit: 'timers',
    ours: { label: 'UvEventLoop.callLater', run: () => perSecond(kTimers, callLaterTimers) },
    theirs: { label: 'setTimeout', run: () => perSecond(kTimers, setTimeoutTimers) },
  },
  ...[1, 50].flatMap((connections): BenchCase[] => [
    {
      name: `TCP echo, Protocol, 1 KiB ping-pong, ${connections} conn, in-process client`,
      unit: 'round trips',
      ours: { label: 'UvEventLoop Protocol', run: () => perSecond(kRoundTrips, () => withUvServer(protocolServer, connections)) },
      theirs: { label: 'node:net', run: () => perSecond(kRoundTrips, () => withNetServer(connections)) },
    },
    {
      name: `TCP echo, streams, 1 KiB ping-pong, ${connections} conn, in-process client`,
      unit: 'round trips',
      ours: { label: 'StreamReader/Writer', run: () => perSecond(kRoundTrips, () => withUvServer(streamsServer, connections)) },
      theirs: { label: 'node:net', run: () => perSecond(kRoundTrips, () => withNetServer(connections)) },
    },
  ]),
];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = [];
  for (const c of cases) results.push(await runCase(c, (msg) => process.stderr.write(`${msg}\n`)));
  console.log(formatTable(results));
}
