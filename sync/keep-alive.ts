// Atomics.waitAsync does not keep Node's event loop alive: a process whose
// only pending work is an awaited lock would exit with the promise pending.
// While any async wait of this thread is pending, one ref'd Node timer (that
// never fires in practice) holds the loop open; it is unref'd when the last
// wait settles, so idle primitives never keep a process alive.
let pending = 0;
let timer: ReturnType<typeof setInterval> | undefined;

export function holdLoop(): void {
  if (pending++ > 0) return;
  if (timer === undefined) {
    timer = setInterval(() => {}, 1 << 30);
  } else {
    timer.ref();
  }
}

export function releaseLoop(): void {
  if (--pending === 0) timer?.unref();
}
