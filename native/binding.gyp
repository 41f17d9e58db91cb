{
  "targets": [
    {
      "target_name": "seqlab",
      "sources": ["addon.c", "args.c", "pool.c", "isa.c", "matmul.c", "gemm.c", "scan.c", "eltwise.c", "softmax.c", "decay.c", "rope.c", "decode.c", "attention.c", "retention.c", "norm.c"],
      "defines": ["NAPI_VERSION=8", "<!@(node -p \"process.env.SEQLAB_CBLAS === 'off' ? '' : 'SEQLAB_HAVE_CBLAS'\")"],
      "cflags": ["-O3", "-std=gnu11", "-pthread", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-psabi", "-fopenmp-simd"],
      "include_dirs": ["<!(node -p \"process.env.SEQLAB_CBLAS_INCLUDE || '.'\")"],
      "libraries": ["-lpthread", "<!@(node -p \"process.env.SEQLAB_CBLAS === 'off' ? '' : (process.env.SEQLAB_BLAS_LIBS || '-lopenblas')\")"]
    }
  ]
}
