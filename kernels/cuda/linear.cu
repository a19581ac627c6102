// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  LINEAR dispatch (linear.h on the device): argument checks as linear_check, then the weight-
  streaming GEMV for decode-sized m (linear_gemv.cu) or the tiled kernel (linear_tiled.cu).
  This exact path does not use cuBLASLt: tensor cores sum each 128-block with fewer bits than
  the exact block sums, and the FP4 1×32 weight blocks have no cuBLASLt scale mode. The non-exact
  mode (CudaExecutor::setExactLinear(false)) sends FP8 prefill GEMMs to cuBLASLt's VEC128 x
  BLK128x128 block-scaled modes (engine/cuda/cublaslt_linear.cpp); whether Hopper's cuBLASLt
  offers them is checked at run time (fallback to this kernel) and not yet on a device.
*/
#include "kernels/cuda_ops.h"

#include "linear_internal.cuh"

namespace fathom::kernels {

namespace {

Status check(const linear_params &p)
{
    if (p.m < 0 || p.n < 0 || p.k < 0)
        return Status::invalid("linear_cuda: negative shape");
    if (p.m == 0 || p.n == 0)
        return Status::success();
    if (!p.x || !p.w || !p.y)
        return Status::invalid("linear_cuda: null x, w or y");
    if (cuda::is_quantized(p.w_type) && !p.w_scale)
        return Status::invalid("linear_cuda: FP8/FP4 weight without scales");
    if (p.w_type == linear_weight_type::fp4_e2m1 && p.k % 32 != 0)
        return Status::invalid("linear_cuda: FP4 weight needs k % 32 == 0");
    if ((p.ldx != 0 && p.ldx < p.k) || (p.ldy != 0 && p.ldy < p.n))
        return Status::invalid("linear_cuda: row stride smaller than the row");
    return Status::success();
}

} // namespace

Status linear_cuda(const linear_params &p, CUstream_st *stream)
{
    if (Status st = check(p); !st.ok() || p.m == 0 || p.n == 0)
        return st;
    if (p.k == 0)
        return Status::unsupported("linear_cuda: k == 0");
    if (p.m <= 4) {
        const Status st = cuda::linear_gemv_launch(p, stream);
        if (st.code != StatusCode::Unsupported)
            return st;
    }
    return cuda::linear_tiled_launch(p, stream);
}

Status linear_grouped_cuda(const linear_params *items, int count, CUstream_st *stream)
{
    if (count < 0 || (count > 0 && !items))
        return Status::invalid("linear_grouped_cuda: bad arguments");
    // NOTE: one launch per item keeps each exact; a grouped kernel reading a device array of
    // problem descriptors (one launch per MoE layer) is the planned replacement.
    for (int i = 0; i < count; ++i)
        if (Status st = linear_cuda(items[i], stream); !st.ok())
            return st;
    return Status::success();
}

Status linear_experts_gemv_cuda(const linear_params &base,
                                const expert_group &g,
                                CUstream_st *stream)
{
    if (!g.offsets || !g.active || !g.w_table || g.slots <= 0 || g.slots > 65535)
        return Status::invalid("linear_experts_gemv_cuda: bad expert group");
    if (Status st = check(base); !st.ok())
        return st;
    if (base.m == 0 || base.n == 0)
        return Status::success();
    if (base.m > 4 || base.k == 0)
        return Status::unsupported("linear_experts_gemv_cuda: more than 4 rows per expert");
    if (cuda::is_quantized(base.w_type) && !g.scale_table)
        return Status::invalid("linear_experts_gemv_cuda: FP8/FP4 experts without scales");
    return cuda::linear_gemv_launch(base, stream, g);
}

} // namespace fathom::kernels
