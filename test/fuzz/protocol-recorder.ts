// Protocols that record their callbacks, and the order rules of
// asyncio.protocols they must follow whatever the transport was asked to do.
import type { Buffer } from 'node:buffer';
import { typedError } from './arbitraries.js';

export class Recorder {
  readonly events: string[] = [];
  lostResolve!: () => void;
  readonly lost = new Promise<void>((resolve) => {
    this.lostResolve = resolve;
  });
  transport: unknown;
  constructor(readonly halfClose = false) {}
  protected push(event: string): void {
    this.events.push(event);
  }
  connectionMade(transport: unknown): void {
    this.transport = transport;
    this.push('made');
  }
  connectionLost(): void {
    this.push('lost');
    this.lostResolve();
  }
  pauseWriting(): void {
    this.push('pause');
  }
  resumeWriting(): void {
    this.push('resume');
  }
}

export class StreamRecorder extends Recorder {
  dataReceived(data: Buffer): void {
    if (data.length === 0) this.push('empty-data');
    this.push('data');
  }
  eofReceived(): boolean {
    this.push('eof');
    return this.halfClose;
  }
}

export class DatagramRecorder extends Recorder {
  datagramReceived(): void {
    this.push('datagram');
  }
  errorReceived(err: Error): void {
    // A sendto() whose address made the send throw reports that error here
    // (asyncio's endpoint stays usable too): the caller's TypeError counts.
    this.push(typedError(err) === undefined ? 'error' : 'untyped-error');
  }
}

export class SubprocessRecorder extends Recorder {
  pipeDataReceived(fd: number): void {
    this.push(`pipe-data:${fd}`);
  }
  pipeConnectionLost(fd: number): void {
    this.push(`pipe-lost:${fd}`);
  }
  processExited(): void {
    this.push('exited');
  }
}

/** The protocol rules; returns what was broken, or undefined. */
export function protocolViolation(
  events: readonly string[],
  kind: 'stream' | 'datagram' | 'subprocess',
): string | undefined {
  const at = (e: string): number => events.indexOf(e);
  const count = (e: string): number => events.filter((x) => x === e).length;
  if (events[0] !== 'made') return `first callback is ${events[0]}, not connectionMade`;
  if (count('made') !== 1) return 'connectionMade more than once';
  if (count('lost') !== 1) return `connectionLost ${count('lost')} times`;
  if (events[events.length - 1] !== 'lost')
    return `callbacks after connectionLost: ${events.slice(at('lost') + 1).join(',')}`;
  if (events.includes('empty-data')) return 'dataReceived with no bytes';
  if (events.includes('untyped-error')) return 'errorReceived with an untyped error';
  // pauseWriting and resumeWriting alternate, pause first.
  let paused = false;
  for (const e of events) {
    if (e === 'pause') {
      if (paused) return 'pauseWriting twice';
      paused = true;
    } else if (e === 'resume') {
      if (!paused) return 'resumeWriting without pauseWriting';
      paused = false;
    }
  }
  if (kind === 'stream') {
    if (count('eof') > 1) return 'eofReceived twice';
    if (at('eof') !== -1 && events.indexOf('data', at('eof')) !== -1)
      return 'dataReceived after eofReceived';
  }
  if (kind === 'subprocess') {
    if (count('exited') !== 1) return `processExited ${count('exited')} times`;
    for (const fd of [0, 1, 2]) {
      const lost = at(`pipe-lost:${fd}`);
      if (count(`pipe-lost:${fd}`) > 1) return `pipeConnectionLost(${fd}) twice`;
      if (lost !== -1 && events.indexOf(`pipe-data:${fd}`, lost) !== -1)
        return `pipeDataReceived(${fd}) after its pipe was lost`;
    }
  }
  return undefined;
}
