// TLS over UvEventLoop transports against peers nobody here wrote: Debian's
// `openssl s_client` and `openssl s_server` (OpenSSL's own TLS stack, not
// node:tls on both ends). Each test spawns the openssl tool as a child and
// checks bytes, certificates, protocol versions, STARTTLS and a refused
// handshake, then that every handle of the loop is closed.
import anyTest from 'ava';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Loop, UvEventLoop, type Protocol, type Transport } from 'asyncuv';
import { CollectProtocol, EchoProtocol } from '../adapters/protocols.js';
import { selfSignedCert } from '../adapters/tls-cert.js';
import { closeEventLoop } from '../helpers/event-loop-test.js';
import { missingPrograms, withPrograms } from '../helpers/tools.js';

const test = withPrograms(anyTest, ['openssl']);

const certDir = mkdtempSync(join(tmpdir(), 'asyncuv-openssl-'));
// Without openssl every test below is skipped (or failed, in CI) unrun.
const { key, cert } =
  missingPrograms(['openssl']).length === 0
    ? await selfSignedCert()
    : { key: Buffer.alloc(0), cert: Buffer.alloc(0) };
const certFile = join(certDir, 'cert.pem');
const keyFile = join(certDir, 'key.pem');
writeFileSync(certFile, cert);
writeFileSync(keyFile, key);
anyTest.after.always(() => rmSync(certDir, { recursive: true, force: true }));

interface OpensslChild {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout contains `text`; rejects if the child exits first. */
  waitOut(text: string, ms?: number): Promise<void>;
  exit: Promise<number | null>;
}

function openssl(args: string[]): OpensslChild {
  const child = spawn('openssl', args);
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout.setEncoding('latin1').on('data', (d: string) => {
    out += d;
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.setEncoding('latin1').on('data', (d: string) => (err += d));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitOut(text, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `openssl never printed ${JSON.stringify(text.slice(0, 40))}; stderr: ${err}`,
              ),
            ),
          ms,
        );
        const check = (): void => {
          if (out.includes(text)) {
            clearTimeout(timer);
            resolve();
          } else waiters.push(check);
        };
        void exit.then(() => {
          if (!out.includes(text)) {
            clearTimeout(timer);
            reject(
              new Error(
                `openssl exited before printing ${JSON.stringify(text.slice(0, 40))}; stderr: ${err}`,
              ),
            );
          }
        });
        check();
      });
    },
  };
}

/**
 * Printable lines, so that openssl's line-oriented stdin/stdout carry them
 * unchanged. s_client reads lines starting with Q, R or K as commands (quit,
 * renegotiate, key update) unless given -nocommands, which every s_client
 * here is.
 */
function payloadLines(bytes: number): string {
  return `${randomBytes(bytes)
    .toString('base64')
    .replace(/.{1,76}/g, '$&\n')}END\n`;
}

for (const version of ['-tls1_2', '-tls1_3'] as const) {
  test(`openssl s_client ${version} talks to a UvEventLoop TLS server: 48 kB echoed, certificate verified`, async (t) => {
    const uv = new Loop();
    const loop = new UvEventLoop(uv);
    const served: EchoProtocol[] = [];
    const server = await loop.createServer(
      () => {
        const p = new EchoProtocol();
        served.push(p);
        return p;
      },
      '127.0.0.1',
      0,
      { ssl: { key, cert } },
    );
    const port = (server.sockets()[0] as { port: number }).port;

    const client = openssl([
      's_client',
      '-connect',
      `127.0.0.1:${port}`,
      '-servername',
      'localhost',
      '-CAfile',
      certFile,
      '-verify_return_error',
      '-brief',
      '-nocommands',
      version,
    ]);
    const payload = payloadLines(36_000);
    client.child.stdin.write(payload);
    await client.waitOut('END\n');
    t.true(client.stdout().includes(payload), 'the echo came back byte for byte');
    // EOF on s_client's stdin makes it send close_notify and exit.
    client.child.stdin.end();
    t.is(await client.exit, 0);
    t.regex(client.stderr(), /Verification: OK/);
    t.regex(
      client.stderr(),
      version === '-tls1_2' ? /Protocol version: TLSv1\.2/ : /Protocol version: TLSv1\.3/,
    );
    t.is(await served[0]!.lost, null, 'the server side ends cleanly');
    t.deepEqual(served[0]!.calls, ['made', 'eof', 'lost']);

    server.close();
    await server.waitClosed();
    await closeEventLoop(t, loop, uv);
  });
}

test('a UvEventLoop TLS client talks to openssl s_server: bytes both ways, peer certificate and cipher reported', async (t) => {
  const uv = new Loop();
  const loop = new UvEventLoop(uv);
  const server = openssl([
    's_server',
    '-accept',
    '127.0.0.1:0',
    '-key',
    keyFile,
    '-cert',
    certFile,
    '-naccept',
    '1',
  ]);
  await server.waitOut('ACCEPT');
  const port = Number(/ACCEPT .*:(\d+)/.exec(server.stdout())![1]);

  const [transport, client] = await loop.createConnection(
    () => new CollectProtocol(),
    '127.0.0.1',
    port,
    { ssl: { ca: cert }, serverHostname: 'localhost' },
  );
  t.is(transport.getExtraInfo('peercert')!.subject.CN, 'localhost');
  t.truthy(transport.getExtraInfo('cipher')?.name);

  const upstream = payloadLines(24_000);
  transport.write(Buffer.from(upstream, 'latin1'));
  await server.waitOut('END\n');
  t.true(server.stdout().includes(upstream), 's_server printed what we sent');

  const downstream = 'from openssl s_server\n';
  server.child.stdin.write(downstream);
  await client.until(downstream.length);
  t.is(client.data().toString(), downstream);

  transport.close();
  t.is(await client.lost, null);
  t.is(await server.exit, 0, 's_server saw a clean shutdown and exited after its one connection');
  server.child.stdin.end();
  await closeEventLoop(t, loop, uv);
});

