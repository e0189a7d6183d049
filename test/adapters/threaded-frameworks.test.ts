// startThreadedServer (2 threads) serving a real framework module
// (fixtures/threaded-express-ws.ts: Express and a ws WebSocket server on one
// http.Server, which the module exports), driven from outside by wrk, curl
// (HTTP/1.1 and 1.0, keep-alive, chunked upload from stdin, 20 MiB up with
// Expect: 100-continue and down, an upload aborted mid-body), openssl
// s_client over TLS, and 200 concurrent ws clients. Every answer is checked;
// close() must end every thread with no connection open.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { Loop, startThreadedServer, type ThreadedServer } from 'asyncuv';
import { waitFor, within } from '../helpers/loop-test.js';
import { withPrograms } from '../helpers/tools.js';
import { bigBody } from '../fixtures/threaded-express-ws.js';
import { selfSignedCert } from './tls-cert.js';
import { runWrk } from './wrk-run.js';

const module = new URL('../fixtures/threaded-express-ws.js', import.meta.url);
const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

interface Ran {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `program` with `input` on its stdin (ended), collecting its output. */
function run(program: string, args: string[], input?: Buffer | string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    child.stdin.on('error', () => {}); // curl may quit (abort) before it read everything
    child.stdin.end(input);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

async function start(t: ExecutionContext, tls: boolean): Promise<ThreadedServer> {
  const ssl = tls ? await selfSignedCert() : undefined;
  const server = await within(
    startThreadedServer(module, {
      host: '127.0.0.1',
      port: 0,
      threads: 2,
      ...(ssl ? { ssl: { key: String(ssl.key), cert: String(ssl.cert) } } : {}),
    }),
    'startThreadedServer',
  );
  t.teardown(() => server.close({ deadlineMs: 0 }));
  return server;
}

async function closeAndCheck(t: ExecutionContext, server: ThreadedServer): Promise<void> {
  await within(server.close(), 'close()');
  const stats = server.stats();
  t.is(stats.open, 0);
  t.true(
    stats.threads.every((th) => th.state === 'closed' && th.threadId === null && th.open === 0),
    JSON.stringify(stats),
  );
  await waitFor(() => Object.keys(Loop.default().handleCounts()).length === 0, 10_000);
  t.deepEqual(Loop.default().handleCounts(), {}, "the supervisor's socket is closed");
}

/** The curl cases: each returns what the test compares. */
async function curlCases(t: ExecutionContext, base: string): Promise<void> {
  const curl = (...args: string[]): Promise<Ran> => run('curl', ['-sSk', ...args]);
  const json = '{"hello":"express"}';
  t.is(String((await curl('--http1.1', `${base}/json`)).stdout), json);
  t.is(String((await curl('--http1.0', `${base}/json`)).stdout), json);
  // Three requests on one keep-alive connection: one connect, then none.
  const three = await curl(
    '--http1.1',
    '-w',
    ' %{num_connects}\n',
    ...Array(3).fill(`${base}/json`),
  );
  t.is(String(three.stdout), `${json} 1\n${json} 0\n${json} 0\n`);
  // A chunked upload from stdin (curl -T -).
  const text = 'a line of a chunked upload\n'.repeat(20_000);
  const chunked = await run('curl', ['-sSk', '-T', '-', `${base}/hash`], text);
  t.is(String(chunked.stdout), `${text.length} ${sha256(text)}`, chunked.stderr);
  // 20 MiB up: curl sends Expect: 100-continue for a body this big.
  const body = randomBytes(20 * 1024 * 1024);
  for (const version of ['--http1.1', '--http1.0']) {
    const up = await run(
      'curl',
      ['-sSk', version, '-w', ' %{http_code}', '--data-binary', '@-', `${base}/hash`],
      body,
    );
    t.is(String(up.stdout), `${body.length} ${sha256(body)} 200`, `${version}: ${up.stderr}`);
  }
  // 20 MiB down, HTTP/1.1 and HTTP/1.0 (no keep-alive, body until close).
  for (const version of ['--http1.1', '--http1.0']) {
    const down = await curl(version, `${base}/big`);
    t.is(down.stdout.length, bigBody.length, `${version}: ${down.stderr}`);
    t.is(sha256(down.stdout), sha256(bigBody));
  }
  // An upload abandoned mid-body (curl gives up after 0.5 s at 2 MB/s):
  // curl reports its timeout (28), and the server keeps serving.
  const aborted = await run(
    'curl',
    ['-sSk', '--limit-rate', '2M', '--max-time', '0.5', '--data-binary', '@-', `${base}/hash`],
    body,
  );
  t.is(aborted.code, 28, aborted.stderr);
  t.is(String((await curl(`${base}/json`)).stdout), json);
}

/** 200 ws clients at once, each echoing 5 messages, then a clean close (1000). */
async function wsClients(t: ExecutionContext, url: string, tls: boolean): Promise<void> {
  const results = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const client = new WebSocket(url, { rejectUnauthorized: !tls });
      await once(client, 'open');
      let echoed = 0;
      for (let k = 0; k < 5; k++) {
        const message = `client ${i} message ${k} ${'x'.repeat(k * 1000)}`;
        client.send(message);
        const [data] = (await once(client, 'message')) as [Buffer];
        if (String(data) === message) echoed++;
      }
      client.close(1000, 'done');
      const [code] = (await once(client, 'close')) as [number];
      return [echoed, code];
    }),
  );
  t.deepEqual(
    results.filter(([echoed, code]) => echoed !== 5 || code !== 1000),
    [],
    'every client echoed 5 messages and closed with 1000',
  );
}

const withTools = withPrograms(test.serial, ['wrk', 'curl', 'openssl']);

for (const tls of [false, true]) {
  const scheme = tls ? 'https' : 'http';
  withTools(
    `startThreadedServer (2 threads, ${tls ? 'TLS' : 'TCP'}): Express and ws from an http.Server the module exports, under wrk, curl and 200 ws clients`,
    async (t) => {
      const server = await start(t, tls);
      const base = `${scheme}://127.0.0.1:${server.port}`;
      for (const close of [false, true]) {
        const r = await runWrk({ url: `${base}/json`, expect: '"hello":"express"', close });
        const what = `wrk${close ? ' (Connection: close)' : ''}:\n${r.output}`;
        t.true(r.requests > 0, what);
        t.deepEqual(r.socketErrors, { connect: 0, read: 0, write: 0, timeout: 0 }, what);
        t.is(r.non2xx, 0, what);
        t.is(r.wrongBodies, 0, what);
        t.log(`wrk${close ? ' Connection: close' : ' keep-alive'}: ${r.rate.toFixed(0)} req/s`);
      }
      await curlCases(t, base);
      if (tls) {
        // A scripted request through openssl s_client (-ign_eof: the answer
        // is read to the server's close, not cut at stdin's end).
        const request = 'GET /json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
        const s = await run(
          'openssl',
          ['s_client', '-connect', `127.0.0.1:${server.port}`, '-quiet', '-ign_eof'],
          request,
        );
        t.regex(String(s.stdout), /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n\{"hello":"express"\}$/);
      }
      await wsClients(t, `${tls ? 'wss' : 'ws'}://127.0.0.1:${server.port}/`, tls);
      const stats = server.stats();
      t.true(
        stats.threads.every((th) => th.accepted > 0 && th.restarts === 0),
        JSON.stringify(stats),
      );
      await closeAndCheck(t, server);
    },
  );
}
