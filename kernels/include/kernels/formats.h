// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  Numeric formats of DeepSeek V4 (v4-model-spec.md §2, §6.3; testdata/README.md §1.2, §1.4).

  Every conversion here is the exact definition the golden data was produced with:
  - bf16: the upper 16 bits of an fp32; fp32 -> bf16 rounds to nearest even (NaN stays NaN).
  - e4m3 (e4m3fn, "F8_E4M3"): bias 7, no infinities, max 448, 0x7F/0xFF = NaN. Encoding rounds to
    nearest even and saturates (CUDA cvt.rn.satfinite): |x| >= 448 (and +-inf) -> +-448.
    Subnormals step 2^-9.
  - e2m1 (OCP FP4): codes 0..15, bit 3 = sign, magnitudes [0, .5, 1, 1.5, 2, 3, 4, 6]. Encoding
    rounds to nearest even (0.25->0, 0.75->1, 1.25->1, 1.75->2, 2.5->2, 3.5->4, 5->4) and
    saturates at +-6. Packed FP4 ("I8" tensors): element 2k in the LOW nibble, 2k+1 in the high.
  - e8m0 ("F8_E8M0"): one byte b, value 2^(b-127); b = 255 is NaN.
  - Power-of-two scales for dynamic quantisation (act_quant, KV/indexer fake quant):
    s = 2^ceil(log2(fl32(max(amax, floor) * fl32(1/max)))) computed from the exponent and
    mantissa fields of that fp32 product, exactly as the reference kernels do.

  bf16 values travel as raw uint16_t bit patterns everywhere in kernels/ and engine/.
  All functions are pure and thread-safe. Row helpers have AVX2 paths chosen at run time.
*/

#include <bit>
#include <cmath>
#include <cstdint>

namespace fathom::kernels {

// ---- bf16 ---------------------------------------------------------------------------------------

inline float bf16_to_f32(uint16_t h)
{
    return std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
}

// Round to nearest even; NaN -> quiet NaN with the same sign.
inline uint16_t f32_to_bf16(float f)
{
    uint32_t b = std::bit_cast<uint32_t>(f);
    if ((b & 0x7FFFFFFFu) > 0x7F800000u)
        return static_cast<uint16_t>((b >> 16) | 0x40u);
    b += 0x7FFFu + ((b >> 16) & 1u);
    return static_cast<uint16_t>(b >> 16);
}

// bf16(x) as a float: the value the reference holds after a cast to bfloat16.
inline float round_bf16(float f)
{
    return bf16_to_f32(f32_to_bf16(f));
}

void bf16_to_f32_row(const uint16_t *src, float *dst, int64_t n); // AVX2 when available
void f32_to_bf16_row(const float *src, uint16_t *dst, int64_t n); // AVX2 when available

// ---- e8m0 ---------------------------------------------------------------------------------------

inline float e8m0_to_f32(uint8_t b)
{
    if (b == 255)
        return std::bit_cast<float>(0x7FC00000u);
    if (b == 0)
        return std::bit_cast<float>(0x00400000u); // 2^-127 (an fp32 subnormal)
    return std::bit_cast<float>(static_cast<uint32_t>(b) << 23);
}

/**
  The e8m0 byte of the reference's power-of-two scale for a block whose largest magnitude is
  `amax`: s = 2^(e - 127 + [mant != 0]) with (e, mant) the fields of fl32(max(amax, amax_floor)
  * inv_max). Use the constants below: FP8 (448, floor 1e-4), FP4 (6, floor 6 * 2^-126).
*/
inline uint8_t pow2_scale_e8m0(float amax, float inv_max, float amax_floor)
{
    const float a = amax > amax_floor ? amax : amax_floor; // NaN amax -> floor
    const uint32_t b = std::bit_cast<uint32_t>(a * inv_max);
    const uint32_t e = (b >> 23) & 0xFFu;
    const uint32_t m = b & 0x7FFFFFu;
    return static_cast<uint8_t>(e + (m != 0 ? 1u : 0u));
}

inline constexpr float k_e4m3_max = 448.0f;
inline constexpr float k_e4m3_inv_max = 1.0f / 448.0f; // fl32(1/448), as the kernels compute it
inline constexpr float k_e4m3_amax_floor = 1e-4f;
inline constexpr float k_e2m1_max = 6.0f;
inline constexpr float k_e2m1_inv_max = 1.0f / 6.0f;
inline constexpr float k_e2m1_amax_floor = 6.0f * 0x1p-126f;

// 2^(127 - b): the exact reciprocal of an e8m0 scale (b in 1..253).
inline float e8m0_inverse_f32(uint8_t b)
{
    return std::ldexp(1.0f, 127 - static_cast<int>(b));
}

// ---- e4m3 ---------------------------------------------------------------------------------------

inline float e4m3_to_f32(uint8_t c)
{
    const uint32_t e = (c >> 3) & 0xFu;
    const uint32_t m = c & 7u;
    float v;
    if ((c & 0x7Fu) == 0x7Fu)
        v = std::bit_cast<float>(0x7FC00000u);
    else if (e == 0)
        v = static_cast<float>(m) * 0x1p-9f;
    else
        v = std::ldexp(static_cast<float>(8u + m), static_cast<int>(e) - 10);
    return (c & 0x80u) ? -v : v;
}

// Round to nearest even, saturating to +-448 (NaN -> 0x7F with the sign).
inline uint8_t f32_to_e4m3(float x)
{
    const uint32_t bits = std::bit_cast<uint32_t>(x);
    const uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80u);
    const uint32_t abits = bits & 0x7FFFFFFFu;
    if (abits > 0x7F800000u)
        return sign | 0x7Fu;
    const float a = std::bit_cast<float>(abits);
    if (a >= 448.0f)
        return sign | 0x7Eu;
    if (a < 0x1p-6f) {
        // Subnormal grid 2^-9: the scaling is exact, nearbyint rounds half to even; 8 encodes
        // 2^-6 (exponent field 1, mantissa 0) so the carry into the normal range is free.
        return sign | static_cast<uint8_t>(std::nearbyint(a * 512.0f));
    }
    uint32_t b = abits;
    b += 0x7FFFFu + ((b >> 20) & 1u); // RNE to 3 mantissa bits
    b &= 0xFFF00000u;
    const uint32_t e = (b >> 23) - 127u + 7u; // 1..15
    return sign | static_cast<uint8_t>((e << 3) | ((b >> 20) & 7u));
}

