// asyncio.streams: connections and servers as StreamReader/StreamWriter
// pairs instead of protocols.
import { validateFunction, validateInteger } from '../errors/validate.js';
import { getRunningLoop } from './base-event-loop.js';
import type { SocketAddress } from '../handles/tcp.js';
import type {
  AbstractEventLoop,
  ConnectionOptions,
  Server,
  ServerOptions,
  UnixConnectionOptions,
  UnixServerAddress,
  UnixServerOptions,
} from './events.js';
import { newEventLoop } from './policy.js';
import { StreamReader } from './stream-reader.js';
import {
  type ClientConnectedCallback,
  StreamReaderProtocol,
  StreamWriter,
} from './stream-writer.js';

export interface StreamOptions {
  /** The loop to use; default: the running loop, else a shared default loop. */
  loop?: AbstractEventLoop;
  /** The reader's buffer limit (bytes); default 64 KiB. */
  limit?: number;
}

export interface StreamPair {
  reader: StreamReader;
  writer: StreamWriter;
}

// One loop for all stream calls made outside a running loop, made on first
// use, so that such calls do not each leave a loop behind.
let defaultLoop: AbstractEventLoop | undefined;

/** @internal The loop the stream functions (and subprocess streams) use. */
function loopFrom(opts: StreamOptions): AbstractEventLoop {
  if (opts.loop !== undefined) return opts.loop;
  const running = getRunningLoop();
  if (running !== undefined) return running;
  if (defaultLoop === undefined || defaultLoop.isClosed()) defaultLoop = newEventLoop();
  return defaultLoop;
}

/**
 * @internal Separates the stream options from the loop's own. The limit is
 * checked here, before anything is opened: a server or child whose readers
 * could not be made would fail every connection (or the spawn) instead.
 */
export function split<T extends StreamOptions>(
  opts: T,
): [AbstractEventLoop, StreamOptions['limit'], Omit<T, 'loop' | 'limit'>] {
  const { loop: _loop, limit, ...rest } = opts;
  if (limit !== undefined) validateInteger(limit, 'limit', 1);
  return [loopFrom(opts), limit, rest];
}

async function connectWith(
  loop: AbstractEventLoop,
  limit: number | undefined,
  connect: (factory: () => StreamReaderProtocol) => Promise<unknown>,
): Promise<StreamPair> {
  const reader = new StreamReader(limit === undefined ? {} : { limit });
  const protocol = new StreamReaderProtocol(reader, undefined, loop);
  await connect(() => protocol);
  const transport = protocol.transport;
  if (transport === null) throw new Error('connection made without a transport');
  return { reader, writer: new StreamWriter(transport, protocol, reader) };
}

/** Connects to host:port (both null with opts.sock); asyncio.open_connection. */
export async function openConnection(
  host: string | null,
  port: number | string | null,
  opts: StreamOptions & ConnectionOptions = {},
): Promise<StreamPair> {
  const [loop, limit, rest] = split(opts);
  return connectWith(loop, limit, (factory) => loop.createConnection(factory, host, port, rest));
}

/** Connects to a Unix domain socket (path null with opts.sock); asyncio.open_unix_connection. */
export async function openUnixConnection(
  path: string | null,
  opts: StreamOptions & UnixConnectionOptions = {},
): Promise<StreamPair> {
  const [loop, limit, rest] = split(opts);
  return connectWith(loop, limit, (factory) => loop.createUnixConnection(factory, path, rest));
}

function serverFactory(
  cb: ClientConnectedCallback,
  loop: AbstractEventLoop,
  limit: number | undefined,
): () => StreamReaderProtocol {
  validateFunction(cb, 'clientConnected');
  return () =>
    new StreamReaderProtocol(new StreamReader(limit === undefined ? {} : { limit }), cb, loop);
}

/**
 * Serves host:port, calling `cb(reader, writer)` for each connection
 * (it may be async); asyncio.start_server.
 */
export async function startServer(
  cb: ClientConnectedCallback,
  host: string | string[] | null,
  port: number | string | null,
  opts: StreamOptions & ServerOptions = {},
): Promise<Server<SocketAddress>> {
  const [loop, limit, rest] = split(opts);
  return loop.createServer(serverFactory(cb, loop, limit), host, port, rest);
}

/** Serves a Unix domain socket (path null with opts.sock); asyncio.start_unix_server. */
export async function startUnixServer(
  cb: ClientConnectedCallback,
  path: string | null,
  opts: StreamOptions & UnixServerOptions = {},
): Promise<Server<UnixServerAddress>> {
  const [loop, limit, rest] = split(opts);
  return loop.createUnixServer(serverFactory(cb, loop, limit), path, rest);
}
