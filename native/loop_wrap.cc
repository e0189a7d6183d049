#include "loop_wrap.h"

#include <algorithm>
#include <cstddef>

#include "handle_wrap.h"
#include "slab_pool.h"
#include "stream_wrap.h"
#include "timer_lists.h"

namespace asyncuv {

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

void LoopWrap::Touch() {
  changed_ = true;  // rule 9: the next pass is a full one
  // In a batch (a pass, or the microtasks between passes) the batch re-arms
  // once it ends.
  if (in_run_ || in_batch_ || touched_ || loop_ == nullptr || driver_idle_ == nullptr) return;
  touched_ = true;
  // Ref'd so that a handle started from top-level code gets its first run
  // even if nothing else keeps Node's loop alive; Rearm() fixes the ref.
  uv_ref(reinterpret_cast<uv_handle_t*>(driver_idle_));
  uv_idle_start(driver_idle_, OnDriverIdle);
  ArmFallback();
}

void LoopWrap::ArmFallback() {
  // Rule 6: the idle handle is the fast path; this timer is the guarantee.
  trim_armed_ = false;
  uv_ref(reinterpret_cast<uv_handle_t*>(driver_timer_));
  uv_timer_start(driver_timer_, OnDriverTimer, 1, 0);
}

void LoopWrap::SetDriverRef(bool ref) {
  uv_handle_t* handles[] = {reinterpret_cast<uv_handle_t*>(driver_poll_),
                            reinterpret_cast<uv_handle_t*>(driver_timer_),
                            reinterpret_cast<uv_handle_t*>(driver_idle_)};
  for (uv_handle_t* handle : handles) {
    if (ref) {
      uv_ref(handle);
    } else {
      uv_unref(handle);
    }
  }
}

void LoopWrap::OnDriverPoll(uv_poll_t* poll, int status, int events) {
  static_cast<LoopWrap*>(poll->data)->poll_calls_++;
  static_cast<LoopWrap*>(poll->data)->RunBatch();
}

void LoopWrap::OnDriverTimer(uv_timer_t* timer) {
  auto* self = static_cast<LoopWrap*>(timer->data);
  self->timer_calls_++;
  // Rule 11: armed for a trim, with nothing of the private loop due.
  if (self->trim_armed_ && !self->changed_ && self->loop_ != nullptr && !self->closing_ &&
      !self->in_run_ && self->NextTimeout() != 0) {
    self->TrimSlabs();
    self->Rearm();
    return;
  }
  self->RunBatch();
}

void LoopWrap::OnSlabsSpare(void* self_ptr) {
  auto* self = static_cast<LoopWrap*>(self_ptr);
  // A batch that runs or is due re-arms anyway (Rearm), as does a Touch.
  if (self->in_batch_ || self->in_run_ || self->touched_ || self->closing_ ||
      self->loop_ == nullptr || self->driver_timer_ == nullptr)
    return;
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(self->driver_idle_))) return;
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(self->driver_timer_)) &&
      uv_timer_get_due_in(self->driver_timer_) <= kTrimMs)
    return;
  self->trim_armed_ = true;
  uv_timer_start(self->driver_timer_, OnDriverTimer, kTrimMs, 0);
}

void LoopWrap::TrimSlabs() {
  if (slab_pool_ == nullptr) return;
  uint64_t now = uv_hrtime();
  if (now - last_trim_ns_ < kTrimMs * 1000000) return;
  last_trim_ns_ = now;
  slab_pool_->Trim();
}

void LoopWrap::OnDriverIdle(uv_idle_t* idle) {
  static_cast<LoopWrap*>(idle->data)->idle_calls_++;
  static_cast<LoopWrap*>(idle->data)->RunBatch();
}

bool LoopWrap::JsCallable() {
  if (!CanCallJs()) return false;
  // Node-API refuses every call that may run JS (those that start with
  // NAPI_PREAMBLE) with napi_pending_exception once the env cannot call into
  // JS. napi_strict_equals is one, and the cheapest: it compares two values
  // it already has, with no lookup and nothing allocated.
  napi_env env = data_->env;
  napi_value undefined;
  bool same = false;
  return napi_get_undefined(env, &undefined) == napi_ok &&
         napi_strict_equals(env, undefined, undefined, &same) == napi_ok;
}

