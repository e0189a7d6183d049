// Every public method of every handle class, as data: a name, how to call
// it, and an arbitrary per argument (plausible values mixed with garbage).
// handles-args.test.ts calls them one at a time on fresh and closed
// handles; handles-order.test.ts calls them in random sequences.
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Loop } from '../../handles/loop.js';
import { Handle } from '../../handles/handle.js';
import { Pipe } from '../../handles/pipe.js';
import { TCP } from '../../handles/tcp.js';
import { Timer } from '../../handles/timer.js';
import { arg, badFd, garbage, prototypeKeys } from './arbitraries.js';

/** Handles and loops that arguments may refer to; built per test, closed after. */
export interface Env {
  loop: Loop;
  /** Another open loop: its handles are valid, but not on `loop`. */
  foreign: Loop;
  foreignTcp: TCP;
  closedTcp: TCP;
  /** An open handle of the wrong type. */
  timer: Timer;
  closedLoop: Loop;
  dir: string;
  file: string;
}

export function makeEnv(loop: Loop): Env {
  const foreign = new Loop();
  const closedTcp = new TCP(loop);
  closedTcp.close();
  const closedLoop = new Loop();
  closedLoop.close();
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-fuzz-'));
  const file = join(dir, 'file');
  writeFileSync(file, 'x');
  return {
    loop,
    foreign,
    foreignTcp: new TCP(foreign),
    closedTcp,
    timer: new Timer(loop),
    closedLoop,
    dir,
    file,
  };
}

export function closeEnv(env: Env): void {
  env.timer.close();
  env.foreignTcp.close();
  env.foreign.close();
  rmSync(env.dir, { recursive: true, force: true });
}

// Arguments that name something of the Env; resolved when the call is made.
export const kRef = Symbol('env-ref');
export type Ref = { [kRef]: keyof Env | 'fresh-tcp' | 'fresh-pipe' | 'cb' | 'sock' };
const ref = (name: Ref[typeof kRef]): Ref => ({ [kRef]: name });

/** Turns Env references into values; `fresh` collects handles made for the call (closed after). */
export function resolve(v: unknown, env: Env, fresh: Handle[], sockPath: () => string): unknown {
  if (typeof v !== 'object' || v === null || !(kRef in v)) return v;
  const name = (v as Ref)[kRef];
  switch (name) {
    case 'cb':
      return () => {};
    case 'sock':
      return sockPath();
    case 'fresh-tcp': {
      const h = new TCP(env.loop);
      fresh.push(h);
      return h;
    }
    case 'fresh-pipe': {
      const h = new Pipe(env.loop);
      fresh.push(h);
      return h;
    }
    default:
      return env[name];
  }
}

export const cb = arg(fc.constant(ref('cb')));
export const handleArg = fc.oneof(
  fc.constantFrom(
    ref('foreignTcp'),
    ref('closedTcp'),
    ref('timer'),
    ref('fresh-tcp'),
    ref('fresh-pipe'),
    ref('loop'),
    ref('foreign'),
    ref('closedLoop'),
  ),
  garbage,
);
export const loopArg = arg(
  fc.constantFrom(ref('loop'), undefined),
  fc.oneof(fc.constantFrom(ref('foreign'), ref('closedLoop'), ref('timer')), garbage),
);
export const bool = arg(fc.boolean());
export const smallMs = arg(fc.nat(30));
// Only 0 (any) and 1 (nothing listens there): other engineers' tests run on
// this machine, and a random port could be one of theirs.
export const port = arg(fc.constantFrom(0, 1), fc.oneof(garbage, fc.constantFrom(65536, -1, 1.5)));
export const ipHost = arg(
  fc.constantFrom(
    '127.0.0.1',
    '::1',
    '0.0.0.0',
    '::',
    'localhost',
    '256.0.0.1',
    '1.2.3',
    '::ffff:127.0.0.1',
    'fe80::1%lo',
    '127.0.0.1\0x',
    '',
  ),
);
export const bytes = arg(
  fc.oneof(
    fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    fc.string({ maxLength: 16 }),
    fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 3 }),
  ),
);
export const signalArg = arg(
  fc.constantFrom<unknown>(
    'SIGUSR2',
    'SIGWINCH',
    'SIGKILL',
    'SIGSTOP',
    9,
    19,
    28,
    31,
    64,
    65,
    0,
    'SIGFOO',
    'sigusr2',
    ...prototypeKeys,
  ),
);
export const pathArg = (env: () => Env): fc.Arbitrary<unknown> =>
  arg(
    fc
      .constantFrom<unknown>('file', 'dir', 'missing', 'a\0b', '')
      .map((k) =>
        k === 'file'
          ? env().file
          : k === 'dir'
            ? env().dir
            : k === 'missing'
              ? join(env().dir, 'missing')
              : k,
      ),
    garbage.filter((v) => typeof v !== 'string'),
  );

