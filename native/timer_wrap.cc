// Timer: libuv's uv_timer_t semantics, kept in its loop's TimerLists
// (timer_lists.h). Times are milliseconds, as in libuv.
//
// Rules:
// 1. A Timer's native half is no ObjectWrap. napi_wrap cost a fifth of a
//    one-shot Timer's life (v8::External::New and a private property per
//    object) and node-addon-api unwrapped `this` on every method call. The
//    JS half (handles/timer-native.ts) is a plain object holding a slot
//    number; the functions below take that number first and find the
//    TimerSlot in this thread's table (an index and a null check). A
//    finalizer on the JS half (napi_add_finalizer) deletes the TimerSlot,
//    and its reference is the one pinned (rule 6).
// 2. A slot number is free again only once its TimerSlot is deleted, i.e.
//    once the JS object holding the number was collected (or its env torn
//    down): no live JS object ever reaches another Timer's slot. A closed
//    Timer keeps its slot, with state closed (every call gives EBADF).
// 3. Everything runs on the thread of the env that made the slot; JS values
//    never cross threads, so the table is per thread.
// 4. A Timer owns no uv handle: its loop's TimerLists start it (timer_lists.h
//    rules 1-4), list and count it (rule 7) and run its close callback in
//    the closing phase, in libuv's order (rule 8). Everything a uv_timer_t
//    answered stays the same: start, stop, again, repeat and dueIn keep
//    uv_timer_*'s semantics; a Timer is ref'd from init; fileno is EINVAL.
// 5. State goes initialized -> closing -> closed, as any handle's
//    (handle_wrap.h rule 2); every call but close gives EBADF once closing.
// 6. Pinned (the finalizer's reference made strong) while started or
//    closing, as any handle (handle_wrap.h rule 4). Collected while open
//    (inactive, unreferenced), it leaves its lists and its count at once,
//    with no close callback; deleted while closing (env teardown only), it
//    leaves its carrier.
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
  ~TimerSlot();

  // create(loop, object): the slot number (>= 0) of a Timer on `loop` whose JS half is
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
  void OnDue() override {
    Napi::HandleScope scope(loop_->env());
    HandleBase::EmitTo(loop_, JsValue(), Key::kOnEvent);
    UpdatePin();
  }
  void AfterDue() override { UpdatePin(); }
  void CloseByLoop() override { Close(false); }
  void OnClosed() override {
    loop_->CountHandle(UV_TIMER, -1);
    state_ = State::kClosed;
    if (notify_close_ && loop_->CanCallJs()) {
      Napi::HandleScope scope(loop_->env());
      HandleBase::EmitTo(loop_, JsValue(), Key::kOnClose);
    }
    UpdatePin();  // may let the slot be deleted: do not touch it after
  }

 private:
  bool usable() const { return state_ == State::kInitialized; }

  void Close(bool notify) {
    if (state_ != State::kInitialized) return;
    state_ = State::kClosing;
    notify_close_ = notify;
    lists_->CloseEntry(this);
    UpdatePin();
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

  // As HandleBase::UpdatePin (rule 6).
  void UpdatePin() {
    bool pin = state_ == State::kClosing || (state_ == State::kInitialized && linked());
    if (pin == pinned_) return;
    pinned_ = pin;
    // In env teardown references are about to be deleted with the env.
    if (!loop_->CanCallJs()) return;
    // The C API, as HandleWrap::SetPinned and for the same reason.
    uint32_t count = 0;
    if (pin) {
      napi_reference_ref(env_, ref_, &count);
    } else {
      napi_reference_unref(env_, ref_, &count);
    }
  }

  napi_value JsValue() { return JsObject(); }

 public:
  napi_value JsObject() override {
    napi_value value = nullptr;
    if (napi_get_reference_value(env_, ref_, &value) != napi_ok) return nullptr;
    return value;
  }

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
  // As HandleWrap::StateChanged: re-pin, let the loop re-arm, the status.
  Napi::Value StateChanged(const Napi::CallbackInfo& info, int rc) {
    UpdatePin();
    loop_->Touch();
    return Code(info, rc);
  }

  static void Finalize(napi_env env, void* data, void* hint) {
    delete static_cast<TimerSlot*>(data);
  }

  napi_env env_;
  napi_ref ref_ = nullptr;
  uint32_t id_ = 0;
  LoopWrap* loop_ = nullptr;
  TimerLists* lists_ = nullptr;  // the loop's, set by a successful init
  State state_ = State::kUninitialized;
  bool refd_ = true;
  bool pinned_ = false;
  bool notify_close_ = false;
};

