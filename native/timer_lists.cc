#include "timer_lists.h"

#include <algorithm>
#include <utility>

namespace asyncuv {

struct TimerList {
  uint64_t timeout;
  TimerEntry* head = nullptr;
  TimerEntry* tail = nullptr;
  size_t heap_index = 0;
};

// Rule 8: one uv handle closed for a run of Timer closes. `queue` is
// last-closed first, as libuv runs its closing handles.
struct CloseCarrier {
  uv_idle_t handle;
  TimerEntry* queue = nullptr;
  CloseCarrier** open = nullptr;  // the lists' carrier_, while Timers may join

  static void OnClosed(uv_handle_t* handle) {
    auto* carrier = reinterpret_cast<CloseCarrier*>(handle);
    if (carrier->open != nullptr) *carrier->open = nullptr;
    // A close callback may close more Timers: they go to a new carrier.
    while (carrier->queue != nullptr) {
      TimerEntry* entry = carrier->queue;
      Remove(entry);
      entry->OnClosed();
    }
    delete carrier;
  }
  static void Remove(TimerEntry* entry) {
    CloseCarrier* carrier = entry->carrier_;
    if (entry->member_prev_ != nullptr) {
      entry->member_prev_->member_next_ = entry->member_next_;
    } else {
      carrier->queue = entry->member_next_;
    }
    if (entry->member_next_ != nullptr) entry->member_next_->member_prev_ = entry->member_prev_;
    entry->member_prev_ = entry->member_next_ = nullptr;
    entry->carrier_ = nullptr;
  }
};

namespace {

// Rule 2: libuv 1.48 gave uv__run_timers a ready queue.
const bool kReadyQueue = uv_version() >= ((1u << 16) | (48u << 8));

// Rule 6: this thread's drivers, one per open loop that ever had a Timer.
thread_local std::vector<std::pair<LoopWrap*, TimerLists*>> drivers;

}  // namespace

TimerLists* TimerLists::For(LoopWrap* loop) {
  for (const auto& d : drivers) {
    if (d.first == loop) return d.second;
  }
  auto* lists = new TimerLists();
  lists->internal_ = true;
  int rc = lists->InitHandle<uv_timer_t>(loop, UV_TIMER, uv_timer_init);
  if (rc != 0) {
    delete lists;
    return nullptr;
  }
  uv_unref(lists->handle_);
  lists->driver_refd_ = false;
  drivers.emplace_back(loop, lists);
  return lists;
}

TimerLists* TimerLists::Find(LoopWrap* loop) {
  for (const auto& d : drivers) {
    if (d.first == loop) return d.second;
  }
  return nullptr;
}

TimerLists::~TimerLists() {
  for (auto& entry : lists_) delete entry.second;
  if (carrier_ != nullptr) carrier_->open = nullptr;
}

void TimerLists::BeforeClose() {
  // Rule 5: the loop is closing; every Timer closes with its lists. The
  // carrier must not reach the lists, which libuv frees first.
  while (first_open_ != nullptr) first_open_->CloseByLoop();
  if (carrier_ != nullptr) carrier_->open = nullptr;
  carrier_ = nullptr;
  auto it = std::find_if(drivers.begin(), drivers.end(),
                         [this](const auto& d) { return d.second == this; });
  if (it != drivers.end()) drivers.erase(it);
}

void TimerLists::Add(TimerEntry* entry) {
  entry->member_prev_ = last_open_;
  entry->member_next_ = nullptr;
  if (last_open_ != nullptr) {
    last_open_->member_next_ = entry;
  } else {
    first_open_ = entry;
  }
  last_open_ = entry;
}

void TimerLists::RemoveOpen(TimerEntry* entry) {
  if (entry->member_prev_ != nullptr) {
    entry->member_prev_->member_next_ = entry->member_next_;
  } else {
    first_open_ = entry->member_next_;
  }
  if (entry->member_next_ != nullptr) {
    entry->member_next_->member_prev_ = entry->member_prev_;
  } else {
    last_open_ = entry->member_prev_;
  }
  entry->member_prev_ = entry->member_next_ = nullptr;
}

void TimerLists::CloseEntry(TimerEntry* entry) {
  if (entry->linked()) Stop(entry);
  RemoveOpen(entry);
  uint64_t closes = loop_->closes();
  if (carrier_ == nullptr || carrier_closes_ != closes) {
    auto* carrier = new CloseCarrier();
    uv_idle_init(loop_->uv(), &carrier->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&carrier->handle), CloseCarrier::OnClosed);
    if (carrier_ != nullptr) carrier_->open = nullptr;
    carrier->open = &carrier_;
    carrier_ = carrier;
    carrier_closes_ = closes;
  }
  entry->carrier_ = carrier_;
  entry->member_prev_ = nullptr;
  entry->member_next_ = carrier_->queue;
  if (carrier_->queue != nullptr) carrier_->queue->member_prev_ = entry;
  carrier_->queue = entry;
}