export interface MethodSpec {
  name: string;
  args: fc.Arbitrary<unknown>[];
  call(h: Record<string, unknown>, args: unknown[]): unknown;
}

export function method(name: string, ...args: fc.Arbitrary<unknown>[]): MethodSpec {
  return { name, args, call: (h, a) => (h[name] as (...x: unknown[]) => unknown)(...a) };
}

export function setter(name: string, value: fc.Arbitrary<unknown>): MethodSpec {
  return {
    name: `set ${name}`,
    args: [value],
    call: (h, a) => {
      h[name] = a[0];
    },
  };
}

export function getter(name: string): MethodSpec {
  return { name: `get ${name}`, args: [], call: (h) => h[name] };
}

/** What every Handle has. */
export const handleMethods: MethodSpec[] = [
  method('ref'),
  method('unref'),
  method('hasRef'),
  getter('active'),
  getter('closed'),
  method('close', arg(fc.constant(undefined), cb)),
];

/** What every Stream (TCP, Pipe, TTY) has. */
export const streamMethods: MethodSpec[] = [
  method('readStart', cb),
  method('readStartInto', arg(fc.integer({ min: 0, max: 64 }).map((n) => new Uint8Array(n))), cb),
  method('setReadBuffer', arg(fc.integer({ min: 0, max: 64 }).map((n) => new Uint8Array(n)))),
  getter('readBuffer'),
  method('readStop'),
  method('write', bytes, arg(fc.constant(undefined), cb)),
  method('tryWrite', bytes),
  method('shutdown', arg(fc.constant(undefined), cb)),
  getter('writeQueueSize'),
  getter('readable'),
  getter('writable'),
  method('fileno'),
];

export const tcpMethods: MethodSpec[] = [
  method(
    'bind',
    ipHost,
    port,
    arg(fc.record({ ipv6Only: fc.boolean(), reusePort: fc.boolean() }, { requiredKeys: [] })),
  ),
  method('listen', arg(fc.nat(128)), cb),
  method('accept', handleArg),
  method('connect', ipHost, port, cb),
  method('open', badFd),
  method('getsockname'),
  method('getpeername'),
  method('setNoDelay', bool),
  method('setKeepAlive', bool, arg(fc.integer({ min: 1, max: 100 }))),
  method('closeReset', arg(fc.constant(undefined), cb)),
  getter('sendBufferSize'),
  setter('sendBufferSize', arg(fc.integer({ min: 1, max: 1 << 20 }))),
  getter('recvBufferSize'),
  setter('recvBufferSize', arg(fc.integer({ min: 1, max: 1 << 20 }))),
];

