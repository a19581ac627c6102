// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  Clamped SwiGLU of the experts (moe.h swiglu_cpu): h = bf16((silu(min(g, L)) · clamp(u, −L, L)) · w).
  Elementwise, one thread per value; SiLU in double rounded to fp32 as the CPU twin, the two
  products rounded separately (no FMA), so the result is bit-identical.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"

#include <cstring>

namespace fathom::kernels {

namespace {

__global__ void swiglu_kernel(SwigluParams p)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= static_cast<int64_t>(p.rows) * p.inter)
        return;
    const int64_t r = i / p.inter;
    p.out[i] = cuda::swiglu_bf16(p.gate[i],
                                 p.up[i],
                                 p.limit,
                                 p.row_weights != nullptr,
                                 p.row_weights ? p.row_weights[r] : 0.0f);
}

} // namespace

Status swiglu_cuda(const SwigluParams &p, CUstream_st *stream)
{
    if (!p.gate || !p.up || !p.out || p.rows < 0 || p.inter <= 0)
        return Status::invalid("swiglu_cuda: bad arguments");
    if (p.rows == 0)
        return Status::success();
    const long long n = static_cast<long long>(p.rows) * p.inter;
    // The struct ends in 4 bytes of padding: launch a copy whose padding is zero, so the launch's
    // parameter bytes depend only on the fields (a decode-step graph compares them).
    SwigluParams q;
    std::memset(static_cast<void *>(&q), 0, sizeof q);
    q.gate = p.gate;
    q.up = p.up;
    q.row_weights = p.row_weights;
    q.out = p.out;
    q.rows = p.rows;
    q.inter = p.inter;
    q.limit = p.limit;
    FATHOM_LAUNCH(cuda::grid_for(n, 256), 256, 0, stream, swiglu_kernel)(q);
    return cuda::launch_status();
}

} // namespace fathom::kernels
