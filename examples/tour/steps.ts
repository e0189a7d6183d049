// The tour's steps, in order. A new area of asyncuv adds its step here.
import { asyncWorker } from './async-worker.js';
import { signals } from './signals.js';
import type { TourStep } from './step.js';
import { timers } from './timers.js';

export const steps: TourStep[] = [timers, signals, asyncWorker];