void TimerLists::Forget(TimerEntry* entry) {
  if (entry->linked()) Stop(entry);
  RemoveOpen(entry);
}

void TimerLists::ForgetClosing(TimerEntry* entry) {
  if (entry->carrier_ != nullptr) CloseCarrier::Remove(entry);
}

void TimerLists::Start(TimerEntry* entry, uint64_t timeout, uint64_t repeat) {
  if (entry->linked()) Unlink(entry);
  entry->repeat_ = repeat;
  entry->started_once_ = true;
  Link(entry, timeout);
  Arm();
  SyncRef();
}

void TimerLists::Stop(TimerEntry* entry) {
  if (!entry->linked()) return;
  Unlink(entry);
  Arm();
  SyncRef();
}

void TimerLists::RefChanged(TimerEntry* entry, bool refd) {
  if (!entry->linked()) return;
  refd_ += refd ? 1 : -1;
  SyncRef();
}

void TimerLists::Link(TimerEntry* entry, uint64_t timeout) {
  uint64_t now = uv_now(loop_->uv());
  uint64_t due = now + timeout;
  if (due < timeout) due = UINT64_MAX;  // as libuv clamps
  entry->due_ = due;
  entry->seq_ = seq_++;
  TimerList* list = ListFor(timeout);
  entry->list_ = list;
  entry->next_ = nullptr;
  entry->prev_ = list->tail;
  if (list->tail != nullptr) {
    list->tail->next_ = entry;
    list->tail = entry;
  } else {
    list->head = list->tail = entry;
    HeapPush(list);
  }
  if (entry->Refd()) refd_++;
}

void TimerLists::Unlink(TimerEntry* entry) {
  TimerList* list = entry->list_;
  bool was_head = entry->prev_ == nullptr;
  if (entry->prev_ != nullptr) {
    entry->prev_->next_ = entry->next_;
  } else {
    list->head = entry->next_;
  }
  if (entry->next_ != nullptr) {
    entry->next_->prev_ = entry->prev_;
  } else {
    list->tail = entry->prev_;
  }
  entry->prev_ = entry->next_ = nullptr;
  entry->list_ = nullptr;
  if (entry->Refd()) refd_--;
  if (!was_head) return;
  if (list->head == nullptr) {
    HeapRemove(list);
    if (list != last_) Drop(list);
  } else {
    HeapFix(list);
  }
}

TimerList* TimerLists::ListFor(uint64_t timeout) {
  if (last_ != nullptr && last_->timeout == timeout) return last_;
  TimerList*& slot = lists_[timeout];
  if (slot == nullptr) {
    slot = new TimerList();
    slot->timeout = timeout;
  }
  TimerList* previous = last_;
  last_ = slot;
  if (previous != nullptr && previous->head == nullptr) Drop(previous);
  return last_;
}

void TimerLists::Drop(TimerList* list) {
  lists_.erase(list->timeout);
  delete list;
}

void TimerLists::OnDrive(uv_timer_t* handle) {
  auto* self = FromHandle<TimerLists>(handle);
  self->armed_ = false;
  self->Drive();
}

// Rule 9: the lists whose Drive runs now on this thread (a callback may run
// another loop, whose Drive nests).
thread_local TimerLists* driving = nullptr;

void TimerLists::Drive() {
  drive_time_ = uv_now(loop_->uv());
  drive_seq_ = seq_;
  firing_ = true;
  napi_value dispatcher = nullptr;
  if (loop_->CanCallJs() && loop_->data()->timer_dispatcher != nullptr) {
    napi_get_reference_value(loop_->env(), loop_->data()->timer_dispatcher, &dispatcher);
  }
  if (dispatcher != nullptr && DueEntry() != nullptr) {
    TimerLists* outer = driving;
    driving = this;
    napi_env env = loop_->env();
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    // Again after a callback that threw or asked for a checkpoint.
    bool js = true;
    while (js && DueEntry() != nullptr) js = loop_->CallJs(undefined, dispatcher, 0, nullptr);
    napi_close_handle_scope(env, scope);
    driving = outer;
  }
  // Without JS (env teardown, a refused call) the due Timers still leave
  // the lists or re-start, as libuv's would.
  for (TimerEntry* entry = DueEntry(); entry != nullptr; entry = DueEntry()) TakeDue(entry);
  firing_ = false;
  Arm();
  SyncRef();
}

