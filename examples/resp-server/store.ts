// The in-memory key-value store behind the RESP server, with expiry.

export class Store {
  readonly #data = new Map<string, Buffer>();
  readonly #expires = new Map<string, number>();

  /** Drops the key if its time is up; whether it was. Keys without expiry cost no lookup. */
  #expired(key: string): boolean {
    if (this.#expires.size === 0) return false;
    const at = this.#expires.get(key);
    if (at === undefined || at > Date.now()) return false;
    this.#data.delete(key);
    this.#expires.delete(key);
    return true;
  }

  get(key: string): Buffer | null {
    const value = this.#data.get(key);
    return value === undefined || this.#expired(key) ? null : value;
  }

  /** Stores `value` itself: the caller gives a copy it will not change. */
  set(key: string, value: Buffer, ttlMs?: number): void {
    this.#data.set(key, value);
    if (ttlMs !== undefined) this.#expires.set(key, Date.now() + ttlMs);
    else if (this.#expires.size > 0) this.#expires.delete(key);
  }

  /** Stores `value` and keeps the key's expiry, if it has one (INCR, SET KEEPTTL). */
  replace(key: string, value: Buffer): void {
    this.#data.set(key, value);
  }

  has(key: string): boolean {
    return this.#data.has(key) && !this.#expired(key);
  }

  delete(key: string): boolean {
    const had = this.has(key);
    this.#data.delete(key);
    if (this.#expires.size > 0) this.#expires.delete(key);
    return had;
  }

  /** Milliseconds until the key expires; -1 if it never does, -2 if there is no such key. */
  pttl(key: string): number {
    if (!this.has(key)) return -2;
    const at = this.#expires.get(key);
    return at === undefined ? -1 : Math.max(0, at - Date.now());
  }

  get size(): number {
    return this.#data.size;
  }

  /** Keys with an expiry set (INFO's keyspace line). */
  get expiring(): number {
    return this.#expires.size;
  }
}
