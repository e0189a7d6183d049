// adapters/: toDuplex/fromDuplex with garbage and in random operation orders
// over real connections, serveHttp with any arguments, and the rel facade
// (Registrar, RelEvent) under random registrations, deletions and aborts.
import test from 'ava';
import fc from 'fast-check';
import { PassThrough, type Duplex } from 'node:stream';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { Loop } from '../../handles/loop.js';
import { NodeEventLoop } from '../../adapters/node-event-loop.js';
import { fromDuplex, toDuplex } from '../../adapters/duplex.js';
import { serveHttp } from '../../adapters/serve-http.js';
import { LoopAgent, LoopHttpsAgent, loopConnector } from '../../adapters/http-agent.js';
import { Registrar, rel } from '../../adapters/rel.js';
import { socketPair } from '../../adapters/socket-pair.js';
import type { Transport } from '../../loop/transports.js';
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
import { boundUdpFd } from '../helpers/socket-fd.js';
import { protocolViolation, StreamRecorder } from './protocol-recorder.js';

// Before any test is declared: ava takes declarations only until the first await.
const { fd: pollFd, close: closePollFd } = boundUdpFd();
test.after.always(() => {
  closePollFd();
  console.log(totalLine('adapters'));
});

test('toDuplex, fromDuplex and serveHttp with wrong arguments throw or reject typed', async (t) => {
  const loop = new NodeEventLoop();
  await check(
    t,
    'adapter args',
    fc.asyncProperty(
      fc.constantFrom('toDuplex', 'fromDuplex', 'serveHttp'),
      garbage,
      arg(fc.constant(() => new StreamRecorder())),
      arg(fc.constantFrom('127.0.0.1', '::1')),
      arg(fc.constant(0)),
      async (fn, a, factory, host, port) => {
        if (fn === 'toDuplex') attempt(`toDuplex(${show(a)})`, () => toDuplex(a as never));
        else if (fn === 'fromDuplex')
          attempt(`fromDuplex(${show(a)}, ${show(factory)})`, () =>
            fromDuplex(a as never, factory as never, { loop }),
          );
        else {
          const served = await attemptAsync(
            `serveHttp(loop, ${show(a)}, ${show(host)}, ${show(port)})`,
            () => serveHttp(loop, a as never, host as never, port as never),
          );
          await served?.close();
          const ok = await attemptAsync(
            `serveHttp(loop, listener, ${show(host)}, ${show(port)}, ${show(a)})`,
            () => serveHttp(loop, () => {}, host as never, port as never, a as never),
          );
          await ok?.close();
        }
      },
    ),
    60,
  );
  // Before close(), which would release anything a case left open.
  for (let i = 0; i < 200 && Object.keys(loop.liveResources()).length > 0; i++) await sleep(5);
  t.deepEqual(loop.liveResources(), {});
  loop.close();
});

test('LoopAgent, LoopHttpsAgent and loopConnector with wrong arguments throw typed, and leak nothing', async (t) => {
  const loop = new NodeEventLoop();
  const made: Duplex[] = [];
  // Fields of a request's options, each absent or (one time in five) of any value.
  const field = fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: garbage },
  );
  const requestOptions = fc.record(
    {
      host: fc.oneof(field, fc.constant('127.0.0.1')),
      hostname: field,
      port: fc.oneof(field, fc.constant(1)),
      protocol: fc.oneof(field, fc.constantFrom('http:', 'https:', 'wss:')),
      servername: field,
      localAddress: field,
      family: field,
      socketPath: field,
      timeout: field,
      noDelay: field,
      keepAlive: field,
      ca: field,
    },
    { requiredKeys: [] },
  );
  await check(
    t,
    'http-agent args',
    fc.property(
      fc.constantFrom('LoopAgent', 'LoopHttpsAgent', 'loopConnector', 'connect'),
      garbage,
      fc.oneof(garbage, requestOptions),
      (fn, a, options) => {
        if (fn === 'LoopAgent') {
          attempt(`new LoopAgent(${show(a)})`, () => new LoopAgent(a as never))?.destroy();
          attempt(
            `new LoopAgent(loop, ${show(options)})`,
            () => new LoopAgent(loop, options as never),
          )?.destroy();
        } else if (fn === 'LoopHttpsAgent') {
          attempt(
            `new LoopHttpsAgent(loop, ${show(options)})`,
            () => new LoopHttpsAgent(loop, options as never),
          )?.destroy();
        } else if (fn === 'loopConnector') {
          attempt(`loopConnector(${show(a)})`, () => loopConnector(a as never));
          attempt(`loopConnector(loop, ${show(options)})`, () =>
            loopConnector(loop, options as never),
          );
        } else {
          // A connection that was started fails or is cancelled: no leak either way.
          // Garbage options (the callback is checked first when given).
          const socket =
            attempt(`connect(${show(options)})`, () => loopConnector(loop)(options as never)) ??
            attempt(`connect({ port: 1 }, ${show(a)})`, () =>
              loopConnector(loop)({ host: '127.0.0.1', port: 1 }, a as never),
            );
          if (socket !== undefined) {
            socket.on('error', () => {});
            made.push(socket);
            socket.destroy();
          }
        }
      },
    ),
    100,
  );
  t.true(made.length > 0, 'some connections were started');
  // Before close(), which would release anything a case left open.
  for (let i = 0; i < 400 && Object.keys(loop.liveResources()).length > 0; i++) await sleep(5);
  t.deepEqual(loop.liveResources(), {});
  loop.close();
});

