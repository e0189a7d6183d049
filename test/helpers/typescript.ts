// Runs the TypeScript compiler of node_modules on a project, in a child
// process, and parses its diagnostics: for the type tests and the docs'
// TypeScript blocks, which compile as a user's project would (against
// dist/*.d.ts through the package's exports), not as part of our build.
import { fileURLToPath } from 'node:url';
import { runScript } from './child.js';

/** The repository root (where package.json is). */
export const root = fileURLToPath(new URL('../../../', import.meta.url));

export interface Diagnostic {
  /** The file, as tsc prints it (relative to `root`). */
  file: string;
  line: number;
  code: string;
  message: string;
}

export interface TscResult {
  diagnostics: Diagnostic[];
  /** tsc's whole output, for failure messages. */
  output: string;
  code: number | null;
}

/** `tsc -p project` (a path relative to the repository root). */
export async function tsc(project: string, timeoutMs = 120_000): Promise<TscResult> {
  const args = ['-p', project, '--pretty', 'false'];
  const bin = `${root}node_modules/typescript/bin/tsc`;
  const result = await runScript(bin, args, { cwd: root, timeoutMs });
  if (result.timedOut) throw new Error(`tsc -p ${project} ran past ${timeoutMs} ms`);
  const output = result.stdout + result.stderr;
  const diagnostics: Diagnostic[] = [];
  for (const m of output.matchAll(/^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/gm)) {
    diagnostics.push({ file: m[1]!, line: Number(m[2]), code: m[3]!, message: m[4]! });
  }
  return { diagnostics, output, code: result.code };
}
