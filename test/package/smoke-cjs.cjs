// The package loaded with require(): Node 20.19 and later load an ES module
// that has no top-level await this way.
const lib = require('asyncuv');
const { pathToFileURL } = require('node:url');

import('./smoke.mjs')
  .then(({ smoke }) => smoke(lib, pathToFileURL(`${__dirname}/smoke-worker.mjs`)))
  .then((result) => console.log(`cjs ok: ${JSON.stringify(result)}`));
