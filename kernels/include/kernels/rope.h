// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Interleaved rotary embedding (spec §3.4). Dims (2j, 2j+1) of the rotated slice form the complex
  number x[2j] + i·x[2j+1], multiplied by exp(i·t·θ_j) (forward) or exp(−i·t·θ_j) (inverse,
  applied to the attention output). All arithmetic is fp32 as in the reference (angle = fl32(t·θ),
  cos/sin correctly rounded, complex product with one rounding per product and per sum), result
  rounded to bf16.

  Frequencies: θ_j = 1 / base^(2j/rope_dim) in fp32. With YaRN (factor > 1; compressed layers):
  low = max(0, floor(c(beta_fast))), high = min(rope_dim − 1, ceil(c(beta_slow))),
  c(n) = rope_dim · ln(original_seq_len / (2πn)) / (2 ln base), ramp_j = clamp((j − low) /
  (high − low), 0, 1) and θ_j ← θ_j / factor · ramp_j + θ_j · (1 − ramp_j). No mscale.
*/

#include "kernels/status.h"

#include <cstdint>

namespace fathom::kernels {

struct RopeFreqParams
{
    int rope_dim = 64;      // rotated dims; rope_dim / 2 frequencies
    int32_t pad_ = 0;       // explicit padding (params_padding.cpp)
    double base = 10000.0;  // rope_theta or compress_rope_theta
    double yarn_factor = 1; // 1 = plain RoPE (no YaRN)
    double original_seq_len = 65536;
    double beta_fast = 32;
    double beta_slow = 1;
};

// freqs: [rope_dim / 2] fp32.
Status rope_freqs_cpu(const RopeFreqParams &p, float *freqs);

enum class RopeDirection { Forward, Inverse };

struct RopeParams
{
    float *x
        = nullptr; // [rows, row_stride] bf16-valued, rotated in place at [offset, offset + rope_dim)
    const int32_t *positions = nullptr; // [rows / rows_per_position] absolute positions
    const float *freqs = nullptr;       // [rope_dim / 2] from rope_freqs_cpu
    int rows = 0;
    int row_stride = 0;
    int offset = 0;
    int rope_dim = 0;
    int rows_per_position = 1; // e.g. heads per token: rows r uses positions[r / rows_per_position]
    RopeDirection direction = RopeDirection::Forward;
};

Status rope_cpu(const RopeParams &p);

// cos and sin of rope_cpu for one position: cs[j] = fl32(cos(angle_j)), sn[j] = fl32(sin(angle_j))
// with angle_j = fl32(position * freqs[j]), j < half (the forward direction's sin).
void rope_cos_sin_cpu(int32_t position, const float *freqs, int half, float *cs, float *sn);
// rope_cpu with the cos and sin given: position group g (rows g * rows_per_position ...) uses
// cos_sin + g * ld (half cos values, then half forward sin values; p.positions is not read).
// The same bits as rope_cpu; AVX-512 when available.
Status rope_table_cpu(const RopeParams &p, const float *cos_sin, int64_t ld);

} // namespace fathom::kernels