export const udpMethods: MethodSpec[] = [
  method(
    'bind',
    ipHost,
    port,
    arg(fc.record({ ipv6Only: fc.boolean(), reuseAddr: fc.boolean() }, { requiredKeys: [] })),
  ),
  method('connect', ipHost, port),
  method('disconnect'),
  method('send', bytes, ipHost, port, arg(fc.constant(undefined), cb)),
  method('send', bytes, cb),
  method('trySend', bytes, ipHost, port),
  method('trySend', bytes),
  method('recvStart', cb),
  method('recvStop'),
  method('setBroadcast', bool),
  method('setTTL', arg(fc.integer({ min: 0, max: 256 }))),
  method('setMulticastTTL', arg(fc.integer({ min: 0, max: 256 }))),
  method('setMulticastLoopback', bool),
  method('setMulticastInterface', ipHost),
  method(
    'addMembership',
    arg(fc.constantFrom('224.0.0.251', 'ff02::fb', '127.0.0.1', 'x')),
    arg(fc.constantFrom(undefined, '127.0.0.1', '0.0.0.0')),
  ),
  method(
    'dropMembership',
    arg(fc.constantFrom('224.0.0.251', 'ff02::fb', '127.0.0.1', 'x')),
    arg(fc.constantFrom(undefined, '127.0.0.1', '0.0.0.0')),
  ),
  method('getsockname'),
  method('getpeername'),
  getter('sendQueueSize'),
  getter('sendQueueCount'),
  getter('sendBufferSize'),
  setter('sendBufferSize', arg(fc.integer({ min: 1, max: 1 << 20 }))),
  getter('recvBufferSize'),
  setter('recvBufferSize', arg(fc.integer({ min: 1, max: 1 << 20 }))),
  method('fileno'),
];

export const sockName = arg(
  fc.constantFrom<unknown>(
    ref('sock'),
    ref('sock'),
    '\0asyncuv-fuzz-abstract',
    '/nonexistent/dir/sock',
    'x'.repeat(200),
    '\0a\0b',
    '',
  ),
);
export const pipeMethods: MethodSpec[] = [
  getter('ipc'),
  method('bind', sockName),
  method('listen', arg(fc.nat(128)), cb),
  method('accept', handleArg),
  method('connect', sockName, cb),
  method('open', badFd),
  method('chmod', arg(fc.constantFrom<unknown>('r', 'w', 'rw', ...prototypeKeys))),
  method('getsockname'),
  method('getpeername'),
  method('pendingCount'),
  method('pendingType'),
  method('write', bytes, arg(fc.constant(undefined), cb), arg(fc.constant(undefined), handleArg)),
];

export const timerMethods: MethodSpec[] = [
  method('start', cb, smallMs, arg(fc.constantFrom(0, 0, 5))),
  method('stop'),
  method('again'),
  getter('repeat'),
  setter('repeat', smallMs),
  getter('dueIn'),
];

export const watcherMethods: MethodSpec[] = [method('start', cb), method('stop')];
export const signalMethods: MethodSpec[] = [
  method('start', cb, signalArg),
  method('stop'),
  getter('signum'),
];
export const asyncMethods: MethodSpec[] = [method('send'), getter('handle')];
export const pollMethods: MethodSpec[] = [
  method(
    'start',
    arg(
      fc.record(
        {
          readable: fc.boolean(),
          writable: fc.boolean(),
          disconnect: fc.boolean(),
          prioritized: fc.boolean(),
        },
        { requiredKeys: [] },
      ),
    ),
    cb,
  ),
  method('stop'),
  getter('fd'),
];
export const fsPollMethods = (env: () => Env): MethodSpec[] => [
  method('start', pathArg(env), arg(fc.integer({ min: 0, max: 50 })), cb),
  method('stop'),
  method('getPath'),
];
export const fsEventMethods = (env: () => Env): MethodSpec[] => [
  method('start', pathArg(env), cb),
  method(
    'start',
    pathArg(env),
    arg(fc.record({ recursive: fc.boolean() }, { requiredKeys: [] })),
    cb,
  ),
  method('stop'),
  method('getPath'),
];
export const processMethods: MethodSpec[] = [
  method(
    'kill',
    arg(fc.constantFrom<unknown>(0, 'SIGTERM', 'SIGKILL', 15, 'SIGFOO', 65, ...prototypeKeys)),
  ),
  getter('pid'),
  getter('stdio'),
  getter('exitStatus'),
  getter('termSignal'),
];
export const ttyMethods: MethodSpec[] = [
  method('setMode', arg(fc.constantFrom<unknown>('normal', 'raw', 'io', ...prototypeKeys))),
  method('getWinsize'),
];

/** On a closed handle these return (no-ops and state queries); every other method throws. */
export function mayReturnWhenClosed(spec: MethodSpec): boolean {
  return (
    spec.name.startsWith('get ') ||
    spec.name === 'close' ||
    spec.name === 'closeReset' ||
    spec.name === 'hasRef'
  );
}
