#include "slab_pool.h"

#include <cstdint>
#include <cstdlib>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace asyncuv {

void* SlabPool::Take() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!free_.empty()) {
      refs_++;
      void* mem = free_.back();
      free_.pop_back();
      Counted();
      return mem;
    }
    if (owned_ >= kKeep) return nullptr;  // rule 3: the caller takes Node's memory
    refs_++;
    owned_++;
  }
  void* mem = malloc(kSlabSize);
  if (mem == nullptr) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      owned_--;
    }
    Give(nullptr);
    return nullptr;
  }
#ifdef MADV_POPULATE_WRITE
  // Rule 5; page-aligned inside the allocation. Older kernels refuse it
  // (EINVAL), and then the reads fault the pages in as before.
  const uintptr_t page = 4096;
  uintptr_t begin = (reinterpret_cast<uintptr_t>(mem) + page - 1) & ~(page - 1);
  uintptr_t end = (reinterpret_cast<uintptr_t>(mem) + kSlabSize) & ~(page - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#endif
  return mem;
}

void SlabPool::Give(void* mem) {
  bool last;
  void (*spare)(void*) = nullptr;
  void* owner = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (mem != nullptr && !released_) {
      free_.push_back(mem);
      Counted();
      mem = nullptr;
      if (free_.size() == kKeepIdle + 1 && spare_ != nullptr &&
          owner_thread_ == std::this_thread::get_id()) {
        spare = spare_;
        owner = owner_;
      }
    } else if (mem != nullptr) {
      owned_--;
    }
    last = --refs_ == 0;
  }
  free(mem);
  // Not under the lock: the loop may Take() or Trim() from it. The loop is
  // still open (Release() clears spare_ on this same thread first), and
  // `last` is false while it is (it holds a count).
  if (spare != nullptr) spare(owner);
  if (last) delete this;
}

void SlabPool::Notify(void (*spare)(void*), void* owner) {
  std::lock_guard<std::mutex> lock(mutex_);
  spare_ = spare;
  owner_ = owner;
  owner_thread_ = std::this_thread::get_id();
}

void SlabPool::Finalize(napi_env /*env*/, void* data, void* hint) {
  static_cast<SlabPool*>(hint)->Give(data);
}

void SlabPool::Release() {
  std::vector<void*> drop;
  bool last;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    released_ = true;
    spare_ = nullptr;
    owner_ = nullptr;
    owned_ -= free_.size();
    drop.swap(free_);
    Counted();
    last = --refs_ == 0;
  }
  for (void* mem : drop) free(mem);
  if (last) delete this;
}

void SlabPool::Trim() {
  std::vector<void*> drop;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (low_water_ > kKeepIdle && !released_) {
      // The oldest free slabs: the front of free_.
      size_t n = low_water_ - kKeepIdle;
      drop.assign(free_.begin(), free_.begin() + static_cast<std::ptrdiff_t>(n));
      free_.erase(free_.begin(), free_.begin() + static_cast<std::ptrdiff_t>(n));
      owned_ -= n;
    }
    low_water_ = free_.size();
    free_count_.store(free_.size(), std::memory_order_relaxed);
  }
  for (void* mem : drop) free(mem);
}

void SlabPool::Counted() {
  size_t n = free_.size();
  if (n < low_water_) low_water_ = n;
  free_count_.store(n, std::memory_order_relaxed);
}

}  // namespace asyncuv
