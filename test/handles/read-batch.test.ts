// Stream reads reach JS in batches (native/loop_wrap.h rule 10): the rules
// that keep a batch indistinguishable from one call per read, with real TCP
// sockets and pipes, on the embedded loop and in a blocking run().
//   (a) callbacks in libuv's order: a read before another handle's callback
//       that follows it in the poll phase, every read before the check phase;
//   (b) the bytes of a batch that spans slabs stay intact;
//   (d) a stream stopped (or closed) by an earlier read's callback gets no
//       read until it reads again (never, once closed); EOF stays behind the
//       data. (c), a throw from one read's callback, runs in a child
//       process: read-batch-exceptions.test.ts.
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { Check, Loop, type Stream, Timer, UDP } from 'asyncuv';
import { assertNoHandlesAndClose } from '../helpers/loop-test.js';
import { type Kind, connectPairs } from '../helpers/stream-pairs.js';

type Mode = 'embedded' | 'blocking';

/**
 * Runs the loop until `done` settles: on Node's loop (embedded), or by a
 * blocking run() that returns once the test closed its handles.
 */
async function drive(loop: Loop, mode: Mode, done: Promise<void>): Promise<void> {
  if (mode === 'blocking') loop.run('default');
  await done;
}

function closeAll(...handles: Closable[]): void {
  for (const h of handles) if (!h.closed) h.close();
}

/** A guard that fails the test instead of hanging it (unref'd: never keeps a run alive). */
function guard(t: ExecutionContext, loop: Loop, onTimeout: () => void): Timer {
  const timer = new Timer(loop);
  timer.start(() => {
    t.fail('timed out');
    onTimeout();
  }, 20_000);
  timer.unref();
  return timer;
}

const kinds: Kind[] = ['tcp', 'pipe'];
const modes: Mode[] = ['embedded', 'blocking'];

interface Scene {
  loop: Loop;
  servers: Stream[];
  clients: Stream[];
  events: string[];
  /** Settles once end() ran. */
  done: Promise<void>;
  /** Closes every handle of the scene (own() ones too) and settles done. */
  end(): void;
  /** Adds a handle for end() to close. */
  own<H extends Closable>(handle: H): H;
}

type Closable = { closed: boolean; close(): void };

/** `n` connected pairs of `kind` on a new Loop, with a guard timer and an event log. */
async function scene(t: ExecutionContext, kind: Kind, n: number): Promise<Scene> {
  const loop = new Loop();
  const { servers, clients, listener } = await connectPairs(loop, kind, n);
  listener.close();
  const owned: Closable[] = [];
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const end = (): void => {
    closeAll(timer, ...owned, ...servers, ...clients);
    finish();
  };
  const timer = guard(t, loop, end);
  const own = <H extends Closable>(handle: H): H => {
    owned.push(handle);
    return handle;
  };
  return { loop, servers, clients, events: [], done, end, own };
}

