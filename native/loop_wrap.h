// LoopWrap owns one private uv_loop_t and drives it from Node's loop.
//
// Embedded mode (the default): a uv_poll_t on Node's loop watches the private
// loop's backend fd and a uv_timer_t on Node's loop is armed with the private
// loop's next timeout. When either fires, RunBatch() runs the private loop
// with UV_RUN_NOWAIT, one or more passes (rule 8), each inside one callback
// scope, so every JS callback runs on this thread's stack and microtasks
// drain at the end of each pass, not after each callback.
//
// Blocking mode: Loop.run(mode) runs uv_run on the calling thread.
//
// Rules:
// 1. uv_run is never re-entered: a JS call made during a run only marks the
//    loop for re-arming (Touch), which happens once the run ends.
// 2. The driver's Node handles are ref'd exactly while the private loop is
//    alive (has ref'd active handles or requests), so the process exits
//    naturally. Unref'd private handles still run while Node stays alive:
//    uv_run does nothing on a loop that is not alive, so an internal prepare
//    handle is ref'd for the length of each embedded batch, and for the
//    uv_backend_timeout() call that gives the next deadline (it returns 0
//    whenever the loop is not alive).
// 3. "Run again as soon as possible" uses an idle handle on Node's loop,
//    never a 0 ms timer: a timer re-armed with 0 from its own callback runs
//    again in the same timers phase, forever, and starves Node's I/O.
// 4. A LoopWrap is pinned until it is closed or its env is torn down.
// 5. Everything here runs on the thread of the env that created the loop.
// 6. Whenever the driver wants to run again at once it starts the idle
//    handle and also a 1 ms timer. In ava's test processes Node's loop was
//    seen (1 run in 5 of test/driver/gc) never calling any driver idle
//    handle although it sat active and ref'd; the timer makes progress
//    independent of that.
//    A 1 ms timer re-armed from its own callback is due after the current
//    timers phase, so it cannot spin the way a 0 ms one does (rule 3).
// 7. A blocking run() ends once the env refuses JS (worker.terminate(),
//    process.exit() from another thread): Node cannot interrupt a thread
//    that sleeps in our uv_run, and a run with nothing to call back would
//    sleep forever and hang terminate(). An unref'd watchdog timer, active
//    only during blocking runs, probes the env every kWatchdogMs and stops
//    the run (see OnJsUnavailable). Its wake-ups are extra loop iterations,
//    as any spurious wake-up is; run('once') does not return after one that
//    called nothing back (Dispatched() counts what did).
// 8. An embedded batch runs up to max_passes_ uv_run(UV_RUN_NOWAIT) passes,
//    each in its own callback scope, all in one handle scope (microtasks and
//    process.nextTick drain after every pass), while the private loop would
//    run its next pass at once (an active idle handle, which is how
//    UvEventLoop's ready callbacks wait, pending or closing handles, a due
//    timer: NextTimeout() == 0) and while budget_ns_ has not passed since
//    the batch began. A pass costs far less than a turn of Node's loop, so
//    an asyncio iteration does not cost a whole Node turn; the limits keep
//    Node's own timers and I/O getting turns. stop() ends the batch.
//    (Loop.setBatchLimits in handles/loop.ts; the defaults there are
//    measured in bench/PROFILE.md.)
// 9. Light passes: a pass after the first of a batch runs only the active
//    Idle callbacks, without uv_run, when nothing else could be due: no JS
//    call since the last full pass changed what the loop watches (Touch),
//    no Prepare or Check handle is active (their phases would be skipped),
//    and fewer than kLightPerFull light passes ran since the last full one.
//    A full pass polls I/O (epoll_wait), runs timers, pending and closing
//    callbacks; a light pass skips that syscall and libuv's phases, which
//    are half of a pass's cost when UvEventLoop's ready queue is the only
//    work. I/O and timers wait at most kLightPerFull light passes (a few
//    microseconds) longer; a batch still begins with a full pass. Idle
//    callbacks run as libuv runs them: the handle started last first, and a
//    handle started or restarted during the phase waits for the next pass.
// 10. Stream reads reach JS in batches: a read that lands in the slab (and
//     any EOF or error) is queued (QueueRead) instead of calling into JS, and
//     FlushReads delivers the queue with one call of the env's read
//     dispatcher (stream_ids.h) per slab it spans, the reads as (slot, nread,
//     offset) triples in a Float64Array of this loop. Callbacks keep the
//     order libuv gives them: the queue is flushed before any other call
//     into JS of this loop (CallJs), and from a check handle started when
//     the queue becomes non-empty: the check phase follows the poll phase in
//     every iteration, embedded or blocking, so no read waits past the pass
//     that read it. A read into a caller's buffer is delivered at once, after
//     a flush. A flush calls the dispatcher again after a read whose callback
//     threw (reported by CallJs, as for any callback) or asked for a
//     checkpoint, until every read is delivered. The slabs of queued reads
//     stay referenced until the flush ends, and each queued read pins its
//     stream (a pending request). JS may queue a resume (QueueResume: the
//     stream delivers reads it held back while paused); that also starts an
//     idle handle, so that a pass runs soon and poll does not block first.
// 11. Free read slabs that stayed unused go back to the system (slab_pool.h
//     rule 6): TrimSlabs() runs at the end of a batch at most every
//     kTrimMs, and while the pool holds more than it keeps when idle, the
//     driver's timer is due within kTrimMs even if the private loop waits
//     longer or for I/O only. Such a firing with nothing due on the private
//     loop trims and re-arms without a batch, so an idle loop runs no pass
//     for it; the timer stays unref'd unless the loop is alive (rule 2).
//     Slabs that V8 gives back after the loop went idle arm it too
//     (OnSlabsSpare).
#pragma once

