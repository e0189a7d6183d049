// The Loop (handles/) and both AbstractEventLoops (UvEventLoop, NodeEventLoop):
// every method with wrong arguments, random run/stop/close orders, timers
// that fire in deadline order, and the enum arguments that must reject any
// other string (including inherited keys such as 'constructor').
import test from 'ava';
import fc from 'fast-check';
import { openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { Loop } from '../../handles/loop.js';
import { kNative } from '../../handles/internal.js';
import { Pipe } from '../../handles/pipe.js';
import { Timer } from '../../handles/timer.js';
import { TTY } from '../../handles/tty.js';
import * as fs from '../../handles/fs.js';
import { UsageError } from '../../errors/usage-error.js';
import type { AbstractEventLoop } from '../../loop/events.js';
import { loopTest } from '../helpers/loop-test.js';
import {
  arg,
  attempt,
  attemptAsync,
  badFd,
  check,
  garbage,
  prototypeKeys,
  show,
  totalLine,
} from './arbitraries.js';
import { loopKinds } from './loop-kinds.js';

test.after.always(() => console.log(totalLine('loop')));

function expectCode(what: string, fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof UsageError && err.code === code) return;
    throw new Error(`${what}: expected UsageError ${code}, got ${show(err)} ${String(err)}`, {
      cause: err,
    });
  }
  throw new Error(`${what}: returned, expected UsageError ${code}`);
}

const notIn = (set: readonly string[]): fc.Arbitrary<string> =>
  fc
    .oneof(fc.constantFrom(...prototypeKeys), fc.string({ maxLength: 10 }))
    .filter((s) => !set.includes(s));

loopTest(
  'enum arguments: any other string, inherited keys included, is ERR_INVALID_ARG_VALUE',
  async (t, loop) => {
    const pty = openSync('/dev/ptmx', 'r+');
    const tty = new TTY(loop, pty, true);
    const pipe = new Pipe(loop);
    try {
      await check(
        t,
        'enum strings',
        fc.asyncProperty(
          notIn(['default', 'once', 'nowait']),
          notIn(['normal', 'raw', 'io']),
          notIn(['r', 'w', 'rw']),
          notIn(['r', 'r+', 'w', 'wx', 'w+', 'wx+', 'a', 'ax', 'a+', 'ax+']),
          async (mode, ttyMode, pipeMode, flags) => {
            expectCode(
              `loop.run(${show(mode)})`,
              () => loop.run(mode as never),
              'ERR_INVALID_ARG_VALUE',
            );
            expectCode(
              `tty.setMode(${show(ttyMode)})`,
              () => tty.setMode(ttyMode as never),
              'ERR_INVALID_ARG_VALUE',
            );
            expectCode(
              `pipe.chmod(${show(pipeMode)})`,
              () => pipe.chmod(pipeMode as never),
              'ERR_INVALID_ARG_VALUE',
            );
            const p = fs.open(loop, join(tmpdir(), 'asyncuv-fuzz-never-created'), flags as never);
            await p.then(
              (fd) => {
                throw new Error(`fs.open with flags ${show(flags)} opened fd ${fd}`);
              },
              (err: unknown) => {
                if (!(err instanceof UsageError && err.code === 'ERR_INVALID_ARG_VALUE'))
                  throw new Error(`fs.open flags ${show(flags)}: ${String(err)}`);
              },
            );
          },
        ),
        60,
      );
    } finally {
      tty.close();
      pipe.close();
    }
  },
);

// Ops on a Loop in any order. Only handles that end by themselves (one-shot
// timers) are started, so run('default') always returns.
type LoopOp =
  | { op: 'run'; mode: unknown }
  | { op: 'timer'; ms: number; reenter: boolean }
  | {
      op:
        | 'stop'
        | 'close'
        | 'now'
        | 'updateTime'
        | 'alive'
        | 'running'
        | 'handles'
        | 'handleCounts'
        | 'fileno'
        | 'tick';
    };