// This thread's slots (rule 3), and the numbers free for reuse (rule 2).
struct SlotTable {
  std::vector<TimerSlot*> slots;
  std::vector<uint32_t> free;
};
thread_local SlotTable table;

TimerSlot* TimerSlot::FindAny(const Napi::CallbackInfo& info) {
  // A double, not napi_get_value_uint32, which wraps 2^32, -1 or 0.5 into
  // the range: only an exact slot number finds a slot.
  double id;
  if (info.Length() < 1 || napi_get_value_double(info.Env(), info[0], &id) != napi_ok ||
      !(id >= 0) || id >= static_cast<double>(table.slots.size()) || id != static_cast<size_t>(id))
    return nullptr;
  return table.slots[static_cast<size_t>(id)];
}

Napi::Value TimerSlot::New(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  if (info.Length() < 2 || !info[1].IsObject()) return Code(info, UV_EINVAL);
  auto* slot = new TimerSlot(env);
  // Refused once the env cannot run JS any more (a worker being terminated
  // while its JS still runs): nothing was acquired yet.
  if (napi_add_finalizer(env, info[1], slot, Finalize, nullptr, &slot->ref_) != napi_ok) {
    delete slot;
    return Code(info, UV_EBADF);
  }
  if (table.free.empty()) {
    slot->id_ = static_cast<uint32_t>(table.slots.size());
    table.slots.push_back(slot);
  } else {
    slot->id_ = table.free.back();
    table.free.pop_back();
    table.slots[slot->id_] = slot;
  }
  // A failed init leaves the slot uninitialized (every call gives EBADF);
  // the finalizer frees it as any other.
  LoopWrap* loop = LoopWrap::FromValue(info[0]);
  if (loop == nullptr) return Code(info, UV_EINVAL);
  if (!loop->open()) return Code(info, UV_EBADF);
  slot->lists_ = TimerLists::For(loop);
  if (slot->lists_ == nullptr) return Code(info, UV_ENOMEM);
  slot->loop_ = loop;
  slot->state_ = State::kInitialized;
  slot->lists_->Add(slot);
  loop->CountHandle(UV_TIMER, 1);
  return Code(info, static_cast<int>(slot->id_));
}

TimerSlot::~TimerSlot() {
  if (state_ == State::kInitialized) {
    if (getenv("ASYNCUV_DEBUG") != nullptr) {
      fprintf(stderr, "asyncuv: a timer handle was garbage-collected without close()\n");
    }
    lists_->Forget(this);
    loop_->CountHandle(UV_TIMER, -1);
    loop_->Touch();
  } else if (state_ == State::kClosing) {
    TimerLists::ForgetClosing(this);
    loop_->CountHandle(UV_TIMER, -1);
  }
  if (ref_ != nullptr) {
    napi_delete_reference(env_, ref_);
    table.slots[id_] = nullptr;
    table.free.push_back(id_);
  }
}

// next(): the JS half of the next due Timer of the running Drive, or
// undefined (timer_lists.h rule 9).
Napi::Value NextDue(const Napi::CallbackInfo& info) {
  napi_value next = TimerLists::NextDue();
  return next != nullptr ? Napi::Value(info.Env(), next) : info.Env().Undefined();
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
