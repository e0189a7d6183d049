import test from 'ava';
import net from 'node:net';
import { Loop } from '../../handles/loop.js';
import { Registrar } from '../../adapters/rel.js';
import { assertNoHandlesAndClose } from '../helpers/loop-test.js';
import { connectedTcpFd } from '../helpers/socket-fd.js';

test('timeouts re-arm while the callback returns true', async (t) => {
  const loop = new Loop();
  const rel = new Registrar(loop);
  let n = 0;
  const seen: string[] = [];
  rel.timeout(
    0.005,
    (tag: string) => {
      seen.push(tag);
      return ++n < 3;
    },
    'tick',
  );
  await rel.dispatch();
  t.is(n, 3);
  t.deepEqual(seen, ['tick', 'tick', 'tick']);
  await assertNoHandlesAndClose(t, loop);
});

test('read fires on a readable socket fd; delete() stops it', async (t) => {
  const loop = new Loop();
  const rel = new Registrar(loop);
  // The client closes with the 'x' unread, which resets the connection.
  const server = net.createServer((s) => s.on('error', () => {}).write('x'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sock = await connectedTcpFd((server.address() as net.AddressInfo).port);
  const fd = sock.fd;
  let reads = 0;
  const event = rel.read(fd, () => {
    reads++;
    return true; // stays armed until deleted
  });
  // Level-triggered: the unread byte keeps the fd readable, so reads go on.
  for (let i = 0; i < 1000 && reads < 2; i++) await new Promise((r) => setTimeout(r, 5));
  t.true(reads >= 2);
  t.true(event.pending());
  event.delete();
  t.false(event.pending());
  await rel.dispatch();
  sock.close();
  server.close();
  await assertNoHandlesAndClose(t, loop);
});

test('signal callbacks and abort()', async (t) => {
  const loop = new Loop();
  const rel = new Registrar(loop);
  let got = 0;
  rel.signal('SIGUSR2', () => {
    got++;
    return true;
  });
  rel.timeout(0.02, () => {
    process.kill(process.pid, 'SIGUSR2');
  });
  rel.timeout(0.3, () => rel.abort());
  await rel.dispatch();
  t.is(got, 1);
  await assertNoHandlesAndClose(t, loop);
});

test('an exception from a callback rejects dispatch and bad arguments are typed errors', async (t) => {
  const loop = new Loop();
  const rel = new Registrar(loop);
  rel.timeout(0.001, () => {
    throw new Error('boom');
  });
  await t.throwsAsync(rel.dispatch(), { message: 'boom' });
  t.throws(() => rel.timeout(-1, () => true), { code: 'ERR_OUT_OF_RANGE' } as never);
  t.throws(() => rel.read(0, 'no' as never), { code: 'ERR_INVALID_ARG_TYPE' } as never);
  t.throws(() => rel.signal('SIGNOPE', () => true), { code: 'ERR_UNKNOWN_SIGNAL' } as never);
  await assertNoHandlesAndClose(t, loop);
});
