import test from 'ava';
import { dns, UvError } from 'asyncuv';
import { assertNoHandlesAndClose, newLoop } from '../helpers/loop-test.js';

test('getaddrinfo resolves localhost from /etc/hosts', async (t) => {
  const loop = newLoop(t);
  const result = await dns.getaddrinfo(loop, 'localhost', 80, {
    socktype: dns.constants.SOCK_STREAM,
  });
  t.true(result.length > 0);
  for (const entry of result) {
    t.true(entry.address === '127.0.0.1' || entry.address === '::1', entry.address);
    t.is(entry.family, entry.address.includes(':') ? 'IPv6' : 'IPv4');
    t.is(entry.port, 80);
    t.is(entry.socktype, dns.constants.SOCK_STREAM);
    t.is(entry.protocol, dns.constants.IPPROTO_TCP);
  }
  await assertNoHandlesAndClose(t, loop);
});

test('getaddrinfo honours the family hint and numeric hosts', async (t) => {
  const loop = newLoop(t);
  const v4 = await dns.getaddrinfo(loop, 'localhost', undefined, { family: 4 });
  t.true(v4.length > 0);
  t.true(v4.every((e) => e.family === 'IPv4' && e.port === 0));
  const v6 = await dns.getaddrinfo(loop, '::1', 'http', {
    family: 'IPv6',
    flags: dns.constants.AI_NUMERICHOST,
  });
  t.true(v6.every((e) => e.address === '::1' && e.port === 80));
  // Each spelling of the family: 0 (any), 4 / 'IPv4', 6 / 'IPv6'.
  for (const [family, expected] of [
    [0, undefined],
    [4, 'IPv4'],
    ['IPv4', 'IPv4'],
    [6, 'IPv6'],
    ['IPv6', 'IPv6'],
  ] as const) {
    const host = expected === 'IPv6' ? '::1' : '127.0.0.1';
    const found = await dns.getaddrinfo(loop, host, 80, { family });
    t.true(found.length > 0, String(family));
    t.true(
      found.every((e) => e.family === (expected ?? 'IPv4')),
      String(family),
    );
  }
  await assertNoHandlesAndClose(t, loop);
});

test('a name that cannot resolve rejects with an EAI_ code', async (t) => {
  const loop = newLoop(t);
  // The machine has no DNS server, so the failure may be NONAME or AGAIN.
  const err = await t.throwsAsync(dns.getaddrinfo(loop, 'no-such-host.invalid'), {
    instanceOf: UvError,
  });
  t.regex(err!.code, /^EAI_/);
  t.is(err!.syscall, 'getaddrinfo');
  const numeric = await t.throwsAsync(
    dns.getaddrinfo(loop, 'not-numeric', 80, { flags: dns.constants.AI_NUMERICHOST }),
    { instanceOf: UvError },
  );
  t.is(numeric!.code, 'EAI_NONAME');
  await assertNoHandlesAndClose(t, loop);
});

test('getnameinfo maps 127.0.0.1:80 to a host and a service', async (t) => {
  const loop = newLoop(t);
  const { host, service } = await dns.getnameinfo(loop, '127.0.0.1', 80);
  t.is(typeof host, 'string');
  t.true(host.length > 0);
  t.true(service === 'http' || service === '80', service);
  const numeric = await dns.getnameinfo(
    loop,
    '127.0.0.1',
    80,
    dns.constants.NI_NUMERICHOST | dns.constants.NI_NUMERICSERV,
  );
  t.deepEqual(numeric, { host: '127.0.0.1', service: '80' });
  await assertNoHandlesAndClose(t, loop);
});

test('bad arguments are typed usage errors', async (t) => {
  const loop = newLoop(t);
  await t.throwsAsync(dns.getaddrinfo(loop, 42 as unknown as string), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  await t.throwsAsync(dns.getaddrinfo(loop, undefined), { code: 'ERR_INVALID_ARG_VALUE' });
  await t.throwsAsync(dns.getaddrinfo(loop, 'localhost', 70000), { code: 'ERR_OUT_OF_RANGE' });
  await t.throwsAsync(dns.getaddrinfo(loop, 'localhost', 80, { family: 5 as 4 }), {
    code: 'ERR_INVALID_ARG_VALUE',
  });
  await t.throwsAsync(dns.getnameinfo(loop, 'localhost', 80), { code: 'ERR_INVALID_ARG_VALUE' });
  await assertNoHandlesAndClose(t, loop);
});

test('a lookup in flight keeps the loop alive', async (t) => {
  const loop = newLoop(t);
  t.false(loop.alive);
  const pending = dns.getaddrinfo(loop, 'localhost', 80);
  t.true(loop.alive, 'alive while the lookup runs');
  await pending;
  t.false(loop.alive, 'and no longer once it completed');
  loop.close();
});

test('loop.close() waits for a lookup in flight', async (t) => {
  const loop = newLoop(t);
  const pending = dns.getaddrinfo(loop, 'localhost', 443);
  t.deepEqual(loop.handleCounts(), {}, 'requests are not handles');
  loop.close();
  const result = await pending;
  t.true(result.length > 0);
  t.true(result.every((e) => e.port === 443));
});
