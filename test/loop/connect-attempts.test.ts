// createConnection's attempts (asyncio's happy_eyeballs_delay, interleave,
// all_errors and family=): the order and the race of connectFirst with
// attempts the test controls (this machine's names resolve to one address,
// so the race cannot be staged with real ones), then the options through
// createConnection and createServer on both loops.
import test from 'ava';
import net from 'node:net';
import { UvError } from 'asyncuv';
import { attemptOrder, connectFirst, type Attempts } from '../../loop/connect-attempts.js';
import type { ResolvedAddress } from '../../loop/resolve.js';
import { EchoProtocol } from '../adapters/protocols.js';
import { bothEventLoops } from '../helpers/event-loop-test.js';
import { within } from '../helpers/loop-test.js';

const v4 = (n: number): ResolvedAddress => ({ address: `10.0.0.${n}`, family: 4 });
const v6 = (n: number): ResolvedAddress => ({ address: `fd00::${n}`, family: 6 });

test('attemptOrder keeps one family, and interleaves as RFC 8305 orders', (t) => {
  const mixed = [v6(1), v6(2), v6(3), v4(1), v4(2)];
  const names = (list: ResolvedAddress[]): string[] => list.map((a) => a.address);
  t.deepEqual(names(attemptOrder(mixed, {}, 'h')), names(mixed), 'as resolved by default');
  t.deepEqual(names(attemptOrder(mixed, { family: 4 }, 'h')), ['10.0.0.1', '10.0.0.2']);
  t.deepEqual(
    names(attemptOrder(mixed, { happyEyeballsDelay: 0.25 }, 'h')),
    ['fd00::1', '10.0.0.1', 'fd00::2', '10.0.0.2', 'fd00::3'],
    'interleave 1 by default with a delay',
  );
  t.deepEqual(names(attemptOrder(mixed, { interleave: 2 }, 'h')), [
    'fd00::1',
    'fd00::2',
    '10.0.0.1',
    'fd00::3',
    '10.0.0.2',
  ]);
  const err = t.throws(() => attemptOrder([v4(1)], { family: 6 }, 'h'), { instanceOf: UvError });
  t.is(err?.code, 'EAI_ADDRFAMILY');
});

/** An attempt per address that the test settles, with what happened to each. */
function scripted(late?: string): Attempts<string> & {
  log: string[];
  fire(): void;
  settle: Map<string, { ok: () => void; fail: (code: string) => void; aborted: () => boolean }>;
} {
  const log: string[] = [];
  const timers = new Set<() => void>();
  const settle = new Map<
    string,
    { ok: () => void; fail: (code: string) => void; aborted: () => boolean }
  >();
  return {
    log,
    settle,
    connect: (address, signal) =>
      new Promise<string>((resolve, reject) => {
        log.push(`start ${address.address}`);
        signal?.addEventListener('abort', () => {
          log.push(`cancel ${address.address}`);
          // `late` connected just as it was cancelled: it resolves anyway.
          if (address.address !== late) reject(new Error('aborted'));
        });
        settle.set(address.address, {
          ok: () => resolve(address.address),
          fail: (code) => reject(new UvError(-(Object.keys(settle).length + 111), 'connect', code)),
          aborted: () => signal?.aborted === true,
        });
      }),
    discard: (sock) => log.push(`discard ${sock}`),
    // The delay is the test's to end (fire()), not the clock's.
    after: (_seconds, cb) => {
      timers.add(cb);
      return () => timers.delete(cb);
    },
    fire: () => {
      const due = [...timers];
      timers.clear();
      for (const cb of due) cb();
    },
    stopped: () => false,
  };
}

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('staggered attempts: the next starts after the delay, the first to connect wins, the rest are cancelled', async (t) => {
  const a = scripted();
  const opts = { happyEyeballsDelay: 0.05 };
  const winner = connectFirst([v6(1), v4(1), v6(2)], opts, 'h', a);
  await tick();
  t.deepEqual(a.log, ['start fd00::1']);
  a.fire();
  t.deepEqual(a.log, ['start fd00::1', 'start 10.0.0.1'], 'the delay started the second');
  a.settle.get('10.0.0.1')!.ok();
  t.is(await within(winner, 'the winner'), '10.0.0.1');
  t.deepEqual(a.log, ['start fd00::1', 'start 10.0.0.1', 'cancel fd00::1']);
  a.fire();
  t.false(a.log.includes('start fd00::2'), 'no attempt after the winner');
});