// Operations on a Duplex made by toDuplex(), in any order.
const duplexOps: Array<[string, fc.Arbitrary<unknown[]>]> = [
  [
    'write',
    fc.tuple(
      arg(
        fc.oneof(
          fc.uint8Array({ maxLength: 32 }).map((u) => Buffer.from(u)),
          fc.string({ maxLength: 8 }),
        ),
      ),
    ),
  ],
  ['end', fc.tuple()],
  ['destroy', fc.tuple(fc.constantFrom(undefined, new Error('user destroy')))],
  ['pause', fc.tuple()],
  ['resume', fc.tuple()],
  ['read', fc.tuple(arg(fc.nat(8)))],
  ['setNoDelay', fc.tuple()],
  ['setKeepAlive', fc.tuple()],
  ['get remoteAddress', fc.tuple()],
  ['get localPort', fc.tuple()],
  ['tick', fc.tuple()],
];

for (const lk of loopKinds) {
  test(`${lk.name}: toDuplex over a live connection in random operation orders keeps the stream and the transport consistent`, async (t) => {
    const { loop, settle } = lk.make();
    const errors: unknown[] = [];
    loop.setExceptionHandler((_l, ctx) => {
      errors.push(ctx);
    });
    const peers: StreamRecorder[] = [];
    const server = await loop.createServer(
      () => {
        const p = new StreamRecorder(true);
        peers.push(p);
        return p;
      },
      '127.0.0.1',
      0,
    );
    const port = (server.sockets()[0] as { port: number }).port;
    try {
      await check(
        t,
        `${lk.name} toDuplex order`,
        fc.asyncProperty(
          fc.array(fc.oneof(...duplexOps.map(([n, a]) => fc.tuple(fc.constant(n), a))), {
            minLength: 1,
            maxLength: 10,
          }),
          async (ops) => {
            const [transport] = await loop.createConnection(
              () => new StreamRecorder(),
              '127.0.0.1',
              port,
            );
            const duplex = toDuplex(transport as Transport);
            const streamErrors: unknown[] = [];
            duplex.on('error', (err) => streamErrors.push(err));
            duplex.on('data', () => {});
            const closed = new Promise<void>((resolve) => duplex.once('close', () => resolve()));
            const log: string[] = [];
            for (const [name, args] of ops) {
              log.push(name);
              if (name === 'tick') {
                await tick();
                continue;
              }
              const d = duplex as unknown as Record<string, unknown>;
              attempt(
                `duplex.${name}(${args.map(show).join(', ')}) after [${log.join('; ')}]`,
                () =>
                  name.startsWith('get ')
                    ? d[name.slice(4)]
                    : (d[name] as (...a: unknown[]) => unknown).apply(duplex, args),
              );
            }
            duplex.destroy();
            await attemptAsync(`'close' after [${log.join('; ')}]`, () => closed, 5000);
            // The server side half-closes on EOF (eofReceived returns true): end it here.
            for (let i = 0; i < 200 && peers.length === 0; i++) await sleep(2);
            for (const p of peers) (p.transport as Transport | undefined)?.abort();
            // The transport follows its stream: closed (or closing) once the stream is destroyed.
            if (!transport.isClosing())
              throw new Error(`transport still open after duplex.destroy() [${log.join('; ')}]`);
            for (const e of streamErrors) {
              if (
                !(e instanceof Error) ||
                (e.message !== 'user destroy' && typeof (e as { code?: unknown }).code !== 'string')
              )
                throw new Error(`untyped stream error ${show(e)} after [${log.join('; ')}]`);
            }
            if (errors.length > 0)
              throw new Error(`exception handler: ${show(errors)} after [${log.join('; ')}]`);
          },
        ),
        25,
      );
      for (let i = 0; i < 400 && peers.some((p) => !p.events.includes('lost')); i++) await sleep(5);
      for (const p of peers)
        t.is(protocolViolation(p.events, 'stream'), undefined, p.events.join(','));
    } finally {
      server.close();
      await server.waitClosed();
      loop.close();
      await settle(t);
    }
  });
}

