// Registers UvEventLoop's TLS (loop/tls-hook.ts): node:tls over toDuplex()
// of the raw transport, driven by a NodeTransport with asyncio semantics.
import { registerTlsUpgrader } from '../loop/tls-hook.js';
import { toDuplex } from './duplex.js';
import { NodeTransport } from './node-transport.js';
import { serverSecureContext, tlsExtra, upgradeToTls } from './node-tls.js';

registerTlsUpgrader(async (loop, raw, protocol, ssl, request) => {
  const extra = {
    socket: raw.getExtraInfo('socket'),
    peername: raw.getExtraInfo('peername'),
    sockname: raw.getExtraInfo('sockname'),
  };
  // Half-open: the TLS socket above decides when the raw side ends.
  const tlsSocket = await upgradeToTls(toDuplex(raw, { allowHalfOpen: true }), ssl, {
    serverSide: request.serverSide,
    serverHostname: request.serverHostname,
    handshakeTimeout: request.handshakeTimeout,
    signal: request.signal,
    loop,
  });
  return new Promise((resolve, reject) => {
    const upgraded = new NodeTransport({
      loop,
      stream: tlsSocket,
      protocol,
      extra: { ...extra, ...tlsExtra(tlsSocket) },
      callConnectionMade: request.callConnectionMade,
      shutdownTimeout: request.shutdownTimeout,
      ready: (err) => (err === null ? resolve(upgraded) : reject(err)),
    });
  });
}, serverSecureContext);
