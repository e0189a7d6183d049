// Guards release what they hold on scope exit: `using g = mutex.guard()`,
// `await using g = await mutex.guardAsync()`. Releasing twice is a no-op, so
// an explicit release() inside the scope is fine.

/** Holds a lock until disposed (or release() is called). */
export class LockGuard {
  #release: (() => void) | undefined;

  /** @internal */
  constructor(release: () => void) {
    this.#release = release;
  }

  /** Releases the lock now; later calls (and the dispose) do nothing. */
  release(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }

  /** False once released. */
  get held(): boolean {
    return this.#release !== undefined;
  }

  [Symbol.dispose](): void {
    this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}
