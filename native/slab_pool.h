// SlabPool: the memory of a loop's read slabs (LoopWrap::SlabAlloc), kept
// for the next slab once V8 has collected every view of a slab.
//
// Rules:
// 1. A slab is a Buffer over memory the pool hands out
//    (napi_create_external_buffer). Its finalizer, which Node runs on the
//    env's thread once the slab's ArrayBuffer and every view of it are
//    collected, gives the memory back: no byte a JS view can still see is
//    ever read into again (stream_wrap.h rule 2).
// 2. Why: a new slab of fresh memory cost one page fault per 4 KiB of reads
//    landing in it, inside read(2) on the echo's critical path (10-20 us
//    each in this machine's VM; bench/PROFILE.md "Echo latency"). Memory the
//    pool keeps stays mapped.
// 3. The pool owns at most kKeep slabs, handed out or free; past that,
//    Take() gives nothing and the loop's slab is a Buffer of Node's. Why:
//    V8 scavenges early (when array buffers outgrow the young generation)
//    only when its allocator makes a buffer, not for memory it is handed,
//    so with every slab from the pool twice as many dead slabs piled up
//    before a collection (64 against 32 MiB at the peak of
//    test/reliability/slow-reader.test.ts under ASan).
// 4. The pool lives while its loop or any slab of it does (a count): a
//    finalizer may run after the loop closed, and in env teardown. The
//    loop's Release() frees the free slabs; a slab given back after it is
//    freed at once. A mutex guards the pool, in case a runtime calls a
//    finalizer off the env's thread.
// 5. New memory is mapped in by Take() (MADV_POPULATE_WRITE: one call for
//    the slab instead of one page fault per 4 KiB read), and the loop takes
//    its next slab's memory ahead, at the end of a batch (LoopWrap
//    PrepareSlab), so neither the mapping nor the faults fall between a
//    read's wake-up and its reply.
// 6. Free slabs that no Take() needed for a whole interval between two
//    Trim() calls, beyond kKeepIdle, go back to the system (the oldest
//    first): after a burst a loop keeps 1 MiB ready, not up to 32 MiB until
//    it closes. The loop calls Trim() at most every kTrimMs (LoopWrap rule
//    11), so memory a busy loop reuses is never given up. Slabs come back
//    when V8 collects them, often after the loop went idle: the Give() that
//    leaves more than kKeepIdle free tells the loop (on its own thread,
//    while it is open), so that it arms a trim.
#pragma once

#include <node_api.h>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

namespace asyncuv {

class SlabPool {
 public:
  static constexpr size_t kSlabSize = 256 * 1024;
  static constexpr size_t kKeep = 128;
  static constexpr size_t kKeepIdle = 4;  // rule 6

  // Memory for one slab (kSlabSize bytes), or nullptr. Counts as handed out
  // until Give() takes it back. Memory the pool did not have is mapped in
  // here, in one call (rule 5).
  void* Take();
  // Memory from Take() that no slab uses (any more).
  void Give(void* mem);
  // A finalizer for napi_create_external_buffer; `hint` is the pool.
  static void Finalize(napi_env env, void* data, void* hint);
  // The loop is done with the pool (rule 4).
  void Release();
  // Rule 6: `spare(owner)` runs on the calling thread when a Give() on that
  // thread leaves more than kKeepIdle slabs free, until Release().
  void Notify(void (*spare)(void*), void* owner);
  // Rule 6: frees the free slabs beyond kKeepIdle that were free since the
  // last call, and starts the next interval.
  void Trim();
  // Whether Trim() may free something once the interval has passed: there
  // are free slabs beyond kKeepIdle. Read without the lock (a hint).
  bool Trimmable() const { return FreeCount() > kKeepIdle; }
  size_t FreeCount() const { return free_count_.load(std::memory_order_relaxed); }

 private:
  // Drops one count; true when the pool must be deleted.
  bool Unref();
  // After free_ changed, under the lock: the low-water mark and the count.
  void Counted();

  std::mutex mutex_;
  std::vector<void*> free_;  // the most recently given back last
  // The fewest free slabs since the last Trim() (rule 6), and free_.size()
  // for Trimmable().
  size_t low_water_ = 0;
  std::atomic<size_t> free_count_{0};
  void (*spare_)(void*) = nullptr;
  void* owner_ = nullptr;
  std::thread::id owner_thread_;
  size_t refs_ = 1;   // the loop's, and one per slab handed out
  size_t owned_ = 0;  // slabs of memory the pool made: handed out or free
  bool released_ = false;
};

}  // namespace asyncuv
