// Runs a fixture script in a child Node process, for the behaviours that
// only show at process level: exit without help, CPU use while idle,
// uncaughtException. The child is killed if it outlives `timeoutMs`.
import { spawn } from 'node:child_process';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
  /** True if the child had to be killed for running past timeoutMs. */
  timedOut: boolean;
}

export interface FixtureOptions {
  timeoutMs?: number;
  /** Flags for node itself, e.g. ['--expose-gc']. */
  nodeArgs?: string[];
  /** Added to the parent's environment. */
  env?: Record<string, string>;
}

/** `fixture` is a file name in dist/test/fixtures, e.g. 'driver-child.js'. */
export function runFixture(
  fixture: string,
  args: string[] = [],
  options: FixtureOptions = {},
): Promise<ChildResult> {
  return runScript(new URL(`../fixtures/${fixture}`, import.meta.url).pathname, args, options);
}

/** Runs the script at `path` (any path) in a child Node process, as runFixture does. */
export function runScript(
  path: string,
  args: string[] = [],
  options: FixtureOptions & { cwd?: string } = {},
): Promise<ChildResult> {
  return runCommand(process.execPath, [...(options.nodeArgs ?? []), path, ...args], options);
}

/** Runs any program the same way (killed past timeoutMs, output collected). */
export function runCommand(
  command: string,
  args: string[],
  options: Omit<FixtureOptions, 'nodeArgs'> & { cwd?: string } = {},
): Promise<ChildResult> {
  const { timeoutMs = 20_000, env = {} } = options;
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(killer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - start, timedOut });
    });
  });
}

/** The JSON lines a fixture printed, parsed. */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
