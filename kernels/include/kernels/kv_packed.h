// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  The packed §5.2 layout of a sequence state's narrow rows (what a device state stores since
  session 8; host rows stay fp32). Lossless for the rows the model produces: the reference's
  QAT fake-quantises them to exactly these values (tst_kvlayout checks every row).

  KV entry (window row or compressed entry) of `width` dims whose last `rope` dims carry RoPE
  (V4: 512, 64): nope = width - rope.
    bytes [0, nope)                  the nope dims as e4m3 codes, dim e in byte e;
    bytes [nope, nope + 2 rope)      the RoPE dims as bf16 bits (little endian);
    bytes [nope + 2 rope, +scales)   one E8M0 scale per 64 nope dims (block e / 64), then zero
                                     padding to a multiple of 8 bytes (V4: 7 scales + 1 pad).
    Row bytes: 448 + 128 + 8 = 584 for V4 (kvEntrySizes(Packed) in engine/cuda/kvlayout.h).
    Value of nope dim e: e4m3(code[e]) x 2^(scale[e / 64] - 127).
  Index key of `width` dims (V4: 128), marked by rope < 0 in the functions below:
    bytes [0, ceil(width / 2))       e2m1 codes, dim 2j in the low nibble of byte j, 2j + 1 in
                                     the high nibble (formats.h e2m1_unpack's order);
    then one E8M0 scale per 32 dims. Row bytes: 64 + 4 = 68 for V4.
  The scale of a block is the reference's rule (pow2_scale_e8m0 of the block's largest
  magnitude, the fake quantiser's own), so a fake-quantised row is stored exactly; a row that
  is not representable is rounded (nearest even) and counted by the packers.
*/

#include "kernels/formats.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace fathom::kernels {

inline constexpr int k_packed_kv_block = 64;  // nope dims per E8M0 scale (KV entries)
inline constexpr int k_packed_key_block = 32; // dims per E8M0 scale (index keys)

inline int packed_kv_scales(int width, int rope)
{
    return (width - rope + k_packed_kv_block - 1) / k_packed_kv_block;
}

// Bytes of one packed row; rope < 0: an index key.
inline int64_t packed_row_bytes(int width, int rope)
{
    if (rope < 0)
        return (int64_t(width) + 1) / 2 + (width + k_packed_key_block - 1) / k_packed_key_block;
    const int64_t scales = packed_kv_scales(width, rope);
    return int64_t(width - rope) + 2 * int64_t(rope) + (scales + 7) / 8 * 8;
}

namespace detail {
// `a` (the value read back) holds `b` exactly: the same bits (a signed zero keeps its sign), or
// both NaN (a NaN stays a NaN; its payload is not kept: GPU arithmetic returns the canonical
// NaN, so the CUDA packer, state_rows.cuh held_exactly, counts by the same rule).
inline bool same_bits(float a, float b)
{
    return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b) || (a != a && b != b);
}
} // namespace detail

// One row into its packed bytes (packed_row_bytes(width, rope) of them); returns the number of
// values the layout could not hold exactly (rounded to nearest even; 0 for the model's rows).
inline int pack_state_row(const float *src, int width, int rope, uint8_t *dst)
{
    int inexact = 0;
    std::memset(dst, 0, static_cast<size_t>(packed_row_bytes(width, rope)));
    if (rope < 0) {
        const int codes = (width + 1) / 2;
        for (int b0 = 0, blk = 0; b0 < width; b0 += k_packed_key_block, ++blk) {
            const int b1 = b0 + k_packed_key_block < width ? b0 + k_packed_key_block : width;
            float amax = 0.0f;
            for (int e = b0; e < b1; ++e)
                amax = std::fabs(src[e]) > amax ? std::fabs(src[e]) : amax;
            const uint8_t s = pow2_scale_e8m0(amax, k_e2m1_inv_max, k_e2m1_amax_floor);
            const float inv = e8m0_inverse_f32(s), sc = e8m0_to_f32(s);
            for (int e = b0; e < b1; ++e) {
                const uint8_t c = f32_to_e2m1(src[e] * inv);
                dst[e >> 1] |= static_cast<uint8_t>((e & 1) ? c << 4 : c);
                inexact += !detail::same_bits(e2m1_to_f32(c) * sc, src[e]);
            }
            dst[codes + blk] = s;
        }
        return inexact;
    }
    const int nope = width - rope;
    uint8_t *scales = dst + nope + 2 * rope;
    for (int b0 = 0, blk = 0; b0 < nope; b0 += k_packed_kv_block, ++blk) {
        const int b1 = b0 + k_packed_kv_block < nope ? b0 + k_packed_kv_block : nope;
        float amax = 0.0f;
        for (int e = b0; e < b1; ++e)
            amax = std::fabs(src[e]) > amax ? std::fabs(src[e]) : amax;
        const uint8_t s = pow2_scale_e8m0(amax, k_e4m3_inv_max, k_e4m3_amax_floor);
        const float inv = e8m0_inverse_f32(s), sc = e8m0_to_f32(s);
        for (int e = b0; e < b1; ++e) {
            dst[e] = f32_to_e4m3(src[e] * inv);
            inexact += !detail::same_bits(e4m3_to_f32(dst[e]) * sc, src[e]);
        }
        scales[blk] = s;
    }
    for (int e = 0; e < rope; ++e) {
        const uint16_t h = f32_to_bf16(src[nope + e]);
        dst[nope + 2 * e] = static_cast<uint8_t>(h & 0xFFu);
        dst[nope + 2 * e + 1] = static_cast<uint8_t>(h >> 8);
        inexact += !detail::same_bits(bf16_to_f32(h), src[nope + e]);
    }
    return inexact;
}

// Dim e of a packed row as fp32 (exact).
inline float unpack_state_value(const uint8_t *row, int width, int rope, int e)
{
    if (rope < 0) {
        const int codes = (width + 1) / 2;
        return e2m1_to_f32(e2m1_unpack(row, e)) * e8m0_to_f32(row[codes + e / k_packed_key_block]);
    }
    const int nope = width - rope;
    if (e < nope)
        return e4m3_to_f32(row[e]) * e8m0_to_f32(row[nope + 2 * rope + e / k_packed_kv_block]);
    const int r = e - nope;
    return bf16_to_f32(static_cast<uint16_t>(row[nope + 2 * r] | (row[nope + 2 * r + 1] << 8)));
}

inline void unpack_state_row(const uint8_t *row, int width, int rope, float *dst)
{
    for (int e = 0; e < width; ++e)
        dst[e] = unpack_state_value(row, width, rope, e);
}

} // namespace fathom::kernels
