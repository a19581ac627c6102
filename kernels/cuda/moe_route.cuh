// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

// One token's routing (moe.h moe_route_cpu), shared by moe_route.cu's launches and the gate
// GEMV + routing launch (linear_gemv.cu, moe_gate_route_group_cuda): sqrtsoftplus scores, bias
// for selection only, top-k by k rounds of a block arg-max over packed (order key, inverted id)
// pairs (topk_cpu's order), weights s/Σs · route_scale with the sum taken by one thread in the
// order of the ids, in double. Forced ids (hash layers, replayed routing) replace the
// selection; an id out of range writes id −1 and a NaN weight. `logit(i)` reads logit i of the
// token's row (a plain load, or past L1 when other blocks of the same launch stored them).
// Any block size that is a multiple of 32 (up to 1024) and at least topk.

#include "kernels/moe.h"

#include "cuda_common.cuh"

namespace fathom::kernels::cuda {

constexpr int k_route_max_experts = 1024;
constexpr int k_route_max_topk = 16;

__device__ inline unsigned long long block_max_u64(unsigned long long v, unsigned long long *scratch)
{
    for (int o = 16; o > 0; o >>= 1) {
        const unsigned long long w = __shfl_xor_sync(0xFFFFFFFFu, v, o);
        v = w > v ? w : v;
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();
    if (lane == 0)
        scratch[warp] = v;
    __syncthreads();
    v = lane < (blockDim.x >> 5) ? scratch[lane] : 0ull;
    for (int o = 16; o > 0; o >>= 1) {
        const unsigned long long w = __shfl_xor_sync(0xFFFFFFFFu, v, o);
        v = w > v ? w : v;
    }
    return v;
}

struct PlainLogits
{
    const float *l;
    __device__ float operator()(int i) const { return l[i]; }
};

struct CgLogits
{
    const float *l;
    __device__ float operator()(int i) const { return load_cg(l + i); }
};

// Token t's routing (the whole block); thread 0 stores its ids and weights.
template<typename LogitAt>
__device__ void route_token(const MoeRouteParams &p, int t, const LogitAt &logit)
{
    __shared__ float s[k_route_max_experts];
    __shared__ bool taken[k_route_max_experts];
    __shared__ unsigned long long scratch[32];
    __shared__ int32_t ids[k_route_max_topk];
    for (int e = threadIdx.x; e < p.n_experts; e += blockDim.x) {
        const float sv = __fsqrt_rn(softplus_f32(logit(e)));
        s[e] = sv;
        taken[e] = false;
        const float sel = p.bias ? __fadd_rn(sv, p.bias[e]) : sv;
        if (p.select_scores)
            p.select_scores[static_cast<int64_t>(t) * p.n_experts + e] = sel;
    }
    __syncthreads();
    if (p.forced_ids) {
        if (threadIdx.x < p.topk) {
            const int32_t f = p.forced_ids[static_cast<int64_t>(t) * p.topk + threadIdx.x];
            ids[threadIdx.x] = f >= 0 && f < p.n_experts ? f : -1;
        }
    } else {
        for (int j = 0; j < p.topk; ++j) {
            unsigned long long best = 0ull;
            for (int e = threadIdx.x; e < p.n_experts; e += blockDim.x) {
                if (taken[e])
                    continue;
                const float sel = p.bias ? __fadd_rn(s[e], p.bias[e]) : s[e];
                const unsigned long long item = (static_cast<unsigned long long>(radix_key(sel))
                                                 << 32)
                                                | (0xFFFFFFFFu - static_cast<uint32_t>(e));
                best = item > best ? item : best;
            }
            best = block_max_u64(best, scratch);
            if (threadIdx.x == 0) {
                const int e = static_cast<int>(0xFFFFFFFFu
                                               - static_cast<uint32_t>(best & 0xFFFFFFFFull));
                ids[j] = e;
                taken[e] = true;
            }
            __syncthreads();
        }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        int32_t *out_ids = p.ids + static_cast<int64_t>(t) * p.topk;
        float *w = p.weights + static_cast<int64_t>(t) * p.topk;
        bool bad = false;
        double sum = 0.0;
        for (int j = 0; j < p.topk; ++j) {
            if (ids[j] < 0)
                bad = true;
            else
                sum += s[ids[j]];
        }
        const float den = static_cast<float>(sum);
        for (int j = 0; j < p.topk; ++j) {
            out_ids[j] = ids[j];
            w[j] = bad ? __int_as_float(0x7FC00000)
                       : __fmul_rn(__fdiv_rn(s[ids[j]], den), p.route_scale);
        }
    }
    __syncthreads(); // s[] and ids[] free for the next token
}

// The arguments of a routing + grouping launch (moe_route_group_cuda, moe_gate_route_group_cuda):
// routing outputs, the grouping's outputs where there are tokens, a counter.
inline bool route_group_args_ok(const MoeRouteParams &p,
                                const int32_t *offsets,
                                const int32_t *active,
                                int slots,
                                const int32_t *src_row,
                                const int32_t *slot_index,
                                const int *counter)
{
    return p.logits && p.ids && p.weights && p.n_experts > 0 && p.topk > 0 && p.topk <= p.n_experts
           && p.tokens >= 0 && counter && offsets && (slots == 0 || active) && slots >= 0
           && (p.tokens == 0 || (src_row && slot_index));
}

} // namespace fathom::kernels::cuda
