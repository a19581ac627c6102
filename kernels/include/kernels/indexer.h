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
    // The keys as bf16 bits instead (CUDA only: a device sequence state's index keys); when
    // set, keys is not read.
    const uint16_t *keys_bf16 = nullptr;
    // Or as packed rows (CUDA only, the default device state since session 8: e2m1 pairs + an
    // E8M0 scale per 32 dims, kernels/kv_packed.h), dequantised while staged (exact); when set,
    // keys / keys_bf16 are not read.
    const uint8_t *keys_packed = nullptr;
    float *scores = nullptr; // [n_keys] bf16-valued
    int n_heads = 0;
    int dim = 0;
    int n_keys = 0;
    int32_t pad_ = 0; // explicit padding: launch parameters carry no stack bytes (params_padding.cpp)
};

Status indexer_scores_cpu(const IndexerScoreParams &p);

// The non-exact mode (CpuExecutor without exact linears): the same bf16 steps with the dot
// products and the head sum accumulated in fp32 (any order). keys_t holds the keys transposed
// in blocks of 16 (indexer_keys_transpose; at least p.n_keys keys), shared by every query row
// of a chunk. Without AVX-512 it runs indexer_scores_cpu (p.keys; exact sums are one order).
Status indexer_scores_fast_cpu(const IndexerScoreParams &p, const float *keys_t);
// keys [n_keys, dim] -> out [ceil(n_keys / 16), dim, 16], missing keys of the last block 0.
void indexer_keys_transpose(const float *keys, int n_keys, int dim, float *out);
inline int64_t indexer_keys_transposed_floats(int n_keys, int dim)
{
    return static_cast<int64_t>((n_keys + 15) / 16) * 16 * dim;
}

// values: [n]; out_idx: [k] (k <= n). Writes indices in descending value order.
Status topk_cpu(const float *values, int n, int k, int32_t *out_idx);

} // namespace fathom::kernels
