// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Lightning indexer scoring (spec §3.7) and the top-k used by the indexer and the MoE router.

  indexer_scores: I(s) = Σ_h w_h · ReLU(q_h · k_s) evaluated in bf16 arithmetic as the reference
  does (CUDA opmath): dot = bf16(q_h·k_s) (fp32 accumulation), relu in bf16, prod = bf16(w_h·relu),
  score = bf16(Σ_h prod) (sum accumulated exactly, rounded once).

  topk: the k largest values in descending order; among equal values the lower index comes first
  and -0.0 orders below +0.0 (torch.topk on CUDA, testdata README §1.4). Only the first n_valid
  values are candidates.
*/

#include "kernels/status.h"

#include <cstdint>

namespace fathom::kernels {

struct IndexerScoreParams
{
    const float *q = nullptr; // [n_heads, dim] bf16-valued (rotated, Hadamard, FP4 fake-quant)
    const float *weights = nullptr; // [n_heads] bf16-valued head weights (already scaled)
    const float *keys = nullptr;    // [n_keys, dim] bf16-valued compressed index keys
    float *scores = nullptr;        // [n_keys] bf16-valued
    int n_heads = 0;
    int dim = 0;
    int n_keys = 0;
};

Status indexer_scores_cpu(const IndexerScoreParams &p);

// values: [n]; out_idx: [k] (k <= n). Writes indices in descending value order.
Status topk_cpu(const float *values, int n, int k, int32_t *out_idx);

} // namespace fathom::kernels
