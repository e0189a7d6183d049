// handles/: libuv's handles, pyuv-style. Times are milliseconds, as in libuv.
export { Loop, type BatchLimits, type RunMode } from './loop.js';
export { Handle } from './handle.js';
export { Timer, type TimerCallback } from './timer.js';
export { LoopWatcher } from './loop-watcher.js';
export { Idle } from './idle.js';
export { Prepare } from './prepare.js';
export { Check } from './check.js';
export { Signal, type SignalCallback } from './signal.js';
export { Async, AsyncSender, type AsyncCallback, type AsyncHandle } from './async.js';
export { UvError, errname, errno } from './uv-error.js';
export { UsageError, type UsageErrorCode } from '../errors/usage-error.js';
export {
  Stream,
  type ReadCallback,
  type ReadIntoCallback,
  type WriteCallback,
  type WriteData,
} from './stream.js';
export { TCP, type SocketAddress, type TcpBindOptions, type TcpOpenOptions } from './tcp.js';
export {
  UDP,
  type UdpAddress,
  type UdpBindOptions,
  type UdpData,
  type UdpRecvCallback,
  type UdpSendCallback,
} from './udp.js';
export { Stats } from './stats.js';
export * as fs from './fs.js';
export type { Dirent, DirentType, FileTime, OpenFlags } from './fs.js';
export * as dns from './dns.js';
export type { AddrInfo, AddrInfoHints, DnsConstants, NameInfo } from './dns.js';
export { Poll, type PollCallback, type PollEvents } from './poll.js';
export { FSPoll, type FSPollCallback } from './fs-poll.js';
export {
  FSEvent,
  type FSEventCallback,
  type FSEventKinds,
  type FSEventOptions,
} from './fs-event.js';
export { Pipe, type PendingType, type PipeMode } from './pipe.js';
export { TTY, type TtyMode, type WindowSize } from './tty.js';
export { Process, type SpawnOptions, type StdioOption, type ExitCallback } from './process.js';
