// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  The per-row arithmetic of the row ops, written once: the single kernels (rmsnorm.cu, rope.cu,
  hadamard.cu, fake_quant.cu) and the fused row chain (row_chain.cu) call these, so the chain's
  bits are the single kernels' by construction. Pointers may be global or shared memory.
*/
#pragma once

#include "cuda_common.cuh"

namespace fathom::kernels::cuda {

// RMSNorm of one row by the whole block: thread-strided double sums of the squares and
// block_sum's tree (the block size fixes the bits); y may be x.
__device__ inline void rmsnorm_row(
    const float *x, float *y, const float *weight, int dim, float eps, double *scratch)
{
    double ss = 0.0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        const double v = x[i];
        ss += v * v;
    }
    ss = block_sum(ss, scratch);
    const float var = static_cast<float>(ss / dim);
    const float rs = rsqrt_f32(__fadd_rn(var, eps));
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        const float n = __fmul_rn(x[i], rs);
        y[i] = round_bf16(weight ? __fmul_rn(weight[i], n) : n);
    }
}

// The head RMSNorm's scale of one row, bf16-rounded at every step, by one warp (every lane gets
// it): lane-strided double sums of the rounded squares and warp_sum.
__device__ inline float head_rms_scale_bf16(const float *v, int dim, float eps, int lane)
{
    double s = 0.0;
    for (int i = lane; i < dim; i += 32)
        s += round_bf16(__fmul_rn(v[i], v[i]));
    s = warp_sum(s);
    const float mean = round_bf16(static_cast<float>(s / dim));
    const float var = round_bf16(__fadd_rn(mean, eps));
    return round_bf16(rsqrt_f32(var));
}

// Interleaved RoPE of one pair x[0], x[1] at a position (inverse: the negated angle).
__device__ inline void rope_pair(float *x, int pos, float freq, bool inverse)
{
    const float angle = __fmul_rn(static_cast<float>(pos), freq);
    const float cs = static_cast<float>(cos(static_cast<double>(angle)));
    float sn = static_cast<float>(sin(static_cast<double>(angle)));
    if (inverse)
        sn = -sn;
    const float a = x[0], b = x[1];
    const float ac = __fmul_rn(a, cs), bd = __fmul_rn(b, sn);
    const float ad = __fmul_rn(a, sn), bc = __fmul_rn(b, cs);
    x[0] = round_bf16(__fsub_rn(ac, bd));
    x[1] = round_bf16(__fadd_rn(ad, bc));
}

// The butterfly stages of the Walsh-Hadamard transform of v[0, n) (n a power of two) by the
// whole block, a barrier after each stage; the caller scales and rounds.
__device__ inline void hadamard_butterflies(float *v, int n)
{
    for (int h = 1; h < n; h *= 2) {
        for (int i = threadIdx.x; i < n / 2; i += blockDim.x) {
            const int j = (i / h) * 2 * h + (i % h);
            const float a = v[j], b = v[j + h];
            v[j] = __fadd_rn(a, b);
            v[j + h] = __fsub_rn(a, b);
        }
        __syncthreads();
    }
}

// Fake quantisation of v[b0, b1) (one scale block) by one warp: bf16 amax, a power-of-two E8M0
// scale, e4m3 or e2m1 round trip, bf16 result.
template<bool E4m3>
__device__ inline void fake_quant_block(float *v, int b0, int b1, int lane)
{
    float amax = 0.0f;
    for (int i = b0 + lane; i < b1; i += 32)
        amax = fmaxf(amax, fabsf(round_bf16(v[i])));
    amax = warp_max(amax);
    const uint8_t s = E4m3 ? pow2_scale_e8m0(amax, k_e4m3_inv_max, k_e4m3_amax_floor)
                           : pow2_scale_e8m0(amax, k_e2m1_inv_max, k_e2m1_amax_floor);
    const float inv = e8m0_inverse_f32(s);
    const float sv = e8m0_to_f32(s);
    for (int i = b0 + lane; i < b1; i += 32) {
        const float xv = __fmul_rn(round_bf16(v[i]), inv);
        const float q = E4m3 ? e4m3_to_f32(f32_to_e4m3(xv)) : e2m1_to_f32(f32_to_e2m1(xv));
        v[i] = round_bf16(__fmul_rn(q, sv));
    }
}

} // namespace fathom::kernels::cuda
