// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  Interleaved RoPE (rope.h), forward and inverse, in place. One thread per (row, pair j): the
  angle fl32(t·θ_j) as the CPU forms it, cos/sin in double rounded to fp32 (the CPU's correctly
  rounded values but for rare double-rounding cases), the complex product with one rounding per
  product and per sum (no FMA), result rounded to bf16. The table θ comes from rope_freqs_cpu
  (uploaded once per layer type by the executor), so both RoPE tables are just different freqs.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"
#include "row_ops.cuh"

namespace fathom::kernels {

namespace {

__global__ void rope_kernel(RopeParams p, int half, bool inverse)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (tid >= static_cast<int64_t>(p.rows) * half)
        return;
    const int r = static_cast<int>(tid / half);
    const int j = static_cast<int>(tid % half);
    cuda::rope_pair(p.x + static_cast<int64_t>(r) * p.row_stride + p.offset + 2 * j,
                    p.positions[r / p.rows_per_position],
                    p.freqs[j],
                    inverse);
}

} // namespace

Status rope_cuda(const RopeParams &p, CUstream_st *stream)
{
    if (!p.x || !p.positions || !p.freqs || p.rope_dim <= 0 || (p.rope_dim & 1)
        || p.rows_per_position <= 0 || p.offset + p.rope_dim > p.row_stride || p.rows < 0)
        return Status::invalid("rope_cuda: bad arguments");
    if (p.rows == 0)
        return Status::success();
    const int half = p.rope_dim / 2;
    const int threads = 256;
    FATHOM_LAUNCH(cuda::grid_for(static_cast<long long>(p.rows) * half, threads),
                  threads,
                  0,
                  stream,
                  rope_kernel)
    (p, half, p.direction == RopeDirection::Inverse);
    return cuda::launch_status();
}

} // namespace fathom::kernels
