// What BaseEventLoop hands a concrete loop's mechanics, checked and
// resolved: the plans of connections, servers, datagram endpoints and
// subprocesses, and the argument rules they share.
import { UsageError } from '../errors/usage-error.js';
import { invalidArgType, validateBoolean, validateInteger } from '../errors/validate.js';
import type {
  ConnectionOptions,
  ServerOptions,
  StdioSpec,
  TlsOptions,
  UnixServerOptions,
} from './events.js';
import type { AnyProtocol } from './protocols.js';
import type { StreamServer } from './server.js';

/** TLS for one stream: the `ssl` option and what goes with it. */
export interface TlsRequest {
  ssl: TlsOptions | true;
  serverHostname?: string | undefined;
  /** Seconds; asyncio's default is 60. */
  handshakeTimeout?: number | undefined;
  /** Seconds a closing TLS transport waits for the peer's close_notify; asyncio's default is 30. */
  shutdownTimeout?: number | undefined;
  signal?: AbortSignal | undefined;
  /** The server's side of the handshake (connectAcceptedSocket); else the client's. */
  serverSide?: boolean | undefined;
}

/** startTls's request, as a concrete loop's upgradeTls gets it (checked). */
export interface UpgradeTlsOptions {
  serverSide: boolean;
  serverHostname?: string | undefined;
  handshakeTimeout?: number | undefined;
  shutdownTimeout?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** What connecting takes of ConnectionOptions: TLS is made later, over the connection. */
export type ConnectOptions = Pick<ConnectionOptions, 'localAddr' | 'signal' | 'ssl'>;

/** What the server of an accepted connection serves it with. */
export interface ServeRequest {
  server: StreamServer;
  protocolFactory: () => AnyProtocol;
  tls: TlsRequest | undefined;
  /** SO_KEEPALIVE on every connection accepted (createServer's keepAlive). */
  keepAlive?: boolean;
}

/** Where a datagram endpoint binds and what it connects to, resolved. */
export interface DatagramPlan {
  local: { address: string; port: number; family: 4 | 6 } | undefined;
  remote: { address: string; port: number; family: 4 | 6 } | undefined;
  /** The family of the socket: local's, else remote's, else opts.family, else 4. */
  family: 4 | 6;
  reusePort: boolean;
  allowBroadcast: boolean;
}

/** The child's stdio: checked specs; stderr 'stdout' shares the child's stdout. */
export interface StdioPlan {
  stdin: StdioSpec;
  stdout: StdioSpec;
  stderr: StdioSpec | 'stdout';
}

/** The rest of a child's spawn options, checked (BaseEventLoop's spawnPlan). */
export interface SpawnPlan {
  /** The file to run, when not the program (which stays argv[0]): `executable`, checked. */
  executable: string | undefined;
  env: Record<string, string> | undefined;
  cwd: string | undefined;
  startNewSession: boolean;
  /** Ascending, each from 3 and open when checked. */
  passFds: readonly number[];
  uid: number | undefined;
  gid: number | undefined;
}

/**
 * The child's fds from 3 for `passFds` (ascending), as libuv's and
 * node:child_process's stdio arrays take them: each passed fd under its own
 * number, 'ignore' for the numbers between (libuv leaves an ignored fd from
 * 3 alone in the child, so it is closed there by its close-on-exec flag).
 */
export function passedFdsStdio(passFds: readonly number[]): Array<number | 'ignore'> {
  const last = passFds.at(-1);
  if (last === undefined) return [];
  const out = Array.from({ length: last - 2 }, (): number | 'ignore' => 'ignore');
  for (const fd of passFds) out[fd - 3] = fd;
  return out;
}

/** getaddrinfo()'s hints, normalised: family 0 (either), 4 or 6. */
export interface AddrInfoQuery {
  family: 0 | 4 | 6;
  type?: number | undefined;
  proto?: number | undefined;
  flags?: number | undefined;
}

/**
 * The TLS options of a connection or a server, checked before anything is
 * opened (asyncio raises at the call too): `ssl` is absent (undefined, null
 * or false: no TLS), node:tls options, or for a connection `true` (the
 * default context); a server needs its key and cert, so not `true`. The
 * TLS-only options need `ssl`, and the handshake timeout is > 0 seconds.
 */
export function checkTlsOptions(
  opts: {
    ssl?: unknown;
    sslHandshakeTimeout?: unknown;
    sslShutdownTimeout?: unknown;
    serverHostname?: unknown;
  },
  side: 'client' | 'server',
): void {
  const { ssl } = opts;
  if (ssl === true && side === 'server') {
    throw new UsageError(
      'ERR_INVALID_ARG_VALUE',
      'A TLS server needs key and cert (or a secureContext) in ssl',
    );
  }
  if (ssl !== undefined && ssl !== null && typeof ssl !== 'boolean' && typeof ssl !== 'object') {
    const expected = side === 'client' ? 'a boolean or node:tls options' : 'node:tls options';
    throw invalidArgType('ssl', expected, ssl);
  }
  for (const name of ['serverHostname', 'sslHandshakeTimeout', 'sslShutdownTimeout'] as const) {
    if (opts[name] !== undefined && !ssl) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', `${name} is only meaningful with ssl`);
    }
  }
  checkHandshakeTimeout(opts.sslHandshakeTimeout);
  checkTlsTimeout(opts.sslShutdownTimeout, 'sslShutdownTimeout');
}

