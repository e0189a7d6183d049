// The JavaScript layers bench/PROFILE.md names, by the file a function is
// in; shared by the perf and the --cpu-prof breakdowns.

export interface Line {
  /** The fine category, e.g. 'N-API napi_get_property'. */
  name: string;
  /** The layer of bench/PROFILE.md it belongs to. */
  group: string;
}

const jsFiles: Array<[RegExp, string, string]> = [
  [
    /\/loop\/base-event-loop\.js/,
    'JS base-event-loop (ready queue, runOnce, timers)',
    'asyncio loop (JS)',
  ],
  [/\/loop\/timer-queue\.js/, 'JS timer-queue', 'asyncio loop (JS)'],
  [/\/loop\/events\.js/, 'JS events (CallbackHandle, TimerHandle)', 'asyncio loop (JS)'],
  [/\/loop\/uv-event-loop\.js/, 'JS uv-event-loop (Idle/Timer glue)', 'asyncio loop (JS)'],
  [
    /\/loop\/(stream-reader|stream-writer|streams|flow-control|abort)\.js/,
    'JS streams (StreamReader, StreamWriter, drain)',
    'streams layer (JS)',
  ],
  [
    /\/loop\/(stream-transport|transports|write-flow|base-server|server)\.js/,
    'JS transport',
    'Protocol/transport (JS)',
  ],
  [/\/loop\//, 'JS loop, other', 'asyncio loop (JS)'],
  [
    /\/handles\/stream\.js/,
    'JS handles/stream (read callback, Buffer view, write entry)',
    'handles layer (JS)',
  ],
  [/\/handles\//, 'JS handles, other', 'handles layer (JS)'],
  [/\/bench\//, 'JS workload (user callbacks, Protocol)', 'user code (JS)'],
  [/node:|^internal\/|^node:/, "JS Node's own", "Node's own phases"],
];

/** The layer of a JS function, from a string that holds its file (a perf symbol, a URL). */
export function jsLayer(where: string): Line {
  for (const [re, name, group] of jsFiles) if (re.test(where)) return { name, group };
  return { name: 'JS other', group: 'other' };
}