/** Just enough of SMTP for `openssl s_client -starttls smtp`, then loop.startTls on the same connection. */
class StartTlsSmtp implements Protocol {
  transport: Transport | undefined;
  upgraded: Promise<Transport>;
  #upgraded!: (t: Transport) => void;
  #failed!: (e: unknown) => void;
  #buffer = '';
  echo = false;
  lost: Promise<Error | null>;
  #lost!: (e: Error | null) => void;

  constructor(private readonly loop: UvEventLoop) {
    this.upgraded = new Promise(
      (resolve, reject) => ((this.#upgraded = resolve), (this.#failed = reject)),
    );
    this.lost = new Promise((resolve) => (this.#lost = resolve));
  }

  connectionMade(t: Transport): void {
    this.transport = t;
    t.write('220 asyncuv ESMTP test\r\n');
  }

  dataReceived(data: Buffer): void {
    if (this.echo) {
      this.transport!.write(data);
      return;
    }
    this.#buffer += data.toString('latin1');
    let nl: number;
    while ((nl = this.#buffer.indexOf('\r\n')) >= 0) {
      const line = this.#buffer.slice(0, nl).toUpperCase();
      this.#buffer = this.#buffer.slice(nl + 2);
      if (line.startsWith('EHLO'))
        this.transport!.write('250-asyncuv greets you\r\n250 STARTTLS\r\n');
      else if (line === 'STARTTLS') {
        this.transport!.write('220 go ahead\r\n');
        this.loop
          .startTls(this.transport!, this, { key, cert }, { serverSide: true })
          .then((tlsTransport) => {
            // No decrypted byte is delivered before this runs.
            this.transport = tlsTransport;
            this.echo = true;
            this.#upgraded(tlsTransport);
          }, this.#failed);
        return;
      } else this.transport!.write('500 unknown\r\n');
    }
  }

  eofReceived(): void {}

  connectionLost(err: Error | null): void {
    this.#lost(err);
  }
}

test('openssl s_client -starttls smtp upgrades a plain UvEventLoop connection with loop.startTls', async (t) => {
  const uv = new Loop();
  const loop = new UvEventLoop(uv);
  const protocols: StartTlsSmtp[] = [];
  const server = await loop.createServer(
    () => {
      const p = new StartTlsSmtp(loop);
      protocols.push(p);
      return p;
    },
    '127.0.0.1',
    0,
  );
  const port = (server.sockets()[0] as { port: number }).port;

  const client = openssl([
    's_client',
    '-connect',
    `127.0.0.1:${port}`,
    '-starttls',
    'smtp',
    '-servername',
    'localhost',
    '-CAfile',
    certFile,
    '-verify_return_error',
    '-brief',
    '-nocommands',
  ]);
  const line = 'secret line only sent after the upgrade END\n';
  client.child.stdin.write(line);
  await client.waitOut('END\n');
  t.true(client.stdout().includes(line));
  const tlsTransport = await protocols[0]!.upgraded;
  t.truthy(tlsTransport.getExtraInfo('ssl_object'), 'the upgraded transport is the TLS one');
  t.is(tlsTransport.getExtraInfo('cipher')?.version !== undefined, true);
  client.child.stdin.end();
  t.is(await client.exit, 0);
  t.regex(client.stderr(), /Verification: OK/);
  t.is(await protocols[0]!.lost, null);

  server.close();
  await server.waitClosed();
  await closeEventLoop(t, loop, uv);
});

test('openssl s_client that does not trust the certificate fails the handshake; the server reports it (debug mode) and keeps serving', async (t) => {
  const uv = new Loop();
  const loop = new UvEventLoop(uv);
  const reported: string[] = [];
  loop.setExceptionHandler((_l, context) => reported.push(context.message));
  // A failed server-side handshake is reported in debug mode only, as in asyncio.
  loop.setDebug(true);
  const server = await loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0, {
    ssl: { key, cert },
  });
  const port = (server.sockets()[0] as { port: number }).port;

  // No -CAfile: the self-signed certificate cannot be verified.
  const refused = openssl([
    's_client',
    '-connect',
    `127.0.0.1:${port}`,
    '-servername',
    'localhost',
    '-verify_return_error',
    '-brief',
    '-nocommands',
  ]);
  refused.child.stdin.end();
  t.not(await refused.exit, 0);
  t.regex(refused.stderr(), /verify error|self[- ]signed|certificate verify failed/i);

  // The server is still up for the next, trusting client.
  const ok = openssl([
    's_client',
    '-connect',
    `127.0.0.1:${port}`,
    '-servername',
    'localhost',
    '-CAfile',
    certFile,
    '-verify_return_error',
    '-brief',
    '-nocommands',
  ]);
  ok.child.stdin.write('still serving END\n');
  await ok.waitOut('END\n');
  ok.child.stdin.end();
  t.is(await ok.exit, 0);

  server.close();
  await server.waitClosed();
  await closeEventLoop(t, loop, uv);
  t.deepEqual(
    reported,
    ['TLS handshake failed'],
    'the failed handshake went to the exception handler once',
  );
});
