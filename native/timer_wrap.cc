// Timer: libuv's uv_timer_t semantics, kept in its loop's TimerLists
// (timer_lists.h). Times are milliseconds, as in libuv.
//
// Rules:
// 1. A Timer's native half is no ObjectWrap and holds no Node-API
//    reference: napi_wrap cost a fifth of a one-shot Timer's life, and a
//    reference per Timer (a V8 global handle) made every scavenge walk
//    100k handles. The JS half (handles/timer-native.ts) is a plain object
//    holding the Timer's id; the functions below take that id first and
//    find the TimerSlot in this thread's table (an index, a generation
//    compare and a null check). JS keeps its Timers (handles/timer-native.ts):
//    strongly while native code may call back for them, weakly otherwise.
// 2. An id is the slot's index plus its generation times 2^24. A slot is
//    freed (its generation bumped) once its Timer is closed and, if JS
//    watches it for collection (watch()), once JS reported its collection
//    (collected()); an id of a freed slot finds nothing (EBADF), so no JS
//    object reaches another Timer. A watched slot is never freed before
//    its collection is reported, so a stale report cannot reach a new Timer.
// 3. Everything runs on the thread of the env that made the slot; JS values
//    never cross threads, so the table is per thread.
// 4. A Timer owns no uv handle: its loop's TimerLists start it (timer_lists.h
//    rules 1-4), list and count it (rule 7) and run its close callback in
//    the closing phase, in libuv's order (rule 8). Everything a uv_timer_t
//    answered stays the same: start, stop, again, repeat and dueIn keep
//    uv_timer_*'s semantics; a Timer is ref'd from init; fileno is EINVAL.
// 5. State goes initialized -> closing -> closed, as any handle's
//    (handle_wrap.h rule 2); every call but close gives EBADF once closing.
// 6. Collected while open (inactive, unreferenced: the finalizer of watch()
//    reports it), a Timer leaves its lists and its count at once, with no
//    close callback. Env teardown closes every Timer with its loop, then
//    frees the slots left (ReleaseTimers).
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "handle_wrap.h"
#include "timer_lists.h"
#include "wraps.h"

namespace asyncuv {
namespace {

class TimerSlot final : public TimerEntry {
 public:
  enum class State { kUninitialized, kInitialized, kClosing, kClosed };

  explicit TimerSlot(napi_env env) : env_(env) {}

  // create(loop, object): the id (>= 0) of a Timer on `loop` whose JS half is
  // `object`, or a negative libuv code.
  static Napi::Value New(const Napi::CallbackInfo& info);