// ---- e2m1 (FP4) ---------------------------------------------------------------------------------

inline float e2m1_to_f32(uint8_t code)
{
    static constexpr float k_values[16] = {0.0f,
                                           0.5f,
                                           1.0f,
                                           1.5f,
                                           2.0f,
                                           3.0f,
                                           4.0f,
                                           6.0f,
                                           -0.0f,
                                           -0.5f,
                                           -1.0f,
                                           -1.5f,
                                           -2.0f,
                                           -3.0f,
                                           -4.0f,
                                           -6.0f};
    return k_values[code & 0xFu];
}

// Round to nearest even, saturating to +-6 (NaN -> +-6). Returns a 4-bit code.
inline uint8_t f32_to_e2m1(float x)
{
    const uint32_t bits = std::bit_cast<uint32_t>(x);
    const uint8_t sign = static_cast<uint8_t>((bits >> 28) & 0x8u);
    const uint32_t abits = bits & 0x7FFFFFFFu;
    if (abits > 0x7F800000u)
        return sign | 7u;
    const float a = std::bit_cast<float>(abits);
    uint8_t code;
    if (a >= 6.0f)
        code = 7;
    else if (a < 2.0f)
        code = static_cast<uint8_t>(std::nearbyint(a * 2.0f)); // 0, .5, 1, 1.5, 2 -> codes 0..4
    else if (a < 4.0f)
        code = static_cast<uint8_t>(static_cast<int>(std::nearbyint(a)) + 2); // 2, 3, 4 -> 4..6
    else
        code = std::nearbyint(a * 0.5f) >= 3.0f ? 7 : 6; // 4 or 6
    return sign | code;
}

// f32_to_e2m1 without branches (the weight quantiser's inner loop; compilers vectorise it): the
// number of decision points between neighbouring codes that |x| passes, compared as bit patterns,
// each tie (0.25, 0.75, ..., 5) on the even code's side; NaN lies above every point (7).
// tst_formats compares it with f32_to_e2m1 on 2^26 floats (all upper 24 bits).
inline uint8_t f32_to_e2m1_branchless(float x)
{
    const uint32_t bits = std::bit_cast<uint32_t>(x);
    const uint32_t a = bits & 0x7FFFFFFFu;
    const uint32_t code = uint32_t(a > 0x3E800000u) + uint32_t(a >= 0x3F400000u)   // 0.25, 0.75
                          + uint32_t(a > 0x3FA00000u) + uint32_t(a >= 0x3FE00000u) // 1.25, 1.75
                          + uint32_t(a > 0x40200000u) + uint32_t(a >= 0x40600000u) // 2.5, 3.5
                          + uint32_t(a > 0x40A00000u);                             // 5
    return static_cast<uint8_t>(((bits >> 28) & 8u) | code);
}

// Nibble k of a packed FP4 row (element 2j in the low nibble of byte j).
inline uint8_t e2m1_unpack(const uint8_t *packed, int64_t k)
{
    const uint8_t b = packed[k >> 1];
    return (k & 1) ? static_cast<uint8_t>(b >> 4) : static_cast<uint8_t>(b & 0xFu);
}

} // namespace fathom::kernels