#include <napi.h>
#include <uv.h>

#include <array>
#include <vector>

#include "addon.h"
#include "slab_pool.h"

namespace asyncuv {

class LoopWrap : public Napi::ObjectWrap<LoopWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // Returns the LoopWrap behind a JS value, or nullptr if it is not one.
  static LoopWrap* FromValue(Napi::Value value);

  explicit LoopWrap(const Napi::CallbackInfo& info);
  ~LoopWrap() override;

  uv_loop_t* uv() const { return loop_; }
  AddonData* data() const { return data_; }
  napi_env env() const { return data_->env; }
  // False once the loop is closing or closed: no new handle may start on it.
  bool open() const { return loop_ != nullptr && !closing_; }
  // False in env teardown: JS must not run.
  bool CanCallJs() const { return !data_->tearing_down; }
  // False as soon as the env refuses JS: in teardown, and already from the
  // moment a worker is terminated or calls process.exit(), before the
  // cleanup hook has run. Needs an open handle scope. Code that builds JS
  // values outside a handle's Emit (request completions) checks this first:
  // Node-API calls fail then, and node-addon-api turns failures into fatal
  // errors.
  bool JsCallable();

  // Schedules a run of the private loop from Node's loop. Called after any
  // JS call that may change what the private loop watches.
  void Touch();

  // Calls fn(recv, args) from inside a batch. An exception thrown by the
  // callback goes to Node's uncaughtException machinery, as in Node's own
  // callbacks; it never unwinds through libuv.
  // Returns false when the env refused the call (see OnJsUnavailable).
  bool CallJs(napi_value recv, napi_value fn, size_t argc, const napi_value* argv);

  // Asks for a microtask checkpoint as soon as the outermost JS call in
  // progress returns, instead of at the end of the batch: the code awaiting
  // a stopped asyncio loop's runForever() must resume before any other
  // callback of the batch runs (loop/base-event-loop.ts).
  void RequestCheckpoint() {
    checkpoint_requested_ = true;
    if (reads_data_ != nullptr) reads_data_[kReadsStop] = 1;  // rule 10: the dispatcher stops
  }

  bool checkpoint_requested() const { return checkpoint_requested_; }

  // A call into JS failed with no exception to report: the env is stopping
  // (worker.terminate()) and no JS will run again. Stops the current run so
  // that a blocking run() returns and the thread can finish its teardown;
  // a repeating timer would otherwise keep uv_run going forever.
  void OnJsUnavailable();

  // Counts a callback into JS or a settled Promise; see rule 7.
  void Dispatched() { dispatched_++; }

  // Rule 9: Idle handles by start sequence, and how many Prepare/Check handles
  // are active. The wraps report every start and stop, and a stop before
  // close; `fire` is what libuv would call.
  void IdleStarted(uv_idle_t* idle, uv_idle_cb fire);
  void IdleStopped(uv_idle_t* idle);
  void PhaseWatchers(int delta) { phase_watchers_ += delta; }

