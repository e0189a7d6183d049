// TLS for UvEventLoop. The loop layer does no crypto and may not depend on
// adapters/ (data flows native -> handles -> loop -> adapters), so TLS is a
// hook: adapters/ registers an upgrader built on node:tls when it is loaded
// (importing 'asyncuv' or 'asyncuv/adapters' does that).
import { UsageError } from '../errors/usage-error.js';
import type { BaseEventLoop } from './base-event-loop.js';
import type { TlsOptions } from './events.js';
import type { AnyProtocol } from './protocols.js';
import type { Transport } from './transports.js';

export interface TlsUpgradeRequest {
  serverSide: boolean;
  serverHostname?: string | undefined;
  /** Seconds; asyncio's default is 60. */
  handshakeTimeout?: number | undefined;
  /** Seconds a closing transport waits for the peer's close_notify; asyncio's default is 30. */
  shutdownTimeout?: number | undefined;
  /** True for new connections; false for startTls (the protocol already saw connectionMade). */
  callConnectionMade: boolean;
  /** createConnection's signal: aborting it cancels the handshake too. */
  signal?: AbortSignal | undefined;
}

/**
 * Wraps an established transport in TLS; resolves with the TLS transport
 * that drives `protocol` once the handshake is done. On failure the raw
 * transport is closed and the promise rejects.
 */
export type TlsUpgrader = (
  loop: BaseEventLoop,
  raw: Transport,
  protocol: AnyProtocol,
  ssl: TlsOptions | true,
  request: TlsUpgradeRequest,
) => Promise<Transport>;

/** Checks a server's `ssl` (and makes its context) when the server is created. */
export type TlsServerPreparer = (ssl: TlsOptions) => void;

let upgrader: TlsUpgrader | undefined;
let preparer: TlsServerPreparer | undefined;

export function registerTlsUpgrader(u: TlsUpgrader, prepareServer: TlsServerPreparer): void {
  upgrader = u;
  preparer = prepareServer;
}

/** Runs the registered preparer (tlsUpgrader() has checked that there is one). */
export function prepareTlsServer(ssl: TlsOptions): void {
  preparer?.(ssl);
}

export function tlsUpgrader(): TlsUpgrader {
  if (upgrader === undefined) {
    throw new UsageError(
      'ERR_TLS_UNAVAILABLE',
      "TLS needs asyncuv's adapters: import 'asyncuv' or 'asyncuv/adapters' once",
    );
  }
  return upgrader;
}