void LoopWrap::RunBatch() {
  if (in_run_ || loop_ == nullptr || closing_) {
    skipped_busy_++;
    return;
  }
  if (!CanCallJs()) return;
  napi_env env = data_->env;
  // One handle scope for the whole batch: the values made between passes
  // (the callback scopes' resource) live until it ends, and every callback
  // opens its own scope for what it makes.
  napi_handle_scope handle_scope;
  if (napi_open_handle_scope(env, &handle_scope) != napi_ok) return;
  // A terminated worker still runs Node's loop to close its handles before
  // the cleanup hook: callbacks must not run then; the hook closes the loop.
  // Once a batch has begun, a call that fails stops it (OnJsUnavailable).
  if (!JsCallable()) {
    skipped_js_++;
    napi_close_handle_scope(env, handle_scope);
    Rearm();
    return;
  }
  batches_++;
  in_batch_ = true;
  stopped_ = false;
  napi_value resource = Value();
  uint64_t deadline = max_passes_ > 1 ? uv_hrtime() + budget_ns_ : 0;
  // Rule 8: more passes while the private loop would run one at once.
  bool light = false;
  for (int pass = 0; pass < max_passes_; ++pass) {
    RunPass(light, resource);
    if (loop_ == nullptr || closing_ || stopped_ || pass + 1 == max_passes_) break;
    light = LightPassAllowed();
    if (!light && NextTimeout() != 0) break;
    if (uv_hrtime() >= deadline) break;
  }
  in_batch_ = false;
  napi_close_handle_scope(env, handle_scope);
  PrepareSlab();  // slab_pool.h rule 5: after the replies, not before
  TrimSlabs();
  Rearm();
}

bool LoopWrap::LightPassAllowed() const {
  return !changed_ && phase_watchers_ == 0 && !idles_.empty() && light_run_ < kLightPerFull;
}

void LoopWrap::RunPass(bool light, napi_value resource) {
  napi_env env = data_->env;
  passes_++;
  napi_open_callback_scope(env, resource, async_context_, &batch_scope_);
  in_run_ = true;
  touched_ = false;
  if (light) {
    light_passes_++;
    light_run_++;
    in_light_pass_ = true;
    RunIdles();
    in_light_pass_ = false;
  } else {
    light_run_ = 0;
    changed_ = false;
    auto* keepalive = reinterpret_cast<uv_handle_t*>(&keepalive_);
    uv_ref(keepalive);  // rule 2: run even if only unref'd handles are active
    uv_run(loop_, UV_RUN_NOWAIT);
    if (loop_ != nullptr) uv_unref(keepalive);
  }
  in_run_ = false;
  // Closing the outermost callback scope drains process.nextTick and
  // microtasks: an async callback that awaits continues here, in this pass.
  checkpoint_requested_ = false;
  if (batch_scope_ != nullptr) napi_close_callback_scope(env, batch_scope_);
  batch_scope_ = nullptr;
}

void LoopWrap::RunIdles() {
  // Rule 9, libuv's idle phase: the handles active when the phase begins,
  // the one started last first (uv_idle_start inserts at the head of the
  // loop's queue), each unless an earlier callback stopped it; a handle
  // (re)started during the phase has a later sequence and waits for the next
  // pass. idles_ stays sorted by sequence. A handle closed during the phase
  // is stopped first, and only uv_run's closing phase frees it.
  uint64_t cursor = idle_seq_;
  for (;;) {
    auto it = std::lower_bound(idles_.begin(), idles_.end(), cursor,
                               [](const IdleEntry& e, uint64_t seq) { return e.seq < seq; });
    if (it == idles_.begin()) break;
    IdleEntry entry = *--it;
    cursor = entry.seq;
    entry.fire(entry.idle);
    if (loop_ == nullptr || closing_) break;
  }
}

void LoopWrap::IdleStarted(uv_idle_t* idle, uv_idle_cb fire) {
  idles_.push_back({idle, fire, idle_seq_++});
}

void LoopWrap::IdleStopped(uv_idle_t* idle) {
  auto it = std::find_if(idles_.begin(), idles_.end(),
                         [idle](const IdleEntry& e) { return e.idle == idle; });
  if (it != idles_.end()) idles_.erase(it);
}

