// Connect/close cycles against a descriptor count: each cycle opens a
// loopback connection (client and accepted end in this process), closes
// both, and at the end /proc/self/fd must hold exactly what it held before.
// Used by test/reliability/fd-cycles.test.ts and scripts/fd-cycles-main.ts.
import { readdirSync } from 'node:fs';
import { Loop, TCP, UvEventLoop, type Protocol } from '../index.js';

export interface CycleResult {
  cycles: number;
  fdsBefore: number;
  fdsAfter: number;
  seconds: number;
  liveHandles: Record<string, number>;
}

function fdCount(): number {
  return readdirSync('/proc/self/fd').length - 1; // minus readdir's own
}

async function drained(loop: Loop): Promise<Record<string, number>> {
  for (let i = 0; i < 400 && Object.keys(loop.handleCounts()).length > 0; i++)
    await new Promise((r) => setTimeout(r, 5));
  return loop.handleCounts();
}

/** Handle level: TCP connect, accept, client close, server side closes at EOF. */
export async function handleCycles(cycles: number): Promise<CycleResult> {
  const loop = new Loop();
  const listener = new TCP(loop);
  listener.bind('127.0.0.1', 0);
  let serverClosed = 0;
  listener.listen(511, (err) => {
    if (err !== null) return;
    const peer = new TCP(loop);
    listener.accept(peer);
    peer.readStart((_e, data) => {
      if (data === null) peer.close(() => serverClosed++);
    });
  });
  const port = listener.getsockname().port;
  // Counted once the listener (and libuv's per-loop fds) exist.
  const fdsBefore = fdCount();
  const start = performance.now();
  for (let i = 0; i < cycles; i++) {
    const c = new TCP(loop);
    await new Promise<void>((resolve, reject) =>
      c.connect('127.0.0.1', port, (err) => {
        if (err !== null) return c.close(() => reject(err));
        c.close(() => resolve());
      }),
    );
  }
  for (let i = 0; i < 2000 && serverClosed < cycles; i++)
    await new Promise((r) => setTimeout(r, 5));
  const seconds = (performance.now() - start) / 1000;
  const fdsAfter = fdCount();
  await new Promise<void>((r) => listener.close(r));
  const liveHandles = await drained(loop);
  loop.close();
  if (serverClosed !== cycles)
    throw new Error(`only ${serverClosed} of ${cycles} accepted ends closed`);
  return { cycles, fdsBefore, fdsAfter, seconds, liveHandles };
}

/** UvEventLoop level: createConnection, close(); the server's transport closes at EOF. */
export async function transportCycles(cycles: number): Promise<CycleResult> {
  const uvloop = new Loop();
  const loop = new UvEventLoop(uvloop);
  let serverLost = 0;
  const server = await loop.createServer(
    (): Protocol => ({ connectionLost: () => void serverLost++ }),
    '127.0.0.1',
    0,
    { backlog: 511 },
  );
  const port = (server.sockets()[0] as { port: number }).port;
  const fdsBefore = fdCount();
  const start = performance.now();
  for (let i = 0; i < cycles; i++) {
    let done!: () => void;
    const lost = new Promise<void>((r) => (done = r));
    const [transport] = await loop.createConnection(
      (): Protocol => ({ connectionLost: () => done() }),
      '127.0.0.1',
      port,
    );
    transport.close();
    await lost;
  }
  for (let i = 0; i < 2000 && serverLost < cycles; i++) await new Promise((r) => setTimeout(r, 5));
  const seconds = (performance.now() - start) / 1000;
  const fdsAfter = fdCount();
  server.close();
  await server.waitClosed();
  loop.close();
  const liveHandles = await drained(uvloop);
  uvloop.close();
  if (serverLost !== cycles)
    throw new Error(`only ${serverLost} of ${cycles} server transports lost`);
  return { cycles, fdsBefore, fdsAfter, seconds, liveHandles };
}