  static Napi::Value Start(const Napi::CallbackInfo& info) {
    TimerSlot* slot = Find(info);
    int64_t timeout, repeat;
    if (slot == nullptr) return Code(info, UV_EBADF);
    if (!ArgInt64(info, 1, &timeout) || !ArgInt64(info, 2, &repeat) || timeout < 0 || repeat < 0)
      return Code(info, UV_EINVAL);
    slot->lists_->Start(slot, timeout, repeat);
    return slot->StateChanged(info, 0);
  }
  static Napi::Value Stop(const Napi::CallbackInfo& info) {
    TimerSlot* slot = Find(info);
    if (slot == nullptr) return Code(info, UV_EBADF);
    slot->lists_->Stop(slot);
    return slot->StateChanged(info, 0);
  }
  // As uv_timer_again: EINVAL if never started, nothing without a repeat.
  static Napi::Value Again(const Napi::CallbackInfo& info) {
    TimerSlot* slot = Find(info);
    if (slot == nullptr) return Code(info, UV_EBADF);
    if (!slot->started_once()) return Code(info, UV_EINVAL);
    if (slot->repeat() != 0) slot->lists_->Start(slot, slot->repeat(), slot->repeat());
    return slot->StateChanged(info, 0);
  }
  static Napi::Value GetRepeat(const Napi::CallbackInfo& info) {
    TimerSlot* slot = Find(info);
    if (slot == nullptr) return Code(info, UV_EBADF);
    return Number(info, static_cast<double>(slot->repeat()));
  }
  static Napi::Value SetRepeat(const Napi::CallbackInfo& info) {
    TimerSlot* slot = Find(info);
    int64_t repeat;
    if (slot == nullptr) return Code(info, UV_EBADF);
    if (!ArgInt64(info, 1, &repeat) || repeat < 0) return Code(info, UV_EINVAL);
    slot->set_repeat(static_cast<uint64_t>(repeat));
    return Code(info, 0);
  }
  // As uv_timer_get_due_in: from the last start's due time, even once stopped.
  static Napi::Value GetDueIn(const Napi::CallbackInfo& info) {
    TimerSlot* slot = Find(info);
    if (slot == nullptr) return Code(info, UV_EBADF);
    uint64_t now = uv_now(slot->loop_->uv());
    return Number(info, static_cast<double>(slot->due() > now ? slot->due() - now : 0));
  }
  // close(slot, notify): `notify` true when JS set an onclose to call.
  static Napi::Value Close(const Napi::CallbackInfo& info) {
    TimerSlot* slot = FindAny(info);
    if (slot != nullptr) slot->Close(ArgTruthy(info, 1));
    return info.Env().Undefined();
  }
  // watch(slot, object): a finalizer on the Timer's JS half `object` will
  // report its collection (rules 2 and 6).
  static Napi::Value Watch(const Napi::CallbackInfo& info) {
    TimerSlot* slot = FindAny(info);
    if (slot == nullptr || slot->ref_ != nullptr || info.Length() < 2 || !info[1].IsObject())
      return Code(info, UV_EINVAL);
    // Refused once the env cannot run JS any more: teardown frees the slot.
    if (napi_add_finalizer(info.Env(), info[1], slot, Collected, nullptr, &slot->ref_) != napi_ok)
      return Code(info, UV_EBADF);
    return Code(info, 0);
  }
  napi_value JsObject() const override;
  static void Collected(napi_env env, void* data, void* hint);
  static Napi::Value Ref(const Napi::CallbackInfo& info) { return SetRef(info, true); }
  static Napi::Value Unref(const Napi::CallbackInfo& info) { return SetRef(info, false); }
  static Napi::Value HasRef(const Napi::CallbackInfo& info) {
    TimerSlot* slot = Find(info);
    return Napi::Boolean::New(info.Env(), slot != nullptr && slot->refd_);
  }
  static Napi::Value IsActive(const Napi::CallbackInfo& info) {
    TimerSlot* slot = Find(info);
    return Napi::Boolean::New(info.Env(), slot != nullptr && slot->linked());
  }
  // A uv_timer_t has no fd: EINVAL, as uv_fileno answers.
  static Napi::Value Fileno(const Napi::CallbackInfo& info) {
    return Code(info, Find(info) == nullptr ? UV_EBADF : UV_EINVAL);
  }

 protected:
  bool Refd() const override { return refd_; }
  void CloseByLoop() override { Close(false); }
  void OnClosed() override {
    loop_->CountHandle(UV_TIMER, -1);
    state_ = State::kClosed;
    if (notify_close_) TimerLists::NotifyClosed(loop_, Id());
    if (ref_ == nullptr || collected_) Free(this);  // do not touch it after
  }

 private:
  bool usable() const { return state_ == State::kInitialized; }

  void Close(bool notify) {
    if (state_ != State::kInitialized) return;
    state_ = State::kClosing;
    notify_close_ = notify;
    lists_->CloseEntry(this);
    loop_->Touch();
  }

  static Napi::Value SetRef(const Napi::CallbackInfo& info, bool ref) {
    TimerSlot* slot = Find(info);
    if (slot == nullptr) return Code(info, UV_EBADF);
    if (slot->refd_ != ref) {
      slot->refd_ = ref;
      slot->lists_->RefChanged(slot, ref);
    }
    slot->loop_->Touch();
    return Code(info, 0);
  }

 public:
  double Id() const override;
  static void Free(TimerSlot* slot);

