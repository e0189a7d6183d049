// The tour's steps, in order. A new area of asyncuv adds its step here.
import { asyncWorker } from './async-worker.js';
import { asyncioLayer } from './asyncio-layer.js';
import { httpOnLoop } from './http.js';
import { locks } from './locks.js';
import { resp } from './resp.js';
import { signals } from './signals.js';
import type { TourStep } from './step.js';
import { tcpEcho } from './tcp-echo.js';
import { threads } from './threads.js';
import { timers } from './timers.js';

export const steps: TourStep[] = [
  timers,
  signals,
  asyncWorker,
  locks,
  tcpEcho,
  asyncioLayer,
  httpOnLoop,
  threads,
  resp,
];
