import test from 'ava';
import { NodeEventLoop, type LoopAddrInfo } from 'asyncuv';
import { assertNoLeaks, resourceCounts } from './resources.js';

const serial = test.serial;

serial(
  'addSignalHandler runs the callback through the loop; removeSignalHandler stops it',
  async (t) => {
    const base = resourceCounts();
    const loop = new NodeEventLoop();
    const before = process.listenerCount('SIGUSR2');
    const got: unknown[] = [];
    const arrived = new Promise<void>((resolve) => {
      loop.addSignalHandler(
        'SIGUSR2',
        (tag: string) => {
          got.push(tag);
          resolve();
        },
        'usr2',
      );
    });
    t.is(process.listenerCount('SIGUSR2'), before + 1);
    process.kill(process.pid, 'SIGUSR2');
    await arrived;
    t.deepEqual(got, ['usr2']);
    t.true(loop.removeSignalHandler(12)); // SIGUSR2 by number
    t.false(loop.removeSignalHandler('SIGUSR2'));
    t.is(process.listenerCount('SIGUSR2'), before);
    t.throws(() => loop.addSignalHandler('SIGKILL', () => {}), { code: 'ERR_INVALID_ARG_VALUE' });
    t.throws(() => loop.addSignalHandler('SIGNOPE', () => {}), { code: 'ERR_UNKNOWN_SIGNAL' });
    // close() removes what is left.
    loop.addSignalHandler('SIGUSR2', () => {});
    loop.close();
    t.is(process.listenerCount('SIGUSR2'), before);
    await assertNoLeaks(t, base);
  },
);

serial('getaddrinfo resolves localhost and literals with asyncio-shaped entries', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  // One entry per socket type, as getaddrinfo(3) answers asyncio (and UvEventLoop).
  const v4: LoopAddrInfo[] = await loop.getaddrinfo('127.0.0.1', 80);
  t.deepEqual(v4, [
    { family: 4, socktype: 1, protocol: 6, address: '127.0.0.1', port: 80 },
    { family: 4, socktype: 2, protocol: 17, address: '127.0.0.1', port: 80 },
    { family: 4, socktype: 3, protocol: 0, address: '127.0.0.1', port: 80 },
  ]);
  const stream: LoopAddrInfo[] = await loop.getaddrinfo('127.0.0.1', 80, { type: 1 });
  t.deepEqual(stream, [{ family: 4, socktype: 1, protocol: 6, address: '127.0.0.1', port: 80 }]);
  const local = await loop.getaddrinfo('localhost', null);
  t.true(local.length > 0);
  t.true(
    local.every(
      (a) =>
        (a.family === 4 && a.address.includes('.')) || (a.family === 6 && a.address.includes(':')),
    ),
  );
  const only6 = await loop.getaddrinfo('::1', 443, { family: 6, type: 1 });
  t.deepEqual(
    only6.map((a) => [a.address, a.port, a.family]),
    [['::1', 443, 6]],
  );
  const err = await t.throwsAsync(loop.getaddrinfo('no-such-host.invalid', 80));
  t.regex((err as { code?: string }).code ?? '', /ENOTFOUND|EAI_NONAME|EAI_AGAIN/);
  t.regex(err!.message, /no-such-host\.invalid/, 'the message names the host, as on UvEventLoop');
  loop.close();
  await assertNoLeaks(t, base);
});

serial('getnameinfo turns an address and port back into names', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const [host, service] = await loop.getnameinfo('127.0.0.1', 22);
  t.true(host.length > 0);
  t.is(service, 'ssh');
  loop.close();
  await assertNoLeaks(t, base);
});
