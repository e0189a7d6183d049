// How to make one live handle of each class for the fuzz tests, with the
// methods it has (handle-specs.ts) and any outside resource it needs.
import { openSync, closeSync } from 'node:fs';
import type { Handle } from '../../handles/handle.js';
import { Async } from '../../handles/async.js';
import { Check } from '../../handles/check.js';
import { FSEvent } from '../../handles/fs-event.js';
import { FSPoll } from '../../handles/fs-poll.js';
import { Idle } from '../../handles/idle.js';
import { Pipe } from '../../handles/pipe.js';
import { Poll } from '../../handles/poll.js';
import { Prepare } from '../../handles/prepare.js';
import { Process } from '../../handles/process.js';
import { Signal } from '../../handles/signal.js';
import { TCP } from '../../handles/tcp.js';
import { Timer } from '../../handles/timer.js';
import { TTY } from '../../handles/tty.js';
import { UDP } from '../../handles/udp.js';
import * as S from './handle-specs.js';
import type { Env, MethodSpec } from './handle-specs.js';

export interface Maker {
  name: string;
  make(env: Env): Handle;
  /** Closes what make() took besides the handle (after the handle is closed). */
  cleanup?(h: Handle): void;
  methods(env: () => Env): MethodSpec[];
}

/** A pty master: a terminal fd this process owns, for TTY. */
function ptyMaster(): number | undefined {
  try {
    return openSync('/dev/ptmx', 'r+');
  } catch {
    return undefined;
  }
}

export function makers(pollFd: number): Maker[] {
  const stream = S.streamMethods;
  return [
    { name: 'Timer', make: (e) => new Timer(e.loop), methods: () => S.timerMethods },
    { name: 'Idle', make: (e) => new Idle(e.loop), methods: () => S.watcherMethods },
    { name: 'Prepare', make: (e) => new Prepare(e.loop), methods: () => S.watcherMethods },
    { name: 'Check', make: (e) => new Check(e.loop), methods: () => S.watcherMethods },
    { name: 'Signal', make: (e) => new Signal(e.loop), methods: () => S.signalMethods },
    { name: 'Async', make: (e) => new Async(e.loop, () => {}), methods: () => S.asyncMethods },
    { name: 'TCP', make: (e) => new TCP(e.loop), methods: () => [...stream, ...S.tcpMethods] },
    { name: 'UDP', make: (e) => new UDP(e.loop), methods: () => S.udpMethods },
    { name: 'Pipe', make: (e) => new Pipe(e.loop), methods: () => [...stream, ...S.pipeMethods] },
    {
      name: 'Pipe(ipc)',
      make: (e) => new Pipe(e.loop, true),
      methods: () => [...stream, ...S.pipeMethods],
    },
    { name: 'Poll', make: (e) => new Poll(e.loop, pollFd), methods: () => S.pollMethods },
    { name: 'FSPoll', make: (e) => new FSPoll(e.loop), methods: (env) => S.fsPollMethods(env) },
    { name: 'FSEvent', make: (e) => new FSEvent(e.loop), methods: (env) => S.fsEventMethods(env) },
    {
      name: 'Process',
      make: (e) => Process.spawn(e.loop, { file: 'true', stdio: ['pipe', 'ignore', 'ignore'] }),
      cleanup: (h) => {
        for (const p of (h as Process).stdio) p?.close();
      },
      methods: () => S.processMethods,
    },
    {
      name: 'TTY',
      make: (e) => {
        const fd = ptyMaster();
        if (fd === undefined) throw new Error('no /dev/ptmx');
        try {
          return new TTY(e.loop, fd, true);
        } catch (err) {
          closeSync(fd);
          throw err;
        }
      },
      // The TTY closes its fd itself (libuv closes stream fds above 2).
      methods: () => [...stream, ...S.ttyMethods],
    },
  ];
}
