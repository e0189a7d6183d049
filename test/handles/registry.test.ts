// Every handle class exported from handles/ is where docs/contributing.md
// says a new handle must be registered: the fuzz registry
// (test/fuzz/handle-makers.ts), the valgrind smoke run
// (test/valgrind/smoke.ts), its chapter in docs/ and its API page. A class
// added to handles/index.ts and missing from one of them fails here.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as handles from '../../handles/index.js';
import { Handle } from '../../handles/handle.js';
import { makers } from '../fuzz/handle-makers.js';
import { root } from '../helpers/typescript.js';

type Ctor = abstract new (...args: never[]) => unknown;

/** Exported Handle subclasses that no other exported handle class extends. */
function concreteHandleClasses(): string[] {
  const classes: Array<[string, Ctor]> = [];
  for (const [name, value] of Object.entries(handles) as Array<[string, unknown]>) {
    if (typeof value === 'function' && value.prototype instanceof Handle) {
      classes.push([name, value as Ctor]);
    }
  }
  const bases = new Set<unknown>();
  for (const [, cls] of classes) {
    for (let p = Object.getPrototypeOf(cls); p !== Handle; p = Object.getPrototypeOf(p)) {
      bases.add(p);
    }
  }
  return classes
    .filter(([, cls]) => !bases.has(cls))
    .map(([name]) => name)
    .sort();
}

const read = (path: string): string => readFileSync(join(root, path), 'utf8');
const classes = concreteHandleClasses();

test('the handle classes are found (the check below has something to check)', (t) => {
  for (const name of ['Timer', 'TCP', 'UDP', 'Pipe', 'TTY', 'Process']) {
    t.true(classes.includes(name), name);
  }
  for (const base of ['Handle', 'Stream', 'LoopWatcher']) t.false(classes.includes(base), base);
});

test('every handle class has a maker in the fuzz registry (test/fuzz/handle-makers.ts)', (t) => {
  const names = new Set(makers(-1).map((m) => m.name));
  t.deepEqual(
    classes.filter((name) => !names.has(name)),
    [],
  );
});

test('every handle class is used by the valgrind smoke run (test/valgrind/smoke.ts)', (t) => {
  const smoke = read('test/valgrind/smoke.ts');
  const used = (name: string): boolean => new RegExp(`\\b${name}(\\.spawn)?\\(`).test(smoke);
  t.deepEqual(
    classes.filter((name) => !used(name)),
    [],
  );
});

test('every handle class is documented: a chapter of docs/ and an API page', (t) => {
  const chapters = read('docs/handles.md') + read('docs/handles-io.md');
  // A heading, a code span or an example that makes one.
  const inChapter = (name: string): boolean =>
    new RegExp(`^#+ .*\\b${name}\\b|\`${name}\\b|\\b${name}(\\.spawn)?\\(`, 'm').test(chapters);
  t.deepEqual(
    classes.filter((name) => !inChapter(name)),
    [],
    'docs/handles*.md',
  );
  const page = (name: string): string => join(root, 'docs/api/handles/classes', `${name}.md`);
  t.deepEqual(
    classes.filter((name) => !existsSync(page(name))),
    [],
    'docs/api',
  );
});

test('docs/contributing.md names each place a new handle is registered', (t) => {
  const guide = read('docs/contributing.md');
  for (const path of [
    'handles/index.ts',
    'test/fuzz/handle-makers.ts',
    'test/fuzz/handle-specs.ts',
    'test/valgrind/smoke.ts',
    'docs/handles-io.md',
    'npm run docs:api',
  ]) {
    t.true(guide.includes(path), path);
  }
});
