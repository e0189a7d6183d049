// handles/: libuv's handles, pyuv-style. Times are milliseconds, as in libuv.
export { Loop, type RunMode } from './loop.js';
export { Handle } from './handle.js';
export { Timer, type TimerCallback } from './timer.js';
export { LoopWatcher } from './loop-watcher.js';
export { Idle } from './idle.js';
export { Prepare } from './prepare.js';
export { Check } from './check.js';
export { Signal, type SignalCallback } from './signal.js';
export { Async, AsyncSender, type AsyncCallback, type AsyncHandle } from './async.js';
export { UvError, errname, errno } from './uv-error.js';
export { UsageError, type UsageErrorCode } from './usage-error.js';
export { UDP, type UdpAddress, type UdpBindOptions, type UdpData, type UdpRecvCallback, type UdpSendCallback } from './udp.js';
export { Stats } from './stats.js';
export * as fs from './fs.js';
export type { Dirent, DirentType, OpenFlags } from './fs.js';
export * as dns from './dns.js';
export type { AddrInfo, AddrInfoHints, DnsConstants, NameInfo } from './dns.js';
