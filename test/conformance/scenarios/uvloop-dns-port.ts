// uvloop's tests/test_dns.py on both loops: each getaddrinfo and
// getnameinfo is compared with what Python's socket module answers for the
// same query on this machine (asyncio's loop.getaddrinfo is
// socket.getaddrinfo run in a thread, so that answer is asyncio's), not
// with a list written here.
//
// Ported: test_getaddrinfo_3 (a name that cannot resolve), _4 (a bad
// family), _7 and _10 (no host: the loopback addresses), _8 (an empty
// host), _12, _19, _20 (numeric hosts, with and without a socket type),
// _16 (localhost), _21 and _22 (libuv's GHSA-f74f-cvh7-c6q6: a name of
// 256+ characters must not be cut into a numeric address),
// test_getnameinfo_1 and _4, and Test_UV_DNS.test_getaddrinfo_close_loop.
// Not portable: the bytes hosts and ports (_6, _9, _11, _13, _14, _17,
// _18: hosts are strings here), service names as ports (_5, _14-_18:
// ports are numbers), AI_CANONNAME (_2, _19: our entries carry no
// canonical name), test_getnameinfo_2, _3 (3- and 4-tuples of Python's
// sockaddr), _5 (a host name: refused before any lookup here, as libuv
// does: address-edges.ts), test_getaddrinfo_broadcast ('<broadcast>' is
// Python's); _1 and _2 need example.com, that is the internet.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AbstractEventLoop } from 'asyncuv';
import { UsageError } from 'asyncuv';
import { cases, type MakeLoop, type Test, within } from '../harness.js';

/** One query, as Python's socket module takes it. */
type Query =
  | { op: 'ai'; host: string | null; port: number | null; family?: number; type?: number }
  | { op: 'ni'; host: string; port: number };

/** An answer: entries (family 4/6, socktype, protocol, address, port), a name, or an error. */
type Answer =
  | { ok: Array<[number, number, number, string, number]> }
  | { name: [string, string] }
  | { gai: number };

const PY = `
import json, socket, sys
out = []
for q in json.loads(sys.argv[1]):
    try:
        if q['op'] == 'ai':
            fam = {0: 0, 4: socket.AF_INET, 6: socket.AF_INET6}.get(q.get('family', 0), q.get('family'))
            # bytes: what the resolver gets, past Python's own IDNA check
            host = q['host'].encode('ascii') if q['host'] is not None else None
            r = socket.getaddrinfo(host, q['port'], family=fam, type=q.get('type', 0))
            out.append({'ok': [[4 if f == socket.AF_INET else 6, int(t), p, a[0], a[1]] for f, t, p, _, a in r]})
        else:
            out.append({'name': list(socket.getnameinfo((q['host'], q['port']), 0))})
    except socket.gaierror as e:
        out.append({'gai': e.errno})
print(json.dumps(out))
`;

/**
 * What Python (so asyncio) answers for each query. Python is the
 * reference, not code under test: it runs without the sanitizer runtime
 * that `npm run test:asan` preloads into every child (under it, a dozen
 * python3 starts at once took more than the cases' 20 s).
 */
async function python(queries: Query[]): Promise<Answer[]> {
  const { LD_PRELOAD: _preload, ...env } = process.env;
  const args = ['-c', PY, JSON.stringify(queries)];
  const { stdout } = await promisify(execFile)('python3', args, { env });
  return JSON.parse(stdout) as Answer[];
}

// glibc's EAI_* values (negative in Python's gaierror.errno) by name.
const GAI: Record<number, string> = {
  [-2]: 'EAI_NONAME',
  [-3]: 'EAI_AGAIN',
  [-4]: 'EAI_FAIL',
  [-5]: 'EAI_NODATA',
  [-6]: 'EAI_FAMILY',
  [-9]: 'EAI_ADDRFAMILY',
};

/** The loop's answer in Python's shape. */
async function ours(loop: AbstractEventLoop, q: Query): Promise<Answer> {
  try {
    if (q.op === 'ni') return { name: await loop.getnameinfo(q.host, q.port) };
    const opts = {
      ...(q.family !== undefined ? { family: q.family } : {}),
      ...(q.type !== undefined ? { type: q.type } : {}),
    };
    const all = await loop.getaddrinfo(q.host as string, q.port, opts);
    return { ok: all.map((a) => [a.family, a.socktype, a.protocol, a.address, a.port]) };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const errno = Object.entries(GAI).find(([, name]) => name === code)?.[0];
    if (errno === undefined) throw err;
    return { gai: Number(errno) };
  }
}

