// Every transport kind of both loops (TCP, Unix, datagram, read/write pipe,
// subprocess) driven by random sequences of its public methods on both ends,
// with the loop turning in between: every call returns or throws a typed
// error, the protocols see asyncio's callback order (connectionMade first,
// connectionLost exactly once and last...), nothing reaches the exception
// handler, and nothing is left on the loop.
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import type { AbstractEventLoop, ExceptionContext } from '../../loop/events.js';
import { makeFifo } from '../conformance/fifo.js';
import {
  arg,
  attempt,
  attemptAsync,
  check,
  prototypeKeys,
  show,
  totalLine,
} from './arbitraries.js';
import { bytes, getter, method, type MethodSpec } from './handle-specs.js';
import { loopKinds } from './loop-kinds.js';
import {
  DatagramRecorder,
  protocolViolation,
  Recorder,
  StreamRecorder,
  SubprocessRecorder,
} from './protocol-recorder.js';

test.after.always(() => console.log(totalLine('transports')));

const DFLT = Symbol('default');
const extraName = arg(
  fc.constantFrom<unknown>(
    'peername',
    'sockname',
    'socket',
    'pipe',
    'subprocess',
    'sslcontext',
    ...prototypeKeys,
  ),
);
const common: MethodSpec[] = [
  method('getExtraInfo', extraName, fc.constant(DFLT)),
  method('isClosing'),
  method('getProtocol'),
  method('close'),
];
const limits = arg(
  fc.record(
    { high: fc.oneof(fc.nat(70000), fc.constant(1)), low: fc.nat(70000) },
    { requiredKeys: [] },
  ),
);
const readOps: MethodSpec[] = [
  method('pauseReading'),
  method('resumeReading'),
  method('isReading'),
];
const writeOps: MethodSpec[] = [
  method('write', bytes),
  method(
    'writelines',
    arg(
      fc.array(fc.oneof(fc.uint8Array({ maxLength: 16 }), fc.string({ maxLength: 8 })), {
        maxLength: 4,
      }),
    ),
  ),
  method('writeEof'),
  method('canWriteEof'),
  method('abort'),
  method('setWriteBufferLimits', limits),
  method('getWriteBufferSize'),
  method('getWriteBufferLimits'),
];
const addr = arg(
  fc.constantFrom<unknown>(
    'peer',
    'peer',
    undefined,
    ['127.0.0.1', 1],
    ['::1', 0],
    ['256.1.1.1', 5],
    ['127.0.0.1', 70000],
    [],
    'x',
  ),
);
const datagramOps: MethodSpec[] = [
  method('sendto', bytes, addr),
  method('abort'),
  method('getWriteBufferSize'),
];
const subprocessOps: MethodSpec[] = [
  method('getPid'),
  method('getReturncode'),
  method('getPipeTransport', arg(fc.constantFrom<unknown>(0, 1, 2, 3, -1))),
  method(
    'sendSignal',
    arg(
      fc.constantFrom<unknown>(
        0,
        'SIGTERM',
        'SIGKILL',
        15,
        'SIGFOO',
        65,
        'SIGCONT',
        ...prototypeKeys,
      ),
    ),
  ),
  method('terminate'),
  method('kill'),
  method('wait'),
];
void getter;

interface Pair {
  kind: 'stream' | 'datagram' | 'subprocess';
  /** The objects the ops run on, each with its own op list. */
  targets: Array<{ name: string; obj: object; ops: MethodSpec[] }>;
  recorders: Recorder[];
  /** Ends everything (abort/kill) so connectionLost must follow. */
  finish(): void;
  extraCleanup?(): Promise<void> | void;
  peerAddr?: unknown;
}

let unixSeq = 0;
const unixDir = mkdtempSync(join(tmpdir(), 'asyncuv-fuzz-unix-'));
test.after.always(() => rmSync(unixDir, { recursive: true, force: true }));

async function streamPair(loop: AbstractEventLoop, unix: boolean): Promise<Pair> {
  const serverSide = new StreamRecorder(true);
  const client = new StreamRecorder(false);
  const path = join(unixDir, `u${unixSeq++}`);
  const server = unix
    ? await loop.createUnixServer(() => serverSide, path)
    : await loop.createServer(() => serverSide, '127.0.0.1', 0);
  const port = unix ? 0 : (server.sockets()[0] as { port: number }).port;
  const [tr] = unix
    ? await loop.createUnixConnection(() => client, path)
    : await loop.createConnection(() => client, '127.0.0.1', port);
  for (let i = 0; i < 400 && serverSide.transport === undefined; i++) await sleep(5);
  server.close();
  const st = serverSide.transport as object;
  if (st === undefined) throw new Error('the server side never connected');
  return {
    kind: 'stream',
    targets: [
      { name: 'client', obj: tr, ops: streamOps },
      { name: 'server', obj: st, ops: streamOps },
    ],
    recorders: [client, serverSide],
    finish() {
      (tr as { abort(): void }).abort();
      (st as { abort(): void }).abort();
    },
    extraCleanup: () => server.waitClosed(),
  };
}

async function datagramPair(loop: AbstractEventLoop): Promise<Pair> {
  const a = new DatagramRecorder();
  const b = new DatagramRecorder();
  const [ta] = await loop.createDatagramEndpoint(() => a, { localAddr: ['127.0.0.1', 0] });
  const aAddr = ta.getExtraInfo('sockname')!;
  const [tb] = await loop.createDatagramEndpoint(() => b, { remoteAddr: aAddr });
  return {
    kind: 'datagram',
    targets: [
      { name: 'unconnected', obj: ta, ops: dgramOps },
      { name: 'connected', obj: tb, ops: dgramOps },
    ],
    recorders: [a, b],
    finish() {
      ta.abort();
      tb.abort();
    },
    peerAddr: aAddr,
  };
}

