{
  "targets": [
    {
      "target_name": "seqlab_matmul",
      "sources": ["matmul.c", "scan.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fopenmp-simd"],
      "include_dirs": ["<!(node -p \"process.env.SEQLAB_CBLAS_INCLUDE || '.'\")"],
      "libraries": ["<!@(node -p \"process.env.SEQLAB_BLAS_LIBS || '-lopenblas'\")"]
    }
  ]
}
