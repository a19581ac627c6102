// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kernels/indexer.h"

#include "fwd_math.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace fathom::kernels {

Status indexer_scores_cpu(const IndexerScoreParams &p)
{
    if (!p.q || !p.weights || (!p.keys && p.n_keys) || (!p.scores && p.n_keys) || p.n_heads <= 0
        || p.dim <= 0)
        return Status::invalid("indexer_scores: bad arguments");
    for (int s = 0; s < p.n_keys; ++s) {
        const float *k = p.keys + static_cast<long>(s) * p.dim;
        // Accumulated from +0 like torch's sum, so a row of zeros gives +0.
        double acc = 0.0;
        for (int h = 0; h < p.n_heads; ++h) {
            const float *q = p.q + static_cast<long>(h) * p.dim;
            const double dot = detail::dot_f64(q, k, p.dim);
            const float v = std::max(round_bf16(static_cast<float>(dot)), 0.0f);
            acc += round_bf16(p.weights[h] * v);
        }
        const float sum = static_cast<float>(acc);
        p.scores[s] = round_bf16(sum);
    }
    return Status::success();
}

Status topk_cpu(const float *values, int n, int k, int32_t *out_idx)
{
    if (!values || !out_idx || k < 0 || k > n)
        return Status::invalid("topk: k must be in [0, n]");
    std::vector<int32_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    auto better = [values](int32_t a, int32_t b) {
        const uint32_t ka = detail::radix_key(values[a]), kb = detail::radix_key(values[b]);
        return ka != kb ? ka > kb : a < b;
    };
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), better);
    std::copy(idx.begin(), idx.begin() + k, out_idx);
    return Status::success();
}

} // namespace fathom::kernels
