/*
 * The addon's one thread pool: the built-in GEMM (gemm.c), the element-wise and fused kernels
 * (seqlab_parallel_for) and the selective scan run their parts on the same persistent threads,
 * under one thread budget (setPoolThreads; the older setBuiltinThreads / setEltwiseThreads set
 * the same budget). Creating a thread costs tens of microseconds, more than most kernels, so the
 * workers are created on first need and then wait on a condition variable between calls.
 *
 * A call runs `parts` parts on min(parts, budget) threads; thread t takes parts t, t + threads, ...
 * so the parts (and every result that depends on them) do not depend on the budget or on how many
 * threads could be created. One call runs at a time; a part that calls the pool again runs that
 * inner call on its own thread (no deadlock, no oversubscription).
 *
 * JS API: setPoolThreads(n) -> n (clamped to 1..64); poolThreads() -> n; and the same two under the
 * names setBuiltinThreads / builtinThreads / setEltwiseThreads / eltwiseThreads.
 */
#include "pool.h"

#include <pthread.h>

static int g_threads = 1;                                  /* the budget */
static pthread_mutex_t g_call = PTHREAD_MUTEX_INITIALIZER; /* one call at a time */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_go = PTHREAD_COND_INITIALIZER, g_done = PTHREAD_COND_INITIALIZER;
static int g_workers = 0, g_pending = 0, g_running = 1, g_parts = 1;
static long g_gen = 0, g_start_gen[SEQLAB_THREADS_MAX];
static seqlab_part_fn g_fn;
static void *g_ctx;
static __thread int t_in_pool; /* set while this thread runs a part */

static void run_parts(seqlab_part_fn fn, void *ctx, int first, int step, int parts) {
  t_in_pool = 1;
  for (int p = first; p < parts; p += step) fn(ctx, p, parts);
  t_in_pool = 0;
}

static void *worker(void *arg) {
  const int id = (int)(intptr_t)arg;
  pthread_mutex_lock(&g_mu);
  long seen = g_start_gen[id];
  for (;;) {
    while (g_gen == seen) pthread_cond_wait(&g_go, &g_mu);
    seen = g_gen;
    const int running = g_running, parts = g_parts;
    const seqlab_part_fn fn = g_fn;
    void *ctx = g_ctx;
    pthread_mutex_unlock(&g_mu);
    if (id < running) run_parts(fn, ctx, id, running, parts);
    pthread_mutex_lock(&g_mu);
    if (--g_pending == 0) pthread_cond_signal(&g_done);
  }
  return NULL;
}

void seqlab_pool_run(int parts, seqlab_part_fn fn, void *ctx) {
  if (parts < 1) return;
  if (t_in_pool) { /* called from a part: run here */
    for (int p = 0; p < parts; p++) fn(ctx, p, parts);
    return;
  }
  pthread_mutex_lock(&g_call);
  int running = parts < g_threads ? parts : g_threads;
  while (g_workers < running - 1) {
    pthread_t t;
    g_start_gen[g_workers + 1] = g_gen; /* only this thread (holding g_call) changes g_gen */
    if (pthread_create(&t, NULL, worker, (void *)(intptr_t)(g_workers + 1)) != 0) break;
    pthread_detach(t);
    g_workers++;
  }
  if (running > g_workers + 1) running = g_workers + 1;
  if (running <= 1) {
    run_parts(fn, ctx, 0, 1, parts);
    pthread_mutex_unlock(&g_call);
    return;
  }
  pthread_mutex_lock(&g_mu);
  g_fn = fn, g_ctx = ctx, g_parts = parts, g_running = running, g_pending = g_workers;
  g_gen++;
  pthread_cond_broadcast(&g_go);
  pthread_mutex_unlock(&g_mu);
  run_parts(fn, ctx, 0, running, parts);
  pthread_mutex_lock(&g_mu);
  while (g_pending > 0) pthread_cond_wait(&g_done, &g_mu);
  pthread_mutex_unlock(&g_mu);
  pthread_mutex_unlock(&g_call);
}

int seqlab_pool_threads(void) { return g_threads; }

int seqlab_pool_set_threads(int n) {
  pthread_mutex_lock(&g_call);
  g_threads = n < 1 ? 1 : n < SEQLAB_THREADS_MAX ? n : SEQLAB_THREADS_MAX;
  pthread_mutex_unlock(&g_call);
  return g_threads;
}

/* ---- seqlab_parallel_for: [0, n) in contiguous parts ---- */

typedef struct {
  seqlab_range_fn fn;
  void *ctx;
  int64_t n;
} range_job;

static void range_part(void *p, int part, int parts) {
  const range_job *job = (const range_job *)p;
  const int64_t lo = job->n * part / parts, hi = job->n * (part + 1) / parts;
  if (lo < hi) job->fn(job->ctx, lo, hi);
}

void seqlab_parallel_for(int64_t n, int64_t grain, seqlab_range_fn fn, void *ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int parts = g_threads;
  if (n / grain < parts) parts = (int)(n / grain) > 1 ? (int)(n / grain) : 1;
  if (parts <= 1 || t_in_pool) {
    fn(ctx, 0, n);
    return;
  }
  range_job job = {fn, ctx, n};
  seqlab_pool_run(parts, range_part, &job);
}

/* ---- JS exports ---- */

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int32_t n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_range_error(env, NULL, "seqlab setPoolThreads: expected a positive integer");
    return NULL;
  }
  napi_create_int32(env, seqlab_pool_set_threads(n), &out);
  return out;
}

static napi_value js_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_int32(env, seqlab_pool_threads(), &out);
  return out;
}

napi_status seqlab_register_pool(napi_env env, napi_value exports) {
  /* one budget: the GEMM's and the element-wise kernels' setters are the same function */
  static const char *const setters[] = {"setPoolThreads", "setBuiltinThreads", "setEltwiseThreads"};
  static const char *const getters[] = {"poolThreads", "builtinThreads", "eltwiseThreads"};
  for (int i = 0; i < 3; i++) {
    napi_status s = seqlab_export(env, exports, setters[i], js_set_threads);
    if (s != napi_ok || (s = seqlab_export(env, exports, getters[i], js_threads)) != napi_ok) return s;
  }
  return napi_ok;
}