int64_t LoopWrap::NextTimeout() {
  // uv_backend_timeout() answers 0 whenever no ref'd handle is active (rule 2).
  // With the keepalive prepare (always active, normally unref'd) ref'd for the
  // call, it answers what uv_run would wait: 0 for idle, pending or closing
  // handles, the earliest timer whether ref'd or not, or -1 for none.
  auto* keepalive = reinterpret_cast<uv_handle_t*>(&keepalive_);
  uv_ref(keepalive);
  int timeout = uv_backend_timeout(loop_);
  uv_unref(keepalive);
  return timeout;
}

void LoopWrap::Rearm() {
  if (loop_ == nullptr || closing_ || driver_timer_ == nullptr) return;
  touched_ = false;
  uv_update_time(loop_);
  bool alive = uv_loop_alive(loop_) != 0;
  int64_t timeout = NextTimeout();
  SetDriverRef(alive);
  if (timeout == 0) {  // rules 3 and 6
    trim_armed_ = false;
    uv_idle_start(driver_idle_, OnDriverIdle);
    uv_timer_start(driver_timer_, OnDriverTimer, 1, 0);
    return;
  }
  uv_idle_stop(driver_idle_);
  // Rule 11. A trim timer already set stays as it is: a busy loop re-arms
  // once per batch, and each uv_timer_start moves Node's timer heap.
  bool trim = slab_pool_ != nullptr && slab_pool_->Trimmable() &&
              (timeout < 0 || static_cast<uint64_t>(timeout) > kTrimMs);
  if (trim && trim_armed_ && uv_is_active(reinterpret_cast<uv_handle_t*>(driver_timer_))) return;
  trim_armed_ = trim;
  if (trim) timeout = static_cast<int64_t>(kTrimMs);
  if (timeout < 0) {
    uv_timer_stop(driver_timer_);
  } else {
    uv_timer_start(driver_timer_, OnDriverTimer, static_cast<uint64_t>(timeout), 0);
  }
}

bool LoopWrap::CallJs(napi_value recv, napi_value fn, size_t argc, const napi_value* argv) {
  if (!reads_.empty() && !flushing_) FlushReads();  // rule 10: reads first
  napi_env env = data_->env;
  napi_value result;
  dispatched_++;
  js_depth_++;
  napi_status status = napi_call_function(env, recv, fn, argc, argv, &result);
  js_depth_--;
  bool pending = false;
  if (status != napi_ok && napi_is_exception_pending(env, &pending) == napi_ok && !pending) {
    OnJsUnavailable();
    return false;
  }
  if (status == napi_pending_exception) {
    napi_value error;
    if (napi_get_and_clear_last_exception(env, &error) == napi_ok) {
      // A terminating worker reports its termination as an exception that
      // must not be rethrown; uncaughtException handling ignores it there.
      napi_fatal_exception(env, error);
    }
  }
  if (checkpoint_requested_ && js_depth_ == 0) PerformCheckpoint();
  return true;
}

void LoopWrap::PerformCheckpoint() {
  checkpoint_requested_ = false;
  // Only between two calls of an embedded batch, where no JS is on the
  // stack: a blocking run() drains when it returns to its caller.
  if (batch_scope_ == nullptr || js_depth_ != 0) return;
  napi_env env = data_->env;
  napi_close_callback_scope(env, batch_scope_);
  batch_scope_ = nullptr;
  if (!JsCallable()) return;
  napi_open_callback_scope(env, Value(), async_context_, &batch_scope_);
}

Napi::Value LoopWrap::Checkpoint(const Napi::CallbackInfo& info) {
  RequestCheckpoint();
  return info.Env().Undefined();
}

void LoopWrap::OnJsUnavailable() {
  stopped_ = true;  // no further pass in this batch (rule 8)
  if (loop_ != nullptr && !in_light_pass_) uv_stop(loop_);  // see Stop()
}

namespace {
constexpr uint64_t kWatchdogMs = 100;
}  // namespace

