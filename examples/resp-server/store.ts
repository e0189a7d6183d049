// The in-memory key-value store behind the RESP server, with expiry.

export class Store {
  readonly #data = new Map<string, Buffer>();
  readonly #expires = new Map<string, number>();

  #alive(key: string): boolean {
    const at = this.#expires.get(key);
    if (at !== undefined && at <= Date.now()) {
      this.#data.delete(key);
      this.#expires.delete(key);
      return false;
    }
    return this.#data.has(key);
  }

  get(key: string): Buffer | null {
    return this.#alive(key) ? this.#data.get(key)! : null;
  }

  set(key: string, value: Buffer, ttlMs?: number): void {
    // Copy: the value may be a view of a read buffer the loop reuses.
    this.#data.set(key, Buffer.from(value));
    if (ttlMs === undefined) this.#expires.delete(key);
    else this.#expires.set(key, Date.now() + ttlMs);
  }

  has(key: string): boolean {
    return this.#alive(key);
  }

  delete(key: string): boolean {
    const had = this.#alive(key);
    this.#data.delete(key);
    this.#expires.delete(key);
    return had;
  }

  get size(): number {
    return this.#data.size;
  }

  /** Keys with an expiry set (INFO's keyspace line). */
  get expiring(): number {
    return this.#expires.size;
  }
}
