// worker.terminate() must end a worker promptly even while it is blocked in
// a primitive's wait: blocking waits are Atomics.wait, which V8 interrupts
// for termination.
import test from 'ava';
import { Barrier, Condition, Mutex, Queue, RWLock, Semaphore } from 'asyncuv/sync';
import { nextMessage, startWorker } from './helpers/workers.js';

async function terminateWhileBlocked(task: string, data: object): Promise<number> {
  const worker = startWorker('block-tasks', { task, ...data });
  let wokeUp = false;
  worker.on('message', (m: { type: string }) => {
    if (m.type === 'result') wokeUp = true;
  });
  await nextMessage(worker, 'blocking');
  // Give it time to be parked, not merely about to park.
  await new Promise((r) => setTimeout(r, 100));
  const start = performance.now();
  await worker.terminate();
  if (wokeUp) throw new Error(`${task}: the worker was not blocked`);
  return performance.now() - start;
}

const held = new RWLock();
held.readLock(); // the writer in the worker waits behind this read lock

const cases: Array<[string, () => object]> = [
  [
    'Mutex',
    () => {
      const m = new Mutex();
      m.lock();
      return { handle: m.handle };
    },
  ],
  ['RWLock', () => ({ handle: held.handle })],
  ['Condition', () => ({ handle: new Condition().handle, mutex: new Mutex().handle })],
  ['Barrier', () => ({ handle: new Barrier(2).handle })],
  ['Semaphore', () => ({ handle: new Semaphore(0).handle })],
  ['Queue', () => ({ handle: new Queue().handle })],
];

for (const [name, make] of cases) {
  test(`terminate() ends a worker blocked in ${name}'s wait promptly`, async (t) => {
    const ms = await terminateWhileBlocked(name, make());
    t.true(ms < 2_000, `terminate took ${ms} ms`);
  });
}
