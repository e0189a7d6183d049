// loop/: the PEP 3156 (asyncio) layer. Times are seconds, as in asyncio.
export { CallbackHandle, TimerHandle } from './events.js';
export type {
  Callback,
  AbstractEventLoop,
  AddrInfo as LoopAddrInfo,
  AcceptedSocketOptions,
  ConnectionOptions,
  DatagramOptions,
  ExceptionContext,
  ExceptionHandler,
  ResourceKind,
  Server,
  ServerAddress,
  ServerOptions,
  StdioSpec,
  SubprocessOptions,
  TlsOptions,
  StartTlsLoopOptions,
  UnixConnectionOptions,
  UnixServerAddress,
  UnixServerOptions,
} from './events.js';
export type {
  Address,
  BaseProtocol,
  BufferedProtocol,
  DatagramProtocol,
  Protocol,
  SubprocessProtocol,
  AnyProtocol,
} from './protocols.js';
export type {
  BaseTransport,
  DatagramExtraInfo,
  DatagramTransport,
  ExtraInfo,
  ExtraInfoValue,
  ReadTransport,
  SubprocessExtraInfo,
  SubprocessTransport,
  Transport,
  WriteBufferLimits,
  WriteTransport,
} from './transports.js';
export { BaseEventLoop, getRunningLoop } from './base-event-loop.js';
export { defineProtocol } from './define-protocol.js';
export { UvEventLoop } from './uv-event-loop.js';
export { IncompleteReadError, LimitOverrunError, CancelledError, TimeoutError } from './errors.js';
export type { AbortOptions } from './abort.js';
export { SendfileNotAvailableError, type SendfileFile, type SendfileOptions } from './sendfile.js';
export type { SockData } from './sock-ops.js';
export { waitFor } from './wait-for.js';
// The errors of every layer: connection failures are UvErrors, misuse UsageErrors.
export { UsageError, type UsageErrorCode } from '../errors/usage-error.js';
export { UvError } from '../handles/uv-error.js';
export { newEventLoop, setEventLoopFactory, run } from './policy.js';
export { StreamReader, DEFAULT_LIMIT } from './stream-reader.js';
export {
  StreamReaderProtocol,
  StreamWriter,
  type ClientConnectedCallback,
  type StartTlsOptions,
} from './stream-writer.js';
export {
  openConnection,
  openUnixConnection,
  startServer,
  startUnixServer,
  type StreamOptions,
  type StreamPair,
} from './streams.js';
export {
  Process,
  createSubprocessExec,
  createSubprocessShell,
  type SubprocessStreamOptions,
} from './subprocess-streams.js';
