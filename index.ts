// asyncuv: a second libuv loop for Node.js.
export * from './handles/index.js';
export * from './sync/index.js';
