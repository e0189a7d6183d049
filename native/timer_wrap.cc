// Timer: uv_timer_t. Times are milliseconds, as in libuv.
//
// Rules (on top of handle_wrap.h's, which hold for a TimerSlot as for every
// handle: three-phase init, one close path, pinned while active or closing,
// closed by its finalizer when collected inactive):
// 1. A Timer's native half is no ObjectWrap. napi_wrap cost a fifth of a
//    one-shot Timer's life (v8::External::New and a private property per
//    object) and node-addon-api unwrapped `this` on every method call. The
//    JS half (handles/timer-native.ts) is a plain object holding a slot
//    number; the functions below take that number first and find the
//    TimerSlot in this thread's table (an index and a null check). A
//    finalizer on the JS half (napi_add_finalizer) deletes the TimerSlot,
//    and its reference is the one pinned (rule 4 of handle_wrap.h).
// 2. A slot number is free again only once its TimerSlot is deleted, i.e.
//    once the JS object holding the number was collected (or its env torn
//    down): no live JS object ever reaches another Timer's slot. A closed
//    Timer keeps its slot, with state closed (every call gives EBADF).
// 3. Everything runs on the thread of the env that made the slot; JS values
//    never cross threads, so the table is per thread.
// 4. A Timer is started in its loop's TimerLists (timer_lists.h), not in
//    libuv's timer heap: its own uv_timer_t is never started, and answers
//    only for what every handle has (ref flag, listing, counting, close).
//    Start, stop, again, repeat and dueIn keep uv_timer_*'s semantics.
#include <vector>

#include "handle_wrap.h"
#include "timer_lists.h"
#include "wraps.h"

namespace asyncuv {
namespace {

class TimerSlot final : public HandleBase, public TimerEntry {
 public:
  explicit TimerSlot(napi_env env) : env_(env) {}
  ~TimerSlot() override;

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
    if (slot != nullptr) slot->HandleBase::Close(ArgTruthy(info, 1));
    return info.Env().Undefined();
  }
  static Napi::Value Ref(const Napi::CallbackInfo& info) { return SetRef(info, true); }
  static Napi::Value Unref(const Napi::CallbackInfo& info) { return SetRef(info, false); }
  static Napi::Value HasRef(const Napi::CallbackInfo& info) {
    TimerSlot* slot = FindAny(info);
    return Napi::Boolean::New(info.Env(), slot != nullptr && slot->HandleBase::HasRef());
  }
  static Napi::Value IsActive(const Napi::CallbackInfo& info) {
    TimerSlot* slot = FindAny(info);
    return Napi::Boolean::New(info.Env(), slot != nullptr && slot->HandleBase::IsActive());
  }
  static Napi::Value Fileno(const Napi::CallbackInfo& info) {
    TimerSlot* slot = FindAny(info);
    return Code(info, slot == nullptr ? UV_EBADF : slot->HandleBase::Fileno());
  }

 protected:
  bool Active() const override { return linked(); }
  bool Refd() const override { return uv_has_ref(handle_) != 0; }
  void OnDue() override {
    Napi::HandleScope scope(loop_->env());
    Emit(Key::kOnEvent);
    UpdatePin();
  }
  void BeforeClose() override {
    if (linked()) lists_->Stop(this);
  }
  napi_value JsValue() override {
    napi_value value = nullptr;
    if (napi_get_reference_value(env_, ref_, &value) != napi_ok) return nullptr;
    return value;
  }
  // The C API, as HandleWrap::SetPinned and for the same reason.
  void SetPinned(bool pinned) override {
    uint32_t count = 0;
    if (pinned) {
      napi_reference_ref(env_, ref_, &count);
    } else {
      napi_reference_unref(env_, ref_, &count);
    }
  }

 private:
  // HandleBase::SetRef, and the lists' count of ref'd started Timers.
  static Napi::Value SetRef(const Napi::CallbackInfo& info, bool ref) {
    TimerSlot* slot = FindAny(info);
    if (slot == nullptr) return Code(info, UV_EBADF);
    bool was = slot->HandleBase::HasRef();
    int rc = slot->HandleBase::SetRef(ref);
    if (rc == 0 && was != ref) slot->lists_->RefChanged(slot, ref);
    return Code(info, rc);
  }

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
  TimerLists* lists_ = nullptr;  // the loop's, set by a successful init
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
  int rc = slot->InitHandle<uv_timer_t>(info[0], UV_TIMER, uv_timer_init);
  if (rc == 0) {
    slot->lists_ = TimerLists::For(slot->loop_);
    if (slot->lists_ == nullptr) {
      slot->HandleBase::Close();
      rc = UV_ENOMEM;
    }
  }
  return Code(info, rc == 0 ? static_cast<int>(slot->id_) : rc);
}

TimerSlot::~TimerSlot() {
  Detach();
  if (ref_ != nullptr) {
    napi_delete_reference(env_, ref_);
    table.slots[id_] = nullptr;
    table.free.push_back(id_);
  }
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
  exports.Set("timer", timer);
}

}  // namespace asyncuv