 private:
  // The slot named by the first argument, if its timer may be used (not
  // closing or closed); FindAny also returns closing and closed ones.
  static TimerSlot* FindAny(const Napi::CallbackInfo& info);
  static TimerSlot* Find(const Napi::CallbackInfo& info) {
    TimerSlot* slot = FindAny(info);
    return slot != nullptr && slot->usable() ? slot : nullptr;
  }

  static Napi::Value Code(const Napi::CallbackInfo& info, int rc) {
    return Napi::Number::New(info.Env(), rc);
  }
  static Napi::Value Number(const Napi::CallbackInfo& info, double value) {
    return Napi::Number::New(info.Env(), value);
  }
  // As HandleWrap::StateChanged: let the loop re-arm, the status.
  Napi::Value StateChanged(const Napi::CallbackInfo& info, int rc) {
    loop_->Touch();
    return Code(info, rc);
  }

 public:
  napi_env env_;
  uint32_t index_ = 0;

 private:
  LoopWrap* loop_ = nullptr;
  TimerLists* lists_ = nullptr;  // the loop's, set by a successful init
  State state_ = State::kUninitialized;
  bool refd_ = true;
  bool notify_close_ = false;
  napi_ref ref_ = nullptr;  // a watched Timer's finalizer (rule 2)
  bool collected_ = false;
};

// This thread's slots (rule 3), their generations and the indexes free for
// reuse (rule 2).
constexpr double kIndexSpan = 16777216;  // 2^24 slots per thread
struct SlotTable {
  std::vector<TimerSlot*> slots;
  std::vector<double> generations;
  std::vector<uint32_t> free;
};
thread_local SlotTable table;
// Each function reads `table` once, through a reference: every access to a
// thread_local of a shared library is a call (__tls_get_addr, and the
// initialization check of a variable with a constructor), which the
// compiler repeats after any call in between.

double TimerSlot::Id() const {
  return table.generations[index_] * kIndexSpan + index_;
}

void TimerSlot::Free(TimerSlot* slot) {
  if (slot->ref_ != nullptr) napi_delete_reference(slot->env_, slot->ref_);
  uint32_t index = slot->index_;
  SlotTable& t = table;
  t.slots[index] = nullptr;
  // Ids stay exact doubles (below 2^53): a generation wraps after 2^29 reuses.
  double next = t.generations[index] + 1;
  t.generations[index] = next < 536870912 ? next : 0;
  t.free.push_back(index);
  delete slot;
}

TimerSlot* TimerSlot::FindAny(const Napi::CallbackInfo& info) {
  // A double, not napi_get_value_uint32, which wraps 2^32, -1 or 0.5 into
  // the range: only the exact id of a live slot finds it.
  double id;
  if (info.Length() < 1 || napi_get_value_double(info.Env(), info[0], &id) != napi_ok ||
      !(id >= 0) || !(id < 9007199254740992.0) ||
      id != static_cast<double>(static_cast<uint64_t>(id)))
    return nullptr;
  auto whole = static_cast<uint64_t>(id);
  auto index = static_cast<size_t>(whole % static_cast<uint64_t>(kIndexSpan));
  SlotTable& t = table;
  if (index >= t.slots.size() ||
      t.generations[index] != static_cast<double>(whole / static_cast<uint64_t>(kIndexSpan)))
    return nullptr;
  return t.slots[index];
}

Napi::Value TimerSlot::New(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  if (info.Length() < 2 || !info[1].IsObject()) return Code(info, UV_EINVAL);
  LoopWrap* loop = LoopWrap::FromValue(info[0]);
  if (loop == nullptr) return Code(info, UV_EINVAL);
  if (!loop->open()) return Code(info, UV_EBADF);
  TimerLists* lists = TimerLists::For(loop);
  if (lists == nullptr) return Code(info, UV_ENOMEM);
  uint32_t index;
  SlotTable& t = table;
  if (t.free.empty()) {
    if (t.slots.size() >= static_cast<size_t>(kIndexSpan)) return Code(info, UV_ENOMEM);
    index = static_cast<uint32_t>(t.slots.size());
    t.slots.push_back(nullptr);
    t.generations.push_back(0);
  } else {
    index = t.free.back();
    t.free.pop_back();
  }
  auto* slot = new TimerSlot(env);
  slot->index_ = index;
  t.slots[index] = slot;
  slot->lists_ = lists;
  slot->loop_ = loop;
  slot->state_ = State::kInitialized;
  lists->Add(slot);
  loop->CountHandle(UV_TIMER, 1);
  return Number(info, slot->Id());
}

napi_value TimerSlot::JsObject() const {
  napi_value value = nullptr;
  if (ref_ == nullptr || napi_get_reference_value(env_, ref_, &value) != napi_ok) return nullptr;
  return value;
}

// The finalizer of a watched Timer's JS half (rule 6).
void TimerSlot::Collected(napi_env env, void* data, void* hint) {
  auto* slot = static_cast<TimerSlot*>(data);
  if (slot->state_ == State::kInitialized) {
    if (getenv("ASYNCUV_DEBUG") != nullptr) {
      fprintf(stderr, "asyncuv: a timer handle was garbage-collected without close()\n");
    }
    slot->lists_->Forget(slot);
    slot->loop_->CountHandle(UV_TIMER, -1);
    slot->loop_->Touch();
    Free(slot);
  } else if (slot->state_ == State::kClosing) {
    slot->collected_ = true;  // OnClosed frees it
  } else {
    Free(slot);
  }
}

// next(): the id of the next due Timer of the running Drive, as `-1 - id`
// if it was a one-shot timer (no longer active), or undefined (timer_lists.h
// rule 9).
Napi::Value NextDue(const Napi::CallbackInfo& info) {
  bool repeats = false;
  TimerEntry* next = TimerLists::NextDue(&repeats);
  if (next == nullptr) return info.Env().Undefined();
  double id = next->Id();
  return Napi::Number::New(info.Env(), repeats ? id : -1 - id);
}

// setDispatcher(fn): the function each Drive calls (timer_lists.h rule 9).
Napi::Value SetDispatcher(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  AddonData* data = AddonData::Get(env);
  if (info.Length() < 1 || !info[0].IsFunction()) return Napi::Number::New(env, UV_EINVAL);
  napi_ref ref;
  if (napi_create_reference(env, info[0], 1, &ref) != napi_ok)
    return Napi::Number::New(env, UV_EINVAL);
  if (data->timer_dispatcher != nullptr) napi_delete_reference(env, data->timer_dispatcher);
  data->timer_dispatcher = ref;
  return Napi::Number::New(env, 0);
}

}  // namespace

// Env teardown, after every loop of the env closed (rule 6): the slots left
// are closed Timers whose collection JS will never report.
void ReleaseTimers(napi_env env) {
  for (TimerSlot* slot : table.slots) {
    if (slot != nullptr && slot->env_ == env) TimerSlot::Free(slot);
  }
}

void InitTimer(Napi::Env env, Napi::Object exports) {
  Napi::Object timer = Napi::Object::New(env);
  auto add = [&](const char* name, Napi::Function::Callback cb) {
    timer.Set(name, Napi::Function::New(env, cb, name));
  };
  add("create", TimerSlot::New);
  add("start", TimerSlot::Start);
  add("stop", TimerSlot::Stop);
  add("again", TimerSlot::Again);
  add("getRepeat", TimerSlot::GetRepeat);
  add("setRepeat", TimerSlot::SetRepeat);
  add("getDueIn", TimerSlot::GetDueIn);
  add("close", TimerSlot::Close);
  add("watch", TimerSlot::Watch);
  add("ref", TimerSlot::Ref);
  add("unref", TimerSlot::Unref);
  add("hasRef", TimerSlot::HasRef);
  add("isActive", TimerSlot::IsActive);
  add("fileno", TimerSlot::Fileno);
  add("next", NextDue);
  add("setDispatcher", SetDispatcher);
  exports.Set("timer", timer);
}

}  // namespace asyncuv
