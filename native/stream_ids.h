// StreamIds: streams by number, so the write entry of the JS side finds its
// wrap without napi_unwrap (stream_wrap.h rule 4). An id names a slot and
// the generation the slot had when the id was given out: an id whose stream
// is gone (closed, or collected) finds nothing, also once its slot serves
// another stream, and any other number finds nothing either.
//
// The same numbers deliver reads (loop_wrap.h rule 10): the read dispatcher
// (a JS function, set once per env) gets each read as its stream's slot, and
// finds the stream's JS object in the registry, a JS array by slot that holds
// a stream from its readStart until it is unpinned or closes. While any loop
// of the env delivers a batch, a freed slot is not given out again
// (BeginFlush/EndFlush): a read still in the batch for a stream closed by an
// earlier read's callback finds an empty slot, never a newer stream.
#pragma once

#include <node_api.h>

#include <cstdint>
#include <vector>

namespace asyncuv {

class StreamBase;

class StreamIds {
 public:
  // A new id for `stream`: a positive integer a JS number holds exactly.
  double Add(StreamBase* stream) {
    uint32_t slot;
    if (free_.empty()) {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.push_back({});
    } else {
      slot = free_.back();
      free_.pop_back();
    }
    Slot& s = slots_[slot];
    s.generation = (s.generation + 1) & kGenerationMask;
    if (s.generation == 0) s.generation = 1;
    s.stream = stream;
    return static_cast<double>((static_cast<uint64_t>(s.generation) << kSlotBits) | slot);
  }

  // Forgets `id`; a no-op for an id that finds nothing.
  void Remove(double id) {
    uint64_t slot;
    if (Find(id, &slot) == nullptr) return;
    slots_[slot].stream = nullptr;
    (flushing_ > 0 ? quarantine_ : free_).push_back(static_cast<uint32_t>(slot));
  }

  // The slot part of an id (the registry's index).
  static uint32_t SlotOf(double id) {
    return static_cast<uint32_t>(static_cast<uint64_t>(id) & ((uint64_t{1} << kSlotBits) - 1));
  }

  // A batch of reads is being delivered: slots freed meanwhile wait.
  void BeginFlush() { flushing_++; }
  void EndFlush() {
    if (--flushing_ > 0) return;
    free_.insert(free_.end(), quarantine_.begin(), quarantine_.end());
    quarantine_.clear();
  }

  // Keeps the read dispatcher and makes the registry; false for a non-function.
  bool SetDispatcher(napi_env env, napi_value fn) {
    napi_valuetype type;
    napi_value registry;
    napi_ref fn_ref = nullptr, registry_ref = nullptr;
    if (napi_typeof(env, fn, &type) != napi_ok || type != napi_function ||
        napi_create_array(env, &registry) != napi_ok ||
        napi_create_reference(env, fn, 1, &fn_ref) != napi_ok ||
        napi_create_reference(env, registry, 1, &registry_ref) != napi_ok) {
      if (fn_ref != nullptr) napi_delete_reference(env, fn_ref);
      return false;
    }
    ReleaseRefs();
    env_ = env;
    dispatcher_ = fn_ref;
    registry_ = registry_ref;
    return true;
  }
  bool HasDispatcher() const { return dispatcher_ != nullptr; }
  // Both need an open handle scope; nullptr before SetDispatcher.
  napi_value Dispatcher() const { return Value(dispatcher_); }
  napi_value Registry() const { return Value(registry_); }

  ~StreamIds() { ReleaseRefs(); }

  // The stream behind `id`, or nullptr.
  StreamBase* Find(double id) const {
    uint64_t slot;
    return Find(id, &slot);
  }

 private:
  static constexpr int kSlotBits = 24;                         // 16M streams at once per env
  static constexpr uint32_t kGenerationMask = (1u << 29) - 1;  // ids stay below 2^53
  struct Slot {
    StreamBase* stream = nullptr;
    uint32_t generation = 0;
  };

  StreamBase* Find(double id, uint64_t* slot) const {
    // The comparison is false for NaN; 2^53 bounds the cast.
    if (!(id >= 1 && id < 9007199254740992.0)) return nullptr;
    auto value = static_cast<uint64_t>(id);
    if (static_cast<double>(value) != id) return nullptr;
    *slot = value & ((uint64_t{1} << kSlotBits) - 1);
    if (*slot >= slots_.size()) return nullptr;
    const Slot& s = slots_[*slot];
    if (s.generation != (value >> kSlotBits)) return nullptr;
    return s.stream;
  }

  napi_value Value(napi_ref ref) const {
    napi_value value = nullptr;
    if (ref != nullptr && napi_get_reference_value(env_, ref, &value) != napi_ok) value = nullptr;
    return value;
  }
  // Also in env teardown (AddonData's destructor): deleting a reference runs no JS.
  void ReleaseRefs() {
    if (dispatcher_ != nullptr) napi_delete_reference(env_, dispatcher_);
    if (registry_ != nullptr) napi_delete_reference(env_, registry_);
    dispatcher_ = registry_ = nullptr;
  }

  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> quarantine_;  // freed during a flush
  int flushing_ = 0;
  napi_env env_ = nullptr;
  napi_ref dispatcher_ = nullptr;
  napi_ref registry_ = nullptr;
};

}  // namespace asyncuv
