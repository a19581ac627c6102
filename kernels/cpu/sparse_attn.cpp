// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kernels/sparse_attn.h"

#include "fwd_math.h"

#include <cmath>
#include <limits>
#include <vector>

namespace fathom::kernels {

Status sparse_attn_cpu(const SparseAttnParams &p)
{
    if (!p.q || !p.idx || !p.sink || !p.out || p.n_heads <= 0 || p.head_dim <= 0 || p.block <= 0
        || (p.n_kv > 0 && !p.kv))
        return Status::invalid("sparse_attn: bad arguments");
    const int D = p.head_dim;
    auto row = [&p, D](int32_t r) -> const float * {
        if (r < 0)
            return nullptr;
        if (r < p.n_kv)
            return p.kv + static_cast<long>(r) * D;
        if (r - p.n_kv < p.n_kv_ext && p.kv_ext)
            return p.kv_ext + static_cast<long>(r - p.n_kv) * D;
        return nullptr;
    };
    std::vector<double> acc(D);
    std::vector<float> z(p.block);
    std::vector<int32_t> rows(p.block);
    for (int t = 0; t < p.n_q; ++t) {
        const int32_t *idx = p.idx + static_cast<long>(t) * p.n_idx;
        for (int h = 0; h < p.n_heads; ++h) {
            const float *q = p.q + (static_cast<long>(t) * p.n_heads + h) * D;
            float m = -std::numeric_limits<float>::infinity();
            float denom = 0.0f;
            std::fill(acc.begin(), acc.end(), 0.0);
            for (int b0 = 0; b0 < p.n_idx; b0 += p.block) {
                const int b1 = std::min(p.n_idx, b0 + p.block);
                int n = 0;
                float bm = -std::numeric_limits<float>::infinity();
                for (int i = b0; i < b1; ++i) {
                    const int32_t r = idx[i];
                    const float *k = row(r);
                    if (!k)
                        continue;
                    z[n] = static_cast<float>(detail::dot_f64(q, k, D)) * p.scale;
                    rows[n] = r;
                    bm = std::max(bm, z[n]);
                    ++n;
                }
                if (n == 0)
                    continue;
                const float mNew = std::max(m, bm);
                const float alpha = std::isinf(m) ? 0.0f : detail::exp_f32(m - mNew);
                // Rescale of the running sums (fp32 accumulators in the kernel).
                denom *= alpha;
                for (int e = 0; e < D; ++e)
                    acc[e] = static_cast<float>(acc[e]) * alpha;
                double bsum = 0.0;
                for (int i = 0; i < n; ++i) {
                    const float pr = detail::exp_f32(z[i] - mNew);
                    bsum += pr;
                    const float pb = round_bf16(pr);
                    const float *k = row(rows[i]);
                    detail::axpy_f64(acc.data(), pb, k, D);
                }
                for (int e = 0; e < D; ++e)
                    acc[e] = static_cast<float>(acc[e]);
                denom += static_cast<float>(bsum);
                m = mNew;
            }
            float *o = p.out + (static_cast<long>(t) * p.n_heads + h) * D;
            const float sinkTerm = std::isinf(m) ? 1.0f : detail::exp_f32(p.sink[h] - m);
            const float den = std::isinf(m) ? 1.0f : denom + sinkTerm;
            for (int e = 0; e < D; ++e)
                o[e] = round_bf16(static_cast<float>(acc[e]) / den);
        }
    }
    return Status::success();
}

} // namespace fathom::kernels
