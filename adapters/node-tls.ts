// TLS for NodeEventLoop and startTls: a tls.TLSSocket wrapped around an
// established stream (a net.Socket, or any Duplex), the handshake awaited
// with asyncio's timeout, and the extra info asyncio's SSL transports have.
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { isIP } from 'node:net';
import { UsageError } from '../errors/usage-error.js';
import { CancelledError } from '../loop/errors.js';
import type { TlsOptions } from '../loop/events.js';

/** asyncio's default ssl_handshake_timeout, in seconds. */
const DEFAULT_HANDSHAKE_TIMEOUT = 60;

/** What the TLS code needs of the loop it runs for: its timers. */
export interface TlsTimers {
  callLater(delay: number, cb: () => void): { cancel(): void };
}

export interface TlsUpgradeOptions {
  serverSide: boolean;
  serverHostname?: string | undefined;
  /** Seconds. */
  handshakeTimeout?: number | undefined;
  signal?: AbortSignal | undefined;
  /**
   * The loop the handshake's timer runs on: a loop timer, as asyncio's
   * call_later, so that liveResources() counts it while the handshake
   * lasts and shows one left behind.
   */
  loop: TlsTimers;
}

// The context each TLS socket was made with, for getExtraInfo('sslcontext').
const contexts = new WeakMap<tls.TLSSocket, tls.SecureContext>();

function secureContextOf(ssl: Record<string, unknown>): tls.SecureContext {
  const given = ssl['secureContext'];
  if (given !== undefined && given !== null) return given as tls.SecureContext;
  return tls.createSecureContext(ssl as tls.SecureContextOptions);
}

// A server's context, by its `ssl` object: made once, when the server is
// created, as tls.createServer does. So a bad key or cert fails
// createServer (not every handshake), and an accepted connection does not
// parse the key and certificate again (about 0.75 ms of CPU each).
const serverContexts = new WeakMap<object, tls.SecureContext>();

export function serverSecureContext(ssl: TlsOptions): tls.SecureContext {
  let context = serverContexts.get(ssl);
  if (context === undefined) {
    context = secureContextOf({ ...ssl });
    serverContexts.set(ssl, context);
  }
  return context;
}

/**
 * Runs the TLS handshake over `stream` and resolves with the TLSSocket once
 * it is secure; on failure or timeout the TLSSocket (and so the stream) is
 * destroyed and the promise rejects.
 */
export function upgradeToTls(
  stream: Duplex,
  ssl: TlsOptions | true,
  opts: TlsUpgradeOptions,
): Promise<tls.TLSSocket> {
  const options: Record<string, unknown> = ssl === true ? {} : { ...ssl };
  const timeout = opts.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  if (!(timeout > 0)) throw new UsageError('ERR_OUT_OF_RANGE', 'sslHandshakeTimeout must be > 0');
  let socket: tls.TLSSocket;
  const secureContext =
    opts.serverSide && ssl !== true ? serverSecureContext(ssl) : secureContextOf(options);
  if (opts.serverSide) {
    if (ssl === true)
      throw new UsageError(
        'ERR_INVALID_ARG_VALUE',
        'A TLS server needs key and cert (or a secureContext)',
      );
    socket = new tls.TLSSocket(stream, {
      ...options,
      isServer: true,
      secureContext,
    } as tls.TLSSocketOptions);
  } else {
    const servername = opts.serverHostname ?? (options['servername'] as string | undefined);
    socket = tls.connect({
      ...options,
      socket: stream,
      secureContext,
      // SNI takes names only; an IP literal is still checked against the cert.
      ...(servername !== undefined && isIP(servername) === 0 ? { servername } : {}),
      ...(servername !== undefined
        ? {
            checkServerIdentity: (_host: string, cert: tls.PeerCertificate) =>
              tls.checkServerIdentity(servername, cert),
          }
        : {}),
    } as tls.ConnectionOptions);
  }
  contexts.set(socket, secureContext);
  return new Promise((resolve, reject) => {
    const done = (err: Error | null): void => {
      timer.cancel();
      socket.off('error', done);
      socket.off('close', onClose);
      socket.off('end', onClose);
      socket.off('readable', noop);
      socket.off(opts.serverSide ? 'secure' : 'secureConnect', onSecure);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err === null) return resolve(socket);
      // node:tls may still emit its own 'error' for the same failure (a
      // client whose peer ended the handshake destroys itself with an
      // ECONNRESET on the next tick): with no listener left that would be
      // an uncaught exception. The promise already carries the failure.
      socket.on('error', noop);
      socket.destroy();
      reject(err);
    };
    const onSecure = (): void => done(null);
    // A peer that gives up (rejecting our certificate) may just close.
    // Its EOF shows only on a stream that is read: the 'readable' listener
    // makes Node read without consuming anything, and goes away after the
    // handshake, leaving the stream paused for the transport.
    const onClose = (): void =>
      done(
        Object.assign(new Error('The connection closed during the TLS handshake'), {
          code: 'ECONNRESET',
        }),
      );
    const onAbort = (): void =>
      done(new CancelledError('The TLS handshake was aborted', { cause: opts.signal?.reason }));
    const timer = opts.loop.callLater(timeout, () => {
      done(
        Object.assign(
          new Error(
            `SSL handshake is taking longer than ${timeout} seconds: aborting the connection`,
          ),
          { code: 'ERR_SSL_HANDSHAKE_TIMEOUT' },
        ),
      );
    });
    socket.once('error', done);
    socket.once('close', onClose);
    socket.once('end', onClose);
    socket.on('readable', noop);
    socket.once(opts.serverSide ? 'secure' : 'secureConnect', onSecure);
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function noop(): void {}

/** What asyncio's SSL transports answer to getExtraInfo(). */
export function tlsExtra(socket: tls.TLSSocket): Record<string, unknown> {
  const cert = socket.getPeerCertificate();
  return {
    sslcontext: contexts.get(socket) ?? null,
    peercert: cert !== null && Object.keys(cert).length > 0 ? cert : null,
    cipher: socket.getCipher(),
    compression: null,
    ssl_object: socket,
    tls_protocol: socket.getProtocol(),
  };
}
