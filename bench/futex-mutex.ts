// The reference the sync benchmark compares Mutex against: a plain futex
// mutex in JavaScript over a SharedArrayBuffer (Drepper, "Futexes Are
// Tricky", mutex #3: 0 free, 1 locked, 2 locked with waiters). It has no
// owner tracking, no timeouts, no async path and no misuse checks.
export class FutexMutex {
  readonly s: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(64)) {
    this.s = new Int32Array(buffer, 0, 1);
  }

  lock(): void {
    const s = this.s;
    let c = Atomics.compareExchange(s, 0, 0, 1);
    if (c === 0) return;
    if (c !== 2) c = Atomics.exchange(s, 0, 2);
    while (c !== 0) {
      Atomics.wait(s, 0, 2);
      c = Atomics.exchange(s, 0, 2);
    }
  }

  unlock(): void {
    const s = this.s;
    if (Atomics.sub(s, 0, 1) !== 1) {
      Atomics.store(s, 0, 0);
      Atomics.notify(s, 0, 1);
    }
  }
}