/** Entries in a fixed order (the API does not promise one between families). */
function sorted(a: Answer): Answer {
  if (!('ok' in a)) return a;
  return { ok: [...a.ok].sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1)) };
}

export function uvloopDnsPort(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = cases(test, makeLoop, `${name}: uvloop dns`);

  /** Each query answered by the loop as Python answers it. */
  const same = (title: string, queries: Query[], ordered = true): void =>
    it(title, async ({ loop }, t) => {
      const expected = await within(python(queries), 'python3', 20000);
      for (const [i, q] of queries.entries()) {
        const got = await within(ours(loop, q), JSON.stringify(q), 20000);
        if (ordered) t.deepEqual(got, expected[i], JSON.stringify(q));
        else t.deepEqual(sorted(got), sorted(expected[i]!), JSON.stringify(q));
      }
    });

  const STREAM = 1;
  same('test_getaddrinfo_12, _20: 127.0.0.1, every socket type or one', [
    { op: 'ai', host: '127.0.0.1', port: 80 },
    { op: 'ai', host: '127.0.0.1', port: 80, type: STREAM },
    { op: 'ai', host: '127.0.0.1', port: null },
  ]);
  same('test_getaddrinfo_19: ::1, every socket type or one', [
    { op: 'ai', host: '::1', port: 80 },
    { op: 'ai', host: '::1', port: 80, type: STREAM },
  ]);
  same(
    'test_getaddrinfo_16: localhost, every socket type or one, each family',
    [
      { op: 'ai', host: 'localhost', port: 80 },
      { op: 'ai', host: 'localhost', port: 80, type: STREAM },
      { op: 'ai', host: 'localhost', port: 80, family: 4 },
    ],
    false,
  );
  same('test_getaddrinfo_3: a name that does not resolve', [
    { op: 'ai', host: `a${'1'.repeat(50)}.wat`, port: 800 },
  ]);
  same('test_getaddrinfo_7, _10: no host is the loopback addresses', [
    { op: 'ai', host: null, port: 0 },
    { op: 'ai', host: null, port: 0, type: STREAM },
    { op: 'ai', host: null, port: 0, family: 4 },
  ]);
  same('test_getaddrinfo_8: an empty host does not resolve', [
    { op: 'ai', host: '', port: 0 },
    { op: 'ai', host: '', port: 0, type: STREAM },
  ]);
  same('test_getaddrinfo_21, _22: a 256+ character name is not cut into 0x7f000001', [
    { op: 'ai', host: `0x${'0'.repeat(246)}7f000001.example.com`, port: 80 },
    { op: 'ai', host: `0x${'0'.repeat(246)}7f000001.example.com`, port: 80, type: STREAM },
  ]);
  same('test_getnameinfo_1, _4: numeric addresses', [
    { op: 'ni', host: '127.0.0.1', port: 80 },
    { op: 'ni', host: '::1', port: 80 },
    { op: 'ni', host: '127.0.0.1', port: 0 },
  ]);

  it('test_getaddrinfo_4: a family that is none is a usage error (asyncio: EAI_FAMILY)', async ({
    loop,
  }, t) => {
    for (const family of [-1, 2, 10, 'x']) {
      await t.throwsAsync(loop.getaddrinfo('localhost', 80, { family: family as never }), {
        instanceOf: UsageError,
        code: family === 'x' ? 'ERR_INVALID_ARG_TYPE' : 'ERR_INVALID_ARG_VALUE',
      });
    }
  });

  it('test_getaddrinfo_close_loop: closing the loop under a running query', async ({ loop }, t) => {
    const query = loop.getaddrinfo('localhost', 80);
    loop.close();
    // Either answer is fine; the query must settle and leave nothing behind.
    await within(
      query.then(
        () => {},
        () => {},
      ),
      'the query settling',
    );
    t.true(loop.isClosed());
  });
}