const loopOp: fc.Arbitrary<LoopOp> = fc.oneof(
  fc.record({
    op: fc.constant('run' as const),
    mode: arg(fc.constantFrom('default', 'once', 'nowait', undefined)),
  }),
  fc.record({ op: fc.constant('timer' as const), ms: fc.nat(15), reenter: fc.boolean() }),
  fc.record({
    op: fc.constantFrom(
      'stop',
      'close',
      'now',
      'updateTime',
      'alive',
      'running',
      'handles',
      'handleCounts',
      'fileno',
      'tick',
    ),
  }),
);

test('Loop: random run/stop/close/timer orders; re-entrant run/close throw ERR_LOOP_RUNNING; closed loops refuse work', async (t) => {
  await check(
    t,
    'loop order',
    fc.asyncProperty(fc.array(loopOp, { minLength: 1, maxLength: 10 }), async (ops) => {
      const loop = new Loop();
      const timers: Timer[] = [];
      const reentry: unknown[] = [];
      const log: string[] = [];
      // Set in finally, thrown after it: an error of the body must not be hidden.
      let leftover: string | undefined;
      try {
        for (const o of ops) {
          log.push(o.op);
          const what = `loop.${o.op} after [${log.join('; ')}]`;
          if (o.op === 'tick') {
            await tick();
            continue;
          }
          if (o.op === 'timer') {
            const timer = attempt(what, () => new Timer(loop));
            if (timer === undefined) {
              if (!loop.closed) throw new Error(`${what}: no Timer on an open loop`);
              continue;
            }
            timers.push(timer);
            timer.start(() => {
              if (!o.reenter) return;
              for (const fn of [() => loop.run('nowait'), () => loop.close()]) {
                try {
                  fn();
                  reentry.push('returned');
                } catch (err) {
                  reentry.push(err instanceof UsageError ? err.code : err);
                }
              }
            }, o.ms);
            continue;
          }
          const closedBefore = loop.closed;
          const fn = (): unknown =>
            o.op === 'run'
              ? loop.run(o.mode as never)
              : (loop as unknown as Record<string, () => unknown>)[o.op]!.call(loop);
          const getters = ['alive', 'running'];
          const result = attempt(what, () =>
            getters.includes(o.op) ? (loop as unknown as Record<string, unknown>)[o.op] : fn(),
          );
          if (
            closedBefore &&
            ['run', 'now', 'updateTime', 'fileno'].includes(o.op) &&
            (o.op !== 'run' || o.mode !== 'bogus')
          ) {
            expectCode(`${what} on a closed loop`, fn, 'ERR_LOOP_CLOSED');
          }
          if (o.op === 'handleCounts' && (typeof result !== 'object' || result === null))
            throw new Error(`${what}: ${show(result)}`);
        }
        if (reentry.some((r) => r !== 'ERR_LOOP_RUNNING'))
          throw new Error(`re-entrant run/close from a callback gave ${show(reentry)}`);
      } finally {
        for (const timer of timers) timer.close();
        if (!loop.closed) {
          for (let i = 0; i < 200 && Object.keys(loop.handleCounts()).length > 0; i++)
            await sleep(2);
          const left = loop.handleCounts();
          loop.close();
          if (Object.keys(left).length > 0)
            leftover = `handles left: ${show(left)} after [${log.join('; ')}]`;
        }
      }
      if (leftover !== undefined) throw new Error(leftover);
    }),
    40,
  );
});

// --- AbstractEventLoop ------------------------------------------------------

