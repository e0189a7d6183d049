// Random sequences of calls on one live handle (start/stop/read/write/ref/
// unref/close... in any order, with the event loop turning in between),
// then close: every call returns or throws a typed error, the handle's
// state answers stay consistent, and no handle outlives the test.
import test from 'ava';
import fc from 'fast-check';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { Timer } from '../../handles/timer.js';
import type { Handle } from '../../handles/handle.js';
import { loopTest } from '../helpers/loop-test.js';
import { attempt, check, show, totalLine } from './arbitraries.js';
import {
  closeEnv,
  handleMethods,
  makeEnv,
  mayReturnWhenClosed,
  resolve,
  type Env,
  type MethodSpec,
} from './handle-specs.js';
import { makers } from './handle-makers.js';
import { boundUdpFd } from '../helpers/socket-fd.js';

/** Whether `call` throws ERR_HANDLE_CLOSED. */
function throwsClosed(call: () => unknown): boolean {
  try {
    call();
    return false;
  } catch (error) {
    return (error as { code?: unknown }).code === 'ERR_HANDLE_CLOSED';
  }
}

const { fd: pollFd, close: closePollFd } = boundUdpFd();
test.after.always(() => {
  closePollFd();
  console.log(totalLine('handles-order'));
});

let sockSeq = 0;
const kTick = { name: 'tick' } as const;

for (const maker of makers(pollFd)) {
  loopTest(
    `${maker.name}: random call sequences keep every answer typed and consistent`,
    async (t, loop) => {
      const env = makeEnv(loop);
      const envRef = (): Env => env;
      const specs: MethodSpec[] = [...maker.methods(envRef), ...handleMethods];
      const call = fc.oneof(
        {
          weight: 6,
          arbitrary: fc.oneof(
            ...specs.map((spec) =>
              fc.record({ spec: fc.constant(spec), args: fc.tuple(...spec.args) }),
            ),
          ),
        },
        { weight: 1, arbitrary: fc.constant(kTick) },
      );
      try {
        await check(
          t,
          `${maker.name} order`,
          fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 12 }), async (steps) => {
            const fresh: Handle[] = [];
            const h = maker.make(env);
            const log: string[] = [];
            try {
              for (const step of steps) {
                if (!('spec' in step)) {
                  log.push('tick');
                  await tick();
                  continue;
                }
                const { spec, args } = step;
                const wasClosed = h.closed;
                const real = args.map((a) =>
                  resolve(a, env, fresh, () => `${env.dir}/o${sockSeq++}`),
                );
                const what = `${maker.name}.${spec.name}(${args.map(show).join(', ')}) after [${log.join('; ')}]`;
                log.push(spec.name);
                let returned = false;
                attempt(what, () => {
                  spec.call(h as unknown as Record<string, unknown>, real);
                  returned = true;
                });
                if (wasClosed && returned && !mayReturnWhenClosed(spec))
                  throw new Error(`${what} returned on a closed handle`);
                // State queries agree with close(): a closed handle is not active,
                // and hasRef() refuses it as every method but close() does.
                if (h.closed && (h.active || !throwsClosed(() => h.hasRef())))
                  throw new Error(`${what}: closed but active=${h.active} or hasRef() answered`);
              }
            } finally {
              h.close();
              maker.cleanup?.(h);
              for (const f of fresh) f.close();
            }
            if (!h.closed || h.active) throw new Error('close() left the handle open or active');
          }),
          20,
        );
      } finally {
        closeEnv(env);
      }
    },
  );
}

