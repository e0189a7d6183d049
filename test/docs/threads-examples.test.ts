// Every ```js example of docs/threads.md runs and exits by itself: each is
// both the program and the module its threads serve (import.meta.url).
import { testDocExamples } from './doc-examples.js';

await testDocExamples('threads.md', 2, 30_000);
