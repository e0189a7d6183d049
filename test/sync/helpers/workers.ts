// Real worker_threads for the sync tests. Fixtures live in
// dist/test/sync/fixtures/<name>.js and speak a tiny protocol: they post
// `{ type, value }` messages, the last one of type 'result'.
import { Worker } from 'node:worker_threads';

export interface FixtureMessage {
  type: string;
  value?: unknown;
}

/** Starts fixture `name` with `data` as workerData. */
export function startWorker(name: string, data: object): Worker {
  return new Worker(new URL(`../fixtures/${name}.js`, import.meta.url), { workerData: data });
}

/**
 * Resolves with the value of the first message of `type`; rejects if the
 * worker fails or exits first.
 */
export function nextMessage<T = unknown>(worker: Worker, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (m: FixtureMessage): void => {
      if (m.type !== type) return;
      cleanup();
      resolve(m.value as T);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`worker exited with code ${code} before sending '${type}'`));
    };
    worker.on('message', onMessage);
    worker.once('error', onError);
    worker.once('exit', onExit);
  });
}

/** Runs fixture `name` to its 'result' message and waits for it to exit. */
export async function runWorker<T = unknown>(name: string, data: object): Promise<T> {
  const worker = startWorker(name, data);
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  const result = await nextMessage<T>(worker, 'result');
  await exited;
  return result;
}

/**
 * Starts fixture `name` on a task that takes a lock, posts 'locked' and
 * holds it until the returned release() sets the flag it was given.
 */
export async function holdInWorker(
  name: string,
  data: object,
): Promise<{ release: () => Promise<void> }> {
  const flag = new Flag();
  const worker = startWorker(name, { ...data, flag: flag.buffer });
  // Listen for the end before it can happen: 'exit' is not replayed.
  const exited = exitOf(worker);
  const done = nextMessage(worker, 'result');
  done.catch(() => {}); // observed in release()
  await nextMessage(worker, 'locked');
  return {
    release: async () => {
      flag.set();
      await done;
      await exited;
    },
  };
}

/** Resolves with the exit code once the worker has exited. */
export function exitOf(worker: Worker): Promise<number> {
  return new Promise((resolve) => worker.once('exit', resolve));
}

/** Sleeps the calling thread without the event loop (for workers). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A word that one thread sets and others block on (a one-shot event). */
export class Flag {
  readonly buffer: SharedArrayBuffer;
  readonly #s: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.buffer = buffer;
    this.#s = new Int32Array(buffer);
  }

  set(): void {
    Atomics.store(this.#s, 0, 1);
    Atomics.notify(this.#s, 0);
  }

  /** Blocks until set (workers only). */
  wait(): void {
    Atomics.wait(this.#s, 0, 0);
  }

  get isSet(): boolean {
    return Atomics.load(this.#s, 0) === 1;
  }
}
