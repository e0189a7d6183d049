// The Loop class JavaScript sees: a private libuv loop per instance, its
// life from construction to close (CloseLoop, and Teardown when the env
// goes away), and the methods that report on it. How it runs inside Node's
// loop is loop_driver.cc; how its streams' reads reach JavaScript,
// loop_reads.cc; the rules of both are in loop_wrap.h.
#include "loop_wrap.h"

#include <algorithm>
#include <cstddef>

#include "handle_wrap.h"
#include "slab_pool.h"
#include "stream_wrap.h"
#include "timer_lists.h"

namespace asyncuv {

namespace {
// Rule 7: how often a blocking run() probes whether JS may still run.
constexpr uint64_t kWatchdogMs = 100;
}  // namespace

void LoopWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(
      env, "Loop",
      {InstanceMethod<&LoopWrap::Run>("run"), InstanceMethod<&LoopWrap::Stop>("stop"),
       InstanceMethod<&LoopWrap::Close>("close"), InstanceMethod<&LoopWrap::Now>("now"),
       InstanceMethod<&LoopWrap::UpdateTime>("updateTime"),
       InstanceMethod<&LoopWrap::RenewTime>("renewTime"), InstanceMethod<&LoopWrap::Alive>("alive"),
       InstanceMethod<&LoopWrap::Fileno>("fileno"), InstanceMethod<&LoopWrap::Handles>("handles"),
       InstanceMethod<&LoopWrap::HandleCounts>("handleCounts"),
       InstanceMethod<&LoopWrap::Running>("running"),
       InstanceMethod<&LoopWrap::SetBatchLimits>("setBatchLimits"),
       InstanceMethod<&LoopWrap::BatchLimits>("batchLimits"),
       InstanceMethod<&LoopWrap::DriverState>("driverState"),
       InstanceMethod<&LoopWrap::Checkpoint>("checkpoint")});
  AddonData::Get(env)->loop_ctor = Napi::Persistent(ctor);
  exports.Set("Loop", ctor);
}

LoopWrap* LoopWrap::FromValue(Napi::Value value) {
  napi_env env = value.Env();
  AddonData* data = AddonData::Get(env);
  if (data == nullptr) return nullptr;
  // Every handle's init passes its loop: compare with this env's open loops
  // first. A strict equality per open loop costs less than napi_instanceof,
  // which looks up Symbol.hasInstance and walks the prototype chain (5% of
  // constructing a Timer), and napi_unwrap. Anything else (a closed loop,
  // another object) takes the checks below.
  for (LoopWrap* loop : data->loops) {
    bool same = false;
    napi_value loop_value = loop->Value();
    if (loop_value != nullptr && napi_strict_equals(env, value, loop_value, &same) == napi_ok &&
        same) {
      return loop;
    }
  }
  if (!value.IsObject()) return nullptr;
  // Raw calls: each may be refused once the env is stopping, and a refused
  // node-addon-api call returns an empty value that must not be used again.
  napi_value ctor = nullptr;
  bool is_loop = false;
  if (data->loop_ctor.IsEmpty() ||
      napi_get_reference_value(env, data->loop_ctor, &ctor) != napi_ok || ctor == nullptr ||
      napi_instanceof(env, value, ctor, &is_loop) != napi_ok || !is_loop)
    return nullptr;
  void* wrap = nullptr;
  if (napi_unwrap(env, value, &wrap) != napi_ok) return nullptr;
  return static_cast<LoopWrap*>(wrap);
}

