// Every ```js example of docs/handles.md runs and exits by itself.
import { testDocExamples } from './doc-examples.js';

await testDocExamples('handles.md', 6);