TimerEntry* TimerLists::DueEntry() const {
  if (heap_.empty()) return nullptr;
  TimerEntry* entry = heap_[0]->head;
  if (kReadyQueue ? entry->due_ > drive_time_ || entry->seq_ >= drive_seq_
                  : entry->due_ > uv_now(loop_->uv())) {
    return nullptr;
  }
  return entry;
}

void TimerLists::TakeDue(TimerEntry* entry) {
  Unlink(entry);
  if (entry->repeat_ != 0) Link(entry, entry->repeat_);  // rule 3
}

TimerEntry* TimerLists::NextDue(bool* repeats) {
  TimerLists* self = driving;
  if (self == nullptr) return nullptr;
  if (self->loop_->checkpoint_requested()) return nullptr;
  TimerEntry* entry = self->DueEntry();
  if (entry == nullptr) return nullptr;
  self->TakeDue(entry);
  *repeats = entry->linked();
  return entry;
}

void TimerLists::NotifyClosed(LoopWrap* loop, double id) {
  if (!loop->CanCallJs() || loop->data()->timer_dispatcher == nullptr) return;
  napi_env env = loop->env();
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value dispatcher, undefined, arg;
  if (napi_get_reference_value(env, loop->data()->timer_dispatcher, &dispatcher) == napi_ok &&
      dispatcher != nullptr && napi_get_undefined(env, &undefined) == napi_ok &&
      napi_create_double(env, id, &arg) == napi_ok) {
    loop->CallJs(undefined, dispatcher, 1, &arg);
  }
  napi_close_handle_scope(env, scope);
}

void TimerLists::Arm() {
  if (firing_ || state_ != State::kInitialized) return;
  auto* timer = As<uv_timer_t>();
  if (heap_.empty()) {
    if (armed_) uv_timer_stop(timer);
    armed_ = false;
    return;
  }
  uint64_t due = heap_[0]->head->due_;
  if (armed_ && due == armed_due_) return;
  uint64_t now = uv_now(loop_->uv());
  uv_timer_start(timer, OnDrive, due > now ? due - now : 0, 0);
  armed_ = true;
  armed_due_ = due;
}

void TimerLists::SyncRef() {
  bool refd = refd_ > 0;
  if (refd == driver_refd_ || state_ != State::kInitialized) return;
  driver_refd_ = refd;
  if (refd) {
    uv_ref(handle_);
  } else {
    uv_unref(handle_);
  }
}

bool TimerLists::Before(const TimerList* a, const TimerList* b) {
  const TimerEntry* x = a->head;
  const TimerEntry* y = b->head;
  return x->due_ < y->due_ || (x->due_ == y->due_ && x->seq_ < y->seq_);
}

void TimerLists::Place(size_t i, TimerList* list) {
  heap_[i] = list;
  list->heap_index = i;
}

void TimerLists::HeapPush(TimerList* list) {
  heap_.push_back(list);
  list->heap_index = heap_.size() - 1;
  SiftUp(list->heap_index);
}

void TimerLists::HeapRemove(TimerList* list) {
  size_t i = list->heap_index;
  TimerList* last = heap_.back();
  heap_.pop_back();
  if (last == list) return;
  Place(i, last);
  HeapFix(last);
}

void TimerLists::HeapFix(TimerList* list) {
  size_t i = list->heap_index;
  if (i > 0 && Before(list, heap_[(i - 1) / 2])) {
    SiftUp(i);
  } else {
    SiftDown(i);
  }
}

void TimerLists::SiftUp(size_t i) {
  TimerList* list = heap_[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!Before(list, heap_[parent])) break;
    Place(i, heap_[parent]);
    i = parent;
  }
  Place(i, list);
}

void TimerLists::SiftDown(size_t i) {
  TimerList* list = heap_[i];
  size_t n = heap_.size();
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && Before(heap_[child + 1], heap_[child])) child++;
    if (!Before(heap_[child], list)) break;
    Place(i, heap_[child]);
    i = child;
  }
  Place(i, list);
}

}  // namespace asyncuv
