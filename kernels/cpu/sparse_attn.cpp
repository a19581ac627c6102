// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kernels/sparse_attn.h"

#include "fwd_math.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace fathom::kernels {

Status sparse_attn_ref(const SparseAttnParams &p)
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

Status sparse_attn_cpu(const SparseAttnParams &p)
{
    // sparse_attn_ref with the heads of a query row processed together: the gathered rows and
    // the online-softmax blocks depend only on the row's indices, so every key row is read (and
    // converted to double) once for all heads instead of once per head. Per head the
    // operations and their order are unchanged: the same bits (tests/engine/tst_forwardops).
    if (!p.q || !p.idx || !p.sink || !p.out || p.n_heads <= 0 || p.head_dim <= 0 || p.block <= 0
        || (p.n_kv > 0 && !p.kv))
        return Status::invalid("sparse_attn: bad arguments");
    const int D = p.head_dim, H = p.n_heads;
    auto row = [&p, D](int32_t r) -> const float * {
        if (r < 0)
            return nullptr;
        if (r < p.n_kv)
            return p.kv + static_cast<long>(r) * D;
        if (r - p.n_kv < p.n_kv_ext && p.kv_ext)
            return p.kv_ext + static_cast<long>(r - p.n_kv) * D;
        return nullptr;
    };
    std::vector<double> acc(static_cast<size_t>(H) * D), qd(static_cast<size_t>(H) * D);
    std::vector<float> z(static_cast<size_t>(H) * p.block), m(H), denom(H);
    std::vector<double> dots(H), bsum(H), pb(H);
    std::vector<const float *> rows(p.block);
    for (int t = 0; t < p.n_q; ++t) {
        const int32_t *idx = p.idx + static_cast<long>(t) * p.n_idx;
        const float *qt = p.q + static_cast<long>(t) * H * D;
        for (size_t i = 0; i < qd.size(); ++i)
            qd[i] = qt[i];
        std::fill(m.begin(), m.end(), -std::numeric_limits<float>::infinity());
        std::fill(denom.begin(), denom.end(), 0.0f);
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int b0 = 0; b0 < p.n_idx; b0 += p.block) {
            const int b1 = std::min(p.n_idx, b0 + p.block);
            int n = 0;
            for (int i = b0; i < b1; ++i) {
                const float *k = row(idx[i]);
                if (!k)
                    continue;
                detail::dot_f64_heads(qd.data(), D, H, k, D, dots.data());
                for (int h = 0; h < H; ++h)
                    z[static_cast<size_t>(h) * p.block + n] = static_cast<float>(dots[h]) * p.scale;
                rows[n] = k;
                ++n;
            }
            if (n == 0)
                continue;
            for (int h = 0; h < H; ++h) {
                const float *zh = z.data() + static_cast<size_t>(h) * p.block;
                float bm = -std::numeric_limits<float>::infinity();
                for (int i = 0; i < n; ++i)
                    bm = std::max(bm, zh[i]);
                const float mNew = std::max(m[h], bm);
                const float alpha = std::isinf(m[h]) ? 0.0f : detail::exp_f32(m[h] - mNew);
                denom[h] *= alpha;
                double *a = acc.data() + static_cast<size_t>(h) * D;
                for (int e = 0; e < D; ++e)
                    a[e] = static_cast<float>(a[e]) * alpha;
                bsum[h] = 0.0;
                m[h] = mNew; // the block's exponentials below use the new maximum
            }
            for (int i = 0; i < n; ++i) {
                for (int h = 0; h < H; ++h) {
                    const float pr = detail::exp_f32(z[static_cast<size_t>(h) * p.block + i] - m[h]);
                    bsum[h] += pr;
                    pb[h] = round_bf16(pr);
                }
                detail::axpy_f64_heads(acc.data(), D, pb.data(), H, rows[i], D);
            }
            for (int h = 0; h < H; ++h) {
                double *a = acc.data() + static_cast<size_t>(h) * D;
                for (int e = 0; e < D; ++e)
                    a[e] = static_cast<float>(a[e]);
                denom[h] += static_cast<float>(bsum[h]);
            }
        }
        for (int h = 0; h < H; ++h) {
            float *o = p.out + (static_cast<long>(t) * H + h) * D;
            const double *a = acc.data() + static_cast<size_t>(h) * D;
            const float sinkTerm = std::isinf(m[h]) ? 1.0f : detail::exp_f32(p.sink[h] - m[h]);
            const float den = std::isinf(m[h]) ? 1.0f : denom[h] + sinkTerm;
            for (int e = 0; e < D; ++e)
                o[e] = round_bf16(static_cast<float>(a[e]) / den);
        }
    }
    return Status::success();
}

} // namespace fathom::kernels