/** sslHandshakeTimeout, when given: seconds, > 0 and finite. */
export function checkHandshakeTimeout(timeout: unknown): void {
  checkTlsTimeout(timeout, 'sslHandshakeTimeout');
}

/**
 * A TLS timeout (sslHandshakeTimeout, sslShutdownTimeout), when given:
 * seconds, > 0 and finite (asyncio raises ValueError for <= 0).
 */
export function checkTlsTimeout(timeout: unknown, name: string): void {
  if (timeout === undefined) return;
  if (typeof timeout !== 'number') throw invalidArgType(name, 'a number', timeout);
  if (!(timeout > 0) || !Number.isFinite(timeout)) {
    throw new UsageError(
      'ERR_OUT_OF_RANGE',
      `The value of "${name}" is out of range. It must be a finite number > 0. Received ${timeout}`,
    );
  }
}

/** An accepted connection's ServeRequest: TLS when the server has `ssl`. */
export function serveRequest(
  server: StreamServer,
  protocolFactory: () => AnyProtocol,
  ssl: TlsOptions | null | false | undefined,
  handshakeTimeout: number | undefined,
  shutdownTimeout: number | undefined,
): ServeRequest {
  const tls = ssl ? { ssl, handshakeTimeout, shutdownTimeout } : undefined;
  return { server, protocolFactory, tls };
}

/** Checks createServer's flags (each a boolean or absent); returns keepAlive. */
export function checkServerFlags(opts: ServerOptions): { keepAlive: boolean } {
  for (const name of ['reusePort', 'startServing', 'keepAlive', 'reuseAddress'] as const) {
    if (opts[name] !== undefined) validateBoolean(opts[name], name);
  }
  // libuv's uv_tcp_bind sets SO_REUSEADDR on every TCP socket it binds on
  // Unix, and Node's net.Server binds through it: a server without it
  // cannot be made on either loop (asyncio's default there is true too).
  if (opts.reuseAddress === false) {
    const why =
      'reuseAddress: false is not supported: libuv (under both loops) sets SO_REUSEADDR on ' +
      'every TCP socket it binds on Unix';
    throw new UsageError('ERR_NOT_SUPPORTED', why);
  }
  return { keepAlive: opts.keepAlive === true };
}

/** Checks createUnixServer's flags (each a boolean or absent); returns cleanupSocket. */
export function checkUnixServerFlags(opts: UnixServerOptions): { cleanupSocket: boolean } {
  for (const name of ['startServing', 'cleanupSocket'] as const) {
    if (opts[name] !== undefined) validateBoolean(opts[name], name);
  }
  return { cleanupSocket: opts.cleanupSocket !== false };
}

/** A server's listen backlog: asyncio's default of 100, or a checked opts.backlog. */
export function backlogOf(opts: { backlog?: number }): number {
  const backlog = opts.backlog ?? 100;
  validateInteger(backlog, 'backlog', 0, 65535);
  return backlog;
}

/** A checked stdio spec: 'pipe' (the default), 'inherit', 'ignore' or an fd. */
export function stdioSpec(spec: unknown, fd: number): StdioSpec {
  if (spec === undefined) return 'pipe';
  if (spec === 'pipe' || spec === 'inherit' || spec === 'ignore') return spec;
  if (typeof spec === 'number' && Number.isInteger(spec) && spec >= 0) return spec;
  throw new UsageError('ERR_INVALID_ARG_VALUE', `Invalid stdio[${fd}]: ${String(spec)}`);
}
