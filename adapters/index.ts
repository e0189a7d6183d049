// adapters/: the loop layer on Node's own modules, and Node stream interop.
export { NodeEventLoop } from './node-event-loop.js';
export { NodeTransport } from './node-transport.js';
export { NodeDatagramTransport } from './node-datagram-transport.js';
export { NodeSubprocessTransport } from './node-subprocess-transport.js';
export { NodeServer } from './node-server.js';
export { toDuplex, fromDuplex } from './duplex.js';
export { notSupported } from './node-errors.js';
