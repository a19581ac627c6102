// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  The launch arguments of the indexer's bf16 scoring kernels (indexer_scores.cu: the exact
  kernel and its fused top-k; indexer_scores_mma.cu: the prefill mma kernel, the decode kernel
  and its fused top-k), one struct for all five instead of each kernel's own list of 11 to 16.
  Passed by value: it has no padding holes (kernels/params_padding.cpp includes this header and
  builds with -Werror=padded), so a graph node's parameters hold no stack bytes.
  Plain C++ (no CUDA): the padding check compiles it with the host compiler.
*/

#include "kernels/cuda_ops.h"
#include "kernels/indexer.h"

#include <cstdint>

namespace fathom::kernels::cuda {

struct IndexerRowsArgs
{
    IndexerScoreParams p;           // q, weights, the keys (one of three forms), scores, shape
    const int32_t *row_n = nullptr; // [n_q] visible keys per row (device); nullptr: all n_keys
    int64_t scores_ld = 0;          // the scores' row stride (>= n_keys)
    int32_t n_q = 0;                // query rows (the prefill mma kernel reads it)
    // idxtopk (the fused top-k kernels only): the row's top-k and index row (IndexerTopkOut).
    int32_t k = 0;
    int32_t *out = nullptr;
    int64_t out_ld = 0;
    int *counters = nullptr;
    TopkIndexRows ix;
};

// The scoring kernels' arguments; o (the fused top-k launches): its outputs too.
inline IndexerRowsArgs indexer_rows_args(const IndexerScoreParams &p,
                                         int n_q,
                                         int64_t scores_ld,
                                         const int32_t *row_n,
                                         const IndexerTopkOut *o = nullptr)
{
    IndexerRowsArgs a;
    a.p = p;
    a.row_n = row_n;
    a.scores_ld = scores_ld;
    a.n_q = n_q;
    if (o) {
        a.k = o->k;
        a.out = o->out;
        a.out_ld = o->out_ld;
        a.counters = o->counters;
        if (o->index_rows)
            a.ix = *o->index_rows;
    }
    return a;
}

} // namespace fathom::kernels::cuda
