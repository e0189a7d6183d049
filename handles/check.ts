import { binding } from './binding.js';
import { LoopWatcher } from './loop-watcher.js';
import type { Loop } from './loop.js';

/** Runs once per loop iteration, right after the loop polled for I/O (uv_check_t). */
export class Check extends LoopWatcher {
  constructor(loop?: Loop) {
    super(loop, new binding.Check(), 'check');
  }
}
