// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Shared by the LINEAR variants (linear.cu dispatch, linear_gemv.cu, linear_tiled.cu); private.

  Exactness (linear.h, exact mode): FP8 block sums are sums of 128 products of e4m3 values, each
  product exact in fp32 and the whole sum exact in double (all terms are multiples of 2^-18 below
  2^25); FP4 block sums are formed in int32 on the integers 512·x̂ and 2·ŵ (|sum| < 2^27) and
  scaled by 2^-10, exact. Both are rounded once to fp32 and accumulated block by block in k order
  with separate fp32 roundings (scale product, multiply, add), like linear_ref.
*/

#include "kernels/cuda_ops.h"
#include "kernels/linear.h"
#include "kernels/linear_group.h"

#include "cuda_common.cuh"

namespace fathom::kernels::cuda {

__device__ inline float load_x(const linear_params &p, int64_t ldx, int64_t row, int64_t i)
{
    if (p.x_type == act_type::bf16)
        return bf16_bits_to_f32(static_cast<const uint16_t *>(p.x)[row * ldx + i]);
    return static_cast<const float *>(p.x)[row * ldx + i];
}

__device__ inline void store_y(const linear_params &p, int64_t ldy, int64_t row, int64_t col, float v)
{
    if (p.y_type == act_type::bf16)
        static_cast<uint16_t *>(p.y)[row * ldy + col] = f32_to_bf16_bits(v);
    else
        static_cast<float *>(p.y)[row * ldy + col] = p.y_round_bf16 ? round_bf16(v) : v;
}

// e4m3 code -> its value as a double, with integer operations only (no F2F for normal codes).
__device__ inline double e4m3_to_f64(uint32_t c)
{
    const uint32_t e = (c >> 3) & 0xFu;
    const uint32_t m = c & 7u;
    if (e == 0)
        return static_cast<double>(e4m3_to_f32(c)); // zero and subnormals (rare)
    // NaN codes (0x7F/0xFF) never occur in weights or in quantised activations (satfinite).
    const uint32_t hi = ((c & 0x80u) << 24) | ((e + 1016u) << 20) | (m << 17);
    return __hiloint2double(static_cast<int>(hi), 0);
}

// 512 · (e4m3 value) as an integer (exact: the e4m3 grid is 2^-9).
__device__ inline int e4m3_to_int512(uint32_t c)
{
    const uint32_t e = (c >> 3) & 0xFu;
    const uint32_t m = c & 7u;
    const int mag = e == 0 ? static_cast<int>(m) : static_cast<int>((8u | m) << (e - 1));
    return (c & 0x80u) ? -mag : mag;
}

// Act-quant scale byte of a block with largest magnitude amax (quant.h act_quant).
__device__ inline uint8_t act_scale(float amax)
{
    return pow2_scale_e8m0(amax, k_e4m3_inv_max, k_e4m3_amax_floor);
}

// FP4 (e2m1 + e8m0 per 32) on the e4m3 tensor cores (linear_mma.cu, linear_wgmma.cu).
// FP4 folding: a column's four 32-block scales 2^e_j become one 2^emax per 128 block, the codes
// taking 2^(e_j - emax): exact in e4m3 while emax - e_j <= 8 (e2m1 0.5 .. 6 times 2^-8 still on
// the e4m3 grid, subnormals included). A k block of a tile folds only when every column allows
// it (block-uniform); otherwise it takes the per-32 path (unshifted codes, one promotion per 32).
constexpr int k_fold_max_shift = 8;

// The e4m3 code of (e2m1 code c) * 2^-d, 0 <= d <= k_fold_max_shift (exact there). e2m1
// magnitudes 0.5, 1, 1.5, 2, 3, 4, 6 = 2^x (1 + f / 8) with (x, f) = (-1, 0), (0, 0), (0, 4),
// (1, 0), (1, 4), (2, 0), (2, 4); e4m3: biased exponent x - d + 7 when >= 1, else the subnormal
// (8 + f) 2^(x - d - 3) = k 2^-9.
__device__ __forceinline__ uint32_t e2m1_to_e4m3_shifted(uint32_t c, int d)
{
    const uint32_t m = c & 7u;
    if (m == 0)
        return (c & 8u) << 4;
    const int x = m <= 1 ? -1 : m <= 3 ? 0 : m <= 5 ? 1 : 2;
    const uint32_t f = (m >= 3 && (m & 1u)) ? 4u : 0u;
    const int e = x - d + 7;
    const uint32_t code = e >= 1 ? (static_cast<uint32_t>(e) << 3) | f : (8u + f) >> (1 - e);
    return code | ((c & 8u) << 4);
}

// The e4m3 codes of the e2m1 magnitudes 0 .. 7 (0, 0.5, 1, 1.5, 2, 3, 4, 6) times 2^-d as the
// bytes of two words (lo: magnitudes 0 .. 3, hi: 4 .. 7), 0 <= d <= k_fold_max_shift. Unshifted:
// 0x00, 0x30, 0x38, 0x3C, 0x40, 0x44, 0x48, 0x4C; up to d = 5 every nonzero one stays normal and
// only its exponent field drops by d (0x30 - 5 * 8 = 0x08 is 2^-6, e4m3's smallest normal).
__device__ __forceinline__ void e2m1_table(int d, uint32_t &lo, uint32_t &hi)
{
    if (d <= 5) {
        lo = 0x3C383000u - static_cast<uint32_t>(d) * 0x08080800u;
        hi = 0x4C484440u - static_cast<uint32_t>(d) * 0x08080808u;
        return;
    }
    lo = 0;
    hi = 0;
#pragma unroll
    for (uint32_t m = 1; m < 8; ++m) {
        const uint32_t c = e2m1_to_e4m3_shifted(m, d);
        if (m < 4)
            lo |= c << (8 * m);
        else
            hi |= c << (8 * (m - 4));
    }
}

// Byte n of the result = byte (s >> 4 n) & 7 of the 8 bytes {y, x} (x bytes 0 .. 3): PRMT with
// selector nibbles below 8 (callers pass no others).
__device__ __forceinline__ uint32_t byte_perm(uint32_t x, uint32_t y, uint32_t s)
{
#ifdef FATHOM_CUDA_EMULATION
    const uint64_t v = (static_cast<uint64_t>(y) << 32) | x;
    uint32_t r = 0;
    for (int n = 0; n < 4; ++n)
        r |= static_cast<uint32_t>((v >> (8 * ((s >> (4 * n)) & 7u))) & 0xFFu) << (8 * n);
    return r;
#else
    return __byte_perm(x, y, s);
#endif
}

// 4 e2m1 codes (bits 4 i .. 4 i + 3 of `half`) -> 4 e4m3 codes (byte i) through the table of
// e2m1_table: the magnitudes by one byte permute, the sign bits (nibble bit 3) spread to bit 7 of
// each byte. Checked against e2m1_to_e4m3_shifted for every half and d = 0 .. 8 (fp4fold).
__device__ __forceinline__ uint32_t convert4(uint32_t half, uint32_t lo, uint32_t hi)
{
    const uint32_t mag = byte_perm(lo, hi, half & 0x7777u);
    uint32_t s = half & 0x8888u;
    s = (s | (s << 8)) & 0x00FF00FFu; // nibbles 0, 1 -> byte 0; 2, 3 -> byte 2
    s = (s | (s << 4)) & 0x0F0F0F0Fu; // nibble i -> byte i (its bit 3)
    return mag | (s << 4);
}

// 8 packed e2m1 bytes (16 codes, low nibble = even k) -> 16 e4m3 codes as 4 words (code i of
// word o is k = 4 o + i), each code's value times 2^-d.
__device__ __forceinline__ void convert16(uint32_t lo, uint32_t hi, int d, uint32_t out[4])
{
    uint32_t tlo, thi;
    e2m1_table(d, tlo, thi);
#pragma unroll
    for (int o = 0; o < 4; ++o)
        out[o] = convert4(((o < 2 ? lo : hi) >> (16 * (o & 1))) & 0xFFFFu, tlo, thi);
}

inline bool is_quantized(linear_weight_type t)
{
    return t == linear_weight_type::fp8_e4m3 || t == linear_weight_type::fp4_e2m1;
}

// linear_gemv.cu: m <= 4 rows, k % 16 == 0. Returns Unsupported when the shape does not fit
// (the caller then uses the tiled kernel).
// With g.active set: the grouped-expert form (linear_experts_gemv_cuda), p.w the first expert's
// weight (its alignment stands for all of them, which the caller checks).
// norm (ffnnodes): x's rows RMS-normalised (weight [k] or nullptr, eps) as they are staged, the
// bits of rmsnorm_cuda's stored rows (linear_group.h linear_prenorm_gemv_cuda).
Status linear_gemv_launch(const linear_params &p,
                          CUstream_st *stream,
                          const expert_group &g = {},
                          const float *norm_weight = nullptr,
                          float norm_eps = 0.0f,
                          bool norm = false);
// linear_gemv.cu: whether linear_gemv_launch takes p (m <= 4 among others).
bool linear_gemv_fits(const linear_params &p);
// linear_gemv.cu: 1..k_linear_group_max items over the same x in one launch (linear_group.h);
// Unsupported when an item does not fit the GEMV.
Status linear_group_gemv_launch(const linear_params *items,
                                int count,
                                CUstream_st *stream,
                                const float *norm_weight = nullptr,
                                float norm_eps = 0.0f,
                                bool norm = false,
                                const float *y_scales = nullptr);
// linear_gemv.cu: the phases of a cooperative GEMV chain in one launch (linear_group.h; the
// phases' items already checked as groups). plan_only: no launch, Unsupported where the chain
// cannot run as one launch. mhc: the mHC phase before them (checked), or nullptr.
Status linear_chain_gemv_launch(const linear_chain_phase *phases,
                                int count,
                                void *barrier,
                                CUstream_st *stream,
                                bool plan_only,
                                const mhc_chain_prologue *mhc);
// linear_gemv.cu: the MoE FFN halves (linear_group.h linear_experts_ffn_gemv_cuda).
bool linear_experts_ffn_fits(const linear_params &base, const expert_ffn &f);
Status linear_experts_ffn_launch(const linear_params &base,
                                 const expert_group &g,
                                 const expert_ffn &f,
                                 CUstream_st *stream);
// linear_gemv.cu: the decode MoE as one launch (linear_group.h linear_moe_chain_gemv_cuda; the
// halves already checked as linear_experts_ffn_gemv_cuda's). plan_only: no launch, Unsupported
// where the chain cannot run as one launch. mhc: the mHC phase before them (checked), or nullptr.
Status linear_moe_chain_launch(const moe_chain_gate *gate,
                               const moe_chain_half &up,
                               const moe_chain_half &down,
                               void *barrier,
                               CUstream_st *stream,
                               bool plan_only,
                               const mhc_chain_prologue *mhc);
// linear_tiled.cu: any shape.
Status linear_tiled_launch(const linear_params &p, CUstream_st *stream);
// linear_mma.cu: whether the current device has e4m3 mma.sync (sm_89+; queried once per device),
// and why p cannot take the tensor-core path (nullptr: it can).
bool linear_mma_device_ok();
const char *linear_mma_refusal(const linear_params &p);

} // namespace fathom::kernels::cuda
