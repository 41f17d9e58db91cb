/*
 * N-API argument glue every kernel file shares: typed-array views and their bounds, the (views,
 * offsets, dims) arguments of the fused kernels, numbers, Int32Array metadata and function exports.
 * Every extent is bounds-checked against the view's byteLength: a stale view (wasm memory grew and
 * detached the old buffer) has length 0 and throws instead of writing to freed memory.
 */
#include "seqlab.h"

#include <stdio.h>
#include <string.h>

int seqlab_get_view(napi_env env, napi_value v, seqlab_view *out, const char *name) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) {
    char msg[96];
    snprintf(msg, sizeof msg, "seqlab: %s must be a typed array", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  napi_typedarray_type type;
  size_t length, byte_offset;
  void *data;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &byte_offset) != napi_ok) {
    napi_throw_error(env, NULL, "seqlab: cannot read typed array");
    return 0;
  }
  size_t elem = 1;
  switch (type) {
    case napi_int16_array: case napi_uint16_array: elem = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
    default: elem = 1;
  }
  out->data = (uint8_t *)data;
  out->bytes = data == NULL ? 0 : length * elem;
  return 1;
}

int seqlab_in_bounds(napi_env env, const seqlab_view *v, int64_t off, int64_t stride, int64_t batch,
                     int64_t elems, const char *name) {
  /* Last byte touched: off + ((batch-1)*stride + elems) * 4. */
  int64_t end = off + ((batch - 1) * stride + elems) * 4;
  if (off < 0 || stride < 0 || (off & 3) != 0 || end > (int64_t)v->bytes) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "seqlab: %s out of bounds (offset %lld, end %lld, view %zu bytes; stale wasm heap view?)",
             name, (long long)off, (long long)end, v->bytes);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

int seqlab_slot(napi_env env, const char *fn, napi_value views, const double *offs, uint32_t n_offs, uint32_t i,
                int64_t elems, int optional, float **out) {
  char name[16], msg[200];
  snprintf(name, sizeof name, "slot %u", i);
  napi_value v;
  napi_valuetype t;
  if (i >= n_offs || napi_get_element(env, views, i, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) {
    snprintf(msg, sizeof msg, "seqlab %s: views / offsets shorter than the slot layout (slot %u)", fn, i);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  if (t == napi_null || t == napi_undefined) {
    if (!optional) {
      snprintf(msg, sizeof msg, "seqlab %s: %s is required", fn, name);
      napi_throw_range_error(env, NULL, msg);
      return 0;
    }
    *out = NULL;
    return 1;
  }
  seqlab_view view;
  if (!seqlab_get_view(env, v, &view, name) || !seqlab_in_bounds(env, &view, (int64_t)offs[i], 0, 1, elems, name)) return 0;
  *out = (float *)(view.data + (int64_t)offs[i]);
  return 1;
}

int seqlab_kernel_args(napi_env env, napi_callback_info info, const char *fn, const char *doc, size_t n_dims,
                       napi_value *views, const double **offs, uint32_t *n_offs, const double **dims) {
  size_t argc = 3;
  napi_value argv[3];
  char msg[200];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) {
    snprintf(msg, sizeof msg, "seqlab %s: expected (views, offsets, dims)", fn);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  seqlab_view vo, vd;
  if (!seqlab_get_view(env, argv[1], &vo, "offsets") || !seqlab_get_view(env, argv[2], &vd, "dims")) return 0;
  if (vd.bytes < n_dims * 8) {
    snprintf(msg, sizeof msg, "seqlab %s: dims must be %s", fn, doc);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  *views = argv[0];
  *offs = (const double *)vo.data;
  *n_offs = (uint32_t)(vo.bytes / 8);
  *dims = (const double *)vd.data;
  return 1;
}

napi_status seqlab_export(napi_env env, napi_value exports, const char *name, napi_callback fn) {
  napi_value f;
  napi_status s = napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);
  return s != napi_ok ? s : napi_set_named_property(env, exports, name, f);
}

/* ---- the positional arguments of the element-wise kernels ---- */

int seqlab_arg_i64(napi_env env, napi_value v, int64_t *out, const char *name) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "seqlab eltwise: %s must be a number", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

int seqlab_arg_floats(napi_env env, napi_value view, napi_value off, int64_t elems, const char *name, void **out) {
  seqlab_view v;
  int64_t o;
  if (!seqlab_get_view(env, view, &v, name) || !seqlab_arg_i64(env, off, &o, name)) return 0;
  if (!seqlab_in_bounds(env, &v, o, 0, 1, elems, name)) return 0;
  *out = v.data + o;
  return 1;
}

int seqlab_arg_meta(napi_env env, napi_value v, int32_t **out, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *data;
  napi_value ab;
  size_t off;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, len, &data, &ab, &off) != napi_ok || type != napi_int32_array || *len < 1) {
    napi_throw_type_error(env, NULL, "seqlab eltwise: meta must be a non-empty Int32Array");
    return 0;
  }
  *out = (int32_t *)data;
  return 1;
}

int seqlab_arg_mask(napi_env env, napi_value view, napi_value off, int64_t extent, void **out) {
  napi_valuetype t;
  if (napi_typeof(env, view, &t) != napi_ok) return 0;
  if (t == napi_null || t == napi_undefined) {
    *out = NULL;
    return 1;
  }
  return seqlab_arg_floats(env, view, off, extent, "mask", out);
}