  // Live handles by type, from init until libuv's close callback.
  void CountHandle(uv_handle_type type, int delta) { live_[type] += delta; }

  // How many uv_close calls of handles with a wrap were made so far: a
  // Timer's close callback keeps its place among theirs by it
  // (timer_lists.h rule 8).
  void NoteClose() { closes_++; }
  uint64_t closes() const { return closes_; }

  // Env teardown: closes every handle and the loop without running JS.
  void Teardown();

  // The read slab: one ArrayBuffer per loop that stream reads land in, so a
  // read allocates nothing; JS delivers a Buffer view of each read's bytes,
  // and a slab stays alive while any such view does. Reads on one thread
  // are sequential (alloc, then read), so one slab serves every stream.
  uv_buf_t SlabAlloc(size_t suggested);
  // Marks `nread` bytes at the last allocation as delivered.
  size_t SlabCommit(size_t nread);
  // Takes the next slab's memory ahead when the slab is nearly used up, so
  // that mapping it in happens off a read's path (slab_pool.h rule 5).
  void PrepareSlab();
  napi_value SlabValue();

  // Rule 10: a read of the stream `id`; when nread > 0, its bytes are in the
  // slab at `offset` (SlabCommit).
  void QueueRead(double id, ssize_t nread, size_t offset);
  // A resume (nread 0) for the stream `id`: it delivers the reads it held.
  void QueueResume(double id);
  void FlushReads();