for (const kind of kinds) {
  for (const mode of modes) {
    test(`${kind}, ${mode}: reads in libuv's order around another handle's callback and the check phase`, async (t) => {
      const { loop, servers, clients, events, done, end, own } = await scene(t, kind, 2);
      const udp = own(new UDP(loop));
      udp.bind('127.0.0.1', 0);
      const sender = own(new UDP(loop));
      const check = own(new Check(loop));
      servers.forEach((s, i) =>
        s.readStart((err, data) => {
          if (err) throw err;
          if (data !== null) events.push(`read ${i}: ${data.toString()}`);
        }),
      );
      udp.recvStart((err, data) => {
        if (err) throw err;
        if (data !== null && data.length > 0) events.push(`udp: ${data.toString()}`);
      });
      // All three are readable before the next poll. Linux's epoll gives
      // the two TCP sockets (or pipes) before the UDP socket here, and one
      // call per read (main before read batches) runs 'read 0', 'read 1',
      // 'udp', then the check phase: the UDP callback must flush the reads
      // queued before it, or it would run first.
      check.start(() => {
        if (events.length === 3) {
          events.push('check');
          end();
        }
      });
      clients[0]!.write(Buffer.from('a'));
      sender.trySend(Buffer.from('u'), '127.0.0.1', udp.getsockname().port);
      clients[1]!.write(Buffer.from('b'));
      await drive(loop, mode, done);
      t.deepEqual(events, ['read 0: a', 'read 1: b', 'udp: u', 'check']);
      await assertNoHandlesAndClose(t, loop);
    });

    test(`${kind}, ${mode}: a stream stopped by an earlier read of its batch gets its read once it reads again`, async (t) => {
      const { loop, servers, clients, events, done, end, own } = await scene(t, kind, 3);
      const resume = own(new Timer(loop));
      const onRead =
        (i: number) =>
        (err: Error | null, data: Buffer | null): void => {
          if (err) throw err;
          events.push(data === null ? `eof ${i}` : `read ${i}: ${data.toString()}`);
          // The first read stops the other two, whose bytes were read in the
          // same pass: they wait until a timer's callback reads again.
          if (events.length === 1) {
            for (const s of servers) if (s !== servers[i]) s.readStop();
            resume.start(() => {
              events.push('resume');
              servers.forEach((s, j) => j !== i && s.readStart(onRead(j)));
            }, 1);
          }
          if (events.filter((e) => e.startsWith('eof')).length === 3) end();
        };
      servers.forEach((s, i) => s.readStart(onRead(i)));
      // Data, then EOF, on each connection.
      clients.forEach((c, i) => {
        c.write(Buffer.from(`x${i}`));
        c.close();
      });
      await drive(loop, mode, done);
      t.is(events[0], 'read 0: x0', `${events}`);
      const resumed = events.indexOf('resume');
      t.true(resumed > 0, `${events}`);
      for (const i of [1, 2]) {
        const read = events.indexOf(`read ${i}: x${i}`);
        t.true(read > resumed, `stream ${i} read only after it read again: ${events}`);
        t.true(events.indexOf(`eof ${i}`) > read, `EOF behind the data: ${events}`);
      }
      t.is(events.length, 7, `each read exactly once: ${events}`);
      await assertNoHandlesAndClose(t, loop);
    });

    test(`${kind}, ${mode}: a stream closed by an earlier read of its batch gets no read`, async (t) => {
      const { loop, servers, clients, events, done, end } = await scene(t, kind, 3);
      servers.forEach((s, i) =>
        s.readStart((err, data) => {
          if (err) throw err;
          events.push(data === null ? `eof ${i}` : `read ${i}: ${data.toString()}`);
          if (i === 0 && data !== null) {
            servers[1]!.close();
            servers[2]!.close();
          }
          if (i === 0 && data === null) end();
        }),
      );
      clients.forEach((c, i) => {
        c.write(Buffer.from(`x${i}`));
        c.close();
      });
      await drive(loop, mode, done);
      t.deepEqual(events, ['read 0: x0', 'eof 0']);
      await assertNoHandlesAndClose(t, loop);
    });

    test(`${kind}, ${mode}: a read queued before a switch to readStartInto lands in the new buffer`, async (t) => {
      const { loop, servers, clients, events, done, end } = await scene(t, kind, 2);
      // 3 bytes at a time: the 8 bytes queued for stream 1 take three reads.
      const into = Buffer.alloc(3);
      const payload = 'abcdefgh';
      let got = '';
      servers[0]!.readStart((err, data) => {
        if (err) throw err;
        if (data === null) return;
        events.push(`read 0: ${data.toString()}`);
        servers[1]!.readStartInto(into, (e, n) => {
          if (e) throw e;
          if (n === 0) return end();
          events.push(`into 1: ${n}`);
          got += into.subarray(0, n).toString();
        });
      });
      servers[1]!.readStart(() => t.fail('the queued read went to the old callback'));
      clients[0]!.write(Buffer.from('x'));
      clients[1]!.write(Buffer.from(payload));
      clients[1]!.close();
      await drive(loop, mode, done);
      t.is(got, payload);
      t.is(events[0], 'read 0: x');
      await assertNoHandlesAndClose(t, loop);
    });
  }

  test(`${kind}: a batch that spans slabs keeps every read's bytes`, async (t) => {
    const loop = new Loop();
    const n = 8;
    const { servers, clients, listener } = await connectPairs(loop, kind, n);
    listener.close();
    // 8 x 96 KiB is three 256 KiB slabs' worth, read in the same passes.
    const payloads = clients.map(() => randomBytes(96 * 1024));
    const received = servers.map(() => [] as Buffer[]);
    let eofs = 0;
    const done = new Promise<void>((resolve) =>
      servers.forEach((s, i) =>
        s.readStart((err, data) => {
          if (err) throw err;
          if (data !== null) received[i]!.push(data);
          else if (++eofs === n) resolve();
        }),
      ),
    );
    clients.forEach((c, i) => {
      c.write(payloads[i]!, () => c.close());
    });
    await done;
    servers.forEach((s, i) => {
      t.true(Buffer.concat(received[i]!).equals(payloads[i]!), `connection ${i}`);
      s.close();
    });
    await assertNoHandlesAndClose(t, loop);
  });
}
