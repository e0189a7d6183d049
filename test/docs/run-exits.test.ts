// A program whose main() returns from run() exits by itself (docs/loop.md,
// "Closing"), on both loops, even with its peer keeping the connection
// open: the client program issue 12 was filed with (then the asyncio
// example of docs/getting-started.md), an echo server stopped with SIGINT
// while a client stays connected (then the example of docs/loop.md), and a
// fixture that leaves a server, connections, an endpoint, a child, a
// signal handler, a timer and an fd reader open. Each runs in a child
// process that is killed if it outlives a deadline. (The examples of the
// docs as they are now run in code-blocks.test.ts.)
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { jsonLines, runFixture, type ChildResult } from '../helpers/child.js';

const DEADLINE_MS = 15_000;
const root = fileURLToPath(new URL('../../../', import.meta.url));
const scratch = fileURLToPath(new URL('./run-exits-tmp/', import.meta.url));
const LOOPS = ['uv', 'node'] as const;

/** A peer that never closes: it sends 'tick' every 20 ms and records what it got. */
interface KeepOpenPeer {
  port: number;
  received: () => string;
  closed: Promise<unknown>;
}

async function keepOpenPeer(t: ExecutionContext): Promise<KeepOpenPeer> {
  let received = '';
  let closed!: (v: unknown) => void;
  const closedPromise = new Promise((resolve) => (closed = resolve));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('data', (d) => {
      received += d.toString();
      if (received === 'hello') socket.write('got hello');
    });
    const timer = setInterval(() => socket.write('tick'), 20);
    socket.on('close', () => {
      clearInterval(timer);
      closed(true);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const { port } = server.address() as net.AddressInfo;
  return { port, received: () => received, closed: closedPromise };
}

type OnStdout = (text: string, child: ReturnType<typeof spawn>) => void;

function runModule(file: string, onStdout?: OnStdout): Promise<ChildResult> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, DEADLINE_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - start, timedOut });
    });
  });
}

/**
 * A client that writes once and returns once the peer has read it, leaving
 * its connection open. (Without the wait, the peer's unread ticks make the
 * client's close a reset, which may discard 'hello' before the peer reads it.)
 */
const CLIENT = `import { run } from 'asyncuv';

await run(async (loop) => {
  let acked;
  const ack = new Promise((resolve) => (acked = resolve));
  const [transport] = await loop.createConnection(() => ({
    dataReceived: (data) => {
      console.log(String(data));
      if (String(data).includes('got hello')) acked();
    },
  }), '127.0.0.1', PORT);
  transport.write('hello');
  await ack;
});
`;

/** An echo server that serves until SIGINT closes it. */
const ECHO_SERVER = `import { run } from 'asyncuv';

class Echo {
  connectionMade(t) { this.t = t; }
  dataReceived(data) { this.t.write(data); }
}

await run(async (loop) => {
  const server = await loop.createServer(() => new Echo(), '127.0.0.1', PORT);
  loop.addSignalHandler('SIGINT', () => server.close());
  console.log('serving on', server.sockets());
  await server.serveForever();
});
`;

/** `program` on `kind`'s loop, listening or connecting on `port`, saying when run() returned. */
function programFor(program: string, kind: string, port: number): string {
  const prelude = kind === 'node'
    ? "import { NodeEventLoop, setEventLoopFactory } from 'asyncuv';\n" +
      'setEventLoopFactory(() => new NodeEventLoop());\n'
    : '';
  return `${prelude}${program.replace('PORT', String(port))}console.log('run() returned');\n`;
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test.before(async () => {
  await mkdir(scratch, { recursive: true });
});

test.after.always(async () => {
  await rm(scratch, { recursive: true, force: true });
});

for (const kind of LOOPS) {
  test(`${kind}: a run() client exits by itself while its peer keeps the connection`, async (t) => {
    const peer = await keepOpenPeer(t);
    const file = `${scratch}client-${kind}.mjs`;
    await writeFile(file, programFor(CLIENT, kind, peer.port));
    const result = await runModule(file);
    t.false(result.timedOut, `exited by itself (stdout: ${result.stdout.slice(0, 200)})`);
    t.is(result.code, 0, result.stderr);
    t.is(result.stderr, '');
    // Nothing of the closed loop ran after run() returned.
    t.true(result.stdout.endsWith('run() returned\n'), result.stdout);
    await peer.closed;
    t.is(peer.received(), 'hello');
  });

  test(`${kind}: a run() echo server exits after SIGINT, a client still connected`, async (t) => {
    const port = await freePort();
    const file = `${scratch}echo-${kind}.mjs`;
    await writeFile(file, programFor(ECHO_SERVER, kind, port));
    let echoed = '';
    let client: net.Socket | undefined;
    const result = await runModule(file, (stdout, child) => {
      if (client !== undefined || !stdout.includes('serving on')) return;
      client = net.connect(port, '127.0.0.1', () => client!.write('ping'));
      client.on('error', () => {});
      client.on('data', (d) => {
        echoed += d.toString();
        // The client stays connected; Ctrl-C stops the server.
        if (echoed === 'ping') child.kill('SIGINT');
      });
    });
    t.false(result.timedOut, `exited by itself (stdout: ${result.stdout})`);
    t.is(result.code, 0, result.stderr);
    t.is(result.stderr, '');
    t.is(echoed, 'ping');
    t.true(result.stdout.endsWith('run() returned\n'), result.stdout);
    client?.destroy();
  });

  test(`${kind}: run() leaving servers, connections, a child, watchers open: exits`, async (t) => {
    const peer = await keepOpenPeer(t);
    const args = [kind, String(peer.port)];
    const result = await runFixture('run-exits.js', args, { timeoutMs: DEADLINE_MS });
    t.false(result.timedOut, `exited by itself (stdout: ${result.stdout})`);
    t.is(result.code, 0, result.stderr);
    t.is(result.stderr, '');
    const lines = jsonLines(result.stdout);
    t.true((lines[0]?.['cat'] as number) > 0);
    // Nothing of the closed loop ran after run() returned (the timer would
    // print), and the child was killed and reaped.
    t.deepEqual(lines.slice(1), [{ returned: true }, { catGone: true }]);
    await peer.closed;
  });
}