// Switching between the read APIs of a connected stream while the peer
// writes: every byte arrives once, in order, whichever API delivered it.
// Found by the sequences above (on a TTY): setReadBuffer() then readStart(),
// or setReadBuffer() while reading with readStart(), made the read callback
// throw an uncaught exception (Buffer.from(undefined)).
type ReadStep = 'readStart' | 'readStartInto' | 'setReadBuffer' | 'readStop' | 'tick' | 'peerWrite';
loopTest(
  'TCP: readStart/readStartInto/setReadBuffer/readStop in any order lose, repeat or garble no byte',
  async (t, loop) => {
    const { TCP } = await import('../../handles/tcp.js');
    const server = new TCP(loop);
    server.bind('127.0.0.1', 0);
    const accepted: Array<InstanceType<typeof TCP>> = [];
    server.listen(16, () => {
      const c = new TCP(loop);
      server.accept(c);
      accepted.push(c);
    });
    const port = server.getsockname().port;
    try {
      await check(
        t,
        'read API switching',
        fc.asyncProperty(
          fc.array(
            fc.constantFrom<ReadStep>(
              'readStart',
              'readStartInto',
              'setReadBuffer',
              'readStop',
              'tick',
              'peerWrite',
              'peerWrite',
            ),
            { minLength: 1, maxLength: 16 },
          ),
          fc.integer({ min: 1, max: 8 }),
          async (steps, bufSize) => {
            const client = new TCP(loop);
            await new Promise<void>((resolve, reject) =>
              client.connect('127.0.0.1', port, (err) => (err ? reject(err) : resolve())),
            );
            for (let i = 0; i < 200 && accepted.length === 0; i++) await tick();
            const peer = accepted.shift()!;
            const got: number[] = [];
            const sent: number[] = [];
            let seqByte = 0;
            const errors: unknown[] = [];
            const onRead = (err: unknown, data: Buffer | null): void => {
              if (err) errors.push(err);
              else if (data !== null) got.push(...data);
            };
            let intoBuffer = new Uint8Array(bufSize);
            const onInto = (err: unknown, n: number): void => {
              if (err) errors.push(err);
              else got.push(...intoBuffer.subarray(0, n));
            };
            try {
              for (const s of steps) {
                if (s === 'tick') await tick();
                else if (s === 'peerWrite') {
                  const chunk = Buffer.from(
                    Array.from({ length: 1 + (seqByte % 5) }, () => seqByte++ % 251),
                  );
                  sent.push(...chunk);
                  peer.write(chunk);
                } else if (s === 'readStart') client.readStart(onRead);
                else if (s === 'readStartInto') {
                  intoBuffer = new Uint8Array(bufSize);
                  client.readStartInto(intoBuffer, onInto);
                } else if (s === 'setReadBuffer') {
                  const b = new Uint8Array(bufSize);
                  client.setReadBuffer(b);
                  intoBuffer = b;
                } else client.readStop();
              }
              // Drain: read the rest with readStart.
              client.readStart(onRead);
              for (let i = 0; i < 500 && got.length < sent.length; i++) await tick();
              if (errors.length > 0)
                throw new Error(`read errors ${show(errors)} after ${show(steps)}`);
              if (got.length !== sent.length || got.some((b, i) => b !== sent[i]))
                throw new Error(`got ${show(got)}, sent ${show(sent)} after ${show(steps)}`);
            } finally {
              client.close();
              peer.close();
            }
          },
        ),
        40,
      );
    } finally {
      for (const c of accepted) c.close();
      server.close();
    }
  },
);

// Writes, shutdowns, reads and closes in any order on a connected stream:
// every write and shutdown callback runs exactly once, later (never inside
// the call), with null or a typed error, in the order the writes were made.
type LiveStep =
  | 'write'
  | 'writev'
  | 'writeString'
  | 'tryWrite'
  | 'shutdown'
  | 'readStart'
  | 'readStop'
  | 'close'
  | 'closeReset'
  | 'peerClose'
  | 'tick';
