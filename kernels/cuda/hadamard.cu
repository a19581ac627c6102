// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  Normalised Walsh-Hadamard transform of each row (hadamard.h), in place. One block per row, the
  row in shared memory, one fp32 butterfly stage per barrier: every element sees exactly the
  additions of hadamard_cpu (each stage's (a + b, a − b) depends only on the previous stage), so
  the result is bit-identical. n <= 4096, a power of two.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"
#include "row_ops.cuh"

namespace fathom::kernels {

namespace {

__global__ void hadamard_kernel(float *x, int n, float scale)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(float, v);
    float *row = x + static_cast<int64_t>(blockIdx.x) * n;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        v[i] = row[i];
    __syncthreads();
    cuda::hadamard_butterflies(v, n);
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        row[i] = cuda::round_bf16(__fmul_rn(v[i], scale));
}

} // namespace

Status hadamard_cuda(float *x, int rows, int n, float scale, CUstream_st *stream)
{
    if (!x || rows < 0 || n <= 0 || (n & (n - 1)) || n > 4096)
        return Status::invalid("hadamard_cuda: n must be a power of two <= 4096");
    if (rows == 0)
        return Status::success();
    const int threads = n / 2 < 32 ? 32 : (n / 2 > 512 ? 512 : n / 2);
    FATHOM_LAUNCH(rows, threads, n * sizeof(float), stream, hadamard_kernel)(x, n, scale);
    return cuda::launch_status();
}

} // namespace fathom::kernels
