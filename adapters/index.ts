// adapters/: asyncuv's interfaces on other machinery, and the reverse: the
// loop layer on Node's own modules, Node stream interop, a rel-style facade.
export { NodeEventLoop } from './node-event-loop.js';
export { NodeTransport } from './node-transport.js';
export { NodeDatagramTransport } from './node-datagram-transport.js';
export { NodeSubprocessTransport } from './node-subprocess-transport.js';
export { NodeServer } from './node-server.js';
export { toDuplex, fromDuplex } from './duplex.js';
export { notSupported } from './node-errors.js';
export { Registrar, RelEvent, registrar, rel } from './rel.js';