loopTest(
  'TCP: write/shutdown callbacks run once each, in order, whatever the order of writes, reads and closes',
  async (t, loop) => {
    const { TCP } = await import('../../handles/tcp.js');
    const server = new TCP(loop);
    server.bind('127.0.0.1', 0);
    const accepted: Array<InstanceType<typeof TCP>> = [];
    server.listen(16, () => {
      const c = new TCP(loop);
      server.accept(c);
      c.readStart(() => {});
      accepted.push(c);
    });
    const port = server.getsockname().port;
    try {
      await check(
        t,
        'live stream callbacks',
        fc.asyncProperty(
          fc.array(
            fc.constantFrom<LiveStep>(
              'write',
              'write',
              'writev',
              'writeString',
              'tryWrite',
              'shutdown',
              'readStart',
              'readStop',
              'close',
              'closeReset',
              'peerClose',
              'tick',
            ),
            { minLength: 1, maxLength: 14 },
          ),
          fc.integer({ min: 1, max: 200_000 }),
          async (steps, size) => {
            const client = new TCP(loop);
            await new Promise<void>((resolve, reject) =>
              client.connect('127.0.0.1', port, (err) => (err ? reject(err) : resolve())),
            );
            for (let i = 0; i < 200 && accepted.length === 0; i++) await tick();
            const peer = accepted.shift()!;
            const made: number[] = [];
            const kinds = new Map<number, LiveStep>();
            const done: number[] = [];
            const bad: string[] = [];
            let inCall = false;
            const cbFor =
              (id: number) =>
              (err: unknown): void => {
                if (inCall) bad.push(`callback ${id} ran inside the call`);
                if (
                  err !== null &&
                  !(err instanceof Error && typeof (err as { code?: unknown }).code === 'string')
                )
                  bad.push(`callback ${id}: untyped ${show(err)}`);
                done.push(id);
              };
            const log: string[] = [];
            try {
              for (const s of steps) {
                log.push(s);
                if (s === 'tick') {
                  await tick();
                  continue;
                }
                if (s === 'peerClose') {
                  peer.close();
                  continue;
                }
                const id = made.length;
                inCall = true;
                const ok = attempt(`${s} after [${log.join('; ')}]`, () => {
                  if (s === 'write') client.write(Buffer.alloc(size, 1), cbFor(id));
                  else if (s === 'writev')
                    client.write([Buffer.alloc(size >> 1, 2), Buffer.alloc(3, 3)], cbFor(id));
                  else if (s === 'writeString') client.write('é'.repeat(size >> 4), cbFor(id));
                  else if (s === 'shutdown') client.shutdown(cbFor(id));
                  else if (s === 'tryWrite') return client.tryWrite(Buffer.alloc(size, 4));
                  else if (s === 'readStart') client.readStart(() => {});
                  else if (s === 'readStop') client.readStop();
                  else if (s === 'close') client.close();
                  else client.closeReset();
                  return true;
                });
                inCall = false;
                if (
                  ok !== undefined &&
                  (s === 'write' || s === 'writev' || s === 'writeString' || s === 'shutdown')
                ) {
                  made.push(id);
                  kinds.set(id, s);
                }
              }
              client.close();
              for (let i = 0; i < 500 && done.length < made.length; i++) await tick();
              if (bad.length > 0) throw new Error(`${bad.join('; ')} after [${log.join('; ')}]`);
              const once =
                made.every((id) => done.filter((d) => d === id).length === 1) &&
                done.length === made.length;
              if (!once)
                throw new Error(
                  `callbacks ${show(done)} for calls ${show(made)} after [${log.join('; ')}]`,
                );
              const writesDone = done.filter((id) => kinds.get(id) !== 'shutdown');
              if (writesDone.some((id, i) => i > 0 && id < writesDone[i - 1]!))
                throw new Error(
                  `write callbacks out of order ${show(done)} after [${log.join('; ')}]`,
                );
            } finally {
              client.close();
              peer.close();
            }
          },
        ),
        40,
      );
    } finally {
      for (const c of accepted) c.close();
      server.close();
    }
  },
);

// Found by the 2,000-case run (through rel.timeout(0, () => true)): a timer
// restarted with 0 ms from a timer callback ran again in the same libuv pass,
// forever, and the thread hung. Timers restarting themselves or each other
// with any small timeout must let Node's loop (setImmediate) go on.
loopTest(
  'Timer: timers restarting themselves or each other from their callbacks never starve the thread',
  async (t, loop) => {
    await check(
      t,
      'timer restarts',
      fc.asyncProperty(
        fc.array(
          fc.record({
            ms: fc.constantFrom(0, 0, 1, 2),
            repeat: fc.constantFrom(0, 0, 1),
            other: fc.nat(3),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        async (plan) => {
          const timers = plan.map(() => new Timer(loop));
          const fired = timers.map(() => 0);
          plan.forEach((p, i) => {
            const cb = (): void => {
              fired[i]!++;
              // Restart itself and poke another timer, both with tiny timeouts.
              timers[i]!.start(cb, p.ms, p.repeat);
              const j = p.other % timers.length;
              if (j !== i) timers[j]!.start(() => fired[j]!++, 0);
            };
            timers[i]!.start(cb, p.ms, p.repeat);
          });
          try {
            const ok = await Promise.race([
              tick()
                .then(() => tick())
                .then(() => true),
              sleep(3000).then(() => false),
            ]);
            if (!ok) throw new Error(`Node's loop starved by ${show(plan)}`);
            // They do fire (bounded wait: the machine may be loaded).
            for (let i = 0; i < 500 && fired.every((n) => n === 0); i++) await sleep(2);
            if (fired.every((n) => n === 0))
              throw new Error(`no timer fired in 1 s: ${show(plan)}`);
          } finally {
            for (const timer of timers) timer.close();
          }
        },
      ),
      30,
    );
  },
);
