// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  RMSNorm of the reference (spec §2): per row, in fp32,
      r = rsqrt(mean(x²) + eps),  y = bf16(w · (x · r))
  with the mean accumulated exactly and rounded once, w held in fp32.

  head_rmsnorm_bf16 is the weightless per-head query normalisation, which the reference does in
  bf16 arithmetic (every intermediate rounded to bf16, CUDA opmath): sq = bf16(x²),
  m = bf16(mean(sq)), v = bf16(m + eps), r = bf16(rsqrt(v)), y = bf16(x · r).
*/

#include "kernels/status.h"

#include <cstdint>

namespace fathom::kernels {

struct RmsNormParams
{
    const float *x = nullptr;      // [rows, dim] (row stride x_stride), fp32 or bf16-valued
    const float *weight = nullptr; // [dim] fp32, may be nullptr (weightless)
    float *y = nullptr;            // [rows, dim] (row stride y_stride), bf16-valued; may alias x
    int rows = 0;
    int dim = 0;
    int x_stride = 0; // 0 = dim
    int y_stride = 0; // 0 = dim
    float eps = 1e-6f;
    int32_t pad_ = 0; // explicit padding: launch parameters carry no stack bytes (params_padding.cpp)
};

Status rmsnorm_cpu(const RmsNormParams &p);

// In place on [rows, dim] bf16-valued rows (rows = tokens × heads).
Status head_rmsnorm_bf16_cpu(float *x, int rows, int dim, float eps);

} // namespace fathom::kernels