LoopWrap::LoopWrap(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<LoopWrap>(info), data_(AddonData::Get(info.Env())) {
  Napi::Env env = info.Env();
  if (Orphaned(this, env)) return;
  auto* loop = static_cast<uv_loop_t*>(malloc(sizeof(uv_loop_t)));
  int rc = loop ? uv_loop_init(loop) : UV_ENOMEM;
  if (rc != 0) {
    free(loop);
    Napi::Error::New(env, uv_strerror(rc)).ThrowAsJavaScriptException();
    return;
  }
  if (uv_backend_fd(loop) < 0) {
    uv_loop_close(loop);
    free(loop);
    Napi::Error::New(env, "asyncuv: this platform has no pollable libuv backend fd")
        .ThrowAsJavaScriptException();
    return;
  }
  loop->data = this;
  loop_ = loop;

  uv_loop_t* node_loop = nullptr;
  napi_get_uv_event_loop(env, &node_loop);
  uv_prepare_init(loop_, &keepalive_);
  keepalive_.data = nullptr;
  uv_prepare_start(&keepalive_, [](uv_prepare_t*) {});
  uv_unref(reinterpret_cast<uv_handle_t*>(&keepalive_));
  uv_timer_init(loop_, &watchdog_);
  watchdog_.data = nullptr;
  uv_unref(reinterpret_cast<uv_handle_t*>(&watchdog_));
  // Rule 10. The check is unref'd: it only runs reads already taken. The
  // idle stays ref'd: held reads waiting for a resume are work to do.
  uv_check_init(loop_, &flush_check_);
  flush_check_.data = nullptr;
  uv_unref(reinterpret_cast<uv_handle_t*>(&flush_check_));
  uv_idle_init(loop_, &flush_idle_);
  flush_idle_.data = nullptr;

  driver_poll_ = new uv_poll_t;
  driver_timer_ = new uv_timer_t;
  driver_idle_ = new uv_idle_t;
  uv_poll_init(node_loop, driver_poll_, uv_backend_fd(loop_));
  uv_timer_init(node_loop, driver_timer_);
  uv_idle_init(node_loop, driver_idle_);
  driver_poll_->data = this;
  driver_timer_->data = this;
  driver_idle_->data = this;
  uv_poll_start(driver_poll_, UV_READABLE, OnDriverPoll);
  slab_pool_->Notify(OnSlabsSpare, this);  // rule 11
  SetDriverRef(false);

  napi_value name;
  napi_create_string_utf8(env, "asyncuv.Loop", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, info.This(), name, &async_context_);

  Ref();  // rule 3
  data_->loops.push_back(this);
}

LoopWrap::~LoopWrap() {
  // Reached only in env teardown (the wrap is pinned until closed), after
  // Teardown() has closed the loop, or for a constructor that failed.
  if (loop_ != nullptr) {
    data_->tearing_down = true;
    CloseLoop();
  }
  if (slab_pool_ != nullptr) slab_pool_->Release();  // a constructor that failed
}

Napi::Value LoopWrap::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (loop_ == nullptr || closing_) return Napi::Number::New(env, UV_EBADF);
  if (in_run_) return Napi::Number::New(env, UV_EBUSY);
  uv_run_mode mode = UV_RUN_DEFAULT;
  if (info[0].IsNumber()) {
    int m = info[0].As<Napi::Number>().Int32Value();
    if (m == 1) mode = UV_RUN_ONCE;
    if (m == 2) mode = UV_RUN_NOWAIT;
  }
  in_run_ = true;
  touched_ = false;
  uv_timer_start(&watchdog_, OnWatchdog, kWatchdogMs, kWatchdogMs);  // rule 7
  bool again;
  do {
    uint64_t dispatched = dispatched_;
    watchdog_fired_ = false;
    int alive = uv_run(loop_, mode);
    // An iteration that only ran the watchdog is not the one run('once') waits for.
    again = mode == UV_RUN_ONCE && alive && watchdog_fired_ && dispatched == dispatched_ &&
            JsCallable();
  } while (again);
  in_run_ = false;
  if (loop_ == nullptr) return Napi::Number::New(env, 0);
  uv_timer_stop(&watchdog_);
  Rearm();
  return Napi::Number::New(env, uv_loop_alive(loop_) ? 1 : 0);
}

Napi::Value LoopWrap::Stop(const Napi::CallbackInfo& info) {
  // A light pass runs outside uv_run, where uv_stop's flag would stay set
  // and make the next uv_run return at once, having run nothing.
  if (loop_ != nullptr && !in_light_pass_) uv_stop(loop_);
  stopped_ = true;  // rule 8: no further pass in this batch
  return info.Env().Undefined();
}

// setBatchLimits(passes, budgetNs): see rule 8. The TS layer validates.
Napi::Value LoopWrap::SetBatchLimits(const Napi::CallbackInfo& info) {
  int64_t passes, budget;
  if (!ArgInt64(info, 0, &passes) || !ArgInt64(info, 1, &budget) || passes < 1 ||
      passes > kMaxPasses || budget < 0) {
    return Napi::Number::New(info.Env(), UV_EINVAL);
  }
  max_passes_ = static_cast<int>(passes);
  budget_ns_ = static_cast<uint64_t>(budget);
  return Napi::Number::New(info.Env(), 0);
}

Napi::Value LoopWrap::BatchLimits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array limits = Napi::Array::New(env, 2);
  limits.Set(0u, Napi::Number::New(env, max_passes_));
  limits.Set(1u, Napi::Number::New(env, static_cast<double>(budget_ns_)));
  return limits;
}

Napi::Value LoopWrap::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (loop_ == nullptr || closing_) return Napi::Number::New(env, 0);
  if (in_run_) return Napi::Number::New(env, UV_EBUSY);
  CloseLoop();
  return Napi::Number::New(env, 0);
}

