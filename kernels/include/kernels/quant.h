// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  Block quantisation with power-of-two (E8M0) scales, as the reference does it
  (v4-model-spec.md §3.4 step 3, §3.7, §6.3; testdata/README.md §1.2, §1.4). Every block of
  `block` consecutive values of a row gets s = 2^ceil(log2(fl32(max(amax, floor) * fl32(1/max))))
  (formats.h pow2_scale_e8m0) and each value becomes round_nearest_even_satfinite(x / s) on the
  e4m3 (max 448, floor 1e-4) or e2m1 (max 6, floor 6 * 2^-126) grid. The last block of a row may
  be partial.

  - act_quant_*: the activation quantiser inside every FP8/FP4 linear (block 128, e4m3). Returns
    the codes and the scale bytes; linear.h calls it itself, it is exported for executors that
    quantise once and reuse.
  - fake_quant_*: quantise-dequantise in place on bf16 data, value = bf16(q * s): the KV cache
    simulation (e4m3, block 64, on the non-RoPE dims) and the indexer (e2m1, block 32, after the
    Hadamard rotation).
  - quantize_weight_*: how FP8 (128x128 blocks) and FP4 (1x32 blocks) checkpoint weights are made
    (testdata/README.md §1.2; make-model uses them): scales 2^ceil(log2(amax / max)) with a true
    division (floors as above).
  - dequantize_weight_*: W = code * 2^(S - 127); e.g. wo_a is dequantised to bf16 at load as the
    reference's convert.py does (exact: e4m3 * 2^k is representable in bf16).

  All functions are pure, single-threaded, thread-safe; pointers must not alias unless stated.
*/

#include <cstdint>

namespace fathom::kernels {

// x [k] (bf16 bits / f32) -> q [k] e4m3 codes, scale [ceil(k/block)] e8m0 bytes.
void act_quant_e4m3_bf16(const uint16_t *x, int64_t k, int block, uint8_t *q, uint8_t *scale);
void act_quant_e4m3_f32(const float *x, int64_t k, int block, uint8_t *q, uint8_t *scale);

// In place on n bf16 values in blocks of `block` (KV: e4m3 block 64; indexer: e2m1 block 32).
void fake_quant_e4m3_bf16(uint16_t *x, int64_t n, int block);
void fake_quant_e2m1_bf16(uint16_t *x, int64_t n, int block);

// The same on rows of floats, for executors that keep bf16 values in f32 buffers: the first
// `dims` floats of each of `rows` rows (`row_stride` apart) are rounded to bf16 (formats.h, NaN
// included), fake-quantised in blocks of `block` as above and widened back, in place. The same
// bits as that round trip through fake_quant_*_bf16; AVX-512 when available.
void fake_quant_e4m3_f32_rows(float *x, int64_t rows, int64_t row_stride, int64_t dims, int block);
void fake_quant_e2m1_f32_rows(float *x, int64_t rows, int64_t row_stride, int64_t dims, int block);

// x[i] = round_bf16(x[i]) for n floats in place (formats.h's rounding, NaN included; AVX2 when
// available, the same bits).
void round_bf16_inplace(float *x, int64_t n);

// w [n, k] row-major f32 -> q [n, k] e4m3, scale [ceil(n/128), ceil(k/128)] e8m0.
void quantize_weight_e4m3(const float *w, int64_t n, int64_t k, uint8_t *q, uint8_t *scale);
// w [n, k] (k % 32 == 0) -> packed [n, k/2] (low nibble = even element), scale [n, k/32].
void quantize_weight_e2m1(const float *w, int64_t n, int64_t k, uint8_t *packed, uint8_t *scale);

// Inverse of the above into f32 or bf16 bits, same shapes.
void dequantize_weight_e4m3(const uint8_t *q, const uint8_t *scale, int64_t n, int64_t k, float *out);
void dequantize_weight_e4m3_bf16(
    const uint8_t *q, const uint8_t *scale, int64_t n, int64_t k, uint16_t *out);
void dequantize_weight_e2m1(
    const uint8_t *packed, const uint8_t *scale, int64_t n, int64_t k, float *out);

} // namespace fathom::kernels
