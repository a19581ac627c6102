// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  LINEAR of a group of projections that read the same input rows, in one device launch (decode:
  the attention's projections of x, or of the query's low-rank rows). Each item is a linear.h
  LINEAR with its own weight (any type), output, output type and y_round_bf16; x, x_type, the
  row stride of x, m and k are the same for every item. The GEMV serves them all (a grid over
  the items' concatenated output columns); each block stages and, for FP8/FP4 weights,
  activation-quantises x itself, exactly as a launch of that item alone, so every item's result
  is bit for bit linear_cuda's (the reference quantises x once per input; the codes and scales
  are the same whichever projection computes them).

  The CPU twin is linear_cpu (or linear_ref) of each item in turn.

  Unsupported (nothing launched) when an item does not fit the GEMV (m > 4, k % 16 != 0,
  misaligned weights, too much shared memory) or the items do not share their input; the caller
  then runs the items one by one. Dense (bf16 / f32) items must agree on accum.
*/

#include "kernels/linear.h"
#include "kernels/status.h"

struct CUstream_st;

namespace fathom::kernels {

constexpr int k_linear_group_max = 8; // items per launch; more are launched in chunks

Status linear_group_gemv_cuda(const linear_params *items, int count, CUstream_st *stream);
// Whether linear_group_gemv_cuda launches for these items (host-side checks only, no device
// call but the cached shared-memory limit): an executor decides before its launch bookkeeping.
bool linear_group_gemv_fits(const linear_params *items, int count);

} // namespace fathom::kernels