void LoopWrap::CloseLoop() {
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&keepalive_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&flush_check_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&flush_idle_), nullptr);
  reads_.clear();  // only resumes can wait outside a run; their streams close now
  uv_walk(
      loop_,
      [](uv_handle_t* handle, void* arg) {
        if (uv_is_closing(handle)) return;
        auto* wrap = static_cast<HandleBase*>(handle->data);
        // A Timer-list driver closes its loop's Timers (timer_lists.h rule 5).
        if (wrap != nullptr) {
          wrap->Close();
        } else {
          uv_close(handle, HandleBase::OnDetachedClose);
        }
      },
      nullptr);
  // The driver's poll leaves Node's loop while the fd it watches is still
  // open: uv_poll_stop removes the fd from Node's epoll set by its number,
  // which after uv_loop_close may be another file's (any thread may take
  // the number), and a closed epoll fd that a forking child still holds
  // stays in Node's set under that number.
  StopDriver();
  // Close callbacks (and write callbacks cancelled by the closes) run here.
  // Requests on the threadpool cannot be cancelled once running: wait for them.
  in_run_ = true;
  while (uv_loop_close(loop_) == UV_EBUSY) uv_run(loop_, UV_RUN_DEFAULT);
  in_run_ = false;
  free(loop_);
  loop_ = nullptr;
  idles_.clear();  // every wrap reported its stop from BeforeClose; defensive
  phase_watchers_ = 0;
  // Released in env teardown too: the napi_env is still valid in the cleanup
  // hook, and neither call runs JavaScript. Skipping them there leaked the
  // reference and the async context (LeakSanitizer, for every loop still open
  // when a worker or the process exits).
  if (slab_ != nullptr) napi_delete_reference(data_->env, slab_);
  slab_ = nullptr;
  if (spare_slab_ != nullptr) slab_pool_->Give(spare_slab_);
  spare_slab_ = nullptr;
  if (slab_pool_ != nullptr) slab_pool_->Release();
  slab_pool_ = nullptr;
  slab_data_ = nullptr;
  for (napi_ref ref : batch_slabs_) napi_delete_reference(data_->env, ref);
  batch_slabs_.clear();
  if (reads_array_ != nullptr) napi_delete_reference(data_->env, reads_array_);
  reads_array_ = nullptr;
  reads_data_ = nullptr;
  if (async_context_ != nullptr) napi_async_destroy(data_->env, async_context_);
  async_context_ = nullptr;
  auto it = std::find(data_->loops.begin(), data_->loops.end(), this);
  if (it != data_->loops.end()) {
    data_->loops.erase(it);
    if (CanCallJs()) Unref();  // rule 3: closed loops may be collected
  }
}

void LoopWrap::StopDriver() {
  if (driver_poll_ == nullptr) return;
  bool teardown = data_->tearing_down;
  AddonData* data = data_;
  if (teardown) data->drivers_closing += 3;
  auto on_closed = [](uv_handle_t* handle) {
    auto* d = static_cast<AddonData*>(handle->data);
    if (handle->type == UV_POLL) {
      delete reinterpret_cast<uv_poll_t*>(handle);
    } else if (handle->type == UV_TIMER) {
      delete reinterpret_cast<uv_timer_t*>(handle);
    } else {
      delete reinterpret_cast<uv_idle_t*>(handle);
    }
    if (d != nullptr) TeardownStepDone(d);
  };
  driver_poll_->data = teardown ? data : nullptr;
  driver_timer_->data = teardown ? data : nullptr;
  driver_idle_->data = teardown ? data : nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(driver_poll_), on_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(driver_timer_), on_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(driver_idle_), on_closed);
  driver_poll_ = nullptr;
  driver_timer_ = nullptr;
  driver_idle_ = nullptr;
}

void LoopWrap::Teardown() {
  if (loop_ == nullptr) return;
  CloseLoop();
}

Napi::Value LoopWrap::Now(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), loop_ ? static_cast<double>(uv_now(loop_)) : 0);
}

Napi::Value LoopWrap::UpdateTime(const Napi::CallbackInfo& info) {
  if (loop_ != nullptr) uv_update_time(loop_);
  return info.Env().Undefined();
}

Napi::Value LoopWrap::RenewTime(const Napi::CallbackInfo& info) {
  if (loop_ != nullptr && !in_run_) uv_update_time(loop_);
  return info.Env().Undefined();
}

Napi::Value LoopWrap::Alive(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), loop_ != nullptr && uv_loop_alive(loop_));
}