const noop = (): void => {};
const cbArg = arg(fc.constant(noop));
/** One method of the asyncio loop with wrong and plausible arguments. */
const loopCalls: Array<[string, fc.Arbitrary<unknown[]>]> = [
  ['callSoon', fc.tuple(cbArg, garbage)],
  ['callSoonThreadsafe', fc.tuple(cbArg)],
  [
    'callLater',
    fc.tuple(
      arg(
        fc.oneof(
          fc.double({ min: -1, max: 0.02, noNaN: true }),
          fc.constantFrom(1e300, 2 ** 31, 1e10),
        ),
      ),
      cbArg,
    ),
  ],
  [
    'callAt',
    fc.tuple(
      arg(fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constantFrom(1e300, -1e300))),
      cbArg,
    ),
  ],
  ['time', fc.tuple()],
  ['isRunning', fc.tuple()],
  ['isClosed', fc.tuple()],
  ['getDebug', fc.tuple()],
  ['setDebug', fc.tuple(garbage)],
  ['setExceptionHandler', fc.tuple(arg(fc.constant(null)))],
  ['getExceptionHandler', fc.tuple()],
  ['stop', fc.tuple()],
  [
    'runUntilComplete',
    fc.tuple(arg(fc.constantFrom(() => Promise.resolve(1), Promise.resolve(2)))),
  ],
  [
    'createConnection',
    fc.tuple(
      cbArg,
      arg(fc.constantFrom('127.0.0.1', '::1', 'no.such.host.invalid')),
      arg(fc.constantFrom(1, 0)),
      arg(
        fc.record(
          {
            localAddr: garbage,
            ssl: garbage,
            serverHostname: garbage,
            signal: garbage,
            sslHandshakeTimeout: garbage,
          },
          { requiredKeys: [] },
        ),
      ),
    ),
  ],
  [
    'createServer',
    fc.tuple(
      cbArg,
      arg(fc.constantFrom('127.0.0.1', null, ['127.0.0.1', '::1'], '300.0.0.1')),
      arg(fc.constant(0)),
      arg(
        fc.record(
          { backlog: garbage, reusePort: garbage, ssl: garbage, startServing: garbage },
          { requiredKeys: [] },
        ),
      ),
    ),
  ],
  [
    'createUnixConnection',
    fc.tuple(cbArg, arg(fc.constantFrom('/nonexistent/sock', '\0asyncuv-fuzz-none', '')), garbage),
  ],
  [
    'createUnixServer',
    fc.tuple(
      cbArg,
      arg(fc.constantFrom('\0asyncuv-fuzz-srv', '/nonexistent/dir/sock', '')),
      arg(fc.record({ backlog: garbage, startServing: garbage }, { requiredKeys: [] })),
    ),
  ],
  [
    'createDatagramEndpoint',
    fc.tuple(
      cbArg,
      arg(
        fc.record(
          {
            localAddr: arg(fc.constant(['127.0.0.1', 0])),
            remoteAddr: arg(fc.constant(['127.0.0.1', 1])),
            reusePort: garbage,
            allowBroadcast: garbage,
            family: garbage,
          },
          { requiredKeys: [] },
        ),
      ),
    ),
  ],
  ['connectReadPipe', fc.tuple(cbArg, badFd)],
  ['connectWritePipe', fc.tuple(cbArg, badFd)],
  [
    'subprocessExec',
    fc.tuple(
      cbArg,
      arg(fc.constantFrom('true', '/nonexistent', '')),
      arg(fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 })),
      arg(
        fc.record(
          { stdin: garbage, stdout: garbage, stderr: garbage, env: garbage, cwd: garbage },
          { requiredKeys: [] },
        ),
      ),
    ),
  ],
  [
    'subprocessShell',
    fc.tuple(
      cbArg,
      arg(fc.constantFrom('true', 'exit 3')),
      arg(fc.record({ stdin: arg(fc.constant('pipe')), env: garbage }, { requiredKeys: [] })),
    ),
  ],
  ['addReader', fc.tuple(badFd, cbArg)],
  ['addWriter', fc.tuple(badFd, cbArg)],
  ['removeReader', fc.tuple(badFd)],
  ['removeWriter', fc.tuple(badFd)],
  [
    'addSignalHandler',
    fc.tuple(
      arg(fc.constantFrom<unknown>('SIGUSR2', 'SIGKILL', 19, 'SIGFOO', ...prototypeKeys)),
      cbArg,
    ),
  ],
  [
    'removeSignalHandler',
    fc.tuple(arg(fc.constantFrom<unknown>('SIGUSR2', 'SIGFOO', 65, ...prototypeKeys))),
  ],
  [
    'getaddrinfo',
    fc.tuple(
      arg(fc.constantFrom('127.0.0.1', '::1', 'localhost', '')),
      arg(fc.constantFrom(null, 80, 'http')),
      arg(
        fc.record(
          { family: garbage, type: garbage, proto: garbage, flags: garbage },
          { requiredKeys: [] },
        ),
      ),
    ),
  ],
  [
    'getnameinfo',
    fc.tuple(arg(fc.constantFrom('127.0.0.1', '::1', 'localhost')), arg(fc.constantFrom(80, 0))),
  ],
  ['startTls', fc.tuple(garbage, garbage, garbage, garbage)],
];