test('staggered attempts: a failure starts the next at once; a late connection is closed', async (t) => {
  const a = scripted();
  const winner = connectFirst([v6(1), v4(1), v6(2)], { happyEyeballsDelay: 10 }, 'h', a);
  await tick();
  a.settle.get('fd00::1')!.fail('refused');
  await tick();
  t.deepEqual(a.log, ['start fd00::1', 'start 10.0.0.1'], 'no 10 s wait after a failure');
  a.settle.get('10.0.0.1')!.ok();
  t.is(await within(winner, 'the winner'), '10.0.0.1');
  // An attempt that connects after the race was decided is discarded.
  const b = scripted('fd00::1');
  const race = connectFirst([v6(1), v4(1)], { happyEyeballsDelay: 0.01 }, 'h', b);
  b.fire();
  b.settle.get('10.0.0.1')!.ok();
  t.is(await within(race, 'the race'), '10.0.0.1');
  t.true(b.settle.get('fd00::1')!.aborted(), 'the loser was cancelled');
  b.settle.get('fd00::1')!.ok();
  await tick();
  t.deepEqual(b.log.slice(-2), ['cancel fd00::1', 'discard fd00::1']);
});

test('attempts that all fail: the last error, or every error with allErrors', async (t) => {
  for (const delay of [undefined, 0.01]) {
    const a = scripted();
    const opts = { happyEyeballsDelay: delay, allErrors: true };
    const all = connectFirst([v6(1), v4(1)], opts, 'h', a);
    a.fire();
    await tick();
    a.settle.get('fd00::1')!.fail('first');
    await tick();
    a.settle.get('10.0.0.1')!.fail('second');
    const err = await t.throwsAsync(all, { instanceOf: AggregateError });
    t.deepEqual(
      (err!.errors as UvError[]).map((e) => e.message.split(' ').pop()),
      ['first', 'second'],
    );
    const b = scripted();
    const last = connectFirst([v6(1), v4(1)], { happyEyeballsDelay: delay }, 'h', b);
    b.fire();
    await tick();
    b.settle.get('fd00::1')!.fail('first');
    await tick();
    b.settle.get('10.0.0.1')!.fail('second');
    const one = await t.throwsAsync(last, { instanceOf: UvError });
    t.true(one!.message.endsWith('second'));
  }
});

for (const [name, onLoop] of bothEventLoops) {
  test(`${name}: createConnection and createServer take family, happyEyeballsDelay and allErrors`, (t) =>
    onLoop(t, async (loop) => {
      const server = await loop.createServer(() => new EchoProtocol(), null, 0, { family: 4 });
      try {
        const sockets = server.sockets();
        t.deepEqual(
          sockets.map((s) => s.family),
          ['IPv4'],
          'one IPv4 listener for every interface',
        );
        const { port } = sockets[0]!;
        const [transport] = await loop.createConnection(() => ({}), 'localhost', port, {
          family: 4,
          happyEyeballsDelay: 0.25,
        });
        t.deepEqual(transport.getExtraInfo('peername'), ['127.0.0.1', port]);
        transport.close();
        await t.throwsAsync(
          loop.createConnection(() => ({}), '127.0.0.1', port, { family: 6 }),
          {
            instanceOf: UvError,
            code: 'EAI_ADDRFAMILY',
          },
        );
        await t.throwsAsync(
          loop.createServer(() => ({}), '127.0.0.1', 0, { family: 6 }),
          {
            code: 'EAI_ADDRFAMILY',
          },
        );
        await t.throwsAsync(
          loop.createConnection(() => ({}), 'localhost', port, { family: 5 as 4 }),
          {
            code: 'ERR_INVALID_ARG_VALUE',
          },
        );
        await t.throwsAsync(
          loop.createConnection(() => ({}), 'localhost', port, { happyEyeballsDelay: -1 }),
          { code: 'ERR_OUT_OF_RANGE' },
        );
        // A port nobody listens on: every attempt's error in one AggregateError.
        const closed = net.createServer();
        await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
        const free = (closed.address() as net.AddressInfo).port;
        await new Promise((r) => closed.close(r));
        const err = await t.throwsAsync(
          within(
            loop.createConnection(() => ({}), '127.0.0.1', free, { allErrors: true }),
            'refused',
          ),
          { instanceOf: AggregateError },
        );
        t.is((err!.errors[0] as UvError).code, 'ECONNREFUSED');
      } finally {
        server.close();
        await within(server.waitClosed(), 'the server closed');
      }
    }));
}
