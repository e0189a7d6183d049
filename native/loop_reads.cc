// Reads of the private loop's streams, batched (loop_wrap.h, rule 10, and
// slab_pool.h): every stream reads into the current slab, a Buffer shared
// by the reads of one pass, and the pass's reads reach JavaScript in one
// call per batch (FlushReads), before any other callback that could see
// their effects. Spare slabs are kept in a pool and trimmed once the loop
// has been quiet for a while.
#include <cstddef>

#include "loop_wrap.h"
#include "slab_pool.h"
#include "stream_wrap.h"

namespace asyncuv {

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

}  // namespace asyncuv