/** Closes whatever a successful call made, so the leak check sees only real leaks. */
async function release(result: unknown): Promise<void> {
  const closeIt = (x: unknown): void => {
    const o = x as { close?: () => void; kill?: () => void } | null;
    if (typeof o?.kill === 'function') attempt('kill', () => o.kill!());
    if (typeof o?.close === 'function') o.close();
  };
  if (Array.isArray(result)) closeIt(result[0]);
  else closeIt(result);
  const server = result as { waitClosed?: () => Promise<void> } | null;
  if (typeof server?.waitClosed === 'function') await server.waitClosed();
}

for (const lk of loopKinds) {
  test(`${lk.name}: every loop method with any arguments returns, throws or rejects typed, and leaks nothing`, async (t) => {
    const { loop, settle } = lk.make();
    const errors: unknown[] = [];
    loop.setExceptionHandler((_l, ctx) => {
      errors.push(ctx);
    });
    try {
      await check(
        t,
        `${lk.name} loop methods`,
        fc.asyncProperty(
          fc.oneof(...loopCalls.map(([name, args]) => fc.tuple(fc.constant(name), args))),
          async ([name, args]) => {
            const what = `${lk.name}.${name}(${args.map(show).join(', ')})`;
            const m = (loop as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
            if (typeof m !== 'function') throw new Error(`${what}: no such method`);
            const result = await attemptAsync(
              what,
              () => m.apply(loop, args) as Promise<unknown>,
              8000,
            );
            await release(result);
            if (name === 'setExceptionHandler') {
              loop.setExceptionHandler((_l, ctx) => {
                errors.push(ctx);
              });
            }
            if (errors.length > 0)
              throw new Error(`${what}: reached the exception handler: ${show(errors)}`);
          },
        ),
        60,
      );
    } finally {
      if (loop.isRunning()) loop.stop();
      for (let i = 0; i < 100 && loop.isRunning(); i++) await sleep(5);
      loop.close();
      await settle(t);
    }
  });

  test(`${lk.name}: callSoon/callLater/callAt with random delays and cancels run in deadline order, cancelled ones never`, async (t) => {
    const { loop, settle } = lk.make();
    try {
      await check(
        t,
        `${lk.name} timer order`,
        fc.asyncProperty(
          fc.array(
            fc.record({
              kind: fc.constantFrom('soon', 'later', 'at'),
              delay: fc.integer({ min: -5, max: 20 }),
              cancel: fc.boolean(),
            }),
            { minLength: 1, maxLength: 15 },
          ),
          async (plan) => {
            const fired: number[] = [];
            const expected: Array<{ i: number; when: number }> = [];
            const base = loop.time();
            plan.forEach((p, i) => {
              const cb = (): void => {
                fired.push(i);
              };
              const d = p.delay / 1000;
              const h =
                p.kind === 'soon'
                  ? loop.callSoon(cb)
                  : p.kind === 'later'
                    ? loop.callLater(d, cb)
                    : loop.callAt(base + d, cb);
              const when =
                p.kind === 'soon'
                  ? -Infinity
                  : p.kind === 'later'
                    ? (h as unknown as { when(): number }).when()
                    : base + d;
              if (p.cancel) h.cancel();
              else expected.push({ i, when });
            });
            for (let i = 0; i < 500 && fired.length < expected.length; i++) await sleep(2);
            await sleep(5);
            // callSoon callbacks first (FIFO); timers by deadline, then by
            // scheduling order. Timers due within one iteration may interleave
            // with each other but never overtake a strictly later deadline by
            // more than the loop's clock resolution (1 ms).
            const order = new Map(fired.map((i, k) => [i, k]));
            if (fired.length !== expected.length || expected.some((e) => !order.has(e.i))) {
              throw new Error(
                `fired ${show(fired)}, expected ${show(expected.map((e) => e.i))} (plan ${show(plan)})`,
              );
            }
            for (const a of expected) {
              for (const b of expected) {
                if (a.when + 0.0015 < b.when && order.get(a.i)! > order.get(b.i)!)
                  throw new Error(
                    `${a.i} (when ${a.when}) ran after ${b.i} (when ${b.when}): ${show(fired)}`,
                  );
                if (a.when === b.when && a.i < b.i && order.get(a.i)! > order.get(b.i)!)
                  throw new Error(`same deadline ran out of order: ${show(fired)}`);
              }
            }
          },
        ),
        25,
      );
    } finally {
      loop.close();
      await settle(t);
    }
  });
}

// A protocol factory that throws, or returns something that is not a
// protocol: every create* call rejects (with the factory's own error, or
// ERR_INVALID_RETURN_VALUE) and releases what it had opened. Found by the
// property above: a factory returning undefined made a transport whose every
// callback failed in the exception handler, and a throwing one leaked the
// connected socket, the bound UDP socket, the pipe and its fd, or (on
// NodeEventLoop) the spawned child.
const badFactory = fc.constantFrom<unknown>('throws', undefined, null, 0, 'protocol', true, 1n);
const factoryCalls = [
  'createConnection',
  'createUnixConnection',
  'createDatagramEndpoint',
  'connectReadPipe',
  'connectWritePipe',
  'subprocessExec',
  'subprocessShell',
] as const;
let abstractSeq = 0;

for (const lk of loopKinds) {
  test(`${lk.name}: a protocol factory that throws or returns a non-object rejects the call and leaks nothing`, async (t) => {
    const { loop, settle } = lk.make();
    const errors: unknown[] = [];
    loop.setExceptionHandler((_l, ctx) => {
      errors.push(ctx);
    });
    const path = `\0asyncuv-fuzz-factory-${process.pid}-${abstractSeq++}`;
    const { StreamRecorder } = await import('./protocol-recorder.js');
    const tcpServer = await loop.createServer(() => new StreamRecorder(), '127.0.0.1', 0);
    const unixServer = await loop.createUnixServer(() => new StreamRecorder(), path);
    const port = (tcpServer.sockets()[0] as { port: number }).port;
    const { makeFifo } = await import('../conformance/fifo.js');
    try {
      await check(
        t,
        `${lk.name} bad protocol factory`,
        fc.asyncProperty(fc.constantFrom(...factoryCalls), badFactory, async (call, ret) => {
          const sentinel = new Error('factory failed');
          const factory = (): never => {
            if (ret === 'throws') throw sentinel;
            return ret as never;
          };
          const fifo =
            call === 'connectReadPipe' || call === 'connectWritePipe'
              ? await makeFifo()
              : undefined;
          if (fifo !== undefined) rmSync(fifo.path); // both ends are open; the name is not needed
          const l = loop as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
          const args: Record<(typeof factoryCalls)[number], unknown[]> = {
            createConnection: ['127.0.0.1', port],
            createUnixConnection: [path],
            createDatagramEndpoint: [{ localAddr: ['127.0.0.1', 0] }],
            connectReadPipe: [fifo?.readFd],
            connectWritePipe: [fifo?.writeFd],
            subprocessExec: ['true'],
            subprocessShell: ['true'],
          };
          const what = `${lk.name}.${call}(factory returning ${show(ret)})`;
          let outcome: unknown;
          try {
            const result = await Promise.race([
              l[call]!.call(loop, factory, ...args[call]),
              sleep(8000).then(() => 'hang'),
            ]);
            await release(result);
            outcome = result === 'hang' ? 'a hang' : 'resolved';
          } catch (err) {
            outcome = err;
          } finally {
            // The transport owned the fd it took; the other end is ours.
            if (call === 'connectReadPipe') fifo?.closeWrite();
            if (call === 'connectWritePipe') fifo?.closeRead();
          }
          const expected =
            ret === 'throws'
              ? outcome === sentinel
              : outcome instanceof UsageError && outcome.code === 'ERR_INVALID_RETURN_VALUE';
          if (!expected)
            throw new Error(
              `${what}: ${outcome instanceof Error ? (outcome.stack ?? outcome.message) : show(outcome)}`,
            );
          if (errors.length > 0)
            throw new Error(`${what}: reached the exception handler: ${show(errors)}`);
        }),
        30,
      );
    } finally {
      tcpServer.close();
      unixServer.close();
      await tcpServer.waitClosed();
      await unixServer.waitClosed();
      loop.close();
      await settle(t);
    }
  });
}

test.serial('policy: newEventLoop, setEventLoopFactory and run with any arguments', async (t) => {
  const { newEventLoop, run, setEventLoopFactory } = await import('../../loop/policy.js');
  const { UvEventLoop } = await import('../../loop/uv-event-loop.js');
  const uvloop = new Loop();
  const defaultFactory = (): AbstractEventLoop => new UvEventLoop(uvloop);
  setEventLoopFactory(defaultFactory);
  try {
    await check(
      t,
      'policy',
      fc.asyncProperty(
        arg(
          fc.constantFrom<unknown>(
            () => Promise.resolve(1),
            async (l: AbstractEventLoop) => l.time(),
            () => 1,
          ),
        ),
        arg(fc.record({ debug: fc.boolean() }, { requiredKeys: [] })),
        fc.option(garbage, { nil: undefined }),
        async (main, opts, factory) => {
          if (factory !== undefined)
            attempt(`setEventLoopFactory(${show(factory)})`, () =>
              setEventLoopFactory(factory as never),
            );
          try {
            await attemptAsync(
              `run(${show(main)}, ${show(opts)})`,
              () => run(main as never, opts as never),
              3000,
            );
            const l = attempt('newEventLoop()', () => newEventLoop());
            (l as { close?: () => void } | undefined)?.close?.();
          } finally {
            setEventLoopFactory(defaultFactory);
          }
        },
      ),
      60,
    );
  } finally {
    for (let i = 0; i < 200 && Object.keys(uvloop.handleCounts()).length > 0; i++) await sleep(2);
    t.deepEqual(uvloop.handleCounts(), {});
    uvloop.close();
  }
});

// Found by the 2,000-case run: createUnixConnection('') (any path or signal
// that made the connect call throw at once) leaked the Pipe it had made.
for (const lk of loopKinds) {
  test(`${lk.name}: connections that fail at once (bad paths, bad signals) or later (refused) leave nothing open`, async (t) => {
    const { loop, settle } = lk.make();
    const { StreamRecorder } = await import('./protocol-recorder.js');
    try {
      await check(
        t,
        `${lk.name} failed connections`,
        fc.asyncProperty(
          fc.constantFrom(
            '',
            'a\0b',
            'x'.repeat(200),
            '/nonexistent/sock',
            '\0asyncuv-fuzz-none',
            '\0a\0b',
          ),
          fc.constantFrom<unknown>(
            undefined,
            {},
            'signal',
            AbortSignal.abort(),
            new AbortController().signal,
          ),
          fc.boolean(),
          async (path, signal, unix) => {
            const opts = { signal } as never;
            const what = `${lk.name}.${unix ? `createUnixConnection(${show(path)}` : 'createConnection(127.0.0.1:1'}, { signal: ${show(signal)} })`;
            const uvloop = (loop as unknown as { uvloop?: Loop }).uvloop;
            const state = (): string =>
              uvloop === undefined
                ? ''
                : ` driver ${JSON.stringify(uvloop[kNative].driverState())} handles ${JSON.stringify(uvloop.handleCounts())}`;
            const result = await attemptAsync(
              what,
              () =>
                unix
                  ? loop.createUnixConnection(() => new StreamRecorder(), path, opts)
                  : loop.createConnection(() => new StreamRecorder(), '127.0.0.1', 1, opts),
              5000,
            ).catch((err: unknown) => {
              throw new Error(`${String(err)}${state()}`);
            });
            await release(result);
            if (result !== undefined) throw new Error(`${what} connected`);
          },
        ),
        60,
      );
    } finally {
      loop.close();
      await settle(t);
    }
  });
}
