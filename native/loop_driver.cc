// The driver of the embedded loop (loop_wrap.h, rules 1-9): how Node's own
// loop learns that the private loop has work (a poll on its backend fd, an
// idle and a timer of Node's), and the batch it then runs: passes of
// uv_run(UV_RUN_NOWAIT) or light passes of idle callbacks, each inside a
// callback scope so that microtasks drain between them, within the batch
// limits; then re-arming for the private loop's next timeout. CallJs is the
// one place native code crosses into JavaScript.
#include <algorithm>

#include "loop_wrap.h"

namespace asyncuv {

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

void LoopWrap::OnWatchdog(uv_timer_t* timer) {
  auto* self = static_cast<LoopWrap*>(timer->loop->data);
  self->watchdog_fired_ = true;
  napi_handle_scope scope;
  if (napi_open_handle_scope(self->env(), &scope) != napi_ok) return self->OnJsUnavailable();
  if (!self->JsCallable()) self->OnJsUnavailable();
  napi_close_handle_scope(self->env(), scope);
}

}  // namespace asyncuv
