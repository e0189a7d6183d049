// The package loaded with import.
import * as lib from 'asyncuv';
import { smoke } from './smoke.mjs';

const result = await smoke(lib, new URL('./smoke-worker.mjs', import.meta.url));
console.log(`esm ok: ${JSON.stringify(result)}`);
