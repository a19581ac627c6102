// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  The rows of a chunk of experts in one launch (fp4_fold_e4m3.h, ltexperts; expert_rows.cu and
  swiglu_quant.cu): a by-value table of up to k_fp4_fold_max_jobs experts, each with its pointer
  and its first chunk row. Private.
*/
#include "kernels/fp4_fold_e4m3.h"

#include "cuda_common.cuh"

#include <cstring>

namespace fathom::kernels::cuda {

struct expert_rows_table
{
    const float *in[k_fp4_fold_max_jobs];   // per expert: x rows / routing weights
    float *out[k_fp4_fold_max_jobs];        // per expert: y rows (round)
    int64_t first[k_fp4_fold_max_jobs + 1]; // chunk row of expert i; first[count] = all rows
    int64_t count;
};

// The expert holding chunk row R (first[s] <= R < first[s + 1]).
__device__ inline int expert_of_row(const expert_rows_table &t, int64_t R)
{
    int s = 0;
    while (s + 1 < t.count && t.first[s + 1] <= R)
        ++s;
    return s;
}

// One warp's unit of a row pass over 128-wide blocks (kb a row): chunk row R, block b, expert
// s and its row r, and where the block's scale goes in the VEC128 layout of that expert
// ([k/128][rows] from its first chunk row on). False: the warp has no unit.
struct row_block
{
    int64_t R, r, scale_at;
    int b, s;
};

__device__ inline bool row_block_of_warp(const expert_rows_table &t, int kb, row_block &u)
{
    const int64_t unit = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + (threadIdx.x >> 5);
    if (unit >= t.first[t.count] * kb)
        return false;
    u.R = unit / kb;
    u.b = static_cast<int>(unit % kb);
    u.s = expert_of_row(t, u.R);
    u.r = u.R - t.first[u.s];
    const int64_t rows = t.first[u.s + 1] - t.first[u.s];
    u.scale_at = t.first[u.s] * kb + static_cast<int64_t>(u.b) * rows + u.r;
    return true;
}

// Fills t from host arrays (false: count out of 1 .. k_fp4_fold_max_jobs or a negative row
// count); zero padding everywhere else (launch parameters carry no stack bytes).
inline bool make_expert_rows_table(
    expert_rows_table &t, const float *const *in, float *const *out, const int *rows, int count)
{
    std::memset(static_cast<void *>(&t), 0, sizeof t);
    if (count <= 0 || count > k_fp4_fold_max_jobs || !rows)
        return false;
    t.count = count;
    for (int i = 0; i < count; ++i) {
        if (rows[i] < 0)
            return false;
        t.in[i] = in ? in[i] : nullptr;
        t.out[i] = out ? out[i] : nullptr;
        t.first[i + 1] = t.first[i] + rows[i];
    }
    return true;
}

} // namespace fathom::kernels::cuda
