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
// Cases with no equivalent here are left out: test_create_connection_
// memory_leak and the weakref checks of the *_leak tests (no GC hooks; the
// timers and resources are checked instead), test_buf_feed_data (asyncio's
// private _feed_data_to_buffered_proto), test_start_tls_wrong_args (in
// tls-arguments.ts), test_flush_before_shutdown's pause of the private SSL
// protocol (a full socket buffer does the same here).
import type { ExecutionContext } from 'ava';
import net from 'node:net';
import tls from 'node:tls';
import {
  type AbstractEventLoop,
  type BufferedProtocol,
  Loop,
  openConnection,
  type Protocol,
  startServer,
  type StreamReader,
  type StreamWriter,
  TCP,
  type Transport,
  UvEventLoop,
  waitFor,
} from 'asyncuv';
import { selfSignedCert } from '../../adapters/tls-cert.js';
import { withPrograms } from '../../helpers/tools.js';
import { type LoopContext, type MakeLoop, type Test, until, within, withLoop } from '../harness.js';
import {
  Bytes,
  clientTls,
  closed,
  type Peer,
  relay,
  serverTls,
  signal,
  tcpPeer,
} from './tls-peers.js';

const HOST = '127.0.0.1';
/** test_ssl.py's PAYLOAD_SIZE. */
const PAYLOAD = 100 * 1024;
const quiet = (): Protocol => ({});

/** The client's TLS options: our test certificate trusted, for localhost. */
const clientSsl = (cert: Buffer) => ({ ssl: { ca: cert }, serverHostname: 'localhost' });

/** Nothing left on the loop: no transport, no handshake or shutdown timer. */
async function nothingHeld(loop: AbstractEventLoop): Promise<void> {
  await until(() => Object.keys(loop.liveResources()).length === 0, 'nothing held by the loop');
}

/** A Loop a `sock` handle for `loop` can live on (UvEventLoop: its own). */
function handleLoop(loop: AbstractEventLoop): Loop {
  return loop instanceof UvEventLoop ? loop.uvloop : Loop.default();
}

/** A TCP handle connected to port (asyncio's socket.connect before sock=). */
async function connectedTcp(loop: AbstractEventLoop, port: number): Promise<TCP> {
  const tcp = new TCP(handleLoop(loop));
  await within(
    new Promise<void>((resolve, reject) =>
      tcp.connect(HOST, port, (err) => (err === null ? resolve() : reject(err))),
    ),
    'the TCP connect',
  );
  return tcp;
}

/** A peer that reads and never answers; `gone()` counts the connections that went. */
async function silentPeer(): Promise<Peer & { gone(): number }> {
  let gone = 0;
  const peer = await tcpPeer(async (raw) => {
    raw.resume();
    await closed(raw);
    gone++;
  });
  return { ...peer, gone: () => gone };
}

/** A protocol that records its callbacks in order, as MyBaseProto's states. */
function recorder(log: string[], extra: Partial<Protocol> = {}): Protocol {
  return {
    connectionMade: () => void log.push('made'),
    dataReceived: (d) => void log.push(`data ${d.toString()}`),
    eofReceived: () => void log.push('eof'),
    connectionLost: (e) => void log.push(`lost ${e === null ? 'null' : (e as Error).name}`),
    ...extra,
  };
}

type Body = (ctx: LoopContext, t: ExecutionContext) => Promise<void>;

export function tlsPort(test: Test, makeLoop: MakeLoop, name: string): void {
  // Every case makes a certificate with openssl (test/adapters/tls-cert.ts).
  const tlsTest = withPrograms(test, ['openssl']);
  const it = (title: string, body: Body, opts?: { expectExceptions?: boolean }): void =>
    tlsTest(`${name}: ${title}`, (t) => withLoop(t, makeLoop, (ctx) => body(ctx, t), opts));

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
        const secure = await serverTls(raw, key, cert);
        secure.resume();
        await within(
          new Promise((resolve) => {
            raw.once('end', resolve);
            raw.once('close', resolve);
          }),
          'the connection ended',
        );
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
        const secure = await serverTls(raw, key, cert);
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
}
