// CPython's asyncio TLS tests, ported to both loops: Lib/test/test_asyncio/
// test_ssl.py and test_sslproto.py, and uvloop's tests/test_tcp.py SSL
// cases. Each case's title starts with the CPython test it ports. The
// peers CPython runs in a thread over blocking sockets are node:net and
// node:tls here (tls-peers.ts), over real sockets. What is asserted is what
// asyncio asserts: the bytes, the order of the protocol's callbacks, the
// error's type (here its code), and that nothing is left behind: the
// handshake and shutdown timers are the loop's, so liveResources() shows
// one that outlives its connection. Where our API differs (node:tls
// options for an SSLContext, an AbortSignal for cancelling a task, codes
// for exception classes) the case says so.
//
// The shutdown cases (close_notify, sslShutdownTimeout) are in
// tls-shutdown.ts; the peers and helpers both use are in tls-peers.ts.
//
// Cases with no equivalent here are left out: test_create_connection_
// memory_leak and the weakref checks of the *_leak tests (no GC hooks; the
// timers and resources are checked instead), test_buf_feed_data (asyncio's
// private _feed_data_to_buffered_proto), test_start_tls_wrong_args (in
// tls-arguments.ts), test_flush_before_shutdown's pause of the private SSL
// protocol (a full socket buffer does the same here).
import net from 'node:net';
import tls from 'node:tls';
import {
  type BufferedProtocol,
  openConnection,
  openUnixConnection,
  type Protocol,
  startServer,
  startUnixServer,
  type StreamReader,
  type StreamWriter,
  TCP,
  type Transport,
  waitFor,
} from 'asyncuv';
import { selfSignedCert } from '../../adapters/tls-cert.js';
import { tempDir } from '../../helpers/sock-test.js';
import { type MakeLoop, type Test, until, within, withLoop } from '../harness.js';
import {
  Bytes,
  clientSsl,
  clientTls,
  closed,
  connectedTcp,
  handleLoop,
  HOST,
  nothingHeld,
  PAYLOAD,
  quiet,
  recorder,
  relay,
  serverTls,
  signal,
  silentPeer,
  tcpPeer,
  tlsCases,
} from './tls-peers.js';