void LoopWrap::OnWatchdog(uv_timer_t* timer) {
  auto* self = static_cast<LoopWrap*>(timer->loop->data);
  self->watchdog_fired_ = true;
  napi_handle_scope scope;
  if (napi_open_handle_scope(self->env(), &scope) != napi_ok) return self->OnJsUnavailable();
  if (!self->JsCallable()) self->OnJsUnavailable();
  napi_close_handle_scope(self->env(), scope);
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

namespace {
constexpr size_t kSlabSize = SlabPool::kSlabSize;
constexpr size_t kMinRead = 64 * 1024;

// A slab over memory of `pool` (slab_pool.h rule 1), or else a Buffer of
// Node's: a Buffer, not an ArrayBuffer, since Node allocates it
// uninitialized, where napi_create_arraybuffer zero-fills (measured: 15% of
// a streaming echo). Runtimes that forbid external buffers take that path.
bool NewSlab(napi_env env, SlabPool* pool, void* spare, void** mem, napi_value* node_buffer) {
  void* pooled = spare != nullptr ? spare : pool != nullptr ? pool->Take() : nullptr;
  if (pooled != nullptr) {
    if (napi_create_external_buffer(env, kSlabSize, pooled, SlabPool::Finalize, pool,
                                    node_buffer) == napi_ok) {
      *mem = pooled;
      return true;
    }
    pool->Give(pooled);
  }
  return napi_create_buffer(env, kSlabSize, mem, node_buffer) == napi_ok;
}
}  // namespace

uv_buf_t LoopWrap::SlabAlloc(size_t suggested) {
  if (slab_data_ == nullptr || slab_size_ - slab_offset_ < kMinRead) {
    napi_env env = data_->env;
    napi_value node_buffer, buffer;
    void* mem = nullptr;
    void* spare = spare_slab_;
    spare_slab_ = nullptr;
    if (!NewSlab(env, slab_pool_, spare, &mem, &node_buffer)) {
      return uv_buf_init(nullptr, 0);  // libuv reports UV_ENOBUFS to the read callback
    }
    napi_typedarray_type type;
    size_t length = 0, byte_offset = 0;
    void* data = nullptr;
    napi_get_typedarray_info(env, node_buffer, &type, &length, &data, &buffer, &byte_offset);
    if (byte_offset != 0) return uv_buf_init(nullptr, 0);  // never pooled at this size
    if (slab_ != nullptr) {
      // Rule 10: queued reads keep the slab they landed in until the flush.
      if (slab_queued_) {
        batch_slabs_.push_back(slab_);
      } else {
        napi_delete_reference(env, slab_);
      }
    }
    slab_queued_ = false;
    napi_create_reference(env, buffer, 1, &slab_);
    slab_data_ = static_cast<char*>(mem);
    slab_size_ = kSlabSize;
    slab_offset_ = 0;
  }
  return uv_buf_init(slab_data_ + slab_offset_, static_cast<unsigned>(slab_size_ - slab_offset_));
}

void LoopWrap::PrepareSlab() {
  if (spare_slab_ != nullptr || slab_pool_ == nullptr || closing_) return;
  if (slab_data_ != nullptr && slab_size_ - slab_offset_ >= 2 * kMinRead) return;
  spare_slab_ = slab_pool_->Take();
}

size_t LoopWrap::SlabCommit(size_t nread) {
  size_t offset = slab_offset_;
  // Keep views 8-byte aligned so typed arrays over them stay possible.
  slab_offset_ = (slab_offset_ + nread + 7) & ~static_cast<size_t>(7);
  if (slab_offset_ > slab_size_) slab_offset_ = slab_size_;
  return offset;
}

void LoopWrap::QueueRead(double id, ssize_t nread, size_t offset) {
  if (reads_.empty()) uv_check_start(&flush_check_, OnFlushCheck);
  if (nread > 0) slab_queued_ = true;
  reads_.push_back(
      {id, static_cast<double>(nread), static_cast<double>(offset), batch_slabs_.size()});
}

void LoopWrap::QueueResume(double id) {
  if (reads_.empty()) uv_check_start(&flush_check_, OnFlushCheck);
  uv_idle_start(&flush_idle_, OnFlushIdle);
  reads_.push_back({id, 0, 0, batch_slabs_.size()});
  Touch();
}

void LoopWrap::OnFlushCheck(uv_check_t* check) {
  static_cast<LoopWrap*>(check->loop->data)->FlushReads();
}

void LoopWrap::OnFlushIdle(uv_idle_t* idle) {
  static_cast<LoopWrap*>(idle->loop->data)->FlushReads();
}

namespace {

// The stream of a delivered (or dropped) read: its pin for the read ends.
void ReadDone(StreamIds& ids, double id) {
  StreamBase* stream = ids.Find(id);
  if (stream != nullptr) stream->ReadDelivered();
}

}  // namespace

void LoopWrap::FlushReads() {
  if (flushing_ || reads_.empty()) return;
  flushing_ = true;
  StreamIds& ids = data_->stream_ids;
  ids.BeginFlush();
  napi_env env = data_->env;
  napi_handle_scope scope = nullptr;
  bool js = CanCallJs() && napi_open_handle_scope(env, &scope) == napi_ok;
  if (js && reads_array_ == nullptr) {
    napi_value buffer, array;
    void* data = nullptr;
    size_t bytes = (kReadsHeader + 3 * kReadsChunk) * sizeof(double);
    js = napi_create_arraybuffer(env, bytes, &data, &buffer) == napi_ok &&
         napi_create_typedarray(env, napi_float64_array, bytes / sizeof(double), buffer, 0,
                                &array) == napi_ok &&
         napi_create_reference(env, array, 1, &reads_array_) == napi_ok;
    if (js) reads_data_ = static_cast<double*>(data);
  }
  napi_value argv[3] = {nullptr, nullptr, ids.Registry()};
  napi_value dispatcher = ids.Dispatcher();
  if (js) js = napi_get_reference_value(env, reads_array_, &argv[0]) == napi_ok;
  js = js && argv[0] != nullptr && argv[2] != nullptr && dispatcher != nullptr;
  napi_value undefined = nullptr;
  if (js) napi_get_undefined(env, &undefined);
  // Reads appended meanwhile (resumes queued by callbacks) join this flush.
  size_t next = 0;
  while (next < reads_.size()) {
    if (!js) {
      ReadDone(ids, reads_[next++].id);
      continue;
    }
    // One call per run of reads in the same slab, up to kReadsChunk.
    size_t slab = reads_[next].slab;
    size_t n = 0;
    double* out = reads_data_ + kReadsHeader;
    for (size_t i = next; i < reads_.size() && n < kReadsChunk && reads_[i].slab == slab; ++i) {
      *out++ = StreamIds::SlotOf(reads_[i].id);
      *out++ = reads_[i].nread;
      *out++ = reads_[i].offset;
      n++;
    }
    reads_data_[kReadsCount] = static_cast<double>(n);
    reads_data_[kReadsCursor] = 0;
    reads_data_[kReadsStop] = 0;
    napi_ref slab_ref = slab < batch_slabs_.size() ? batch_slabs_[slab] : slab_;
    argv[1] = undefined;
    if (slab_ref != nullptr) napi_get_reference_value(env, slab_ref, &argv[1]);
    if (argv[1] == nullptr) argv[1] = undefined;
    js = CallJs(undefined, dispatcher, 3, argv);
    // The dispatcher advances the cursor before each read's callback: after
    // a throw it names the read that threw, which counts as delivered. A
    // cursor that did not move (the dispatcher failed) skips one read, so
    // that a flush always ends.
    double cursor = reads_data_[kReadsCursor];
    size_t done = cursor >= 1 && cursor <= static_cast<double>(n) ? static_cast<size_t>(cursor) : 1;
    for (size_t i = 0; i < done; ++i) ReadDone(ids, reads_[next + i].id);
    next += done;
  }
  reads_.clear();
  for (napi_ref ref : batch_slabs_) napi_delete_reference(env, ref);
  batch_slabs_.clear();
  slab_queued_ = false;
  if (loop_ != nullptr && !closing_) {
    uv_check_stop(&flush_check_);
    uv_idle_stop(&flush_idle_);
  }
  if (scope != nullptr) napi_close_handle_scope(env, scope);
  ids.EndFlush();
  flushing_ = false;
}

napi_value LoopWrap::SlabValue() {
  napi_value value;
  napi_get_reference_value(data_->env, slab_, &value);
  return value;
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
