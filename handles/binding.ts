// Loads the native addon. Only handles/ and sync/ import this module.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { findAddonFile, platformName } from './addon-file.js';

/** Every native method returns 0 or a negative libuv error code. */
export type Status = number;
/** A write by id: undefined when every byte was written now, else a Status. */
export type WriteStatus = Status | undefined;

/** The parts every native handle wrap has (native/handle_wrap.h). */
export interface NativeHandle {
  owner?: unknown;
  onevent?: ((...args: never[]) => void) | undefined;
  onclose?: (() => void) | undefined;
  /** `notify`: call onclose once closed. */
  close(notify?: boolean): void;
  ref(): Status;
  unref(): Status;
  hasRef(): boolean;
  isActive(): boolean;
  fileno(): number;
}

export interface NativeLoop {
  owner?: unknown;
  run(mode: number): number;
  stop(): void;
  close(): Status;
  now(): number;
  updateTime(): void;
  /** updateTime, unless a pass of the loop runs (native/loop_wrap.h). */
  renewTime(): void;
  alive(): boolean;
  running(): boolean;
  /** See Loop.setBatchLimits; the budget in nanoseconds. */
  setBatchLimits(passes: number, budgetNs: number): Status;
  /** [passes, budgetNs] */
  batchLimits(): [number, number];
  fileno(): number;
  handles(): unknown[];
  handleCounts(): Record<string, number>;
  driverState(): Record<string, unknown>;
  checkpoint(): void;
}

export interface NativeTimer extends NativeHandle {
  start(timeout: number, repeat: number): Status;
  stop(): Status;
  again(): Status;
  getRepeat(): number;
  setRepeat(repeat: number): Status;
  getDueIn(): number;
}

export interface NativeWatcher extends NativeHandle {
  init(loop: NativeLoop): Status;
  start(): Status;
  stop(): Status;
}

export interface NativeSignal extends NativeHandle {
  init(loop: NativeLoop): Status;
  start(signum: number): Status;
  stop(): Status;
}

export interface NativeAsync extends NativeHandle {
  init(loop: NativeLoop): Status;
  send(): Status;
  channelId(): bigint;
}

export interface NativeAsyncSender {
  send(): Status;
  isOpen(): boolean;
}

export interface Binding {
  uvVersion: string;
  callbackNames(): string[];
  setEmitters(emitters: Array<(...args: unknown[]) => void>): Status;
  /**
   * A stream's writeBuffer(view), by the stream's id() (native/stream_wrap.h
   * rule 4): undefined when every byte was written now, else 1 (queued) or
   * a negative code.
   */
  streamWrite(id: number, view: Uint8Array): WriteStatus;
  /** A stream's writev(views), by the stream's id(); returns as streamWrite. */
  streamWritev(id: number, views: Uint8Array[]): WriteStatus;
  /** The function that delivers a loop's batch of stream reads (handles/stream.ts). */
  setReadDispatcher(
    fn: (batch: Float64Array, slab: ArrayBuffer | undefined, registry: never[]) => void,
  ): Status;
  errname(code: number): string;
  strerror(code: number): string;
  errors(): Record<string, number>;
  Loop: new () => NativeLoop;
  /** Timer functions: see handles/timer-native.ts. */
  timer: unknown;
  Idle: new () => NativeWatcher;
  Prepare: new () => NativeWatcher;
  Check: new () => NativeWatcher;
  Signal: new () => NativeSignal;
  Async: new () => NativeAsync;
  AsyncSender: new (id: bigint) => NativeAsyncSender;
  [more: string]: unknown;
}

function load(): Binding {
  if (process.platform === 'win32') {
    throw new Error('asyncuv: Windows has no pollable libuv backend fd; it is not supported');
  }
  // dist/handles/binding.js -> the package root
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const file = findAddonFile(root);
  if (file instanceof Error) throw file;
  const require = createRequire(import.meta.url);
  try {
    return require(file) as Binding;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `asyncuv: the native addon ${file} does not load on ${platformName()}: ${reason}. ` +
        'Build it from source with cmake (3.15 or later) and a C++17 compiler on PATH: ' +
        'ASYNCUV_BUILD_FROM_SOURCE=1 npm rebuild asyncuv',
      { cause: err },
    );
  }
}

/**
 * The function the native side calls for callback property `name` (one of
 * binding.callbackNames(): onevent, onread, ...; native/addon.h, Key), with
 * the wrap's JS object as `this`: it calls the function the property holds,
 * if any, with the same arguments. The lookup happens here, where V8 caches
 * it, instead of in C++, where each one was a generic property load.
 */
function emitter(name: string): (...args: unknown[]) => void {
  return function emit(this: Record<string, unknown>) {
    const fn = this[name];
    // `arguments`, not a rest parameter: the callback gets exactly the native
    // call's arguments, with no array made for them.
    // eslint-disable-next-line prefer-rest-params
    if (typeof fn === 'function') Reflect.apply(fn, this, arguments);
  };
}

function withEmitters(b: Binding): Binding {
  if (b.setEmitters(b.callbackNames().map(emitter)) !== 0) {
    throw new Error('asyncuv: the native addon refused its callback emitters');
  }
  return b;
}

export const binding: Binding = withEmitters(load());
