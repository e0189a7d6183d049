// What BaseEventLoop hands a concrete loop's mechanics, checked and
// resolved: the plans of connections, servers, datagram endpoints and
// subprocesses, and the argument rules they share.
import { UsageError } from '../errors/usage-error.js';
import { validateInteger } from '../errors/validate.js';
import type { ConnectionOptions, StdioSpec, TlsOptions } from './events.js';
import type { AnyProtocol } from './protocols.js';
import type { StreamServer } from './server.js';

/** TLS for one stream: the `ssl` option and what goes with it. */
export interface TlsRequest {
  ssl: TlsOptions | true;
  serverHostname?: string | undefined;
  /** Seconds; asyncio's default is 60. */
  handshakeTimeout?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** What connecting takes of ConnectionOptions: TLS is made later, over the connection. */
export type ConnectOptions = Pick<ConnectionOptions, 'localAddr' | 'signal' | 'ssl'>;

/** What the server of an accepted connection serves it with. */
export interface ServeRequest {
  server: StreamServer;
  protocolFactory: () => AnyProtocol;
  tls: TlsRequest | undefined;
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

/** getaddrinfo()'s hints, normalised: family 0 (either), 4 or 6. */
export interface AddrInfoQuery {
  family: 0 | 4 | 6;
  type?: number | undefined;
  proto?: number | undefined;
  flags?: number | undefined;
}

/** An accepted connection's ServeRequest: TLS when the server has `ssl`. */
export function serveRequest(
  server: StreamServer,
  protocolFactory: () => AnyProtocol,
  ssl: TlsOptions | undefined,
  handshakeTimeout: number | undefined,
): ServeRequest {
  const tls = ssl === undefined ? undefined : { ssl, handshakeTimeout };
  return { server, protocolFactory, tls };
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
