/*
 * The addon's module init: registers the exports of every module in SEQLAB_MODULES (seqlab.h),
 * in order. The addon (build/Release/seqlab.node) is every source of binding.gyp linked
 * into one shared object.
 */
#include "seqlab.h"

static napi_value init(napi_env env, napi_value exports) {
#define SEQLAB_CALL_REGISTER(name)                                                  \
  if (seqlab_register_##name(env, exports) != napi_ok) {                            \
    napi_throw_error(env, NULL, "seqlab native addon: registering " #name " failed"); \
    return NULL;                                                                    \
  }
  SEQLAB_MODULES(SEQLAB_CALL_REGISTER)
#undef SEQLAB_CALL_REGISTER
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
