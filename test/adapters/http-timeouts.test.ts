// node:http's timeouts over our transports (serveHttp on UvEventLoop and on
// NodeEventLoop), side by side with a plain node:http server: each test
// runs the same body and the same assertions against all three. Clients are
// raw sockets, node:http's own client and curl. Timings are only ever
// asserted as lower bounds (a timer never fires early); everything else
// waits for events under a generous deadline.
import test from 'ava';
import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { until, within } from '../helpers/loop-test.js';
import { KINDS, httpServer } from './side-by-side.js';

interface RawClient {
  socket: net.Socket;
  /** Everything received so far. */
  received(): string;
  /** Resolves once the server has closed the connection, with when (Date.now()). */
  closed: Promise<number>;
}

async function rawClient(port: number, first = ''): Promise<RawClient> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let data = '';
  socket.on('data', (d) => (data += d.toString()));
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  await once(socket, 'connect');
  if (first !== '') socket.write(first);
  return { socket, received: () => data, closed };
}

const GET = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';

for (const kind of KINDS) {
  const loopName = kind === 'uv' ? 'UvEventLoop' : 'NodeEventLoop';
  const name = kind === 'net' ? 'node:http' : `serveHttp on ${loopName}`;

  test(`${name}: keepAliveTimeout closes an idle keep-alive connection`, async (t) => {
    const h = await httpServer(t, kind, (_req, res) => res.end('ok'));
    try {
      h.http.keepAliveTimeout = 200;
      const client = await rawClient(h.port, GET);
      await until(() => client.received().endsWith('ok'), 'response');
      const answered = Date.now();
      t.regex(client.received(), /^HTTP\/1\.1 200 OK\r\n[\s\S]*Keep-Alive: timeout=0\r\n/);
      const closedAt = await within(client.closed, 'close of the idle connection');
      t.true(closedAt - answered >= 200, `closed after ${closedAt - answered} ms`);
    } finally {
      await h.close();
    }
  });

  test(`${name}: server.setTimeout() destroys a connection that stays idle`, async (t) => {
    const h = await httpServer(t, kind, (_req, res) => res.end('ok'));
    try {
      h.http.setTimeout(300);
      t.is(h.http.timeout, 300);
      const connected = Date.now();
      const client = await rawClient(h.port);
      const closedAt = await within(client.closed, 'close of the idle connection');
      t.true(closedAt - connected >= 300, `closed after ${closedAt - connected} ms`);
      t.is(client.received(), '');
    } finally {
      await h.close();
    }
  });

  test(`${name}: a server 'timeout' listener gets the idle socket and decides`, async (t) => {
    const h = await httpServer(t, kind, (_req, res) => res.end('ok'));
    try {
      const seen: boolean[] = [];
      h.http.timeout = 300;
      h.http.on('timeout', (socket: net.Socket) => {
        seen.push(socket.destroyed);
        // Its timer stays armed until the client's FIN closes the socket: on a
        // loaded machine that can take another 300 ms, and a second 'timeout'
        // would follow (on node:http too). A listener that ends the socket
        // turns the timer off first.
        socket.setTimeout(0);
        socket.end('bye');
      });
      const client = await rawClient(h.port);
      await within(client.closed, 'close after the listener ended it');
      t.deepEqual(seen, [false], 'the listener got the socket, still open');
      t.is(client.received(), 'bye');
    } finally {
      await h.close();
    }
  });

  test(`${name}: req.setTimeout() fires while the body stalls`, async (t) => {
    const h = await httpServer(t, kind, (req, res) => {
      req.setTimeout(300, () => {
        res.statusCode = 408;
        res.end('request timed out');
      });
    });
    try {
      const stalled = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab';
      const client = await rawClient(h.port, stalled);
      await until(() => client.received().endsWith('request timed out'), 'the timeout response');
      t.regex(client.received(), /^HTTP\/1\.1 408 /);
      client.socket.destroy();
    } finally {
      await h.close();
    }
  });

  test(`${name}: res.setTimeout() fires while no response is sent (http client)`, async (t) => {
    const h = await httpServer(t, kind, (_req, res) => {
      res.setTimeout(300, () => res.end('response timed out'));
    });
    const agent = new http.Agent();
    try {
      const reply = await within(
        new Promise<[number, string]>((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port: h.port, agent }, (res) => {
              let text = '';
              res.on('data', (d) => (text += d));
              res.on('end', () => resolve([res.statusCode!, text]));
            })
            .on('error', reject);
        }),
        'the response',
      );
      t.deepEqual(reply, [200, 'response timed out']);
    } finally {
      agent.destroy();
      await h.close();
    }
  });

  test(`${name}: headersTimeout cuts a client sending one header byte a second`, async (t) => {
    const h = await httpServer(t, kind, (_req, res) => res.end('ok'), {
      headersTimeout: 2000,
      requestTimeout: 3000,
      connectionsCheckingInterval: 200,
    });
    const headers = `GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ${'y'.repeat(60)}\r\n\r\n`;
    let sender: NodeJS.Timeout | undefined;
    try {
      const started = Date.now();
      const client = await rawClient(h.port);
      let sent = 0;
      const sendOne = (): void => {
        if (sent >= headers.length || client.socket.destroyed) return;
        client.socket.write(headers[sent++]!);
      };
      sendOne();
      sender = setInterval(sendOne, 1000);
      const closedAt = await within(client.closed, 'the server to cut the slow client');
      t.regex(client.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
      t.true(closedAt - started >= 2000, `cut after ${closedAt - started} ms`);
      t.true(sent < headers.length, `cut before the headers ended (${sent} of ${headers.length})`);
    } finally {
      clearInterval(sender);
      await h.close();
    }
  });

  test(`${name}: requestTimeout cuts a body sent at 10 bytes a second by curl`, async (t) => {
    let handled = 0;
    const h = await httpServer(
      t,
      kind,
      (req, res) => {
        handled++;
        req.resume();
        req.on('end', () => res.end('whole body'));
      },
      { headersTimeout: 1000, requestTimeout: 1500, connectionsCheckingInterval: 200 },
    );
    try {
      const started = Date.now();
      const code = await within(
        new Promise<string>((resolve, reject) => {
          const args = ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--limit-rate', '10'];
          const url = `http://127.0.0.1:${h.port}/upload`;
          const curl = execFile('curl', [...args, '--data-binary', '@-', url], (err, stdout) => {
            // curl exits non-zero when the server closes mid-upload; the code is still printed.
            if (stdout !== '') resolve(stdout);
            else reject(err ?? new Error('curl printed nothing'));
          });
          curl.stdin!.end('z'.repeat(100));
        }),
        'curl to finish',
      );
      t.is(code, '408');
      t.true(Date.now() - started >= 1500);
      t.is(handled, 1, 'the request reached the handler before the body stalled');
    } finally {
      await h.close();
    }
  });
}