 private:
  Napi::Value Run(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Now(const Napi::CallbackInfo& info);
  Napi::Value UpdateTime(const Napi::CallbackInfo& info);
  // uv_update_time, unless a pass of the loop runs. libuv counts a timeout
  // from the time cached when the loop last woke, which in a loop of its
  // own is at most the callbacks of one pass old; an embedded loop is not
  // woken while JS runs in Node's callbacks or while it has nothing to do,
  // so its cached time can be seconds old, and a 1000 ms Timer started then
  // fired at once. The first Timer start of a job calls this (the others of
  // the job share its time, as the Timers one libuv callback starts do);
  // inside a pass the cached time is kept, as libuv keeps it.
  Napi::Value RenewTime(const Napi::CallbackInfo& info);
  Napi::Value Alive(const Napi::CallbackInfo& info);
  Napi::Value Fileno(const Napi::CallbackInfo& info);
  Napi::Value Handles(const Napi::CallbackInfo& info);
  Napi::Value HandleCounts(const Napi::CallbackInfo& info);
  Napi::Value Running(const Napi::CallbackInfo& info);
  Napi::Value SetBatchLimits(const Napi::CallbackInfo& info);
  Napi::Value BatchLimits(const Napi::CallbackInfo& info);
  // The driver's counters and how its handles stand on both loops, for tests
  // and diagnostics. Read through libuv's public calls only, in every build:
  // libuv's private fields change between the versions Node ships.
  Napi::Value DriverState(const Napi::CallbackInfo& info);
  Napi::Value Checkpoint(const Napi::CallbackInfo& info);

  static void OnDriverPoll(uv_poll_t* poll, int status, int events);
  static void OnDriverTimer(uv_timer_t* timer);
  static void OnDriverIdle(uv_idle_t* idle);
  static void OnWatchdog(uv_timer_t* timer);
  void SetDriverRef(bool ref);
  void ArmFallback();
  void RunBatch();
  // One pass of a batch, in its own callback scope on `resource`.
  // `light`: run the Idle callbacks only (rule 9).
  void RunPass(bool light, napi_value resource);
  bool LightPassAllowed() const;
  void RunIdles();
  // Closes and reopens the batch's callback scope, which drains
  // process.nextTick and microtasks; a no-op outside an embedded batch.
  void PerformCheckpoint();
  void Rearm();
  // Milliseconds until the earliest active timer (ref'd or not), -1 if none.
  int64_t NextTimeout();
  // Closes every handle, runs the loop until uv_loop_close succeeds, stops
  // the driver. Close callbacks reach JS unless the env is being torn down.
  void CloseLoop();
  void StopDriver();

  AddonData* data_;
  uv_loop_t* loop_ = nullptr;
  uv_poll_t* driver_poll_ = nullptr;
  uv_timer_t* driver_timer_ = nullptr;
  uv_idle_t* driver_idle_ = nullptr;
  // Ref'd only during embedded batches, see rule 2. Never walked as a user handle.
  uv_prepare_t keepalive_;
  // Rule 7. Like keepalive_, data is null: never walked as a user handle.
  uv_timer_t watchdog_;
  napi_async_context async_context_ = nullptr;
  bool in_run_ = false;
  // The callback scope of the embedded pass running now (null outside
  // RunPass), the depth of CallJs calls on the stack, and whether a
  // checkpoint was requested.
  napi_callback_scope batch_scope_ = nullptr;
  int js_depth_ = 0;
  bool checkpoint_requested_ = false;
  bool in_batch_ = false;  // from the first pass of a batch to its end (rule 8)
  bool stopped_ = false;   // stop() was called during the batch (rule 8)
  bool closing_ = false;
  bool touched_ = false;
  // Rule 7: set by the watchdog, for run('once').
  bool watchdog_fired_ = false;
  uint64_t dispatched_ = 0;
  // Rule 8; Loop.setBatchLimits sets them, handles/loop.ts has the defaults.
  static constexpr int64_t kMaxPasses = 1 << 20;
  int max_passes_ = 1;
  uint64_t budget_ns_ = 0;
  // Counters for DriverState(): batches and passes run, batches skipped by reason.
  uint64_t batches_ = 0, passes_ = 0, skipped_busy_ = 0, skipped_js_ = 0, idle_calls_ = 0;
  uint64_t timer_calls_ = 0, poll_calls_ = 0, light_passes_ = 0;
  // Rule 9. changed_: Touch() since the last full pass.
  struct IdleEntry {
    uv_idle_t* idle;
    uv_idle_cb fire;
    uint64_t seq;  // when it started; a pass runs the entries started before it
  };
  static constexpr int kLightPerFull = 7;
  std::vector<IdleEntry> idles_;
  uint64_t idle_seq_ = 0;
  int phase_watchers_ = 0;
  int light_run_ = 0;
  bool changed_ = false;
  bool in_light_pass_ = false;
  std::array<int, UV_HANDLE_TYPE_MAX> live_{};
  uint64_t closes_ = 0;
  static void OnFlushCheck(uv_check_t* check);
  static void OnFlushIdle(uv_idle_t* idle);
  // Rule 10: the batch and its layout in reads_data_ (Float64Array):
  // count, cursor (the dispatcher's next read), stop (a checkpoint was
  // asked for), then (slot, nread, offset) per read.
  static constexpr int kReadsCount = 0, kReadsCursor = 1, kReadsStop = 2, kReadsHeader = 4;
  static constexpr size_t kReadsChunk = 256;
  struct QueuedRead {
    double id;
    double nread;
    double offset;
    size_t slab;  // index in batch_slabs_; batch_slabs_.size() is slab_
  };
  std::vector<QueuedRead> reads_;
  std::vector<napi_ref> batch_slabs_;  // slabs replaced while queued reads use them
  bool slab_queued_ = false;           // queued reads use slab_
  bool flushing_ = false;
  napi_ref reads_array_ = nullptr;
  double* reads_data_ = nullptr;
  // Like keepalive_, data is null: never walked as a user handle.
  uv_check_t flush_check_;
  uv_idle_t flush_idle_;
  napi_ref slab_ = nullptr;
  // The slabs' memory (slab_pool.h); null once the loop is closed.
  SlabPool* slab_pool_ = new SlabPool();
  void* spare_slab_ = nullptr;  // PrepareSlab's, for the next SlabAlloc
  // Rule 11.
  static constexpr uint64_t kTrimMs = 2000;
  uint64_t last_trim_ns_ = 0;
  bool trim_armed_ = false;  // the driver's timer is set for a trim, not for the loop
  void TrimSlabs();
  // A slab came back (SlabPool::Notify) and the pool keeps more than it
  // needs when idle: arms the driver's timer for a trim if nothing else will
  // run a batch or a trim within kTrimMs.
  static void OnSlabsSpare(void* self);
  char* slab_data_ = nullptr;
  size_t slab_size_ = 0;
  size_t slab_offset_ = 0;
};

}  // namespace asyncuv
