/*
 * seqlab native addon: the kernels of each C file register themselves on the module's
 * exports through one seqlab_register_<x> function, called from the module Init (matmul.c).
 */
#ifndef SEQLAB_H
#define SEQLAB_H

#include <node_api.h>

/* native/scan.c: scanForward / scanBackward (fused Mamba-1 selective scan). */
napi_status seqlab_register_scan(napi_env env, napi_value exports);

#endif
