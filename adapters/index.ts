// adapters/: asyncuv's interfaces on other machinery, and the reverse: the
// loop layer on Node's own modules, Node stream interop, a rel-style facade.
export { NodeEventLoop } from './node-event-loop.js';
export { NodeTransport } from './node-transport.js';
export { NodeDatagramTransport } from './node-datagram-transport.js';
export { NodeSubprocessTransport } from './node-subprocess-transport.js';
export { toDuplex, fromDuplex, type ToDuplexOptions } from './duplex.js';
export { serveHttp, type HttpOnLoop, type ServeHttpOptions } from './serve-http.js';
export {
  LoopAgent,
  LoopHttpsAgent,
  loopConnector,
  type LoopConnectCallback,
  type LoopConnectOptions,
  type LoopConnector,
  type LoopConnectorOptions,
  type UndiciConnectOptions,
} from './http-agent.js';
export { notSupported } from './node-errors.js';
export {
  startThreadedServer,
  ThreadedServer,
  type Balance,
  type CloseOptions,
  type ThreadContext,
  type ThreadedServerEvents,
  type ThreadedServerModule,
  type ThreadedServerOptions,
  type ThreadedServerStats,
  type ThreadInfo,
  type ThreadState,
  type ThreadStats,
} from './threaded-server.js';
// The errors of every layer: failures are UvErrors (also on Node's modules), misuse UsageErrors.
export { UsageError, type UsageErrorCode } from '../errors/usage-error.js';
export { UvError } from '../handles/uv-error.js';
export { Registrar, RelEvent, registrar, rel } from './rel.js';
// Side effect: gives UvEventLoop its ssl option and startTls.
import './tls-upgrader.js';
