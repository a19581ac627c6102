// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once
/*
  Row stores into the sequence state's device rows, by the threads of one block (session 10,
  "appends"): the bf16 and packed stores of the converting scatters (convert.cu) and one
  append's row with its positional bias (append_state_rows_cuda, and the kv row chain's fused
  appends in row_chain.cu), so every path stores the same bytes.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"
#include "kv_packed.cuh"

namespace fathom::kernels::cuda {

// `r` (the value read back) holds `v` exactly: the same bits, or both NaN (the hardware returns
// the canonical NaN from arithmetic on any NaN; kv_packed.h detail::same_bits, the CPU twin, has
// the same rule, so a NaN row counts alike on both).
__device__ inline bool held_exactly(float r, float v)
{
    return __float_as_uint(r) == __float_as_uint(v) || (r != r && v != v);
}

// One row s [width] as bf16 bits into d by the threads of a block; returns this thread's count
// of values bf16 did not hold exactly.
__device__ inline int store_bf16_row(uint16_t *d, const float *s, int width)
{
    int bad = 0;
    for (int e = threadIdx.x; e < width; e += blockDim.x) {
        const float v = s[e];
        const uint16_t b = f32_to_bf16_bits(v);
        d[e] = b;
        bad += !held_exactly(bf16_bits_to_f32(b), v);
    }
    return bad;
}

// One row s [width] packed into d (packed_row_bytes(width, rope) bytes) by the threads of a
// block: a thread per scale block; returns this thread's count of values the layout did not hold
// exactly.
__device__ inline int store_packed_row(uint8_t *d, const float *s, int width, int rope)
{
    int bad = 0;
    if (rope < 0) {
        const int codes = (width + 1) / 2;
        const int blocks = (width + k_packed_key_block - 1) / k_packed_key_block;
        for (int b = threadIdx.x; b < blocks; b += blockDim.x) {
            const int e0 = b * k_packed_key_block;
            const int e1 = e0 + k_packed_key_block < width ? e0 + k_packed_key_block : width;
            float amax = 0.0f;
            for (int e = e0; e < e1; ++e)
                amax = fmaxf(amax, fabsf(s[e]));
            const uint8_t sc = pow2_scale_e8m0(amax, k_e2m1_inv_max, k_e2m1_amax_floor);
            const float inv = e8m0_inverse_f32(sc), f = e8m0_to_f32(sc);
            for (int e = e0; e < e1; e += 2) {
                uint32_t byte = 0;
                for (int j = 0; j < 2 && e + j < e1; ++j) {
                    const uint8_t c = f32_to_e2m1(__fmul_rn(s[e + j], inv));
                    byte |= static_cast<uint32_t>(c) << (4 * j);
                    bad += !held_exactly(__fmul_rn(e2m1_to_f32(c), f), s[e + j]);
                }
                d[e >> 1] = static_cast<uint8_t>(byte);
            }
            d[codes + b] = sc;
        }
    } else {
        const int nope = width - rope;
        const int blocks = (nope + k_packed_kv_block - 1) / k_packed_kv_block;
        uint8_t *scales = d + nope + 2 * rope;
        for (int b = threadIdx.x; b < blocks; b += blockDim.x) {
            const int e0 = b * k_packed_kv_block;
            const int e1 = e0 + k_packed_kv_block < nope ? e0 + k_packed_kv_block : nope;
            float amax = 0.0f;
            for (int e = e0; e < e1; ++e)
                amax = fmaxf(amax, fabsf(s[e]));
            const uint8_t sc = pow2_scale_e8m0(amax, k_e4m3_inv_max, k_e4m3_amax_floor);
            const float inv = e8m0_inverse_f32(sc), f = e8m0_to_f32(sc);
            for (int e = e0; e < e1; ++e) {
                const uint8_t c = f32_to_e4m3(__fmul_rn(s[e], inv));
                d[e] = c;
                bad += !held_exactly(__fmul_rn(e4m3_to_f32(c), f), s[e]);
            }
            scales[b] = sc;
        }
        for (int e = threadIdx.x; e < rope; e += blockDim.x) {
            const float v = s[nope + e];
            const uint16_t h = f32_to_bf16_bits(v);
            d[nope + 2 * e] = static_cast<uint8_t>(h & 0xFFu);
            d[nope + 2 * e + 1] = static_cast<uint8_t>(h >> 8);
            bad += !held_exactly(bf16_bits_to_f32(h), v);
        }
        for (int j = blocks + threadIdx.x; j < (blocks + 7) / 8 * 8; j += blockDim.x)
            scales[j] = 0;
    }
    return bad;
}

// Row t of segment sg (at position pos) from s (global or shared memory) into its ring slot:
// the ape row added first (fp32, written back to s), then stored as the segment's rows. Returns
// this thread's count of inexact values. The callers synchronise nothing: each thread reads and
// writes only its own elements of s (the packed store's scale blocks read whole blocks, but
// only when there is no ape, i.e. nothing is written to s).
__device__ inline int append_state_row(const StateAppendSegment &sg, int32_t pos, float *s)
{
    const int64_t slot = pos & sg.slot_mask;
    if (sg.rows == StateRows::F32) {
        float *d = static_cast<float *>(sg.dst) + slot * sg.width;
        const float *a = sg.ape ? sg.ape + static_cast<int64_t>(pos % sg.period) * sg.width
                                : nullptr;
        for (int e = threadIdx.x; e < sg.width; e += blockDim.x) {
            float v = s[e];
            if (a) {
                v = __fadd_rn(v, a[e]);
                s[e] = v;
            }
            d[e] = v;
        }
        return 0;
    }
    if (sg.rows == StateRows::Bf16)
        return store_bf16_row(static_cast<uint16_t *>(sg.dst) + slot * sg.width, s, sg.width);
    return store_packed_row(static_cast<uint8_t *>(sg.dst)
                                + slot * packed_row_bytes(sg.width, sg.rope),
                            s,
                            sg.width,
                            sg.rope);
}

} // namespace fathom::kernels::cuda
