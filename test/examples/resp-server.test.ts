import test from 'ava';
import net from 'node:net';
import { Loop } from '../../handles/index.js';
import { UvEventLoop } from '../../loop/index.js';
import { startRespServer } from '../../examples/resp-server/main.js';
import { RespParser } from '../../examples/resp-server/resp-parser.js';

function command(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** Sends raw bytes and resolves with the reply once `expectedEnd` arrives. */
function exchange(port: number, bytes: string, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(bytes));
    let got = '';
    sock.on('data', (d) => {
      got += d.toString();
      if (done(got)) {
        sock.destroy();
        resolve(got);
      }
    });
    sock.on('error', reject);
  });
}

async function withServer(
  t: { deepEqual(a: unknown, b: unknown, m?: string): void },
  body: (port: number) => Promise<void>,
): Promise<void> {
  const uv = new Loop();
  const loop = new UvEventLoop(uv);
  const server = await startRespServer(loop, '127.0.0.1', 0);
  try {
    await body((server.sockets()[0] as { port: number }).port);
  } finally {
    server.close();
    await server.waitClosed();
    loop.close();
    const deadline = Date.now() + 10_000;
    while (Object.keys(uv.handleCounts()).length > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    t.deepEqual(uv.handleCounts(), {}, 'every handle closed');
    uv.close();
  }
}

test('SET, GET, INCR, EXISTS, MGET, DEL over one pipelined write', async (t) => {
  await withServer(t, async (port) => {
    const req =
      command('SET', 'a', '1') +
      command('GET', 'a') +
      command('INCR', 'a') +
      command('INCR', 'n') +
      command('EXISTS', 'a', 'n', 'zz') +
      command('MGET', 'a', 'zz', 'n') +
      command('DEL', 'a', 'zz') +
      command('GET', 'a') +
      command('PING');
    const expected =
      '+OK\r\n$1\r\n1\r\n:2\r\n:1\r\n:2\r\n*3\r\n$1\r\n2\r\n$-1\r\n$1\r\n1\r\n:1\r\n$-1\r\n+PONG\r\n';
    t.is(await exchange(port, req, (s) => s.endsWith('+PONG\r\n')), expected);
  });
});

test('inline commands, ECHO, SET NX/XX/PX and errors', async (t) => {
  await withServer(t, async (port) => {
    const reply = await exchange(
      port,
      'PING\r\nECHO hello\r\nSET k v NX\r\nSET k w NX\r\nSET k w XX PX 100000\r\nGET k\r\nINCR k\r\nNOPE\r\nGET\r\nQUIT\r\n',
      (s) => s.endsWith('+OK\r\n') && s.includes('wrong number'),
    );
    t.is(
      reply,
      "+PONG\r\n$5\r\nhello\r\n+OK\r\n$-1\r\n+OK\r\n$1\r\nw\r\n-ERR value is not an integer or out of range\r\n-ERR unknown command 'NOPE'\r\n-ERR wrong number of arguments for 'get' command\r\n+OK\r\n",
    );
  });
});

test('a command split across many reads is parsed once', (t) => {
  const parser = new RespParser();
  const bytes = Buffer.from(command('SET', 'key', 'x'.repeat(1000)));
  const seen: string[][] = [];
  const sink = { command: (p: RespParser) => seen.push(p.all().map((b) => b.toString())) > 0 };
  for (let i = 0; i < bytes.length; i += 7) parser.feed(bytes.subarray(i, i + 7), sink);
  t.deepEqual(seen, [['SET', 'key', 'x'.repeat(1000)]]);
});

test('a malformed request gets an error and the connection is closed', async (t) => {
  await withServer(t, async (port) => {
    const reply = await exchange(
      port,
      '*1\r\n#bad\r\n',
      (s) => s.startsWith('-ERR') || s.startsWith('-Protocol'),
    );
    t.regex(reply, /^-Protocol error/);
  });
});
