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
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (mem != nullptr && !released_) {
      free_.push_back(mem);
      mem = nullptr;
    } else if (mem != nullptr) {
      owned_--;
    }
    last = --refs_ == 0;
  }
  free(mem);
  if (last) delete this;
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
    owned_ -= free_.size();
    drop.swap(free_);
    last = --refs_ == 0;
  }
  for (void* mem : drop) free(mem);
  if (last) delete this;
}

}  // namespace asyncuv
