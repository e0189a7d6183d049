// The fixture side of helpers/workers.ts.
import { parentPort } from 'node:worker_threads';

export function post(type: string, value?: unknown): void {
  parentPort!.postMessage({ type, value });
}

/** What a caught error looks like in a 'result' message. */
export function errorInfo(err: unknown): {
  name: string;
  code: unknown;
  message: string;
  previousOwner?: unknown;
} {
  const e = err as { name?: string; code?: unknown; message?: string; previousOwner?: unknown };
  return {
    name: String(e.name),
    code: e.code,
    message: String(e.message),
    previousOwner: e.previousOwner,
  };
}
