// wrk (Debian's package) for the load tests: a short run against a local
// server, with a Lua script that checks every response's body and can
// pipeline requests, and the counts a test asserts on (wrk's socket errors
// and non-2xx answers, the bodies that were wrong). The script lives in a
// temporary folder made and removed per run.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface WrkRun {
  /** 'http://127.0.0.1:port/path' or https. */
  url: string;
  /** A string every response's body must contain. */
  expect: string;
  seconds?: number;
  connections?: number;
  threads?: number;
  /** Requests sent back to back on each connection before the first answer (1: none). */
  pipeline?: number;
  /** Sends `Connection: close`: a new connection (and TLS handshake) per request. */
  close?: boolean;
}

export interface WrkResult {
  requests: number;
  rate: number;
  /** wrk's "Socket errors": connect, read, write, timeout (0 when it prints none). */
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  non2xx: number;
  /** Responses whose body lacked `expect`. */
  wrongBodies: number;
  /** wrk's whole output, for the failure message. */
  output: string;
}

// Each wrk thread has its own Lua state: done() (in the main one) adds up
// the threads' counts.
const script = `
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  bad = 0
  expected = args[1]
  local depth = tonumber(args[2]) or 1
  local r = {}
  for i = 1, depth do r[i] = wrk.format() end
  req = table.concat(r)
end
function request() return req end
function response(status, headers, body)
  if not string.find(body, expected, 1, true) then bad = bad + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("bad") end
  io.write("WRONG BODIES " .. total .. "\\n")
end
`;

export async function runWrk(o: WrkRun): Promise<WrkResult> {
  const dir = await mkdtemp(join(tmpdir(), 'asyncuv-wrk-'));
  try {
    const lua = join(dir, 'check.lua');
    await writeFile(lua, script);
    const args = [
      `-t${o.threads ?? 2}`,
      `-c${o.connections ?? 100}`,
      `-d${o.seconds ?? 1}s`,
      // A loaded machine is slow, not broken: only a request unanswered for
      // this long counts as a timeout.
      '--timeout',
      '10s',
      ...(o.close === true ? ['-H', 'Connection: close'] : []),
      '-s',
      lua,
      o.url,
      '--',
      o.expect,
      String(o.pipeline ?? 1),
    ];
    const output = await new Promise<string>((resolve, reject) =>
      execFile('wrk', args, (err, stdout, stderr) =>
        err ? reject(new Error(`wrk failed: ${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    const num = (re: RegExp): number => Number(re.exec(output)?.[1] ?? 0);
    const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
      output,
    );
    return {
      requests: num(/(\d+) requests in/),
      rate: num(/Requests\/sec:\s+([\d.]+)/),
      socketErrors: {
        connect: Number(errors?.[1] ?? 0),
        read: Number(errors?.[2] ?? 0),
        write: Number(errors?.[3] ?? 0),
        timeout: Number(errors?.[4] ?? 0),
      },
      non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
      wrongBodies: num(/WRONG BODIES (\d+)/),
      output,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
