// StreamIds: streams by number, so the write entry of the JS side finds its
// wrap without napi_unwrap (stream_wrap.h rule 4). An id names a slot and
// the generation the slot had when the id was given out: an id whose stream
// is gone (closed, or collected) finds nothing, also once its slot serves
// another stream, and any other number finds nothing either.
#pragma once

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
    free_.push_back(static_cast<uint32_t>(slot));
  }

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

  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
};

}  // namespace asyncuv
