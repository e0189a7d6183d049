import { constants } from 'node:fs';

/**
 * File status (uv_stat_t), as fs.stat and FSPoll report it. Times are
 * milliseconds since the epoch, with sub-millisecond fractions.
 */
export class Stats {
  readonly dev: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly rdev: number;
  readonly blksize: number;
  readonly ino: number;
  readonly size: number;
  readonly blocks: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs: number;

  /** @internal `fields` is the Float64Array of native/stat_value.h. */
  constructor(fields: Float64Array) {
    const f = (i: number): number => fields[i] ?? 0;
    this.dev = f(0);
    this.mode = f(1);
    this.nlink = f(2);
    this.uid = f(3);
    this.gid = f(4);
    this.rdev = f(5);
    this.blksize = f(6);
    this.ino = f(7);
    this.size = f(8);
    this.blocks = f(9);
    this.atimeMs = f(10);
    this.mtimeMs = f(11);
    this.ctimeMs = f(12);
    this.birthtimeMs = f(13);
  }

  #type(): number {
    return this.mode & constants.S_IFMT;
  }

  isFile(): boolean {
    return this.#type() === constants.S_IFREG;
  }

  isDirectory(): boolean {
    return this.#type() === constants.S_IFDIR;
  }

  isSymbolicLink(): boolean {
    return this.#type() === constants.S_IFLNK;
  }

  isFIFO(): boolean {
    return this.#type() === constants.S_IFIFO;
  }

  isSocket(): boolean {
    return this.#type() === constants.S_IFSOCK;
  }

  isCharacterDevice(): boolean {
    return this.#type() === constants.S_IFCHR;
  }

  isBlockDevice(): boolean {
    return this.#type() === constants.S_IFBLK;
  }
}
