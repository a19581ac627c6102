// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kernels/mhc.h"

#include "fwd_math.h"

#include <algorithm>
#include <vector>

namespace fathom::kernels {

namespace {

// μ = (φ·x̄)·ρ for `rows` rows of φ.
void mixes(const float *x, const float *fn, int rows, int width, float normEps, float *mu)
{
    const double ss = detail::dot_f64(x, x, width);
    const float rho = detail::rsqrt_f32(static_cast<float>(ss / width) + normEps);
    for (int r = 0; r < rows; ++r) {
        const float *f = fn + static_cast<long>(r) * width;
        mu[r] = static_cast<float>(detail::dot_f64(f, x, width)) * rho;
    }
}

void collapse(const float *x, const float *pre, int n, int d, float *u)
{
    for (int e = 0; e < d; ++e) {
        double acc = 0.0;
        for (int i = 0; i < n; ++i)
            acc += static_cast<double>(pre[i] * x[static_cast<long>(i) * d + e]);
        u[e] = round_bf16(static_cast<float>(acc));
    }
}

} // namespace

Status mhc_pre_cpu(const MhcPreParams &p)
{
    if (!p.x || !p.fn || !p.base || !p.scale || !p.pre || !p.post || !p.comb || !p.u || p.n_hc <= 0
        || p.n_hc > 16 || p.d <= 0 || p.sinkhorn_iters < 1)
        return Status::invalid("mhc_pre: bad arguments");
    const int n = p.n_hc;
    const int rows = (2 + n) * n;
    const int width = n * p.d;
    std::vector<float> mu(rows);
    for (int t = 0; t < p.tokens; ++t) {
        const float *x = p.x + static_cast<long>(t) * width;
        mixes(x, p.fn, rows, width, p.norm_eps, mu.data());
        float *pre = p.pre + t * n;
        float *post = p.post + t * n;
        float *c = p.comb + t * n * n;
        for (int i = 0; i < n; ++i) {
            pre[i] = detail::sigmoid_f32(p.scale[0] * mu[i] + p.base[i]) + p.hc_eps;
            post[i] = 2.0f * detail::sigmoid_f32(p.scale[1] * mu[n + i] + p.base[n + i]);
        }
        for (int k = 0; k < n * n; ++k)
            c[k] = p.scale[2] * mu[2 * n + k] + p.base[2 * n + k];
        // Row softmax + eps, then column normalisation.
        for (int i = 0; i < n; ++i) {
            float *row = c + i * n;
            const float mx = *std::max_element(row, row + n);
            double s = 0.0;
            for (int j = 0; j < n; ++j) {
                row[j] = detail::exp_f32(row[j] - mx);
                s += row[j];
            }
            const float sum = static_cast<float>(s);
            for (int j = 0; j < n; ++j)
                row[j] = row[j] / sum + p.hc_eps;
        }
        auto normCols = [&] {
            for (int j = 0; j < n; ++j) {
                double s = 0.0;
                for (int i = 0; i < n; ++i)
                    s += c[i * n + j];
                const float den = static_cast<float>(s) + p.hc_eps;
                for (int i = 0; i < n; ++i)
                    c[i * n + j] /= den;
            }
        };
        auto normRows = [&] {
            for (int i = 0; i < n; ++i) {
                double s = 0.0;
                for (int j = 0; j < n; ++j)
                    s += c[i * n + j];
                const float den = static_cast<float>(s) + p.hc_eps;
                for (int j = 0; j < n; ++j)
                    c[i * n + j] /= den;
            }
        };
        normCols();
        for (int it = 1; it < p.sinkhorn_iters; ++it) {
            normRows();
            normCols();
        }
        collapse(x, pre, n, p.d, p.u + static_cast<long>(t) * p.d);
    }
    return Status::success();
}

Status mhc_post_cpu(const MhcPostParams &p)
{
    if (!p.x || !p.y || !p.post || !p.comb || !p.out || p.n_hc <= 0 || p.d <= 0)
        return Status::invalid("mhc_post: bad arguments");
    const int n = p.n_hc;
    for (int t = 0; t < p.tokens; ++t) {
        const float *x = p.x + static_cast<long>(t) * n * p.d;
        const float *y = p.y + static_cast<long>(t) * p.d;
        const float *post = p.post + t * n;
        const float *c = p.comb + t * n * n;
        float *out = p.out + static_cast<long>(t) * n * p.d;
        for (int j = 0; j < n; ++j) {
            for (int e = 0; e < p.d; ++e) {
                double acc = 0.0;
                for (int i = 0; i < n; ++i)
                    acc += static_cast<double>(c[i * n + j] * x[static_cast<long>(i) * p.d + e]);
                const float a = post[j] * y[e];
                out[static_cast<long>(j) * p.d + e] = round_bf16(a + static_cast<float>(acc));
            }
        }
    }
    return Status::success();
}

Status mhc_head_cpu(const MhcHeadParams &p)
{
    if (!p.x || !p.fn || !p.base || !p.scale || !p.u || p.n_hc <= 0 || p.n_hc > 16 || p.d <= 0)
        return Status::invalid("mhc_head: bad arguments");
    const int n = p.n_hc;
    const int width = n * p.d;
    float mu[16], pre[16];
    for (int t = 0; t < p.tokens; ++t) {
        const float *x = p.x + static_cast<long>(t) * width;
        mixes(x, p.fn, n, width, p.norm_eps, mu);
        for (int i = 0; i < n; ++i)
            pre[i] = detail::sigmoid_f32(p.scale[0] * mu[i] + p.base[i]) + p.hc_eps;
        collapse(x, pre, n, p.d, p.u + static_cast<long>(t) * p.d);
    }
    return Status::success();
}

} // namespace fathom::kernels