async function pipePair(loop: AbstractEventLoop): Promise<Pair> {
  const fifo = await makeFifo();
  rmSync(fifo.path); // both ends are open: the transports own them, the name is not needed
  const r = new StreamRecorder();
  const w = new StreamRecorder();
  const [tr] = await loop.connectReadPipe(() => r, fifo.readFd);
  const [tw] = await loop.connectWritePipe(() => w, fifo.writeFd);
  return {
    kind: 'stream',
    targets: [
      { name: 'read pipe', obj: tr, ops: [...common, ...readOps] },
      { name: 'write pipe', obj: tw, ops: [...common, ...writeOps] },
    ],
    recorders: [r, w],
    finish() {
      tr.close();
      tw.abort();
    },
  };
}

async function subprocess(loop: AbstractEventLoop): Promise<Pair> {
  const p = new SubprocessRecorder();
  const [tr] = await loop.subprocessExec(() => p, 'cat', [], { stderr: 'ignore' });
  const stdin = tr.getPipeTransport(0) as object;
  return {
    kind: 'subprocess',
    targets: [
      { name: 'subprocess', obj: tr, ops: subOps },
      { name: 'stdin', obj: stdin, ops: [...common, ...writeOps] },
    ],
    recorders: [p],
    finish() {
      attempt('subprocess.kill at the end', () => tr.kill());
      tr.close();
    },
  };
}

const streamOps = [...common, ...readOps, ...writeOps];
const dgramOps = [...common, ...datagramOps];
const subOps = [...subprocessOps, ...common];
/** Each kind: how to make a pair, and the op list of each of its targets (in make()'s order). */
const kinds: Array<{
  name: string;
  ops: MethodSpec[][];
  make(loop: AbstractEventLoop): Promise<Pair>;
}> = [
  { name: 'tcp', ops: [streamOps, streamOps], make: (l) => streamPair(l, false) },
  { name: 'unix', ops: [streamOps, streamOps], make: (l) => streamPair(l, true) },
  { name: 'datagram', ops: [dgramOps, dgramOps], make: datagramPair },
  {
    name: 'pipe',
    ops: [
      [...common, ...readOps],
      [...common, ...writeOps],
    ],
    make: pipePair,
  },
  { name: 'subprocess', ops: [subOps, [...common, ...writeOps]], make: subprocess },
];

type Step = { target: number; op: number; args: unknown[] } | 'tick';

async function runSequence(t: ExecutionContext, pair: Pair, steps: Step[]): Promise<void> {
  const log: string[] = [];
  const pending: Array<Promise<unknown>> = [];
  for (const step of steps) {
    if (step === 'tick') {
      log.push('tick');
      await tick();
      continue;
    }
    const target = pair.targets[step.target]!;
    const spec = target.ops[step.op]!;
    const args = step.args.map((_, i) => (step.args[i] === 'peer' ? pair.peerAddr : step.args[i]));
    const what = `${target.name}.${spec.name}(${args.map(show).join(', ')}) after [${log.join('; ')}]`;
    log.push(`${target.name}.${spec.name}`);
    const result = attempt(what, () => spec.call(target.obj as Record<string, unknown>, args));
    if (
      spec.name === 'getExtraInfo' &&
      prototypeKeys.includes(args[0] as never) &&
      result !== DFLT
    ) {
      throw new Error(`${what} returned ${show(result)}, not the default`);
    }
    if (result instanceof Promise) pending.push(attemptAsync(what, () => result, 5000));
  }
  pair.finish();
  const lost = Promise.all(pair.recorders.map((r) => r.lost));
  await attemptAsync(`connectionLost after [${log.join('; ')}]`, () => lost, 5000);
  await Promise.all(pending);
  await pair.extraCleanup?.();
  for (const r of pair.recorders) {
    const bad = protocolViolation(r.events, pair.kind);
    if (bad !== undefined)
      throw new Error(`${bad}: events ${r.events.join(',')} after [${log.join('; ')}]`);
  }
  void t;
}

/** Steps for a kind whose targets take these op lists (fixed per kind, so arguments come from each op's arbitraries). */
function stepsFor(opLists: MethodSpec[][]): fc.Arbitrary<Step[]> {
  const calls = opLists.flatMap((ops, target) =>
    ops.map((spec, op) => fc.tuple(...spec.args).map((args): Step => ({ target, op, args }))),
  );
  return fc.array(
    fc.oneof(
      { weight: 5, arbitrary: fc.oneof(...calls) },
      { weight: 2, arbitrary: fc.constant<Step>('tick') },
    ),
    { minLength: 1, maxLength: 14 },
  );
}

for (const lk of loopKinds) {
  for (const kind of kinds) {
    test(`${lk.name} ${kind.name}: random method sequences on both ends keep errors typed and the protocol order`, async (t) => {
      const { loop, settle } = lk.make();
      const exceptions: ExceptionContext[] = [];
      loop.setExceptionHandler((_l, ctx) => {
        exceptions.push(ctx);
      });
      try {
        // Each case: a fresh pair, then the random steps on its ends.
        await check(
          t,
          `${lk.name} ${kind.name} transport`,
          fc.asyncProperty(stepsFor(kind.ops), async (steps) => {
            const pair = await kind.make(loop);
            await runSequence(t, pair, steps);
            if (exceptions.length > 0) {
              throw new Error(
                `reached the exception handler: ${exceptions.map((c) => `${c.message}: ${String(c.exception)}`).join(' | ')}`,
              );
            }
          }),
          8,
        );
      } finally {
        loop.close();
        await settle(t);
      }
    });
  }
}
