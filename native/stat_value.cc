#include "stat_value.h"

namespace asyncuv {

namespace {

double Millis(const uv_timespec_t& ts) {
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace

napi_value StatToJs(napi_env env, const uv_stat_t* s) {
  void* data = nullptr;
  napi_value ab;
  napi_value array;
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  if (napi_create_arraybuffer(env, kStatFieldCount * sizeof(double), &data, &ab) != napi_ok ||
      data == nullptr)
    return undefined;
  auto* f = static_cast<double*>(data);
  f[kStatDev] = static_cast<double>(s->st_dev);
  f[kStatMode] = static_cast<double>(s->st_mode);
  f[kStatNlink] = static_cast<double>(s->st_nlink);
  f[kStatUid] = static_cast<double>(s->st_uid);
  f[kStatGid] = static_cast<double>(s->st_gid);
  f[kStatRdev] = static_cast<double>(s->st_rdev);
  f[kStatBlksize] = static_cast<double>(s->st_blksize);
  f[kStatIno] = static_cast<double>(s->st_ino);
  f[kStatSize] = static_cast<double>(s->st_size);
  f[kStatBlocks] = static_cast<double>(s->st_blocks);
  f[kStatAtimeMs] = Millis(s->st_atim);
  f[kStatMtimeMs] = Millis(s->st_mtim);
  f[kStatCtimeMs] = Millis(s->st_ctim);
  f[kStatBirthtimeMs] = Millis(s->st_birthtim);
  if (napi_create_typedarray(env, napi_float64_array, kStatFieldCount, ab, 0, &array) != napi_ok)
    return undefined;
  return array;
}

}  // namespace asyncuv
