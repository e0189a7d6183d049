// asyncuv: a second libuv loop for Node.js.
export * from './handles/index.js';
export * from './loop/index.js';
export * from './adapters/index.js';
export * from './sync/index.js';
