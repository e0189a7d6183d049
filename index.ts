// asyncuv: a second libuv loop for Node.js.
export * from './handles/index.js';
export * from './loop/index.js';
export * from './adapters/index.js';
export * from './sync/index.js';
// handles/ and loop/ each have a class named Process. Here the name stays
// the libuv handle's (handles/, as it always was); asyncio's subprocess
// Process, which createSubprocessExec returns, is SubprocessProcess here
// and Process in 'asyncuv/loop'.
export { Process } from './handles/index.js';
export { Process as SubprocessProcess } from './loop/index.js';