export function tlsPort(test: Test, makeLoop: MakeLoop, name: string): void {
  const { it, tlsTest } = tlsCases(test, makeLoop, name);

  it('test_create_connection_ssl_1: stream clients over TLS, by host and by sock', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const A = Buffer.alloc(256 * 1024, 'A');
    const B = Buffer.alloc(256 * 1024, 'B');
    const peer = await tcpPeer(async (raw) => {
      const secure = await serverTls(raw, key, cert);
      const bytes = new Bytes(secure);
      if (!(await bytes.take(A.length)).equals(A)) throw new Error('A_DATA differs');
      secure.write('OK');
      if (!(await bytes.take(B.length)).equals(B)) throw new Error('B_DATA differs');
      secure.write('SPAM');
      secure.end();
      await closed(secure);
    });
    try {
      let count = 0;
      const client = async ({
        reader,
        writer,
      }: {
        reader: StreamReader;
        writer: StreamWriter;
      }): Promise<void> => {
        writer.write(A);
        t.is((await reader.readexactly(2)).toString(), 'OK');
        writer.write(B);
        t.is((await reader.readexactly(4)).toString(), 'SPAM');
        count++;
        writer.close();
        await writer.waitClosed();
      };
      const n = 5;
      const byHost = async (): Promise<void> =>
        client(
          await openConnection(HOST, peer.port, {
            loop,
            ...clientSsl(cert),
            sslHandshakeTimeout: 10,
          }),
        );
      const bySock = async (): Promise<void> => {
        const sock = await connectedTcp(loop, peer.port);
        await client(await openConnection(null, null, { loop, sock, ...clientSsl(cert) }));
      };
      await within(Promise.all(Array.from({ length: n }, byHost)), 'the clients by host');
      await within(Promise.all(Array.from({ length: n }, bySock)), 'the clients by sock');
      t.is(count, 2 * n);
      await peer.served(2 * n);
      t.deepEqual(peer.failures, []);
      await nothingHeld(loop);
    } finally {
      peer.close();
    }
  });

  it('test_create_connection_ssl_slow_handshake: sslHandshakeTimeout aborts the connection', async ({
    loop,
  }, t) => {
    const peer = await silentPeer();
    try {
      await t.throwsAsync(
        openConnection(HOST, peer.port, { loop, ssl: true, sslHandshakeTimeout: 0.2 }),
        {
          code: 'ERR_SSL_HANDSHAKE_TIMEOUT',
          message: /^SSL handshake is taking longer than 0.2 seconds/,
        },
      );
      // The connection is aborted, not left open: the peer sees it go.
      await until(() => peer.gone() === 1, "the peer's connection closed");
      await nothingHeld(loop);
    } finally {
      peer.close();
    }
  });

  it('test_create_connection_ssl_failed_certificate: an untrusted or misnamed certificate fails the handshake', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const peer = await tcpPeer(async (raw) => {
      const secure = new tls.TLSSocket(raw, { isServer: true, key, cert });
      secure.on('error', () => {});
      await closed(secure);
    });
    try {
      // The default CAs do not know a self-signed certificate.
      await t.throwsAsync(
        openConnection(HOST, peer.port, { loop, ssl: true, serverHostname: 'localhost' }),
        { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
      );
      // Trusted, but for another name (server_hostname is checked).
      await t.throwsAsync(
        openConnection(HOST, peer.port, { loop, ssl: { ca: cert }, serverHostname: 'example.com' }),
        { code: 'ERR_TLS_CERT_ALTNAME_INVALID' },
      );
      await nothingHeld(loop);
    } finally {
      peer.close();
    }
  });

  it('test_ssl_handshake_timeout: a cancelled handshake closes the connection and reports nothing', async ({
    loop,
  }, t) => {
    const peer = await silentPeer();
    try {
      // asyncio.wait_for(create_connection(..., ssl_handshake_timeout=10), 0.5)
      await t.throwsAsync(
        waitFor(
          (signal) =>
            loop.createConnection(quiet, HOST, peer.port, {
              ssl: true,
              sslHandshakeTimeout: 10,
              signal,
            }),
          0.2,
        ),
        { name: 'TimeoutError' },
      );
      await until(() => peer.gone() === 1, 'the server side aborted');
      // The 10 s handshake timer went with the handshake (a loop timer
      // would show in liveResources()); the harness checks that nothing
      // reached the exception handler (Python issue #23197).
      await nothingHeld(loop);
    } finally {
      peer.close();
    }
  });

  it('test_ssl_handshake_connection_lost: a peer that hangs up mid-handshake: ECONNRESET, no connectionMade, no connectionLost', async ({
    loop,
  }, t) => {
    const peer = await tcpPeer(async (raw) => {
      await new Promise((resolve) => raw.once('data', resolve));
      raw.destroy();
    });
    try {
      const log: string[] = [];
      await t.throwsAsync(
        loop.createConnection(() => recorder(log), HOST, peer.port, { ssl: true }),
        { code: 'ECONNRESET' },
      );
      // Two turns of the loop: a callback due would have run.
      for (let i = 0; i < 2; i++) await new Promise((r) => loop.callSoon(r, undefined));
      t.deepEqual(log, []);
      await nothingHeld(loop);
    } finally {
      peer.close();
    }
  });

  it('test_ssl_connect_accepted_socket: the server side of TLS over an accepted handle', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const listener = new TCP(handleLoop(loop));
    listener.bind(HOST, 0);
    const accepted: TCP[] = [];
    listener.listen(1, (err) => {
      if (err !== null) return;
      const conn = new TCP(handleLoop(loop));
      listener.accept(conn);
      accepted.push(conn);
    });
    try {
      const log: string[] = [];
      let nbytes = 0;
      const proto: Protocol & { transport?: Transport } = recorder(log, {
        connectionMade(tr) {
          log.push('made');
          proto.transport = tr;
        },
        dataReceived(d) {
          log.push('data');
          nbytes += d.length;
          proto.transport!.write('roger');
        },
      });
      // The client (CPython's thread): sends, reads the answer, closes.
      const { port } = listener.getsockname();
      const client = (async (): Promise<string> => {
        const raw = net.connect(port, HOST);
        raw.on('error', () => {});
        const secure = await clientTls(raw, cert);
        secure.write('test data');
        const answer = await new Bytes(secure).take(5);
        secure.end();
        await closed(secure);
        return answer.toString();
      })();
      await until(() => accepted.length === 1, 'the accept');
      const [tr] = await loop.connectAcceptedSocket(() => proto, accepted[0]!, {
        ssl: { key, cert },
        sslHandshakeTimeout: 10,
      });
      t.is(await within(client, 'the client'), 'roger');
      await until(() => log.includes('lost null'), 'connectionLost');
      t.deepEqual(log, ['made', 'data', 'eof', 'lost null']);
      t.is(nbytes, 'test data'.length);
      // An SSL transport (asyncio: its class name has 'SSL').
      t.truthy(tr.getExtraInfo('sslcontext'));
      t.truthy(tr.getExtraInfo('ssl_object'));
      tr.close();
      await nothingHeld(loop);
    } finally {
      listener.close();
    }
  });

  it('test_start_tls_client_corrupted_ssl: bytes that are not TLS fail the read with an SSL error', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const peer = await tcpPeer(async (raw) => {
      const secure = await serverTls(relay(raw), key, cert);
      secure.write('A\n');
      await new Bytes(secure).take(1);
      // Under the TLS layer: what the client reads next is no TLS record.
      raw.write('please corrupt the SSL connection');
      await closed(raw);
    });
    try {
      const { reader, writer } = await openConnection(HOST, peer.port, {
        loop,
        ...clientSsl(cert),
      });
      t.is((await reader.readline()).toString(), 'A\n');
      writer.write('B');
      const err = await t.throwsAsync(reader.readline());
      t.regex(
        (err as { code?: string }).code ?? '',
        /^ERR_SSL_/,
        'an SSL error (asyncio: ssl.SSLError)',
      );
      writer.close();
      await writer.waitClosed().catch(() => {});
      await nothingHeld(loop);
      t.deepEqual(peer.failures, []);
    } finally {
      peer.close();
    }
  });

  it("test_start_tls_client_reg_proto_1: startTls after plain bytes; the peer's close_notify is answered", async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const HELLO = Buffer.alloc(PAYLOAD, '1');
    let cleanEnd = false;
    const peer = await tcpPeer(async (raw) => {
      const plain = new Bytes(raw);
      if ((await plain.take(HELLO.length)).length !== HELLO.length) throw new Error('HELLO');
      const secure = await serverTls(relay(raw, plain.detach()), key, cert, {
        allowHalfOpen: true,
      });
      secure.write('O');
      const bytes = new Bytes(secure);
      await bytes.take(HELLO.length);
      // sock.unwrap(): our close_notify, then the client's.
      secure.end();
      await bytes.all();
      cleanEnd = true;
      secure.destroy();
    });
    try {
      const log: string[] = [];
      const [tr, proto] = await loop.createConnection(() => recorder(log), HOST, peer.port);
      tr.write(HELLO);
      const newTr = await loop.startTls(tr, proto, { ca: cert }, { serverHostname: 'localhost' });
      await until(() => log.includes('data O'), "the peer's O");
      newTr.write(HELLO);
      await until(() => log.includes('lost null'), 'the end of the connection');
      newTr.close();
      // connectionMade once: startTls does not call it again.
      t.deepEqual(log, ['made', 'data O', 'eof', 'lost null']);
      await peer.served(1);
      t.true(cleanEnd, 'the client ended its side (close_notify, then EOF)');
      t.deepEqual(peer.failures, []);
      await nothingHeld(loop);
    } finally {
      peer.close();
    }
  });

  it('test_start_tls_client_buf_proto_1: a BufferedProtocol over startTls, then setProtocol', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const HELLO = Buffer.alloc(PAYLOAD, '1');
    const peer = await tcpPeer(async (raw) => {
      const plain = new Bytes(raw);
      await plain.take(HELLO.length);
      const secure = await serverTls(relay(raw, plain.detach()), key, cert);
      const bytes = new Bytes(secure);
      secure.write('O');
      await bytes.take(HELLO.length);
      secure.write('2');
      await bytes.take(HELLO.length);
      secure.end();
      await closed(secure);
    });
    try {
      let made = 0;
      const first: string[] = [];
      const sizes: number[] = [];
      const buf = new Uint8Array(1);
      const firstProto: BufferedProtocol = {
        connectionMade: () => void made++,
        getBuffer: () => buf,
        bufferUpdated(n) {
          sizes.push(n);
          first.push(Buffer.from(buf.subarray(0, n)).toString());
        },
        eofReceived: () => undefined,
      };
      const second: string[] = [];
      const secondProto: Protocol = {
        connectionMade: () => void made++,
        dataReceived: (d) => void second.push(d.toString()),
        eofReceived: () => void second.push('eof'),
        connectionLost: (e) => void second.push(`lost ${String(e)}`),
      };
      const [tr, proto] = await loop.createConnection(() => firstProto, HOST, peer.port);
      tr.write(HELLO);
      const newTr = await loop.startTls(tr, proto, { ca: cert }, { serverHostname: 'localhost' });
      await until(() => first.length === 1, "the peer's O");
      t.deepEqual(first, ['O']);
      newTr.write(HELLO);
      newTr.setProtocol(secondProto);
      await until(() => second.length > 0, "the peer's 2");
      newTr.write(HELLO);
      await until(() => second.includes('lost null'), 'the end of the connection');
      newTr.close();
      t.deepEqual(second, ['2', 'eof', 'lost null']);
      t.deepEqual(sizes, [1]);
      t.is(made, 1, 'connectionMade once, when the connection was made');
      await peer.served(1);
      t.deepEqual(peer.failures, []);
      await nothingHeld(loop);
    } finally {
      peer.close();
    }
  });

  it('test_start_tls_slow_client_cancel: startTls cancelled by its signal (wait_for) closes the connection', async ({
    loop,
  }, t) => {
    const { cert } = await selfSignedCert();
    const HELLO = Buffer.alloc(PAYLOAD, '1');
    const waiting = signal();
    let aborted = false;
    const peer = await tcpPeer(async (raw) => {
      const plain = new Bytes(raw);
      await plain.take(HELLO.length);
      waiting.set();
      // The ClientHello is read and never answered.
      await plain.all();
      aborted = true;
    });
    try {
      const log: string[] = [];
      const [tr, proto] = await loop.createConnection(() => recorder(log), HOST, peer.port);
      tr.write(HELLO);
      await waiting.wait('the peer waiting in the handshake');
      await t.throwsAsync(
        waitFor(
          (signal) =>
            loop.startTls(tr, proto, { ca: cert }, { serverHostname: 'localhost', signal }),
          0.2,
        ),
        { name: 'TimeoutError' },
      );
      await until(() => aborted, 'the connection closed on the peer');
      // The protocol saw only its connection: a failed handshake tells it nothing.
      t.deepEqual(log, ['made']);
      await nothingHeld(loop);
    } finally {
      peer.close();
    }
  });

  it('test_start_tls_server_1: startTls on the server side of a plain connection', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const HELLO = Buffer.alloc(PAYLOAD, '1');
    const ANSWER = 'answer';
    let transport: Transport | undefined;
    let data = Buffer.alloc(0);
    const log: string[] = [];
    const made = signal();
    const proto: Protocol = {
      connectionMade(tr) {
        transport = tr;
        made.set();
      },
      dataReceived(d) {
        data = Buffer.concat([data, d]);
        if (data.length >= HELLO.length) transport!.write(ANSWER);
      },
      eofReceived: () => void log.push('eof'),
      connectionLost: (e) => void log.push(`lost ${String(e)}`),
    };
    const server = await loop.createServer(() => proto, HOST, 0);
    const port = (server.sockets()[0] as { port: number }).port;
    // The client (CPython's thread): plain HELLO in, then TLS, HELLO out.
    const client = (async (): Promise<string> => {
      const raw = net.connect(port, HOST);
      raw.on('error', () => {});
      const plain = new Bytes(raw);
      await plain.take(HELLO.length);
      const secure = await clientTls(relay(raw, plain.detach()), cert);
      secure.write(HELLO);
      const answer = await new Bytes(secure).take(ANSWER.length);
      secure.end();
      await closed(secure);
      return answer.toString();
    })();
    try {
      await made.wait('connectionMade');
      transport!.write(HELLO);
      t.is(data.length, 0);
      const newTr = await loop.startTls(
        transport!,
        proto,
        { key, cert },
        {
          serverSide: true,
          sslHandshakeTimeout: 20,
        },
      );
      transport = newTr;
      await until(() => log.includes('lost null'), 'connectionLost');
      t.true(data.equals(HELLO));
      t.deepEqual(log, ['eof', 'lost null']);
      newTr.close();
      t.is(await within(client, 'the client'), ANSWER);
    } finally {
      server.close();
      await server.waitClosed();
    }
    await nothingHeld(loop);
  });

  it('test_handshake_timeout_handler_leak, test_connect_timeout_warning: a cancelled TLS connect leaves no timer', async ({
    loop,
  }, t) => {
    const peer = await silentPeer();
    // A port nobody listens on any more.
    const spare = net.createServer();
    await new Promise<void>((resolve) => spare.listen(0, HOST, resolve));
    const refused = (spare.address() as net.AddressInfo).port;
    await new Promise((resolve) => spare.close(resolve));
    try {
      const err = await t.throwsAsync(
        waitFor(
          (signal) => loop.createConnection(quiet, HOST, refused, { ssl: true, signal }),
          0.1,
        ),
      );
      t.true(
        (err as { code?: string }).code === 'ECONNREFUSED' || err?.name === 'TimeoutError',
        `ECONNREFUSED or a timeout, not ${String(err)}`,
      );
      await nothingHeld(loop);
      await t.throwsAsync(
        waitFor(
          (signal) => loop.createConnection(quiet, HOST, peer.port, { ssl: true, signal }),
          0.1,
        ),
        { name: 'TimeoutError' },
      );
      // asyncio's weakref check: the SSL protocol and its 60 s handshake
      // timer are gone; here the timer would show as a live 'timer'.
      await nothingHeld(loop);
      await until(() => peer.gone() === 1, 'the connection closed');
    } finally {
      peer.close();
    }
  });

  it('test_create_server_ssl_1: a stream server over TLS serves node:tls clients', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const A = Buffer.alloc(256 * 1024, 'A');
    const B = Buffer.alloc(256 * 1024, 'B');
    let count = 0;
    const server = await startServer(
      async (reader, writer) => {
        t.true((await reader.readexactly(A.length)).equals(A));
        writer.write('OK');
        t.true((await reader.readexactly(B.length)).equals(B));
        writer.writelines([Buffer.from('SP'), new Uint8Array([0x41]), 'M']);
        await writer.drain();
        writer.close();
        count++;
      },
      HOST,
      0,
      { loop, ssl: { key, cert }, sslHandshakeTimeout: 10 },
    );
    const port = (server.sockets()[0] as { port: number }).port;
    const client = async (): Promise<void> => {
      const raw = net.connect(port, HOST);
      raw.on('error', () => {});
      const secure = await clientTls(raw, cert);
      const bytes = new Bytes(secure);
      secure.write(A);
      t.is((await bytes.take(2)).toString(), 'OK');
      secure.write(B);
      t.is((await bytes.take(4)).toString(), 'SPAM');
      secure.end();
      await closed(secure);
    };
    const n = 5;
    try {
      await within(Promise.all(Array.from({ length: n }, client)), 'the clients');
      await until(() => count === n, 'every client served');
    } finally {
      server.close();
      await server.waitClosed();
    }
    await nothingHeld(loop);
  });

  it(
    'server-side sslHandshakeTimeout: a client that never starts TLS is dropped, reported in debug mode',
    async ({ loop, exceptions }, t) => {
      const { key, cert } = await selfSignedCert();
      loop.setDebug(true);
      const server = await loop.createServer(quiet, HOST, 0, {
        ssl: { key, cert },
        sslHandshakeTimeout: 0.2,
      });
      const port = (server.sockets()[0] as { port: number }).port;
      const raw = net.connect(port, HOST);
      raw.on('error', () => {});
      raw.resume();
      try {
        await closed(raw);
        await until(() => exceptions.length === 1, 'the report');
        t.is(exceptions[0]?.message, 'TLS handshake failed');
        t.is((exceptions[0]?.exception as { code?: string }).code, 'ERR_SSL_HANDSHAKE_TIMEOUT');
      } finally {
        loop.setDebug(false);
        server.close();
        await server.waitClosed();
      }
      await nothingHeld(loop);
    },
    { expectExceptions: true },
  );

  it("set_protocol between a BufferedProtocol and a Protocol while reading, without TLS (test_start_tls_client_buf_proto_1's switch)", async ({
    loop,
  }, t) => {
    const chunks = ['one', 'two', 'three', 'four'];
    let serverTr: Transport | undefined;
    const server = await loop.createServer(
      () => ({ connectionMade: (tr: Transport) => void (serverTr = tr) }),
      HOST,
      0,
    );
    try {
      const got: string[] = [];
      const buf = new Uint8Array(64);
      let transport: Transport | undefined;
      const plain: Protocol = {
        dataReceived(d) {
          got.push(`plain ${d.toString()}`);
          transport!.setProtocol(buffered as never);
        },
      };
      const buffered: BufferedProtocol = {
        connectionMade: (tr) => void (transport = tr),
        getBuffer: () => buf,
        bufferUpdated(n) {
          got.push(`buffered ${Buffer.from(buf.subarray(0, n)).toString()}`);
          transport!.setProtocol(plain);
        },
      };
      await loop.createConnection(
        () => buffered,
        HOST,
        (server.sockets()[0] as { port: number }).port,
      );
      await until(() => serverTr !== undefined, 'the server side');
      for (const [i, chunk] of chunks.entries()) {
        serverTr!.write(chunk);
        await until(() => got.length === i + 1, `chunk ${chunk}`);
      }
      t.deepEqual(got, ['buffered one', 'plain two', 'buffered three', 'plain four']);
      transport!.close();
    } finally {
      server.close();
      await server.waitClosed();
    }
    await nothingHeld(loop);
  });

  it('test_create_server_ssl_over_ssl: startTls over a TLS transport (TLS in TLS) on the server side', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const A = Buffer.alloc(64 * 1024, 'A');
    const B = Buffer.alloc(64 * 1024, 'B');
    let count = 0;
    const server = await loop.createServer(
      () => {
        const reply: Protocol & { tr?: Transport; data: Buffer } = {
          data: Buffer.alloc(0),
          dataReceived(d) {
            reply.data = Buffer.concat([reply.data, d]);
            if (reply.data.length === A.length) reply.tr!.write('OK');
            if (reply.data.length === A.length + B.length) {
              t.true(reply.data.equals(Buffer.concat([A, B])));
              reply.tr!.write('SPAM');
              reply.tr!.close();
              count++;
            }
          },
        };
        return {
          connectionMade(outer: Transport) {
            outer.pauseReading();
            void loop
              .startTls(outer, reply, { key, cert }, { serverSide: true })
              .then((inner) => (reply.tr = inner));
          },
        };
      },
      HOST,
      0,
      { ssl: { key, cert } },
    );
    const port = (server.sockets()[0] as { port: number }).port;
    const client = async (): Promise<void> => {
      const raw = net.connect(port, HOST);
      raw.on('error', () => {});
      const outer = await clientTls(raw, cert);
      const inner = await clientTls(outer, cert);
      const bytes = new Bytes(inner);
      inner.write(A);
      t.is((await bytes.take(2)).toString(), 'OK');
      inner.write(B);
      t.is((await bytes.all()).toString(), 'SPAM');
      inner.end();
      await closed(raw);
    };
    try {
      await within(Promise.all(Array.from({ length: 3 }, client)), 'the clients');
      t.is(count, 3);
    } finally {
      server.close();
      await server.waitClosed();
    }
    await nothingHeld(loop);
  });

  it('StreamWriter.startTls: its signal cancels the handshake, its sslShutdownTimeout bounds the close', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const waiting = signal();
    const upgraded = signal();
    const peer = await tcpPeer(
      async (raw) => {
        const plain = new Bytes(raw);
        const first = (await plain.take(5)).toString();
        if (first === 'stuck') {
          waiting.set();
          await plain.all();
          return;
        }
        // 'hello': answer the handshake, then never answer close_notify.
        const secure = await serverTls(relay(raw, plain.detach()), key, cert);
        upgraded.set();
        secure.resume();
        await closed(raw);
      },
      { allowHalfOpen: true },
    );
    try {
      const first = await openConnection(HOST, peer.port, { loop });
      first.writer.write('stuck');
      await waiting.wait('the peer in the handshake');
      await t.throwsAsync(
        waitFor(
          (signal) => first.writer.startTls({ ca: cert }, { serverHostname: 'localhost', signal }),
          0.2,
        ),
        { name: 'TimeoutError' },
      );
      await t.throwsAsync(first.writer.waitClosed());
      const second = await openConnection(HOST, peer.port, { loop });
      second.writer.write('hello');
      await second.writer.startTls(
        { ca: cert },
        { serverHostname: 'localhost', sslShutdownTimeout: 0.2 },
      );
      await upgraded.wait('the upgrade');
      second.writer.close();
      await t.throwsAsync(second.writer.waitClosed(), { name: 'TimeoutError' });
      await nothingHeld(loop);
    } finally {
      peer.close();
    }
  });

  // Unix sockets: the same TLS, and createUnixServer's sslHandshakeTimeout
  // (asyncio's create_unix_server takes it; it used to be ignored here).
  const unixTitle = `${name}: test_create_unix_server_ssl (uvloop's unix_server cases): TLS over a Unix socket, with sslHandshakeTimeout`;
  const unixReason = makeLoop.unsupported?.['unix'];
  if (unixReason !== undefined) {
    test.skip(`${unixTitle} (unsupported on this loop: ${unixReason})`, (t) => t.pass());
  } else
    tlsTest(unixTitle, async (t) => {
      const dir = tempDir();
      try {
        await withLoop(
          t,
          makeLoop,
          async ({ loop, exceptions }) => {
            const { key, cert } = await selfSignedCert();
            const path = dir.path('tls.sock');
            loop.setDebug(true);
            const server = await startUnixServer(
              async (reader, writer) => {
                writer.write(await reader.readexactly(4));
                writer.close();
              },
              path,
              { loop, ssl: { key, cert }, sslHandshakeTimeout: 2, sslShutdownTimeout: 5 },
            );
            try {
              const { reader, writer } = await openUnixConnection(path, {
                loop,
                ...clientSsl(cert),
              });
              writer.write('ping');
              t.is((await reader.read()).toString(), 'ping');
              writer.close();
              await writer.waitClosed();
              // A client that never starts TLS is dropped after 2 s (a bound the
              // real client above, on a loaded machine, stays well within).
              const raw = net.connect(path);
              raw.on('error', () => {});
              raw.resume();
              await closed(raw);
              await until(() => exceptions.length === 1, 'the report');
              t.is(
                (exceptions[0]?.exception as { code?: string }).code,
                'ERR_SSL_HANDSHAKE_TIMEOUT',
              );
            } finally {
              loop.setDebug(false);
              server.close();
              await server.waitClosed();
            }
            await nothingHeld(loop);
          },
          { expectExceptions: true },
        );
      } finally {
        dir.remove();
      }
    });
}
