// Async context (AsyncLocalStorage) through the handles layer
// (handles/async-context.ts): each callback runs in the context of the call
// that gave it (start, readStart, listen, connect, write, shutdown, send,
// close, spawn's onExit), as Node's setTimeout and its socket requests do,
// and not in whatever context the loop's batch happens to run in.
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Async,
  Check,
  FSEvent,
  FSPoll,
  Idle,
  Poll,
  Prepare,
  Process,
  Signal,
  TCP,
  Timer,
  UDP,
} from 'asyncuv';
import { loopTest, within } from '../helpers/loop-test.js';

const als = new AsyncLocalStorage<string>();

/** Resolves with the store seen by the callback `give` registers. */
function storeSeen(give: (done: () => void) => void): Promise<string | undefined> {
  return new Promise((resolve) => give(() => resolve(als.getStore())));
}

loopTest(
  'Timer, Idle, Prepare and Check callbacks run in the context of their start()',
  async (t, loop) => {
    const timer = new Timer(loop);
    const first = storeSeen((done) => als.run('timer-1', () => timer.start(done, 1)));
    t.is(await within(first, 'timer'), 'timer-1');
    // A restart from another context moves the callback there.
    const second = storeSeen((done) => als.run('timer-2', () => timer.start(done, 1)));
    t.is(await within(second, 'timer again'), 'timer-2');
    timer.close();
    for (const Watcher of [Idle, Prepare, Check]) {
      const watcher = new Watcher(loop);
      const seen = storeSeen((done) =>
        als.run(Watcher.name, () =>
          watcher.start(() => {
            watcher.stop();
            done();
          }),
        ),
      );
      t.is(await within(seen, Watcher.name), Watcher.name);
      watcher.close();
    }
  },
);

loopTest('an Async callback runs in the context that made it, whoever sends', async (t, loop) => {
  let resolve!: (store: string | undefined) => void;
  const seen = new Promise<string | undefined>((r) => (resolve = r));
  const async = als.run('async', () => new Async(loop, () => resolve(als.getStore())));
  // A sender as another thread would use it, from a context of its own.
  als.run('sender', () => Async.from(async.handle).send());
  t.is(await within(seen, 'async callback'), 'async');
  async.close();
});

loopTest(
  'TCP: listen, connect, readStart, write, shutdown and close callbacks each run in the context of their call',
  async (t, loop) => {
    const seen = new Map<string, string | undefined>();
    const mark = (what: string): void => void seen.set(what, als.getStore());
    const server = new TCP(loop);
    server.bind('127.0.0.1', 0);
    const accepted = new Promise<TCP>((resolve) =>
      als.run('listen', () =>
        server.listen(8, (err) => {
          if (err) throw err;
          mark('listen');
          const conn = new TCP(loop);
          server.accept(conn);
          resolve(conn);
        }),
      ),
    );
    const client = new TCP(loop);
    await new Promise<void>((resolve, reject) =>
      als.run('connect', () =>
        client.connect('127.0.0.1', server.getsockname().port, (err) => {
          mark('connect');
          if (err) reject(err);
          else resolve();
        }),
      ),
    );
    const conn = await within(accepted, 'accept');
    const got = new Promise<void>((resolve) =>
      als.run('read', () =>
        conn.readStart((err, data) => {
          if (err) throw err;
          mark(data === null ? 'eof' : 'read');
          if (data === null) resolve();
        }),
      ),
    );
    // 8 MiB: more than the socket takes at once, so the write is queued.
    await new Promise<void>((resolve) =>
      als.run('write', () =>
        client.write(Buffer.alloc(8 << 20), (err) => {
          if (err) throw err;
          mark('write');
          resolve();
        }),
      ),
    );
    await new Promise<void>((resolve) =>
      als.run('shutdown', () =>
        client.shutdown(() => {
          mark('shutdown');
          resolve();
        }),
      ),
    );
    await within(got, 'eof');
    await new Promise<void>((resolve) =>
      als.run('close', () =>
        client.close(() => {
          mark('close');
          resolve();
        }),
      ),
    );
    conn.close();
    server.close();
    t.deepEqual(Object.fromEntries(seen), {
      listen: 'listen',
      connect: 'connect',
      read: 'read',
      write: 'write',
      shutdown: 'shutdown',
      eof: 'read',
      close: 'close',
    });
  },
);

loopTest('UDP: recvStart and send callbacks run in the context of their call', async (t, loop) => {
  const receiver = new UDP(loop);
  receiver.bind('127.0.0.1', 0);
  const received = storeSeen((done) => als.run('recv', () => receiver.recvStart(() => done())));
  const sender = new UDP(loop);
  const sent = storeSeen((done) =>
    als.run('send', () =>
      sender.send(Buffer.from('x'), '127.0.0.1', receiver.getsockname().port, done),
    ),
  );
  t.is(await within(sent, 'send'), 'send');
  t.is(await within(received, 'recv'), 'recv');
  receiver.close();
  sender.close();
});

loopTest('Process: onExit runs in the context of spawn()', async (t, loop) => {
  let proc: Process | undefined;
  const exited = storeSeen((done) =>
    als.run('spawn', () => {
      proc = Process.spawn(loop, { file: 'true', args: [], onExit: done });
    }),
  );
  t.is(await within(exited, 'exit'), 'spawn');
  proc?.close();
});

loopTest.serial('Signal: the callback runs in the context of start()', async (t, loop) => {
  const signal = new Signal(loop);
  // SIGWINCH: its default action is to do nothing, so a stray one is harmless.
  const caught = storeSeen((done) => als.run('signal', () => signal.start(done, 'SIGWINCH')));
  als.run('sender', () => process.kill(process.pid, 'SIGWINCH'));
  t.is(await within(caught, 'signal'), 'signal');
  signal.close();
});

loopTest(
  'Poll, FSPoll and FSEvent callbacks run in the context of their start()',
  async (t, loop) => {
    const dir = mkdtempSync(join(tmpdir(), 'asyncuv-als-'));
    const file = join(dir, 'f');
    writeFileSync(file, '');
    // Poll: a bound UDP socket is writable at once.
    const udp = new UDP(loop);
    udp.bind('127.0.0.1', 0);
    const poll = new Poll(loop, udp.fileno());
    const polled = storeSeen((done) =>
      als.run('poll', () =>
        poll.start({ writable: true }, () => {
          poll.stop();
          done();
        }),
      ),
    );
    t.is(await within(polled, 'poll'), 'poll');
    const fsPoll = new FSPoll(loop);
    const fsEvent = new FSEvent(loop);
    const statted = storeSeen((done) =>
      als.run('fs-poll', () =>
        fsPoll.start(file, 20, () => {
          fsPoll.stop();
          done();
        }),
      ),
    );
    const watched = storeSeen((done) =>
      als.run('fs-event', () =>
        fsEvent.start(dir, () => {
          fsEvent.stop();
          done();
        }),
      ),
    );
    // Grows the file (for FSPoll's next stat) and changes the directory,
    // from a context of its own, until both have called back.
    let n = 0;
    const writer = setInterval(
      () => als.run('writer', () => writeFileSync(file, 'x'.repeat(++n))),
      25,
    );
    try {
      t.is(await within(statted, 'fs-poll'), 'fs-poll');
      t.is(await within(watched, 'fs-event'), 'fs-event');
    } finally {
      clearInterval(writer);
      for (const h of [poll, udp, fsPoll, fsEvent]) h.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
