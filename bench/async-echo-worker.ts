// Worker side of the cross-thread wake-up benchmark (timers.bench.ts).
// Echoes both ways the main thread pings it:
// - asyncuv: its own Async wakes it; its callback wakes the main thread's
//   Async through a sender. No payload, nothing else on the wire.
// - Node: a MessagePort message is answered with a message.
import { parentPort, workerData } from 'node:worker_threads';
import { Async, type AsyncHandle } from '../handles/index.js';

const port = parentPort!;
const toMain = Async.from((workerData as { main: AsyncHandle }).main);
const mine = new Async(() => toMain.send());
port.on('message', (message: unknown) => {
  if (message === 'stop') {
    mine.close();
    port.close();
    return;
  }
  port.postMessage(message);
});
port.postMessage({ handle: mine.handle });
