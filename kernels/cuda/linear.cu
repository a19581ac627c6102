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
  linear_tc_cuda / linear_grouped_tc_cuda (the non-exact mode's entry points): accum fp32 FP8/FP4
  linears with enough rows on sm_89+ go to the tensor-core kernel (linear_mma.cu), the rest here.
*/
#include "kernels/cuda_ops.h"

#include "linear_internal.cuh"
#include "mhc_block.cuh"

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

namespace {

constexpr int k_tc_min_rows = 64;

bool tc_candidate(const linear_params &p)
{
    return p.accum == linear_accum::fp32 && cuda::is_quantized(p.w_type)
           && !cuda::linear_mma_refusal(p);
}

} // namespace

Status linear_tc_cuda(const linear_params &p,
                      CUstream_st *stream,
                      void *workspace,
                      size_t workspace_bytes)
{
    if (p.m >= k_tc_min_rows && tc_candidate(p) && cuda::linear_mma_device_ok()) {
        const Status st = linear_mma_cuda(p, stream, workspace, workspace_bytes);
        if (st.code != StatusCode::Unsupported)
            return st;
    }
    return linear_cuda(p, stream);
}

Status linear_grouped_tc_cuda(const linear_params *items,
                              int count,
                              CUstream_st *stream,
                              void *workspace,
                              size_t workspace_bytes)
{
    if (count < 0 || (count > 0 && !items))
        return Status::invalid("linear_grouped_tc_cuda: bad arguments");
    int64_t rows = 0;
    bool all = count > 0;
    for (int i = 0; i < count; ++i) {
        rows += items[i].m;
        all = all && (items[i].m == 0 || tc_candidate(items[i]));
    }
    if (all && rows >= k_tc_min_rows && cuda::linear_mma_device_ok()) {
        const Status st = linear_grouped_mma_cuda(items, count, stream, workspace, workspace_bytes);
        if (st.code != StatusCode::Unsupported)
            return st;
    }
    return linear_grouped_cuda(items, count, stream);
}

namespace {

// Why linear_group_gemv_cuda cannot take the items (success: it can).
Status group_check(const linear_params *items, int count)
{
    if (count < 0 || (count > 0 && !items))
        return Status::invalid("linear_group_gemv_cuda: bad arguments");
    if (count == 0)
        return Status::success();
    const linear_params &p0 = items[0];
    const int64_t ldx0 = p0.ldx ? p0.ldx : p0.k;
    bool dense = false;
    linear_accum accum = linear_accum::exact;
    for (int i = 0; i < count; ++i) {
        const linear_params &p = items[i];
        if (Status st = check(p); !st.ok())
            return st;
        if (p.x_type != p0.x_type || (p.ldx ? p.ldx : p.k) != ldx0 || p.m != p0.m || p.k != p0.k)
            return Status::unsupported("linear_group_gemv_cuda: items of different input shapes");
        if (!cuda::is_quantized(p.w_type)) {
            if (dense && p.accum != accum)
                return Status::unsupported("linear_group_gemv_cuda: dense items' accum differ");
            dense = true;
            accum = p.accum;
        }
        if (p.m > 0 && p.n > 0 && !cuda::linear_gemv_fits(p))
            return Status::unsupported("linear_group_gemv_cuda: an item does not fit the GEMV");
    }
    return Status::success();
}

// idxchain: a y_scale only on an item whose y is f32 rounded to bf16.
Status y_scales_check(const linear_params *items, int count, const float *y_scales)
{
    for (int i = 0; y_scales && i < count; ++i)
        if (y_scales[i] != 0.0f && (items[i].y_type != act_type::f32 || !items[i].y_round_bf16))
            return Status::invalid(
                "linear_group_gemv: y_scales on an item without bf16-rounded f32 y");
    return Status::success();
}

} // namespace

bool linear_group_gemv_fits(const linear_params *items, int count)
{
    return group_check(items, count).ok();
}

Status linear_group_gemv_cuda(const linear_params *items,
                              int count,
                              CUstream_st *stream,
                              const float *y_scales)
{
    if (Status st = group_check(items, count); !st.ok() || count == 0 || items[0].m == 0)
        return st;
    if (Status st = y_scales_check(items, count, y_scales); !st.ok())
        return st;
    // More than k_linear_group_max items: one launch per chunk.
    for (int i = 0; i < count; i += k_linear_group_max) {
        const int c = count - i < k_linear_group_max ? count - i : k_linear_group_max;
        if (Status st = cuda::linear_group_gemv_launch(
                items + i, c, stream, nullptr, 0.0f, false, y_scales ? y_scales + i : nullptr);
            !st.ok())
            return st;
    }
    return Status::success();
}

namespace {

// mhcchain: why a chain cannot take this mHC phase for its `rows` rows (success: it can, or
// there is none).
Status mhc_phase_check(const mhc_chain_prologue *mhc, int rows)
{
    if (!mhc)
        return Status::success();
    if (!cuda::post_pre_args_ok(mhc->post, mhc->pre, mhc->norm_weight, mhc->counters))
        return Status::invalid("cooperative chain: bad mHC phase arguments (as "
                               "mhc_post_pre_norm_cuda's)");
    if (mhc->pre.tokens != rows)
        return Status::unsupported("cooperative chain: the mHC phase's tokens are not its rows");
    return Status::success();
}

// Why linear_chain_gemv_cuda cannot take the phases (success: it can).
Status chain_check(const linear_chain_phase *phases, int count, const mhc_chain_prologue *mhc)
{
    if (count < 2 || count > k_linear_chain_max || !phases)
        return Status::unsupported("linear_chain_gemv_cuda: 2 to 3 phases");
    for (int ph = 0; ph < count; ++ph) {
        const linear_chain_phase &f = phases[ph];
        if (f.count <= 0 || f.count > k_linear_group_max)
            return Status::unsupported("linear_chain_gemv_cuda: a phase of 1 to 8 items");
        if (Status st = group_check(f.items, f.count); !st.ok())
            return st;
        if (f.items[0].m <= 0 || f.items[0].m != phases[0].items[0].m)
            return Status::unsupported("linear_chain_gemv_cuda: phases of different rows");
        if (Status st = y_scales_check(f.items, f.count, f.y_scales); !st.ok())
            return st;
    }
    if (Status st = mhc_phase_check(mhc, phases[0].items[0].m); !st.ok())
        return st;
    return cuda::linear_chain_gemv_launch(phases, count, nullptr, nullptr, true, mhc);
}

} // namespace

bool linear_chain_gemv_fits(const linear_chain_phase *phases,
                            int count,
                            const mhc_chain_prologue *mhc)
{
    return chain_check(phases, count, mhc).ok();
}

Status linear_chain_gemv_cuda(const linear_chain_phase *phases,
                              int count,
                              void *barrier,
                              CUstream_st *stream,
                              const mhc_chain_prologue *mhc)
{
    if (!barrier)
        return Status::invalid("linear_chain_gemv_cuda: no barrier state");
    if (Status st = chain_check(phases, count, mhc); !st.ok())
        return st;
    return cuda::linear_chain_gemv_launch(phases, count, barrier, stream, false, mhc);
}

Status linear_prenorm_gemv_cuda(const float *norm_weight,
                                float norm_eps,
                                const linear_params *items,
                                int count,
                                CUstream_st *stream)
{
    if (Status st = group_check(items, count); !st.ok() || count == 0 || items[0].m == 0)
        return st;
    for (int i = 0; i < count; i += k_linear_group_max) {
        const int c = count - i < k_linear_group_max ? count - i : k_linear_group_max;
        const Status st
            = c == 1
                  ? cuda::linear_gemv_launch(items[i], stream, {}, norm_weight, norm_eps, true)
                  : cuda::linear_group_gemv_launch(items + i, c, stream, norm_weight, norm_eps, true);
        if (!st.ok())
            return st;
    }
    return Status::success();
}

namespace {

Status ffn_check(const linear_params &base, const expert_group &g, const expert_ffn &f)
{
    if (!g.offsets || !g.active || !g.w_table || g.slots <= 0 || g.slots > 65534)
        return Status::invalid("linear_experts_ffn_gemv_cuda: bad expert group");
    if (Status st = check(base); !st.ok())
        return st;
    if (cuda::is_quantized(base.w_type) && !g.scale_table)
        return Status::invalid("linear_experts_ffn_gemv_cuda: FP8/FP4 experts without scales");
    if (f.swiglu && !f.w3_table)
        return Status::invalid("linear_experts_ffn_gemv_cuda: SwiGLU without w3");
    if (f.y_by_slot && !f.slot_index)
        return Status::invalid("linear_experts_ffn_gemv_cuda: y_by_slot without slot_index");
    if (f.combine_y && (!f.combine_ids || !f.combine_counters))
        return Status::invalid("linear_experts_ffn_gemv_cuda: combine without ids or counters");
    if (f.shared.m > 0) {
        if (Status st = check(f.shared); !st.ok())
            return st;
        if (f.swiglu && !f.shared_w3)
            return Status::invalid("linear_experts_ffn_gemv_cuda: shared expert without w3");
        if (f.swiglu && cuda::is_quantized(f.shared.w_type) && !f.shared_scale3)
            return Status::invalid("linear_experts_ffn_gemv_cuda: shared w3 without scales");
    }
    if (base.m == 0 || base.n == 0)
        return Status::success();
    if (base.m > 4 || base.k == 0 || f.shared.m > 4 || !cuda::linear_experts_ffn_fits(base, f))
        return Status::unsupported("linear_experts_ffn_gemv_cuda: shape not supported");
    return Status::success();
}

} // namespace

bool linear_experts_ffn_gemv_fits(const linear_params &base, const expert_ffn &f)
{
    return base.m > 0 && base.m <= 4 && base.n > 0 && base.k > 0 && f.shared.m <= 4
           && cuda::linear_experts_ffn_fits(base, f);
}

Status linear_experts_ffn_gemv_cuda(const linear_params &base,
                                    const expert_group &g,
                                    const expert_ffn &f,
                                    CUstream_st *stream)
{
    if (Status st = ffn_check(base, g, f); !st.ok() || base.m == 0 || base.n == 0)
        return st;
    return cuda::linear_experts_ffn_launch(base, g, f, stream);
}

namespace {

// Why linear_moe_chain_gemv_cuda cannot take the arguments (success: it can).
Status moe_chain_check(const moe_chain_gate *gate,
                       const moe_chain_half &up,
                       const moe_chain_half &down,
                       const mhc_chain_prologue *mhc)
{
    for (const moe_chain_half *h : {&up, &down}) {
        if (Status st = ffn_check(h->base, h->g, h->f); !st.ok())
            return st;
        if (h->base.m == 0 || h->base.n == 0)
            return Status::unsupported("linear_moe_chain_gemv_cuda: an empty half");
    }
    if (gate) {
        if (gate->gate.m <= 0 || gate->route.tokens <= 0)
            return Status::unsupported("linear_moe_chain_gemv_cuda: no gate rows");
        if (Status st = check(gate->gate); !st.ok())
            return st;
    }
    // The mHC phase only with the gate's (the instances without the gate do not have it: their
    // register allocation stays the FFN kernel's); its tokens are the gate's rows.
    if (mhc && !gate)
        return Status::unsupported("linear_moe_chain_gemv_cuda: an mHC phase needs the gate phase");
    if (Status st = mhc_phase_check(mhc, gate ? gate->gate.m : 0); !st.ok())
        return st;
    return cuda::linear_moe_chain_launch(gate, up, down, nullptr, nullptr, true, mhc);
}

} // namespace

bool linear_moe_chain_gemv_fits(const moe_chain_gate *gate,
                                const moe_chain_half &up,
                                const moe_chain_half &down,
                                const mhc_chain_prologue *mhc)
{
    return moe_chain_check(gate, up, down, mhc).ok();
}

Status linear_moe_chain_gemv_cuda(const moe_chain_gate *gate,
                                  const moe_chain_half &up,
                                  const moe_chain_half &down,
                                  void *barrier,
                                  CUstream_st *stream,
                                  const mhc_chain_prologue *mhc)
{
    if (!barrier)
        return Status::invalid("linear_moe_chain_gemv_cuda: no barrier state");
    if (Status st = moe_chain_check(gate, up, down, mhc); !st.ok())
        return st;
    return cuda::linear_moe_chain_launch(gate, up, down, barrier, stream, false, mhc);
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
