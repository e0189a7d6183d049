// A uv_stat_t as a JS value, shared by fs (stat/fstat/lstat) and FSPoll.
#pragma once

#include <napi.h>
#include <uv.h>

namespace asyncuv {

// Fields of the Float64Array StatToJs returns; handles/stats.ts reads them
// in this order.
enum StatField {
  kStatDev = 0,
  kStatMode,
  kStatNlink,
  kStatUid,
  kStatGid,
  kStatRdev,
  kStatBlksize,
  kStatIno,
  kStatSize,
  kStatBlocks,
  kStatAtimeMs,
  kStatMtimeMs,
  kStatCtimeMs,
  kStatBirthtimeMs,
  kStatFieldCount
};

// One Float64Array of kStatFieldCount numbers: cheaper to build than an
// object with named properties, and the TS side wraps it in a Stats.
napi_value StatToJs(napi_env env, const uv_stat_t* stat);

}  // namespace asyncuv
