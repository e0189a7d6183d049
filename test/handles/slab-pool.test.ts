// The read slabs' memory is reused once V8 collected every view of a slab
// (native/slab_pool.h): a Buffer that a read callback kept must keep its
// bytes however many slabs pass and are collected after it, also once its
// loop is closed.
import test from 'ava';
import { Loop, type Stream } from 'asyncuv';
import { assertNoHandlesAndClose } from '../helpers/loop-test.js';
import { connectPairs } from '../helpers/stream-pairs.js';

const gc = (globalThis as { gc?: () => void }).gc;

/** Byte k of the stream: a pattern with a period that no slab size divides. */
function chunk(from: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (from + i) % 251;
  return b;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Collects garbage and lets Node run the slabs' finalizers (an immediate). */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await turn();
  }
}

/**
 * Sends `bursts` of `size` bytes from client to server, collecting garbage
 * between bursts; returns the first Buffer the server read, whether every
 * byte arrived in order, and the bytes read.
 */
async function stream(
  server: Stream,
  client: Stream,
  bursts: number,
  size: number,
): Promise<{ first: Buffer; ok: boolean; total: number }> {
  let first: Buffer | undefined;
  let total = 0;
  let ok = true;
  let wake: (() => void) | undefined;
  server.readStart((err, data) => {
    if (err !== null || data === null) throw err ?? new Error('EOF');
    first ??= data;
    for (let i = 0; i < data.length; i++) if (data[i] !== (total + i) % 251) ok = false;
    total += data.length;
    wake?.();
  });
  for (let b = 0; b < bursts; b++) {
    const target = (b + 1) * size;
    const arrived = new Promise<void>((resolve) => {
      wake = () => {
        if (total >= target) resolve();
      };
    });
    client.write(chunk(b * size, size));
    await arrived;
    await collect();
  }
  server.readStop();
  return { first: first!, ok, total };
}

test('a kept read Buffer keeps its bytes while later slabs are collected and reused', async (t) => {
  t.truthy(gc, 'ava runs with --expose-gc');
  const loop = new Loop();
  const { servers, clients, listener } = await connectPairs(loop, 'tcp', 1);
  listener.close();
  // 24 bursts of 1 MiB: about 100 slabs of 256 KiB, most collected on the way.
  const { first, ok, total } = await stream(servers[0]!, clients[0]!, 24, 1 << 20);
  t.true(ok, 'every byte in order');
  t.is(total, 24 << 20);
  t.true(first.length > 0);
  t.true(first.equals(chunk(0, first.length)), 'the first read is intact');
  servers[0]!.close();
  clients[0]!.close();
  await assertNoHandlesAndClose(t, loop);
});

test('read Buffers outlive their closed loop, and their slabs are freed after it', async (t) => {
  t.truthy(gc, 'ava runs with --expose-gc');
  const loop = new Loop();
  const { servers, clients, listener } = await connectPairs(loop, 'tcp', 1);
  listener.close();
  const { first, ok } = await stream(servers[0]!, clients[0]!, 4, 512 << 10);
  t.true(ok);
  servers[0]!.close();
  clients[0]!.close();
  await assertNoHandlesAndClose(t, loop);
  // The loop is closed: the slabs still referenced are given back to a
  // released pool, which frees them (ASan sees a use after free otherwise).
  await collect();
  t.true(first.equals(chunk(0, first.length)));
});

test('past the 128 slabs a pool may own, reads go on in Buffers of Node, every byte kept intact', async (t) => {
  const loop = new Loop();
  const { servers, clients, listener } = await connectPairs(loop, 'tcp', 1);
  listener.close();
  const kept: Buffer[] = [];
  const slabs = new Set<ArrayBufferLike>();
  const size = 48 << 20;
  let total = 0;
  const done = new Promise<void>((resolve, reject) => {
    servers[0]!.readStart((err, data) => {
      if (err !== null || data === null) return reject(err ?? new Error('EOF'));
      kept.push(data); // a view of each slab stays alive: none can be reused
      slabs.add(data.buffer);
      total += data.length;
      if (total >= size) resolve();
    });
  });
  for (let at = 0; at < size; at += 1 << 20) clients[0]!.write(chunk(at, 1 << 20));
  await done;
  servers[0]!.readStop();
  t.is(total, size);
  // All alive at once: more than the pool may own, so some are Node's.
  t.true(slabs.size > 128, `${slabs.size} slabs alive`);
  let at = 0;
  let ok = true;
  for (const b of kept) {
    for (let i = 0; i < b.length; i++) if (b[i] !== (at + i) % 251) ok = false;
    at += b.length;
  }
  t.true(ok, 'every kept byte is the byte sent');
  servers[0]!.close();
  clients[0]!.close();
  await assertNoHandlesAndClose(t, loop);
});
