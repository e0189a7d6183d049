// Who waits for a child's exit (SubprocessTransport.wait()): resolved with
// the return code, or rejected if the loop closed first (a closed loop
// reports no exit, and a wait must not hang).
interface Waiter {
  resolve: (code: number) => void;
  reject: (err: Error) => void;
}

export class ExitWaiters {
  #waiters: Waiter[] = [];
  #failure: Error | undefined;

  get pending(): boolean {
    return this.#waiters.length > 0;
  }

  /** A new wait: pending until resolve() or fail(), rejected at once after fail(). */
  add(): Promise<number> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  resolve(code: number): void {
    for (const w of this.#take()) w.resolve(code);
  }

  /** Rejects the waits pending and every later one with `err`. */
  fail(err: Error): void {
    this.#failure = err;
    for (const w of this.#take()) w.reject(err);
  }

  #take(): Waiter[] {
    const waiters = this.#waiters;
    this.#waiters = [];
    return waiters;
  }
}
