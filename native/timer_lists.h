// TimerLists: the started Timers of one loop, in one list per timeout, driven
// by one uv_timer_t. libuv keeps every started timer in one binary heap;
// removing the earliest from a heap of 100k timers scattered in memory was a
// third of a one-shot Timer's life. Node's per-duration lists are the model.
//
// Rules:
// 1. Order is libuv's: by due time, then start order (a sequence number per
//    loop, as libuv's start_id). Timers started with the same timeout in
//    order are due in order (the loop's time never goes back), so each list
//    is kept sorted by appending: start, stop and firing are O(1) in a list,
//    and O(log k) in the heap of the k non-empty lists, ordered by their
//    first entry's (due, seq).
// 2. The driver is one uv_timer_t per loop, armed for the first entry, so
//    every Timer callback runs in libuv's timers phase, where libuv would run
//    it. A run of the driver fires what libuv's uv__run_timers would fire:
//    libuv 1.46 (Node 20) fires while the earliest timer is due by the
//    loop's time as it is then (a callback's updateTime counts); 1.48 and
//    later (Node 22+) fire the timers due when the phase began and started
//    before it, and leave the rest to the next iteration. The one
//    difference from libuv 1.48+: a timer due in the phase but not fired yet
//    answers active, where libuv has already moved it to its ready queue.
// 3. A repeating timer is re-started before its callback runs, as by
//    uv_timer_again: due `repeat` after the loop's time, with a new seq.
// 4. The driver is ref'd exactly while a started Timer is ref'd, so the loop
//    is alive (uv_loop_alive, the process) exactly as with one uv timer per
//    Timer. Each Timer keeps its own uv_timer_t, never started, which holds
//    its ref flag and makes it a handle of the loop like any other (listed,
//    counted, closed by loop.close(), fileno).
// 5. The driver is an internal handle (handle_wrap.h rule 8). It is made
//    with the loop's first Timer and lives until the loop closes; its close
//    unlinks every Timer (all are being closed by the same walk).
// 6. Everything runs on the loop's thread; the table of drivers is per thread.
#pragma once

#include <uv.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "handle_wrap.h"

namespace asyncuv {

class TimerLists;
struct TimerList;

// A Timer's place in the lists: what libuv keeps in a uv_timer_t.
class TimerEntry {
 public:
  bool linked() const { return list_ != nullptr; }
  uint64_t due() const { return due_; }
  uint64_t repeat() const { return repeat_; }
  void set_repeat(uint64_t repeat) { repeat_ = repeat; }
  bool started_once() const { return started_once_; }

 protected:
  ~TimerEntry() = default;
  // Runs the callback (rule 2); the entry was unlinked or re-started before.
  virtual void OnDue() = 0;
  // Whether the Timer is ref'd (its own uv handle's flag).
  virtual bool Refd() const = 0;

 private:
  friend class TimerLists;
  TimerEntry* prev_ = nullptr;
  TimerEntry* next_ = nullptr;
  TimerList* list_ = nullptr;
  uint64_t due_ = 0;
  uint64_t seq_ = 0;
  uint64_t repeat_ = 0;
  bool started_once_ = false;
};

class TimerLists final : public HandleBase {
 public:
  // The driver of `loop`, made on first use; nullptr if that failed.
  static TimerLists* For(LoopWrap* loop);

  // uv_timer_start: (re)starts `entry` due `timeout` ms after the loop's time.
  void Start(TimerEntry* entry, uint64_t timeout, uint64_t repeat);
  // uv_timer_stop; a no-op for an entry not started.
  void Stop(TimerEntry* entry);
  // The entry's ref flag changed while it may be started (rule 4).
  void RefChanged(TimerEntry* entry, bool refd);

 protected:
  napi_value JsValue() override { return nullptr; }
  void SetPinned(bool pinned) override {}
  void BeforeClose() override;

 private:
  TimerLists() = default;
  ~TimerLists() override;

  static void OnDrive(uv_timer_t* handle);
  void Drive();
  // Arms the driver for the first entry, or stops it (rule 2).
  void Arm();
  void SyncRef();
  void Link(TimerEntry* entry, uint64_t timeout);
  void Unlink(TimerEntry* entry);
  TimerList* ListFor(uint64_t timeout);
  void Drop(TimerList* list);

  // The heap of non-empty lists (rule 1).
  static bool Before(const TimerList* a, const TimerList* b);
  void HeapPush(TimerList* list);
  void HeapRemove(TimerList* list);
  void HeapFix(TimerList* list);
  void SiftUp(size_t i);
  void SiftDown(size_t i);
  void Place(size_t i, TimerList* list);

  std::unordered_map<uint64_t, TimerList*> lists_;
  TimerList* last_ = nullptr;  // the list used last, kept while empty
  std::vector<TimerList*> heap_;
  uint64_t seq_ = 0;
  int refd_ = 0;  // started entries that are ref'd
  bool driver_refd_ = true;
  bool firing_ = false;
  bool armed_ = false;
  uint64_t armed_due_ = 0;
};

}  // namespace asyncuv
