/*
 * The addon's one thread pool (pool.c): one thread budget shared by the built-in GEMM, the
 * element-wise / fused kernels and the selective scan.
 */
#ifndef SEQLAB_POOL_H
#define SEQLAB_POOL_H

#include "seqlab.h"

#define SEQLAB_THREADS_MAX 64
/* Below this many elements per part a thread's wake-up costs more than it saves (element-wise kernels). */
#define SEQLAB_GRAIN 32768

/* Part `part` of `parts` of a call's work. */
typedef void (*seqlab_part_fn)(void *ctx, int part, int parts);

/* Runs fn for every part in [0, parts) on up to min(parts, budget) threads and returns when all
 * are done. Which thread runs a part varies; the set of parts does not. */
void seqlab_pool_run(int parts, seqlab_part_fn fn, void *ctx);

/* The thread budget, and its one setter (clamped to 1..SEQLAB_THREADS_MAX; returns the new value). */
int seqlab_pool_threads(void);
int seqlab_pool_set_threads(int n);

typedef void (*seqlab_range_fn)(void *ctx, int64_t lo, int64_t hi);

/* Runs fn over [0, n) in contiguous parts of at least `grain` units, one part per thread of the budget. */
void seqlab_parallel_for(int64_t n, int64_t grain, seqlab_range_fn fn, void *ctx);

#endif
