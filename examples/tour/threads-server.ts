// The module the threads step of the tour (tour/threads.ts) serves on every
// core: each thread counts every request in one hit counter shared by all
// threads, a SharedArrayBuffer guarded by an asyncuv Mutex, and answers
// with its own slot number.
import type http from 'node:http';
import { Mutex, type MutexHandle, type ThreadContext } from '../../index.js';

export interface TourShared {
  mutex: MutexHandle;
  hits: SharedArrayBuffer;
}

let index = -1;
let mutex: Mutex;
let hits: Int32Array;

export function setup(shared: TourShared, thread: ThreadContext): void {
  index = thread.index;
  mutex = Mutex.from(shared.mutex);
  hits = new Int32Array(shared.hits);
}

export async function requestListener(
  _req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  // lockAsync() never blocks this thread's loop while another thread holds the lock.
  await mutex.lockAsync();
  // A plain read-modify-write: only the lock makes it exact.
  hits[0] = hits[0]! + 1;
  mutex.unlock();
  res.end(`thread ${index}`);
}