test('fromDuplex over a socket pair or a PassThrough: random transport operations keep the protocol order and end with connectionLost', async (t) => {
  const loop = new NodeEventLoop();
  const errors: unknown[] = [];
  loop.setExceptionHandler((_l, ctx) => {
    errors.push(ctx);
  });
  const ops: Array<[string, fc.Arbitrary<unknown[]>]> = [
    [
      'write',
      fc.tuple(arg(fc.oneof(fc.uint8Array({ maxLength: 16 }), fc.string({ maxLength: 8 })))),
    ],
    ['writelines', fc.tuple(arg(fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 })))],
    ['writeEof', fc.tuple()],
    ['canWriteEof', fc.tuple()],
    ['pauseReading', fc.tuple()],
    ['resumeReading', fc.tuple()],
    ['isReading', fc.tuple()],
    [
      'setWriteBufferLimits',
      fc.tuple(arg(fc.record({ high: fc.nat(100), low: fc.nat(100) }, { requiredKeys: [] }))),
    ],
    ['getWriteBufferSize', fc.tuple()],
    ['getWriteBufferLimits', fc.tuple()],
    [
      'getExtraInfo',
      fc.tuple(
        arg(fc.constantFrom<unknown>('socket', 'peername', ...prototypeKeys)),
        fc.constant('dflt'),
      ),
    ],
    ['isClosing', fc.tuple()],
    ['close', fc.tuple()],
    ['abort', fc.tuple()],
    ['tick', fc.tuple()],
  ];
  await check(
    t,
    'fromDuplex order',
    fc.asyncProperty(
      fc.boolean(),
      fc.array(fc.oneof(...ops.map(([n, a]) => fc.tuple(fc.constant(n), a))), {
        minLength: 1,
        maxLength: 12,
      }),
      async (overSockets, steps) => {
        let a: Duplex;
        let b: Duplex | undefined;
        if (overSockets) [a, b] = await socketPair();
        else a = new PassThrough();
        b?.on('data', () => {});
        b?.on('error', () => {});
        const proto = new StreamRecorder();
        const [transport] = fromDuplex(a, () => proto, { loop });
        const log: string[] = [];
        for (const [name, args] of steps) {
          log.push(name);
          if (name === 'tick') {
            await tick();
            continue;
          }
          const result = attempt(
            `transport.${name}(${args.map(show).join(', ')}) after [${log.join('; ')}]`,
            () =>
              (transport as unknown as Record<string, (...x: unknown[]) => unknown>)[name]!.apply(
                transport,
                args,
              ),
          );
          if (
            name === 'getExtraInfo' &&
            prototypeKeys.includes(args[0] as never) &&
            result !== 'dflt'
          )
            throw new Error(`getExtraInfo(${show(args[0])}) gave ${show(result)}`);
        }
        transport.abort();
        b?.destroy();
        await attemptAsync(`connectionLost after [${log.join('; ')}]`, () => proto.lost, 5000);
        const bad = protocolViolation(proto.events, 'stream');
        if (bad !== undefined)
          throw new Error(`${bad}: ${proto.events.join(',')} after [${log.join('; ')}]`);
        if (errors.length > 0)
          throw new Error(`exception handler: ${show(errors)} after [${log.join('; ')}]`);
      },
    ),
    40,
  );
  // Before close(), which would release anything a case left open.
  for (let i = 0; i < 200 && Object.keys(loop.liveResources()).length > 0; i++) await sleep(5);
  t.deepEqual(loop.liveResources(), {});
  loop.close();
});

// --- rel facade ---------------------------------------------------------------

type RelOp = [string, unknown[]];
const relOp: fc.Arbitrary<RelOp> = fc.oneof(
  fc.tuple(
    fc.constantFrom('read', 'write'),
    fc.tuple(
      arg(fc.constant(pollFd), badFd),
      arg(
        fc.constantFrom(
          () => false,
          () => true,
        ),
      ),
    ),
  ),
  fc.tuple(
    fc.constant('timeout'),
    fc.tuple(
      arg(fc.constantFrom(0, 0.001, 0.005, 1e13, 1e300)),
      arg(
        fc.constantFrom(
          () => false,
          () => true,
        ),
      ),
    ),
  ),
  fc.tuple(
    fc.constant('signal'),
    fc.tuple(
      arg(fc.constantFrom<unknown>('SIGUSR2', 'SIGKILL', 'SIGFOO', ...prototypeKeys)),
      arg(fc.constant(() => false)),
    ),
  ),
  fc.tuple(fc.constantFrom('abort', 'delete-one', 'tick'), fc.constant<unknown[]>([])),
);

