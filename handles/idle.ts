import { binding } from './binding.js';
import { LoopWatcher } from './loop-watcher.js';
import type { Loop } from './loop.js';

/** Runs once per loop iteration while started, and keeps the loop from blocking in poll (uv_idle_t). */
export class Idle extends LoopWatcher {
  constructor(loop?: Loop) {
    super(loop, new binding.Idle(), 'idle');
  }
}
