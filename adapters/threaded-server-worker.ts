// One thread of a threaded server (threaded-server.ts): imports the served
// module, awaits its setup(), serves it on this thread's own UvEventLoop,
// counts connections in the shared counters, and on the supervisor's close
// message stops accepting, lets the connections finish (aborting them at the
// deadline) and ends the thread.
import http from 'node:http';
import tls from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';
import { TCP } from '../handles/tcp.js';
import { UsageError } from '../errors/usage-error.js';
import type { UvError } from '../handles/uv-error.js';
import { StreamServer } from '../loop/server.js';
import type { Server, ServerOptions } from '../loop/events.js';
import { UvEventLoop } from '../loop/uv-event-loop.js';
import { serveHttp } from './serve-http.js';
import { ConnectionCounters } from './threaded-server-counters.js';
import { type CloseMessage, serializeError, type ThreadData } from './threaded-server-messages.js';
import type { ThreadedServerModule } from './threaded-server.js';
// Gives this thread's UvEventLoop its ssl option.
import './tls-upgrader.js';

interface Served {
  /** The loop's listening server, whose connections are counted and aborted at the deadline. */
  server: Server;
  /** Stops accepting and resolves once every connection is gone. */
  close(): Promise<void>;
}

if (parentPort === null) {
  throw new UsageError(
    'ERR_INVALID_ARG_VALUE',
    'threaded-server-worker is the entry of the threads of startThreadedServer(), ' +
      'not a module to import',
  );
}
const port = parentPort;
const data = workerData as ThreadData;
// close() may come more than once (a later call can bring the deadline
// closer); the earliest deadline holds.
let deadline = Infinity;
// Assigned once serving starts; the close handler above it reads it.
// eslint-disable-next-line prefer-const
let draining: Served | undefined;
let abortTimer: ReturnType<typeof setTimeout> | undefined;
let requestClose!: () => void;
const closeRequested = new Promise<void>((resolve) => (requestClose = resolve));
port.on('message', (message: CloseMessage) => {
  if (message.deadlineMs !== undefined) {
    deadline = Math.min(deadline, Date.now() + message.deadlineMs);
  }
  armDeadline();
  requestClose();
});

/** Aborts the connections still open at the deadline, once draining. */
function armDeadline(): void {
  if (draining === undefined || deadline === Infinity) return;
  const server = draining.server;
  clearTimeout(abortTimer);
  abortTimer = setTimeout(() => server.abortClients(), Math.max(0, deadline - Date.now()));
}

async function importModule(): Promise<ThreadedServerModule> {
  const mod = (await import(data.moduleUrl)) as ThreadedServerModule;
  const name = data.moduleUrl.slice(0, 200);
  const hasFactory = typeof mod.protocolFactory === 'function';
  // serveHttp's two forms: a listener, or an http.Server that does not listen.
  const hasListener =
    typeof mod.requestListener === 'function' || mod.requestListener instanceof http.Server;
  if (hasFactory === hasListener) {
    throw new UsageError(
      'ERR_INVALID_ARG_VALUE',
      `The module ${name} must export either protocolFactory() or requestListener(req, res)` +
        ' (or requestListener as an http.Server)' +
        (hasFactory ? ', not both' : ''),
    );
  }
  if (mod.setup !== undefined && typeof mod.setup !== 'function') {
    const why = `The module ${name} exports a setup that is not a function`;
    throw new UsageError('ERR_INVALID_ARG_VALUE', why);
  }
  return mod;
}

/**
 * The listening socket of a 'shared-socket' thread: it takes one connection
 * per turn of its loop and leaves the others queued for the other threads
 * (nginx's multi_accept off). libuv accepts until the queue is empty, so
 * the first thread to wake took every pending connection; a connection it
 * does not accept inside the callback stays queued, and libuv stops
 * watching the socket until accept() takes it.
 */
class TakeTurnsTCP extends TCP {
  override listen(backlog: number, onConnection: (err: UvError | null) => void): void {
    super.listen(backlog, (err) =>
      queueMicrotask(() => {
        if (!this.closed) onConnection(err);
      }),
    );
  }
}

/** createServer's host, port and options for this thread's way of sharing the port. */
function listening(loop: UvEventLoop): [string | null, number, ServerOptions] {
  const opts: ServerOptions = {};
  if (data.backlog !== undefined) opts.backlog = data.backlog;
  // One context per thread: made per connection, it would parse the key every time.
  if (data.ssl !== undefined) {
    opts.ssl = { ...data.ssl, secureContext: tls.createSecureContext(data.ssl) };
  }
  if (data.fd === undefined) return [data.address, data.port, { ...opts, reusePort: true }];
  const sock = new TakeTurnsTCP(loop.uvloop);
  try {
    sock.open(data.fd, { duplicate: true });
  } catch (err) {
    sock.close();
    throw err;
  }
  return [null, 0, { ...opts, sock }];
}

async function serve(mod: ThreadedServerModule, loop: UvEventLoop): Promise<Served> {
  const [host, portNumber, opts] = listening(loop);
  if (mod.protocolFactory !== undefined) {
    const factory = mod.protocolFactory;
    const server = await loop.createServer(() => factory(), host, portNumber, opts);
    return {
      server,
      close: async () => {
        server.close();
        await server.waitClosed();
      },
    };
  }
  const web = await serveHttp(loop, mod.requestListener!, host, portNumber, { listen: opts });
  return { server: web.server, close: () => web.close() };
}

async function start(loop: UvEventLoop): Promise<Served> {
  const mod = await importModule();
  await mod.setup?.(data.shared, { index: data.index, loop });
  const served = await serve(mod, loop);
  const counters = new ConnectionCounters(data.counters);
  if (served.server instanceof StreamServer) {
    served.server.observe({
      attached: () => counters.opened(data.index),
      detached: () => counters.closed(data.index),
    });
  }
  return served;
}

const loop = new UvEventLoop();
let served: Served;
try {
  served = await start(loop);
} catch (err) {
  // Posted before the exit, so the supervisor has it when 'exit' comes.
  port.postMessage({ type: 'failed', error: serializeError(err) });
  process.exit(1);
}
port.postMessage({ type: 'serving' });

await closeRequested;
draining = served;
armDeadline();
// close() closes the listening socket before its first await.
const drained = served.close();
port.postMessage({ type: 'stopped' });
await drained;
clearTimeout(abortTimer);
loop.close();
// Whatever else the module left running (timers, clients) ends with the thread.
process.exit(0);
