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
//    Timer.
// 5. The driver is an internal handle (handle_wrap.h rule 8). It is made
//    with the loop's first Timer and lives until the loop closes; its close
//    (loop.close()'s walk, env teardown) closes every Timer of the loop.
// 6. Everything runs on the loop's thread; the table of drivers is per thread.
// 7. A Timer has no uv handle of its own: the lists are its membership in
//    the loop. They hold every open Timer (not closing, not closed) in init
//    order, for loop.handles(); loop.handleCounts() counts a Timer from its
//    init until its close callback, as any handle.
// 8. A Timer's close callback runs where libuv would run a uv_timer_t's: in
//    the closing phase, in libuv's order. libuv runs the handles closed
//    before a closing phase last-closed first, so a run of Timer closes with
//    no other close between them (LoopWrap::closes() unchanged) shares one
//    carrier: a uv_idle_t made and uv_close'd for the first of them, whose
//    close callback finishes their closes, last first. A close of another
//    handle in between starts a new carrier. A closing carrier keeps the loop
//    alive and makes the next pass run at once, as a closing handle does.
// 9. A Drive calls into JS once, not once per Timer: the env's timer
//    dispatcher (handles/timer.ts) asks for each due Timer in turn
//    (NextDue: taken out or re-started, then its id) and runs its
//    callback, until none is due. A callback that throws ends the call (the
//    error is reported as any callback's, LoopWrap::CallJs), and so does a
//    checkpoint asked for (NextDue answers none); Drive calls the dispatcher
//    again while Timers are due.
// 10. A Timer's close callback, when JS set one, is called by the same
//    dispatcher, given the Timer's id; JS finds the Timer by it.
// 11. Start counts from the loop's cached time, as uv_timer_start. The
//    first Timer start of a JS job renews that time first
//    (LoopWrap::RenewTime, called from handles/timer.ts), except inside a
//    pass: see loop_wrap.h.
#pragma once

#include <uv.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "handle_wrap.h"

namespace asyncuv {

class TimerLists;
struct TimerList;

struct CloseCarrier;

// A Timer's place in the lists: what libuv keeps in a uv_timer_t.
class TimerEntry {
 public:
  bool linked() const { return list_ != nullptr; }
  uint64_t due() const { return due_; }
  uint64_t repeat() const { return repeat_; }
  void set_repeat(uint64_t repeat) { repeat_ = repeat; }
  bool started_once() const { return started_once_; }
  // The Timer's id, by which JS finds it (timer_wrap.cc rule 2).
  virtual double Id() const = 0;
  // The JS half of a Timer watched for collection (timer_wrap.cc rule 2),
  // or nullptr: JS holds the others.
  virtual napi_value JsObject() const = 0;

 protected:
  ~TimerEntry() = default;
  // Whether the Timer is ref'd.
  virtual bool Refd() const = 0;
  // Closes the Timer without a callback: its loop is closing (rule 5).
  virtual void CloseByLoop() = 0;
  // The close finished (rule 8): count, state, close callback, unpin.
  virtual void OnClosed() = 0;

 private:
  friend class TimerLists;
  friend struct CloseCarrier;
  TimerEntry* prev_ = nullptr;
  TimerEntry* next_ = nullptr;
  TimerList* list_ = nullptr;
  uint64_t due_ = 0;
  uint64_t seq_ = 0;
  uint64_t repeat_ = 0;
  bool started_once_ = false;
  // Rule 7: the lists' open Timers while open; the carrier's queue, with
  // carrier_ set, while closing (rule 8).
  TimerEntry* member_prev_ = nullptr;
  TimerEntry* member_next_ = nullptr;
  CloseCarrier* carrier_ = nullptr;
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

  // The lists of `loop`, or nullptr if it never had a Timer or is closing.
  static TimerLists* Find(LoopWrap* loop);
  // Rule 7: a Timer opened, and every open Timer in init order.
  void Add(TimerEntry* entry);
  template <typename F>
  void ForEachOpen(F fn) {
    for (TimerEntry* e = first_open_; e != nullptr; e = e->member_next_) fn(e);
  }
  // Rule 8: `entry` starts closing (stopped, no longer open); its OnClosed
  // runs in the closing phase.
  void CloseEntry(TimerEntry* entry);
  // A Timer deleted while open (collected unreferenced and inactive): it
  // leaves the lists with no close callback.
  void Forget(TimerEntry* entry);
  // A Timer deleted while closing (env teardown): it leaves its carrier.
  static void ForgetClosing(TimerEntry* entry);
  // Rule 9: the next Timer due in the Drive running on this thread, taken
  // out of the lists (or re-started: `repeats`), or nullptr when none is
  // due or a checkpoint was asked for.
  static TimerEntry* NextDue(bool* repeats);
  // Rule 10: the dispatcher runs the close callback of the Timer `id`.
  static void NotifyClosed(LoopWrap* loop, double id);

 protected:
  napi_value JsValue() override { return nullptr; }
  void SetPinned(bool pinned) override {}
  void BeforeClose() override;

 private:
  TimerLists() = default;
  ~TimerLists() override;

  static void OnDrive(uv_timer_t* handle);
  void Drive();
  // Rule 9: the first entry if the running Drive fires it, or nullptr.
  TimerEntry* DueEntry() const;
  void TakeDue(TimerEntry* entry);
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

  void RemoveOpen(TimerEntry* entry);

  std::unordered_map<uint64_t, TimerList*> lists_;
  TimerEntry* first_open_ = nullptr;  // rule 7
  TimerEntry* last_open_ = nullptr;
  CloseCarrier* carrier_ = nullptr;  // rule 8: the one Timer closes join now
  uint64_t carrier_closes_ = 0;      // LoopWrap::closes() when it was made
  TimerList* last_ = nullptr;        // the list used last, kept while empty
  std::vector<TimerList*> heap_;
  uint64_t seq_ = 0;
  int refd_ = 0;  // started entries that are ref'd
  bool driver_refd_ = true;
  bool firing_ = false;
  uint64_t drive_time_ = 0;  // the loop's time and seq_ when Drive began
  uint64_t drive_seq_ = 0;
  bool armed_ = false;
  uint64_t armed_due_ = 0;
};

}  // namespace asyncuv
