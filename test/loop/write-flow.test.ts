// WriteFlow, every transport's write flow control, on its own: one
// pauseWriting per crossing above high, one resumeWriting per crossing to
// low or below, and nothing at all once the loop is closed (libuv completes
// at a handle's close the writes that finished before the loop closed: the
// protocol must not hear of them).
import { AsyncResource } from 'node:async_hooks';
import test from 'ava';
import type { ExceptionContext } from 'asyncuv';
import { WriteFlow } from '../../loop/write-flow.js';

function flow(): {
  flow: WriteFlow;
  calls: string[];
  setSize(n: number): void;
  closeLoop(): void;
  exceptions: ExceptionContext[];
} {
  const calls: string[] = [];
  const exceptions: ExceptionContext[] = [];
  let size = 0;
  let closed = false;
  const loop = {
    callExceptionHandler: (context: ExceptionContext) => void exceptions.push(context),
    isClosed: () => closed,
  };
  const protocol = {
    pauseWriting: () => void calls.push('pause'),
    resumeWriting: () => void calls.push('resume'),
  };
  return {
    flow: new WriteFlow(
      loop,
      {},
      () => size,
      () => protocol,
      new AsyncResource('test'),
    ),
    calls,
    setSize: (n) => (size = n),
    closeLoop: () => (closed = true),
    exceptions,
  };
}

test('one pauseWriting above high, one resumeWriting at low, per crossing', (t) => {
  const { flow: f, calls, setSize } = flow();
  f.setLimits({ high: 100, low: 10 });
  setSize(100);
  f.maybePause();
  t.deepEqual(calls, [], 'at high: not above it');
  setSize(101);
  f.maybePause();
  f.maybePause();
  t.deepEqual(calls, ['pause']);
  setSize(11);
  f.maybeResume();
  t.deepEqual(calls, ['pause'], 'above low');
  setSize(10);
  f.maybeResume();
  f.maybeResume();
  t.deepEqual(calls, ['pause', 'resume']);
});

test('once the loop is closed the protocol hears neither pauseWriting nor resumeWriting', (t) => {
  const { flow: f, calls, setSize, closeLoop, exceptions } = flow();
  setSize(1024 * 1024);
  f.maybePause();
  t.deepEqual(calls, ['pause']);
  closeLoop();
  setSize(0);
  f.maybeResume();
  setSize(1024 * 1024);
  f.maybePause();
  t.deepEqual(calls, ['pause']);
  t.deepEqual(exceptions, []);
});
