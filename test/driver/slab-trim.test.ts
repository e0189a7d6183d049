// Read slabs a loop no longer needs go back to the system (native
// slab_pool.h rule 6, loop_wrap.h rule 11): after a burst of reads a loop
// keeps at most 4 free slabs (1 MiB) once they have sat unused for a trim
// interval, also when the slabs come back from V8 after the loop went idle,
// and the trim runs no batch of the loop.
import test from 'ava';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import { assertNoHandlesAndClose, until, within } from '../helpers/loop-test.js';
import { Loop, TCP } from '../../handles/index.js';
import { kNative } from '../../handles/internal.js';

interface SlabState {
  slabsFree: number;
  batches: number;
}

function state(loop: Loop): SlabState {
  return loop[kNative].driverState() as unknown as SlabState;
}

async function collect(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    globalThis.gc!();
    await turn(); // finalizers of external buffers run after the collection
  }
}

test('a loop gives back the read slabs it kept once they sit unused', async (t) => {
  const loop = new Loop();
  const server = new TCP(loop);
  const conn = new TCP(loop);
  try {
    server.bind('127.0.0.1', 0);
    // Every chunk is held until the burst ends, so no slab is reused during
    // it and the pool ends up owning many.
    const held: Buffer[] = [];
    let received = 0;
    server.listen(8, () => {
      server.accept(conn);
      conn.readStart((err, data) => {
        if (data !== undefined && data !== null) {
          held.push(data);
          received += data.length;
        }
      });
    });
    const total = 16 * 1024 * 1024;
    const client = createConnection(server.getsockname().port, '127.0.0.1');
    await within(once(client, 'connect'), 'connect');
    client.end(Buffer.alloc(total, 'r'));
    await until(() => received === total, 'every byte');
    held.length = 0;
    await collect();
    const free = state(loop).slabsFree;
    t.true(free > 4, `the slabs came back to the pool: ${free} free`);
    const batches = state(loop).batches;
    // The loop is idle now (a listener and a quiet connection): only the
    // trim timer can give the slabs back.
    await until(() => state(loop).slabsFree <= 4, 'the trim', 10_000);
    t.is(state(loop).batches, batches, 'the trim ran no batch of the loop');
    client.destroy();
  } finally {
    conn.close();
    server.close();
  }
  await assertNoHandlesAndClose(t, loop);
});
