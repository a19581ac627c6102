// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Device twins of kernels/kv_packed.h (the packed §5.2 rows of a device sequence state: e4m3 nope
  dims + bf16 RoPE dims + E8M0 scales per 64 for KV entries, e2m1 pairs + E8M0 per 32 for index
  keys; that header has the byte layout). The readers dequantise while they stage rows into
  shared memory; every value of the layout is exactly a bf16 (e4m3 and e2m1 hold at most 4
  significant bits, the scale is a power of two), so the bf16 bits below are exact and the
  kernels see the same values as from fp32 or bf16 rows.
*/

#include "cuda_common.cuh"

#include <cstdint>

namespace fathom::kernels::cuda {

constexpr int k_packed_kv_block = 64;
constexpr int k_packed_key_block = 32;

__host__ __device__ inline int64_t packed_row_bytes(int width, int rope)
{
    if (rope < 0)
        return (static_cast<int64_t>(width) + 1) / 2
               + (width + k_packed_key_block - 1) / k_packed_key_block;
    const int64_t scales = (width - rope + k_packed_kv_block - 1) / k_packed_kv_block;
    return static_cast<int64_t>(width - rope) + 2 * static_cast<int64_t>(rope)
           + (scales + 7) / 8 * 8;
}

// Little-endian 32-bit word of 4 bytes at a 4-byte aligned address (byte loads under the
// emulation, whose hosts need no alignment but whose sanitizers may).
__device__ inline uint32_t load_u32(const uint8_t *p)
{
#ifdef FATHOM_CUDA_EMULATION
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8)
           | (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
#else
    return *reinterpret_cast<const uint32_t *>(p);
#endif
}

// e4m3 code x 2^(scale - 127) as bf16 bits (exact: the product is a bf16 value).
__device__ inline uint32_t e4m3_scaled_bf16(uint32_t code, uint8_t scale)
{
    return __float_as_uint(__fmul_rn(e4m3_to_f32(code & 0xFFu), e8m0_to_f32(scale))) >> 16;
}

// Dim e of a packed KV entry as bf16 bits.
__device__ inline uint16_t packed_kv_bf16(const uint8_t *row, int e, int nope, int rope)
{
    if (e < nope)
        return static_cast<uint16_t>(
            e4m3_scaled_bf16(row[e], row[nope + 2 * rope + e / k_packed_kv_block]));
    const uint8_t *r = row + nope + 2 * (e - nope);
    return static_cast<uint16_t>(r[0] | (r[1] << 8));
}

// Dims e .. e + 3 of a packed KV entry as two bf16 pairs (w[0] = dims e, e + 1, low half first),
// e and nope multiples of 4 and the row 4-byte aligned.
__device__ inline void packed_kv_bf16x4(const uint8_t *row, int e, int nope, int rope, uint32_t w[2])
{
    if (e < nope) {
        const uint32_t c = load_u32(row + e);
        const uint8_t s = row[nope + 2 * rope + e / k_packed_kv_block];
        w[0] = e4m3_scaled_bf16(c, s) | (e4m3_scaled_bf16(c >> 8, s) << 16);
        w[1] = e4m3_scaled_bf16(c >> 16, s) | (e4m3_scaled_bf16(c >> 24, s) << 16);
    } else {
        const uint8_t *r = row + nope + 2 * (e - nope);
        w[0] = load_u32(r);
        w[1] = load_u32(r + 4);
    }
}

// Dim e of a packed index key as fp32 (exact).
__device__ inline float packed_key_f32(const uint8_t *row, int e, int dim)
{
    const uint32_t nib = (row[e >> 1] >> ((e & 1) * 4)) & 0xFu;
    return __fmul_rn(e2m1_to_f32(nib), e8m0_to_f32(row[(dim + 1) / 2 + e / k_packed_key_block]));
}

// Dims e .. e + 3 (e a multiple of 4) of a packed index key as two bf16 pairs.
__device__ inline void packed_key_bf16x4(const uint8_t *row, int e, int dim, uint32_t w[2])
{
    const uint32_t c = static_cast<uint32_t>(row[e >> 1])
                       | (static_cast<uint32_t>(row[(e >> 1) + 1]) << 8);
    const float s = e8m0_to_f32(row[(dim + 1) / 2 + e / k_packed_key_block]);
    uint32_t b[4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
        b[i] = __float_as_uint(__fmul_rn(e2m1_to_f32((c >> (4 * i)) & 0xFu), s)) >> 16;
    w[0] = b[0] | (b[1] << 16);
    w[1] = b[2] | (b[3] << 16);
}

} // namespace fathom::kernels::cuda
