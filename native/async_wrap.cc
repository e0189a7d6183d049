// Async: uv_async_t, the one handle whose send() may be called from any
// thread. Other threads reach it through an AsyncChannel: the owner clears
// the channel under its mutex before closing the uv handle, so a send() that
// races with close() either wakes the loop or reports EBADF, never touches
// freed memory. Channels are found by id in a registry that holds an entry
// only while the owning Async is open.
#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "handle_wrap.h"
#include "wraps.h"

namespace asyncuv {
namespace {

struct AsyncChannel {
  std::mutex mutex;
  uv_async_t* async = nullptr;  // null once the owner closed

  // Runs on any thread.
  int Send() {
    std::lock_guard<std::mutex> lock(mutex);
    if (async == nullptr) return UV_EBADF;
    return uv_async_send(async);
  }
};

// Process-wide: the addon's shared library is loaded once for all threads.
std::mutex registry_mutex;
std::unordered_map<uint64_t, std::shared_ptr<AsyncChannel>>& Registry() {
  static auto* registry = new std::unordered_map<uint64_t, std::shared_ptr<AsyncChannel>>();
  return *registry;
}
std::atomic<uint64_t> next_channel_id{1};

class AsyncWrap : public HandleWrap<AsyncWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    auto methods = BaseMethods();
    methods.push_back(InstanceMethod<&AsyncWrap::JsInit>("init"));
    methods.push_back(InstanceMethod<&AsyncWrap::Send>("send"));
    methods.push_back(InstanceMethod<&AsyncWrap::ChannelId>("channelId"));
    exports.Set("Async", DefineClass(env, "Async", methods));
  }

  explicit AsyncWrap(const Napi::CallbackInfo& info) : Base(info) {}
  ~AsyncWrap() override { CloseChannel(); }

 private:
  Napi::Value JsInit(const Napi::CallbackInfo& info) {
    int rc = StartInit(info[0], UV_ASYNC);
    if (rc != 0) return Code(rc);
    rc = uv_async_init(loop_->uv(), As<uv_async_t>(), OnAsync);
    if (rc != 0) {
      AbortInit();
      return Code(rc);
    }
    channel_ = std::make_shared<AsyncChannel>();
    channel_->async = As<uv_async_t>();
    id_ = next_channel_id++;
    {
      std::lock_guard<std::mutex> lock(registry_mutex);
      Registry()[id_] = channel_;
    }
    FinishInit();
    return Code(0);
  }

  Napi::Value Send(const Napi::CallbackInfo& info) {
    if (!usable() || !channel_) return Code(UV_EBADF);
    return Code(channel_->Send());
  }

  Napi::Value ChannelId(const Napi::CallbackInfo& info) {
    return Napi::BigInt::New(info.Env(), id_);
  }

  // The channel is cleared before uv_close, see the top of this file.
  void BeforeClose() override { CloseChannel(); }

  void CloseChannel() {
    if (!channel_) return;
    {
      std::lock_guard<std::mutex> lock(registry_mutex);
      Registry().erase(id_);
    }
    // The local reference keeps the channel, and the mutex in it, alive until
    // the lock is released: with no sender left, resetting channel_ under the
    // lock freed the mutex that the lock_guard then unlocked (valgrind:
    // invalid read/write in pthread_mutex_unlock on every close of an Async).
    std::shared_ptr<AsyncChannel> channel = std::move(channel_);
    std::lock_guard<std::mutex> lock(channel->mutex);
    channel->async = nullptr;
  }

  static void OnAsync(uv_async_t* handle) {
    auto* wrap = FromHandle<AsyncWrap>(handle);
    Napi::HandleScope scope(wrap->loop_->env());
    wrap->Emit(Key::kOnEvent);
  }

  std::shared_ptr<AsyncChannel> channel_;
  uint64_t id_ = 0;
};

// A sender in another thread (or the same one): Async.from(handle).
class AsyncSenderWrap : public Napi::ObjectWrap<AsyncSenderWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    exports.Set("AsyncSender", DefineClass(env, "AsyncSender",
                                           {InstanceMethod<&AsyncSenderWrap::Send>("send"),
                                            InstanceMethod<&AsyncSenderWrap::IsOpen>("isOpen")}));
  }

  // new AsyncSender(id: bigint); `channel_` stays empty if the id is unknown.
  explicit AsyncSenderWrap(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<AsyncSenderWrap>(info) {
    if (Orphaned(this, info.Env()) || !info[0].IsBigInt()) return;
    bool lossless = false;
    uint64_t id = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
    std::lock_guard<std::mutex> lock(registry_mutex);
    auto it = Registry().find(id);
    if (it != Registry().end()) channel_ = it->second;
  }

 private:
  Napi::Value Send(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), channel_ ? channel_->Send() : UV_EBADF);
  }

  Napi::Value IsOpen(const Napi::CallbackInfo& info) {
    bool open = false;
    if (channel_) {
      std::lock_guard<std::mutex> lock(channel_->mutex);
      open = channel_->async != nullptr;
    }
    return Napi::Boolean::New(info.Env(), open);
  }

  std::shared_ptr<AsyncChannel> channel_;
};

}  // namespace

void InitAsync(Napi::Env env, Napi::Object exports) {
  AsyncWrap::Init(env, exports);
  AsyncSenderWrap::Init(env, exports);
}

}  // namespace asyncuv
