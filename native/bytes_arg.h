// Reading bytes out of a JS argument without copying them.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>

namespace asyncuv {

// Points `out` at the bytes of a TypedArray, DataView or ArrayBuffer. The
// memory belongs to the JS value: whoever keeps `out` past the current call
// must keep the value alive too. Returns false for any other value.
inline bool ArgBytes(Napi::Value value, uv_buf_t* out) {
  napi_env env = value.Env();
  void* data = nullptr;
  size_t length = 0;
  bool is = false;
  if (napi_is_typedarray(env, value, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t count = 0;
    napi_value ab;
    size_t offset = 0;
    if (napi_get_typedarray_info(env, value, &type, &count, &data, &ab, &offset) != napi_ok) {
      return false;
    }
    size_t element = 1;
    switch (type) {
      case napi_int16_array:
      case napi_uint16_array:
        element = 2;
        break;
      case napi_int32_array:
      case napi_uint32_array:
      case napi_float32_array:
        element = 4;
        break;
      case napi_float64_array:
      case napi_bigint64_array:
      case napi_biguint64_array:
        element = 8;
        break;
      default:
        break;
    }
    length = count * element;
  } else if (napi_is_dataview(env, value, &is) == napi_ok && is) {
    napi_value ab;
    size_t offset = 0;
    if (napi_get_dataview_info(env, value, &length, &data, &ab, &offset) != napi_ok) return false;
  } else if (napi_is_arraybuffer(env, value, &is) == napi_ok && is) {
    if (napi_get_arraybuffer_info(env, value, &data, &length) != napi_ok) return false;
  } else {
    return false;
  }
  // A detached buffer reports no data; an empty view may too.
  if (data == nullptr && length != 0) return false;
  if (length > UINT32_MAX) return false;  // uv_buf_t lengths are 32-bit here
  *out = uv_buf_init(static_cast<char*>(data), static_cast<unsigned int>(length));
  return true;
}

}  // namespace asyncuv
