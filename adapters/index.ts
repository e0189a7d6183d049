// adapters/: asyncuv's interfaces on other machinery, and the reverse.
export { Registrar, RelEvent, registrar, rel } from './rel.js';
