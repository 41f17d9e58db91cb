/*
 * Which vector code the element-wise and fused kernels run: AVX2+FMA where the CPU has it (runtime
 * dispatch through target attributes, so one binary runs on every x86-64), else the generic C;
 * tests force the generic path to reach both.
 *
 * JS API: eltwiseIsa() -> "avx2" | "generic";  setEltwiseIsa("generic" | "avx2") -> whether that
 * code path is now in use.
 */
#include "seqlab.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define SEQLAB_X86 1
#endif

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

#ifdef SEQLAB_X86
static int g_avx2 = -1;
static int have_avx2(void) {
  if (g_avx2 < 0) {
    __builtin_cpu_init();
    g_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return g_avx2;
}
#else
static int have_avx2(void) { return 0; }
#endif

int seqlab_use_avx2(void) { return have_avx2(); }

/* setEltwiseIsa("generic" | "avx2") -> whether that code now runs (tests reach both paths). */
static napi_value js_set_isa(napi_env env, napi_callback_info info) {
  SEQLAB_ARGS(1)
  char name[16];
  size_t len;
  napi_value out;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "seqlab eltwise.setEltwiseIsa: expected a string");
    return NULL;
  }
  pthread_mutex_lock(&g_mu);
#ifdef SEQLAB_X86
  g_avx2 = -1;
  const int ok = strcmp(name, "generic") == 0 ? (g_avx2 = 0, 1) : strcmp(name, "avx2") == 0 ? have_avx2() : (have_avx2(), 0);
#else
  const int ok = strcmp(name, "generic") == 0;
#endif
  pthread_mutex_unlock(&g_mu);
  napi_get_boolean(env, ok, &out);
  return out;
}

static napi_value js_isa(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_string_utf8(env, have_avx2() ? "avx2" : "generic", NAPI_AUTO_LENGTH, &out);
  return out;
}
napi_status seqlab_register_isa(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"eltwiseIsa", js_isa},
      {"setEltwiseIsa", js_set_isa},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_status s = seqlab_export(env, exports, fns[i].name, fns[i].fn);
    if (s != napi_ok) return s;
  }
  return napi_ok;
}
