// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Normalised Walsh-Hadamard transform of each row (spec §3.6/§3.7, the indexer's rotation):
  y = bf16(scale · H_n x) with H_n the natural-order Sylvester matrix (H[i][j] = (−1)^popcount(i&j)),
  computed as an fp32 butterfly (stages h = 1, 2, 4, …; (a, b) → (a + b, a − b)); scale is
  normally n^-1/2. n must be a power of two.
*/

#include "kernels/status.h"

namespace fathom::kernels {

// x: [rows, n] bf16-valued, transformed in place.
Status hadamard_cpu(float *x, int rows, int n, float scale);

} // namespace fathom::kernels
