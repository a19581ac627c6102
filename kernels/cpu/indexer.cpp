// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kernels/indexer.h"

#include "fwd_avx512.h"
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

// ---- fp32 sums (non-exact mode) ------------------------------------------------------------------

namespace fathom::kernels {

void indexer_keys_transpose(const float *keys, int n_keys, int dim, float *out)
{
    const int nb = (n_keys + 15) / 16;
    for (int b = 0; b < nb; ++b) {
        float *o = out + static_cast<int64_t>(b) * dim * 16;
        for (int j = 0; j < 16; ++j) {
            const int s = b * 16 + j;
            const float *k = s < n_keys ? keys + static_cast<int64_t>(s) * dim : nullptr;
            for (int e = 0; e < dim; ++e)
                o[e * 16 + j] = k ? k[e] : 0.0f;
        }
    }
}

#if FATHOM_FWD_AVX512
namespace {

using detail::round_bf16_ps;

// 16 keys (the lanes) against HG heads: s += Σ_h bf16(w_h · max(bf16(q_h · k), 0)).
template<int HG>
FATHOM_FWD_AVX512_TARGET inline __m512 heads_block(
    const float *q, const float *w, int dim, const float *kt, __m512 s)
{
    __m512 a[HG];
#pragma GCC unroll 16
    for (int h = 0; h < HG; ++h)
        a[h] = _mm512_setzero_ps();
    for (int e = 0; e < dim; ++e) {
        const __m512 k = _mm512_loadu_ps(kt + e * 16);
#pragma GCC unroll 16
        for (int h = 0; h < HG; ++h)
            a[h] = _mm512_fmadd_ps(_mm512_set1_ps(q[h * dim + e]), k, a[h]);
    }
#pragma GCC unroll 16
    for (int h = 0; h < HG; ++h) {
        const __m512 v = _mm512_max_ps(round_bf16_ps(a[h]), _mm512_setzero_ps());
        s = _mm512_add_ps(s, round_bf16_ps(_mm512_mul_ps(_mm512_set1_ps(w[h]), v)));
    }
    return s;
}

FATHOM_FWD_AVX512_TARGET void indexer_scores_fast_avx512(const IndexerScoreParams &p,
                                                         const float *kt)
{
    const int dim = p.dim, H = p.n_heads;
    for (int b = 0; b * 16 < p.n_keys; ++b) {
        const float *kb = kt + static_cast<int64_t>(b) * dim * 16;
        __m512 s = _mm512_setzero_ps();
        for (int h = 0; h < H;) {
            const int left = H - h;
            const float *q = p.q + static_cast<int64_t>(h) * dim;
            const float *w = p.weights + h;
            if (left >= 16) {
                s = heads_block<16>(q, w, dim, kb, s);
                h += 16;
            } else if (left >= 8) {
                s = heads_block<8>(q, w, dim, kb, s);
                h += 8;
            } else if (left >= 4) {
                s = heads_block<4>(q, w, dim, kb, s);
                h += 4;
            } else {
                s = heads_block<1>(q, w, dim, kb, s);
                h += 1;
            }
        }
        const int left = p.n_keys - b * 16;
        const __mmask16 mk = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u);
        _mm512_mask_storeu_ps(p.scores + b * 16, mk, round_bf16_ps(s));
    }
}

} // namespace
#endif

Status indexer_scores_fast_cpu(const IndexerScoreParams &p, const float *keys_t)
{
#if FATHOM_FWD_AVX512
    if (cpu_has_avx512()) {
        if (!p.q || !p.weights || (!keys_t && p.n_keys) || (!p.scores && p.n_keys) || p.n_heads <= 0
            || p.dim <= 0)
            return Status::invalid("indexer_scores: bad arguments");
        indexer_scores_fast_avx512(p, keys_t);
        return Status::success();
    }
#endif
    return indexer_scores_cpu(p);
}

} // namespace fathom::kernels
