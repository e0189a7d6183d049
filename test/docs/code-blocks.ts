// Finds the fenced code blocks of the documentation (README.md and
// docs/*.md; docs/api/ is generated) with what the test does with each.
// The rules are in test/docs/README.md.
import { readdirSync, readFileSync } from 'node:fs';

export type Kind = 'ts' | 'js' | 'sh' | 'text';

const KINDS: Readonly<Record<string, Kind>> = {
  ts: 'ts',
  typescript: 'ts',
  js: 'js',
  javascript: 'js',
  mjs: 'js',
  sh: 'sh',
  bash: 'sh',
  shell: 'sh',
  text: 'text',
  txt: 'text',
  console: 'text',
};

export interface CodeBlock {
  /** The markdown file, relative to the repository root. */
  doc: string;
  /** The line of the opening fence (1-based). */
  line: number;
  /** The info string's language ('' when untagged). */
  lang: string;
  /** What the test does with it; undefined for an untagged block or a language it does not know. */
  kind: Kind | undefined;
  source: string;
  /** From a `<!-- doc-test: name value ... -->` comment on the line before the fence. */
  options: ReadonlyMap<string, string>;
  /** A short name, unique per block: 'docs-loop-md-3'. */
  slug: string;
}

/** README.md and every docs/*.md, in order. */
export function docFiles(root: string): string[] {
  const docs = readdirSync(`${root}docs`).filter((f) => f.endsWith('.md')).sort();
  return ['README.md', ...docs.map((f) => `docs/${f}`)];
}

/** `<!-- doc-test: tty keys="a\u0003" -->` -> { tty: '', keys: 'a\x03' } */
function parseOptions(comment: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const m of comment.matchAll(/([\w-]+)(?:=("(?:[^"\\]|\\.)*"|\S+))?/g)) {
    const value = m[2];
    const text = value?.startsWith('"') ? (JSON.parse(value) as string) : value;
    options.set(m[1]!, text ?? '');
  }
  return options;
}

export function codeBlocks(root: string, doc: string): CodeBlock[] {
  const lines = readFileSync(`${root}${doc}`, 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*([\w+-]*)/.exec(lines[i]!);
    if (open === null) continue;
    const fence = open[1]!;
    const lang = open[2]!.toLowerCase();
    const start = i;
    const body: string[] = [];
    const closes = (line: string): boolean => line.trimStart().startsWith(fence);
    for (i++; i < lines.length && !closes(lines[i]!); i++) body.push(lines[i]!);
    const marker = /^<!--\s*doc-test:(.*)-->\s*$/.exec(lines[start - 1] ?? '');
    blocks.push({
      doc,
      line: start + 1,
      lang,
      kind: KINDS[lang],
      source: `${body.join('\n')}\n`,
      options: parseOptions(marker?.[1] ?? ''),
      slug: `${doc.replace(/[^\w]+/g, '-').toLowerCase()}-${blocks.length + 1}`,
    });
  }
  return blocks;
}
