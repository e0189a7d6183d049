// The TLS shutdown, on both loops, ported from CPython's test_ssl.py and
// uvloop's tests/test_tcp.py SSL cases (each title names the test): close()
// sends what is buffered, then close_notify, then waits for the peer's
// close_notify or EOF (which reaches the protocol as eofReceived if it had
// none) before connectionLost, up to sslShutdownTimeout (asyncio 3.11's
// ssl_shutdown_timeout), past which connectionLost gets a TimeoutError.
// abort() does not wait, a closed loop stops the wait, and the shutdown
// timer is the loop's, so liveResources() shows one left behind. The
// peers are node:tls over real sockets (tls-peers.ts).
import net from 'node:net';
import tls from 'node:tls';
import { openConnection, startServer, TCP, type Transport } from 'asyncuv';
import { selfSignedCert } from '../../adapters/tls-cert.js';
import { type MakeLoop, type Test, until, within } from '../harness.js';
import {
  Bytes,
  clientSsl,
  clientTls,
  closed,
  handleLoop,
  HOST,
  nothingHeld,
  quiet,
  recorder,
  relay,
  serverTls,
  signal,
  tcpPeer,
  tlsCases,
} from './tls-peers.js';

export function tlsShutdown(test: Test, makeLoop: MakeLoop, name: string): void {
  const { it } = tlsCases(test, makeLoop, name);

  it('test_shutdown_timeout_handler_leak: close() against a peer that drops the connection without close_notify', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const peer = await tcpPeer(async (raw) => {
      // sock.recv(32) (our close_notify, or EOF), then close: no close_notify back.
      const secure = await serverTls(relay(raw), key, cert, { allowHalfOpen: true });
      await new Bytes(secure).all();
      raw.destroy();
    });
    try {
      const log: string[] = [];
      const [tr] = await loop.createConnection(() => recorder(log), HOST, peer.port, {
        ...clientSsl(cert),
      });
      tr.close();
      await until(() => log.includes('lost null'), 'connectionLost');
      // The peer's EOF ends the shutdown: eofReceived, as asyncio's _do_shutdown.
      t.deepEqual(log, ['made', 'eof', 'lost null']);
      // The shutdown timer (30 s) went with the connection.
      await nothingHeld(loop);
    } finally {
      peer.close();
    }
  });

  it('test_shutdown_timeout_handler_not_set: data and EOF held while paused come on resume; the close does not wait', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const eof = signal();
    const peer = await tcpPeer(async (raw) => {
      const secure = await serverTls(relay(raw), key, cert, { allowHalfOpen: true });
      const bytes = new Bytes(secure);
      secure.write('hello');
      if ((await bytes.take(5)).toString() !== 'world') throw new Error('not world');
      secure.write('extra bytes');
      // EOF without close_notify (sock.shutdown(SHUT_WR) under TLS).
      raw.end();
      eof.set();
      await closed(raw);
    });
    try {
      const log: string[] = [];
      let transport: Transport | undefined;
      const proto = recorder(log, {
        connectionMade(tr) {
          log.push('made');
          transport = tr;
        },
        dataReceived(d) {
          log.push(`data ${d.toString()}`);
          if (d.toString() === 'hello') {
            transport!.write('world');
            transport!.pauseReading();
          }
        },
      });
      const [tr] = await loop.createConnection(() => proto, HOST, peer.port, {
        ...clientSsl(cert),
        sslShutdownTimeout: 30,
      });
      await eof.wait("the peer's EOF");
      tr.resumeReading();
      await until(() => log.includes('lost null'), 'connectionLost');
      tr.close();
      t.deepEqual(log, ['made', 'data hello', 'data extra bytes', 'eof', 'lost null']);
      await nothingHeld(loop);
      t.deepEqual(peer.failures, []);
    } finally {
      peer.close();
    }
  });

  it("test_shutdown_cleanly: the peer's close_notify ends the reader, and ours answers it", async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const A = Buffer.alloc(256 * 1024, 'A');
    let clean = 0;
    const peer = await tcpPeer(async (raw) => {
      const secure = await serverTls(relay(raw), key, cert, { allowHalfOpen: true });
      const bytes = new Bytes(secure);
      await bytes.take(A.length);
      secure.write('OK');
      // sock.unwrap(): close_notify, then wait for the client's.
      secure.end();
      await bytes.all();
      clean++;
      secure.destroy();
    });
    try {
      const n = 5;
      let count = 0;
      const client = async (): Promise<void> => {
        const { reader, writer } = await openConnection(HOST, peer.port, {
          loop,
          ...clientSsl(cert),
          sslHandshakeTimeout: 10,
        });
        writer.write(A);
        t.is((await reader.readexactly(2)).toString(), 'OK');
        t.is((await reader.read()).length, 0, 'EOF');
        count++;
        writer.close();
        await writer.waitClosed();
      };
      await within(Promise.all(Array.from({ length: n }, client)), 'the clients');
      t.is(count, n);
      await peer.served(n);
      t.is(clean, n, 'each client answered close_notify');
      t.deepEqual(peer.failures, []);
      await nothingHeld(loop);
    } finally {
      peer.close();
    }
  });

  it('test_flush_before_shutdown: close() sends what is buffered before close_notify', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const CHUNK = 128 * 1024;
    const SIZE = 32;
    const closing = signal();
    let received = -1;
    const peer = await tcpPeer(async (raw) => {
      const secure = await serverTls(relay(raw), key, cert, { allowHalfOpen: true });
      const bytes = new Bytes(secure);
      if ((await bytes.take(4)).toString() !== 'ping') throw new Error('not ping');
      secure.write('pong');
      // Not reading until the client has closed, so its writes back up
      // (CPython pauses the SSL protocol for the same effect).
      secure.pause();
      await closing.wait('the client closing');
      secure.resume();
      received = (await bytes.all()).length;
      secure.end();
      await closed(secure);
    });
    try {
      const { reader, writer } = await openConnection(HOST, peer.port, {
        loop,
        ...clientSsl(cert),
      });
      writer.write('ping');
      t.is((await reader.readexactly(4)).toString(), 'pong');
      for (let i = 0; i < SIZE; i++) writer.write(Buffer.alloc(CHUNK, 'x'));
      writer.close();
      closing.set();
      await writer.waitClosed();
      t.is((await reader.read()).length, 0);
      await peer.served(1);
      t.is(received, CHUNK * SIZE, 'every byte before the close_notify');
      t.deepEqual(peer.failures, []);
      await nothingHeld(loop);
    } finally {
      peer.close();
    }
  });

  for (const how of ['close_notify', 'EOF'] as const) {
    it(`test_remote_shutdown_receives_trailing_data (${how}): what is buffered still reaches a peer that shut down first`, async ({
      loop,
    }, t) => {
      const { key, cert } = await selfSignedCert();
      const CHUNK = 128 * 1024;
      const filled = signal();
      const eofReceived = signal();
      let received = -1;
      let count = 0;
      const peer = await tcpPeer(async (raw) => {
        const secure = await serverTls(relay(raw), key, cert, { allowHalfOpen: true });
        const bytes = new Bytes(secure);
        if ((await bytes.take(4)).toString() !== 'ping') throw new Error('not ping');
        secure.write('pong');
        secure.pause();
        await filled.wait("the client's write buffer full");
        // Shut down while the client still has data to send.
        if (how === 'close_notify') secure.end();
        else raw.end();
        await eofReceived.wait("the client's EOF");
        secure.resume();
        received = (await bytes.all()).length;
        secure.destroy();
      });
      try {
        let paused = false;
        const log: string[] = [];
        const proto = recorder(log, {
          pauseWriting: () => void (paused = true),
          resumeWriting: () => void (paused = false),
          eofReceived() {
            log.push('eof');
            eofReceived.set();
          },
        });
        const [tr] = await loop.createConnection(() => proto, HOST, peer.port, clientSsl(cert));
        tr.write('ping');
        await until(() => log.includes('data pong'), 'pong');
        // Fill the write buffer until the transport pauses the protocol.
        while (!paused) {
          tr.write(Buffer.alloc(CHUNK, 'x'));
          count++;
          await new Promise((r) => setImmediate(r));
        }
        filled.set();
        await until(() => log.includes('lost null'), 'connectionLost');
        t.deepEqual(log, ['made', 'data pong', 'eof', 'lost null']);
        await peer.served(1);
        t.is(received, CHUNK * count, 'the trailing data arrived');
        t.deepEqual(peer.failures, []);
        await nothingHeld(loop);
      } finally {
        peer.close();
      }
    });
  }

  it('test_write_to_closed_transport (uvloop): writes after the connection is gone are dropped', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const peer = await tcpPeer(async (raw) => {
      await serverTls(relay(raw), key, cert);
      raw.destroy();
    });
    try {
      const log: string[] = [];
      const [tr] = await loop.createConnection(
        () => recorder(log),
        HOST,
        peer.port,
        clientSsl(cert),
      );
      tr.write(Buffer.from('I AM WRITING NOWHERE1'.repeat(100)));
      await until(() => log.some((l) => l.startsWith('lost')), 'connectionLost');
      for (let i = 0; i < 25; i++) tr.write(Buffer.from('I AM WRITING NOWHERE2'.repeat(100)));
      t.is(tr.getWriteBufferSize(), 0);
      t.true(tr.isClosing());
      tr.close();
      await nothingHeld(loop);
    } finally {
      peer.close();
    }
  });

  it('abort() of a TLS transport: connectionLost(null) at once, without the shutdown wait', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const peer = await tcpPeer(
      async (raw) => {
        // Would never answer a close_notify: only an abort ends this at once.
        // The handshake is not awaited here: the client may abort before its
        // Finished has left, and then it never completes on this side.
        const secure = new tls.TLSSocket(raw, { isServer: true, key, cert });
        secure.on('error', () => {});
        // The TLS socket takes over raw's handle: its events are the ones seen.
        const gone = new Promise((resolve) => {
          for (const stream of [raw, secure]) {
            stream.once('end', resolve);
            stream.once('close', resolve);
          }
        });
        secure.resume();
        await within(gone, 'the connection ended');
      },
      { allowHalfOpen: true },
    );
    try {
      const log: string[] = [];
      const [tr] = await loop.createConnection(() => recorder(log), HOST, peer.port, {
        ...clientSsl(cert),
        sslShutdownTimeout: 60,
      });
      tr.abort();
      await until(() => log.includes('lost null'), 'connectionLost', 10_000);
      t.deepEqual(log, ['made', 'lost null']);
      await nothingHeld(loop);
      await peer.served(1);
    } finally {
      peer.close();
    }
  });

  it('ssl_shutdown_timeout (asyncio 3.11): a peer that never answers close_notify: connectionLost(TimeoutError)', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const peer = await tcpPeer(
      async (raw) => {
        // Reads our close_notify and EOF, and keeps the connection open, silent.
        const secure = await serverTls(raw, key, cert);
        secure.resume();
        await closed(raw);
      },
      { allowHalfOpen: true },
    );
    try {
      const lost: Array<Error | null> = [];
      const [tr] = await loop.createConnection(
        () => ({ connectionLost: (e: Error | null) => void lost.push(e) }),
        HOST,
        peer.port,
        { ...clientSsl(cert), sslShutdownTimeout: 0.2 },
      );
      tr.close();
      t.true(tr.isClosing());
      // Waiting for the peer: the transport still counts.
      t.is(loop.liveResources().transport, 1);
      await until(() => lost.length === 1, 'connectionLost');
      t.is(lost[0]?.name, 'TimeoutError');
      t.is(lost[0]?.message, 'SSL shutdown timed out');
      await nothingHeld(loop);
      await peer.served(1);
    } finally {
      peer.close();
    }
  });

  it('ssl_shutdown_timeout on a server, and on startTls: the same wait, the same TimeoutError', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const lost: Array<Error | null> = [];
    const server = await loop.createServer(
      () => ({
        connectionMade: (tr: Transport) => tr.close(),
        connectionLost: (e: Error | null) => void lost.push(e),
      }),
      HOST,
      0,
      { ssl: { key, cert }, sslShutdownTimeout: 0.2 },
    );
    const port = (server.sockets()[0] as { port: number }).port;
    // A client that reads the server's close_notify and never answers.
    const raw = net.connect({ port, host: HOST, allowHalfOpen: true });
    raw.on('error', () => {});
    const secure = await clientTls(raw, cert, { allowHalfOpen: true });
    secure.resume();
    try {
      await until(() => lost.length === 1, "the server's connectionLost");
      t.is(lost[0]?.name, 'TimeoutError');
      raw.destroy();
      // startTls: the upgraded transport's close waits as long.
      const plain = await loop.createServer(
        () => ({
          connectionMade(tr: Transport) {
            void loop
              .startTls(
                tr,
                { connectionLost: (e) => void lost.push(e) },
                { key, cert },
                {
                  serverSide: true,
                  sslShutdownTimeout: 0.2,
                },
              )
              .then((upgraded) => upgraded.close());
          },
        }),
        HOST,
        0,
      );
      const port2 = (plain.sockets()[0] as { port: number }).port;
      const raw2 = net.connect({ port: port2, host: HOST, allowHalfOpen: true });
      raw2.on('error', () => {});
      const secure2 = await clientTls(raw2, cert, { allowHalfOpen: true });
      secure2.resume();
      await until(() => lost.length === 2, 'the upgraded connectionLost');
      t.is(lost[1]?.name, 'TimeoutError');
      raw2.destroy();
      plain.close();
      await plain.waitClosed();
    } finally {
      raw.destroy();
      server.close();
      await server.waitClosed();
    }
    await nothingHeld(loop);
  });

  it('sslShutdownTimeout and sslHandshakeTimeout: checked as asyncio checks them, on every call that takes them', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const ssl = { key, cert };
    const calls: Array<[string, (opts: object) => Promise<unknown>]> = [
      ['createConnection', (o) => loop.createConnection(quiet, HOST, 1, o as never)],
      ['createServer', (o) => loop.createServer(quiet, HOST, 0, { ssl, ...o } as never)],
      [
        'createUnixServer',
        (o) => loop.createUnixServer(quiet, '/nonexistent/s', { ssl, ...o } as never),
      ],
      ['openConnection', (o) => openConnection(HOST, 1, { loop, ...o } as never)],
      ['startServer', (o) => startServer(() => {}, HOST, 0, { loop, ssl, ...o } as never)],
    ];
    for (const [what, call] of calls) {
      const client = what === 'createConnection' || what === 'openConnection';
      const withSsl = client ? { ssl: true } : {};
      for (const name of ['sslShutdownTimeout', 'sslHandshakeTimeout']) {
        for (const [value, code] of [
          [0, 'ERR_OUT_OF_RANGE'],
          [-1, 'ERR_OUT_OF_RANGE'],
          [Infinity, 'ERR_OUT_OF_RANGE'],
          ['5', 'ERR_INVALID_ARG_TYPE'],
        ] as const) {
          await t.throwsAsync(
            call({ ...withSsl, [name]: value }),
            { code },
            `${what} ${name}: ${String(value)}`,
          );
        }
        if (client) {
          await t.throwsAsync(call({ [name]: 5 }), {
            code: 'ERR_INVALID_ARG_VALUE',
            message: `${name} is only meaningful with ssl`,
          });
        }
      }
    }
    // startTls and connectAcceptedSocket check theirs before touching anything.
    const server = await loop.createServer(quiet, HOST, 0);
    const [tr] = await loop.createConnection(
      quiet,
      HOST,
      (server.sockets()[0] as { port: number }).port,
    );
    await t.throwsAsync(loop.startTls(tr, {}, { ca: cert }, { sslShutdownTimeout: 0 }), {
      code: 'ERR_OUT_OF_RANGE',
    });
    await t.throwsAsync(loop.startTls(tr, {}, { ca: cert }, { signal: 'no' as never }), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
    const sock = new TCP(handleLoop(loop));
    await t.throwsAsync(loop.connectAcceptedSocket(quiet, sock, { sslShutdownTimeout: 5 }), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
    await t.throwsAsync(loop.connectAcceptedSocket(quiet, sock, { ssl, sslShutdownTimeout: -1 }), {
      code: 'ERR_OUT_OF_RANGE',
    });
    sock.close();
    tr.close();
    server.close();
    await server.waitClosed();
    await nothingHeld(loop);
  });

  it("test_shutdown_while_pause_reading (uvloop): close() while paused: eofReceived at the peer's close_notify, then connectionLost", async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    let gotCloseNotify = false;
    const peer = await tcpPeer(
      async (raw) => {
        const secure = await serverTls(raw, key, cert);
        secure.write('trailing data');
        // Our close_notify, then the peer's own (sslobj.unwrap()).
        await new Bytes(secure).all();
        gotCloseNotify = true;
        secure.end();
        await closed(raw);
      },
      { allowHalfOpen: true },
    );
    try {
      const log: string[] = [];
      let transport: Transport | undefined;
      const made = signal();
      const proto = recorder(log, {
        connectionMade(tr) {
          log.push('made');
          transport = tr;
          made.set();
        },
      });
      await loop.createConnection(() => proto, HOST, peer.port, clientSsl(cert));
      await made.wait('connectionMade');
      transport!.pauseReading();
      transport!.close();
      await until(() => log.includes('lost null'), 'connectionLost');
      // The trailing data is dropped: the transport was closing.
      t.deepEqual(log, ['made', 'eof', 'lost null']);
      await peer.served(1);
      t.true(gotCloseNotify);
      await nothingHeld(loop);
    } finally {
      peer.close();
    }
  });

  it('loop.close() during a TLS shutdown closes the connection at once', async ({ loop }, t) => {
    const { key, cert } = await selfSignedCert();
    const peer = await tcpPeer(
      async (raw) => {
        // The handshake is not awaited: the loop may close before the
        // client's Finished has left, and then it never completes here.
        const secure = new tls.TLSSocket(raw, { isServer: true, key, cert });
        secure.on('error', () => {});
        secure.resume();
        await closed(raw);
      },
      { allowHalfOpen: true },
    );
    try {
      const lost: unknown[] = [];
      const [tr] = await loop.createConnection(
        () => ({ connectionLost: (e: Error | null) => void lost.push(e) }),
        HOST,
        peer.port,
        { ...clientSsl(cert), sslShutdownTimeout: 60 },
      );
      tr.close();
      t.is(loop.liveResources().transport, 1, 'waiting for the peer');
      const secure = tr.getExtraInfo('ssl_object') as tls.TLSSocket;
      loop.close();
      // Gone with the loop (no connectionLost from a closed loop), not
      // after the 60 s wait: the TLS socket and the connection under it
      // are destroyed.
      await until(() => secure.destroyed, 'the TLS socket destroyed', 5000);
      t.deepEqual(lost, []);
    } finally {
      peer.close();
    }
  });
}
