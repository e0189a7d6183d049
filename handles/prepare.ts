import { binding } from './binding.js';
import { LoopWatcher } from './loop-watcher.js';
import type { Loop } from './loop.js';

/** Runs once per loop iteration, right before the loop polls for I/O (uv_prepare_t). */
export class Prepare extends LoopWatcher {
  constructor(loop?: Loop) {
    super(loop, new binding.Prepare(), 'prepare');
  }
}