loopTest(
  'Registrar: random read/write/timeout/signal registrations, deletions and aborts; dispatch settles and nothing leaks',
  async (t, loop) => {
    await check(
      t,
      'registrar order',
      fc.asyncProperty(fc.array(relOp, { minLength: 1, maxLength: 10 }), async (ops) => {
        if (process.env['FUZZ_TRACE'] !== undefined)
          console.error(
            `[trace] registrar ${ops.map(([n, a]) => `${n}(${a.map(show).join(', ')})`).join('; ')}`,
          );
        const r = new Registrar(loop);
        const events: Array<{ delete(): void; pending(): boolean }> = [];
        const log: string[] = [];
        for (const [name, args] of ops) {
          log.push(name);
          if (name === 'tick') await tick();
          else if (name === 'abort') r.abort();
          else if (name === 'delete-one') events.shift()?.delete();
          else {
            const ev = attempt(
              `registrar.${name}(${args.map(show).join(', ')}) after [${log.join('; ')}]`,
              () =>
                (
                  r as unknown as Record<
                    string,
                    (...a: unknown[]) => { delete(): void; pending(): boolean }
                  >
                )[name]!.apply(r, args),
            );
            if (ev !== undefined) events.push(ev);
          }
        }
        r.abort();
        if (events.some((e) => e.pending()))
          throw new Error(`events pending after abort() [${log.join('; ')}]`);
        await attemptAsync(`dispatch after abort [${log.join('; ')}]`, () => r.dispatch(), 2000);
        // What a registration made (Poll, Timer, Signal) is closed once its event is deleted.
        for (let i = 0; i < 200 && Object.keys(loop.handleCounts()).length > 0; i++) await sleep(2);
        if (Object.keys(loop.handleCounts()).length > 0)
          throw new Error(`handles left ${show(loop.handleCounts())} after [${log.join('; ')}]`);
      }),
      60,
    );
  },
);

test('rel module functions take the same wrong arguments as a Registrar, on the default loop', async (t) => {
  await check(
    t,
    'rel facade',
    fc.asyncProperty(relOp, async ([name, args]) => {
      if (name === 'tick' || name === 'delete-one') return;
      const ev = attempt(`rel.${name}(${args.map(show).join(', ')})`, () =>
        (rel as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...args),
      );
      void ev;
      rel.abort();
      await attemptAsync('rel.dispatch', () => rel.dispatch(), 2000);
    }),
    30,
  );
  const counts = Loop.default().handleCounts();
  for (let i = 0; i < 200 && Object.keys(Loop.default().handleCounts()).length > 0; i++)
    await sleep(2);
  t.deepEqual(Loop.default().handleCounts(), {}, `left on the default loop: ${show(counts)}`);
});

loopTest(
  'Registrar: a registration that throws leaves nothing registered (dispatch settles at once, no handle open)',
  async (t, loop) => {
    await check(
      t,
      'registrar failed registration',
      fc.asyncProperty(
        fc.oneof(
          relOp.filter(([name]) => ['read', 'write', 'timeout', 'signal'].includes(name)),
          fc.tuple(
            fc.constant('timeout'),
            fc.tuple(
              fc.constantFrom(1e13, 1e16, 9007199254740.99),
              fc.constant(() => false),
            ),
          ),
        ),
        async ([name, args]) => {
          const r = new Registrar(loop);
          const what = `registrar.${name}(${args.map(show).join(', ')})`;
          let threw = false;
          try {
            (r as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!.apply(r, args);
          } catch (err) {
            threw = true;
            attempt(what, () => {
              throw err;
            });
          }
          if (!threw) {
            r.abort();
            return;
          }
          const settled = await Promise.race([
            r.dispatch().then(() => true),
            sleep(200).then(() => false),
          ]);
          if (!settled)
            throw new Error(
              `${what} threw but left an event registered: dispatch() does not settle`,
            );
          r.abort();
          for (let i = 0; i < 100 && Object.keys(loop.handleCounts()).length > 0; i++)
            await sleep(2);
          if (Object.keys(loop.handleCounts()).length > 0)
            throw new Error(`${what} threw but left ${show(loop.handleCounts())}`);
        },
      ),
      60,
    );
  },
);
