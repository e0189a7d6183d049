// A closed loop, method by method (asyncio's _check_closed): whatever would
// schedule, start or register work throws (or rejects with) ERR_LOOP_CLOSED
// before it looks at its arguments; queries, teardown (stop, close,
// remove*: false, as asyncio's remove_reader) and the exception handler
// and debug settings keep working. The table is typed by the interface's
// keys, so a method added to AbstractEventLoop does not compile here until
// it is classified.
import type { AbstractEventLoop } from 'asyncuv';
import { type MakeLoop, type Test, withLoop } from '../harness.js';

type Probe = (loop: AbstractEventLoop) => unknown;
type Expectation = { refuses: Probe } | { answers: Probe; check: (result: unknown) => boolean };

// Arguments no method would accept: the closed check must come first.
const bad = Symbol('not an argument') as never;
const refuses = (probe: Probe): Expectation => ({ refuses: probe });
const answers = (probe: Probe, check: (result: unknown) => boolean): Expectation => ({
  answers: probe,
  check,
});
const isUndefined = (v: unknown): boolean => v === undefined;

const table: Record<keyof AbstractEventLoop, Expectation> = {
  runForever: refuses((l) => l.runForever()),
  runUntilComplete: refuses((l) => l.runUntilComplete(bad)),
  callSoon: refuses((l) => l.callSoon(bad)),
  callSoonThreadsafe: refuses((l) => l.callSoonThreadsafe(bad)),
  callLater: refuses((l) => l.callLater(bad, bad)),
  callAt: refuses((l) => l.callAt(bad, bad)),
  createConnection: refuses((l) => l.createConnection(bad, bad, bad, bad)),
  createServer: refuses((l) => l.createServer(bad, bad, bad, bad)),
  createUnixConnection: refuses((l) => l.createUnixConnection(bad, bad, bad)),
  createUnixServer: refuses((l) => l.createUnixServer(bad, bad, bad)),
  connectAcceptedSocket: refuses((l) => l.connectAcceptedSocket(bad, bad, bad)),
  createDatagramEndpoint: refuses((l) => l.createDatagramEndpoint(bad, bad)),
  connectReadPipe: refuses((l) => l.connectReadPipe(bad, bad)),
  connectWritePipe: refuses((l) => l.connectWritePipe(bad, bad)),
  subprocessExec: refuses((l) => l.subprocessExec(bad, bad, bad, bad)),
  subprocessShell: refuses((l) => l.subprocessShell(bad, bad, bad)),
  addReader: refuses((l) => l.addReader(bad, bad)),
  addWriter: refuses((l) => l.addWriter(bad, bad)),
  addSignalHandler: refuses((l) => l.addSignalHandler(bad, bad)),
  getaddrinfo: refuses((l) => l.getaddrinfo(bad, bad, bad)),
  getnameinfo: refuses((l) => l.getnameinfo(bad, bad)),
  startTls: refuses((l) => l.startTls(bad, bad, bad, bad)),
  sendfile: refuses((l) => l.sendfile(bad, bad, bad, bad, bad)),
  sockRecv: refuses((l) => l.sockRecv(bad, bad, bad)),
  sockRecvInto: refuses((l) => l.sockRecvInto(bad, bad, bad)),
  sockRecvfrom: refuses((l) => l.sockRecvfrom(bad, bad, bad)),
  sockRecvfromInto: refuses((l) => l.sockRecvfromInto(bad, bad, bad, bad)),
  sockSendall: refuses((l) => l.sockSendall(bad, bad, bad)),
  sockSendto: refuses((l) => l.sockSendto(bad, bad, bad, bad)),
  sockConnect: refuses((l) => l.sockConnect(bad, bad, bad)),
  sockAccept: refuses((l) => l.sockAccept(bad, bad)),
  sockSendfile: refuses((l) => l.sockSendfile(bad, bad, bad, bad, bad)),
  removeReader: answers(
    (l) => l.removeReader(0),
    (v) => v === false,
  ),
  removeWriter: answers(
    (l) => l.removeWriter(0),
    (v) => v === false,
  ),
  removeSignalHandler: answers(
    (l) => l.removeSignalHandler('SIGUSR1'),
    (v) => v === false,
  ),
  stop: answers((l) => l.stop(), isUndefined),
  close: answers((l) => l.close(), isUndefined),
  [Symbol.dispose]: answers((l) => l[Symbol.dispose](), isUndefined),
  isRunning: answers(
    (l) => l.isRunning(),
    (v) => v === false,
  ),
  isClosed: answers(
    (l) => l.isClosed(),
    (v) => v === true,
  ),
  time: answers(
    (l) => l.time(),
    (v) => typeof v === 'number' && v > 0,
  ),
  getDebug: answers(
    (l) => l.getDebug(),
    (v) => typeof v === 'boolean',
  ),
  setDebug: answers((l) => l.setDebug(false), isUndefined),
  liveResources: answers(
    (l) => l.liveResources(),
    (v) => JSON.stringify(v) === '{}',
  ),
  getExceptionHandler: answers(
    (l) => l.getExceptionHandler(),
    (v) => typeof v === 'function',
  ),
  setExceptionHandler: answers((l) => l.setExceptionHandler(l.getExceptionHandler()), isUndefined),
  callExceptionHandler: answers(
    (l) => l.callExceptionHandler({ message: 'still reported' }),
    isUndefined,
  ),
  defaultExceptionHandler: answers((l) => {
    // It prints; keep the test's output clean.
    const print = console.error;
    console.error = () => {};
    try {
      return l.defaultExceptionHandler({ message: 'printed' });
    } finally {
      console.error = print;
    }
  }, isUndefined),
};

export function closedLoop(test: Test, makeLoop: MakeLoop, name: string): void {
  const title = 'a closed loop: what starts work throws ERR_LOOP_CLOSED first; the rest answer';
  test(`${name}: ${title}`, (t) =>
    withLoop(
      t,
      makeLoop,
      async ({ loop, exceptions }) => {
        loop.close();
        // Reflect.ownKeys: the symbol-keyed members too (Symbol.dispose).
        for (const key of Reflect.ownKeys(table) as Array<keyof AbstractEventLoop>) {
          const method = String(key);
          const expected = table[key];
          if ('refuses' in expected) {
            // Synchronous methods throw, Promise-returning ones reject: either way.
            const message = `${method}() on a closed loop`;
            const refused = async (): Promise<unknown> => expected.refuses(loop);
            await t.throwsAsync(refused, { code: 'ERR_LOOP_CLOSED' }, message);
          } else {
            const result = expected.answers(loop);
            t.true(expected.check(result), `${method}() on a closed loop: ${String(result)}`);
          }
        }
        t.deepEqual(
          exceptions.map((c) => c.message),
          ['still reported'],
        );
      },
      { expectExceptions: true },
    ));
}