Napi::Value LoopWrap::Running(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), in_run_);
}

// Introspection for tests and bug reports: how the driver stands on Node's
// loop (is its idle handle active, and really in Node's idle queue?).
Napi::Value LoopWrap::DriverState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object state = Napi::Object::New(env);
  state.Set("touched", touched_);
  state.Set("batches", static_cast<double>(batches_));
  state.Set("passes", static_cast<double>(passes_));
  state.Set("lightPasses", static_cast<double>(light_passes_));
  state.Set("skippedBusy", static_cast<double>(skipped_busy_));
  state.Set("skippedJs", static_cast<double>(skipped_js_));
  state.Set("idleCalls", static_cast<double>(idle_calls_));
  // Which driver handle ran the batches, and how the driver stands on Node's
  // loop, read through libuv's public calls only.
  state.Set("timerCalls", static_cast<double>(timer_calls_));
  state.Set("pollCalls", static_cast<double>(poll_calls_));
  state.Set("tearingDown", data_->tearing_down);
  state.Set("inRun", in_run_);
  state.Set("closing", closing_);
  if (driver_timer_ != nullptr) {
    auto* timer = reinterpret_cast<uv_handle_t*>(driver_timer_);
    auto* idle = reinterpret_cast<uv_handle_t*>(driver_idle_);
    uv_loop_t* node_loop = driver_timer_->loop;
    state.Set("timerDueIn", static_cast<double>(uv_timer_get_due_in(driver_timer_)));
    state.Set("timerActive", uv_is_active(timer) != 0);
    state.Set("idleActive", uv_is_active(idle) != 0);
    state.Set("idleRef", uv_has_ref(idle) != 0);
    state.Set("pollActive", uv_is_active(reinterpret_cast<uv_handle_t*>(driver_poll_)) != 0);
    state.Set("nodeLoopNow", static_cast<double>(uv_now(node_loop)));
    uv_metrics_t m;
    if (uv_metrics_info(node_loop, &m) == 0)
      state.Set("nodeLoopCount", static_cast<double>(m.loop_count));
  }
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  state.Set("exceptionPending", pending);
  state.Set("jsCallable", JsCallable());
  if (loop_ != nullptr) {
    state.Set("alive", uv_loop_alive(loop_) != 0);
    state.Set("backendTimeout", uv_backend_timeout(loop_));
  }
  if (slab_pool_ != nullptr) {  // rule 11
    state.Set("slabsFree", static_cast<double>(slab_pool_->FreeCount()));
    state.Set("trimArmed", trim_armed_);
  }
  return state;
}

Napi::Value LoopWrap::Fileno(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), loop_ ? uv_backend_fd(loop_) : UV_EBADF);
}

Napi::Value LoopWrap::Handles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array result = Napi::Array::New(env);
  if (loop_ == nullptr) return result;
  struct Walk {
    Napi::Env env;
    Napi::Array* out;
    uint32_t n;
  } walk{env, &result, 0};
  uv_walk(
      loop_,
      [](uv_handle_t* handle, void* arg) {
        auto* w = static_cast<Walk*>(arg);
        auto* wrap = static_cast<HandleBase*>(handle->data);
        if (wrap == nullptr || uv_is_closing(handle)) return;
        Napi::Value owner = wrap->Owner();
        if (!owner.IsUndefined()) w->out->Set(w->n++, owner);
      },
      &walk);
  // Timers own no uv handle: their lists hold them (timer_lists.h rule 7).
  TimerLists* timers = TimerLists::Find(this);
  if (timers != nullptr) {
    // A Timer watched for collection by its JS half, the others by their
    // ids, which JS holds (handles/timer-native.ts).
    timers->ForEachOpen([&](TimerEntry* timer) {
      napi_value self = timer->JsObject();
      if (self == nullptr) {
        walk.out->Set(walk.n++, Napi::Number::New(env, timer->Id()));
        return;
      }
      napi_value owner;
      if (napi_get_named_property(env, self, "owner", &owner) != napi_ok) return;
      Napi::Value value(env, owner);
      if (!value.IsUndefined()) walk.out->Set(walk.n++, value);
    });
  }
  return result;
}

Napi::Value LoopWrap::HandleCounts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  for (int type = UV_UNKNOWN_HANDLE + 1; type < UV_HANDLE_TYPE_MAX; ++type) {
    if (live_[type] == 0) continue;
    const char* name = uv_handle_type_name(static_cast<uv_handle_type>(type));
    if (name != nullptr) result.Set(name, Napi::Number::New(env, live_[type]));
  }
  return result;
}

}  // namespace asyncuv
