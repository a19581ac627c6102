// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kernels/mhc.h"

#include "fwd_avx512.h"
#include "fwd_math.h"

#include <algorithm>
#include <vector>

namespace fathom::kernels {

namespace {

// μ = (φ·x̄)·ρ for `rows` rows of φ. With a pool (a decode step: one token) the rows are
// shared out; every row is the same dot product either way.
#if FATHOM_FWD_AVX512
// fp32 sums of the non-exact mode: Σ x² and the rows [r0, r1) of φ·x (unscaled), four rows
// per pass over x.
FATHOM_FWD_AVX512_TARGET float sumsq_fast(const float *x, int width)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    for (int e = 0; e < width; e += 32) {
        const __m512 a = _mm512_maskz_loadu_ps(detail::lanes16(width - e), x + e);
        const __m512 b = _mm512_maskz_loadu_ps(detail::lanes16(width - e - 16), x + e + 16);
        s0 = _mm512_fmadd_ps(a, a, s0);
        s1 = _mm512_fmadd_ps(b, b, s1);
    }
    return detail::hsum_ps(_mm512_add_ps(s0, s1));
}

FATHOM_FWD_AVX512_TARGET void rows_fast(
    const float *x, const float *fn, int64_t r0, int64_t r1, int width, float rho, float *mu)
{
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) {
        __m512 a[4], b[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i)
            a[i] = b[i] = _mm512_setzero_ps();
        const float *f = fn + r * width;
        for (int e = 0; e < width; e += 32) {
            const __mmask16 m0 = detail::lanes16(width - e), m1 = detail::lanes16(width - e - 16);
            const __m512 x0 = _mm512_maskz_loadu_ps(m0, x + e);
            const __m512 x1 = _mm512_maskz_loadu_ps(m1, x + e + 16);
#pragma GCC unroll 4
            for (int i = 0; i < 4; ++i) {
                a[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, f + i * width + e), x0, a[i]);
                b[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, f + i * width + e + 16), x1, b[i]);
            }
        }
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i)
            mu[r + i] = detail::hsum_ps(_mm512_add_ps(a[i], b[i])) * rho;
    }
    for (; r < r1; ++r) {
        __m512 a = _mm512_setzero_ps();
        const float *f = fn + r * width;
        for (int e = 0; e < width; e += 16) {
            const __mmask16 m = detail::lanes16(width - e);
            a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, f + e), _mm512_maskz_loadu_ps(m, x + e), a);
        }
        mu[r] = detail::hsum_ps(a) * rho;
    }
}

// rows_fast for two tokens at once (x0, x1 with their rho), each row of φ read once for both:
// per token the same operations in the same order, so the same bits as two rows_fast calls.
FATHOM_FWD_AVX512_TARGET void rows_fast2(const float *x0,
                                         const float *x1,
                                         const float *fn,
                                         int64_t rows,
                                         int width,
                                         float rho0,
                                         float rho1,
                                         float *mu0,
                                         float *mu1)
{
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        __m512 a[4][2], b[4][2];
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i)
            a[i][0] = a[i][1] = b[i][0] = b[i][1] = _mm512_setzero_ps();
        const float *f = fn + r * width;
        for (int e = 0; e < width; e += 32) {
            const __mmask16 m0 = detail::lanes16(width - e), m1 = detail::lanes16(width - e - 16);
            const __m512 p0 = _mm512_maskz_loadu_ps(m0, x0 + e);
            const __m512 p1 = _mm512_maskz_loadu_ps(m1, x0 + e + 16);
            const __m512 q0 = _mm512_maskz_loadu_ps(m0, x1 + e);
            const __m512 q1 = _mm512_maskz_loadu_ps(m1, x1 + e + 16);
#pragma GCC unroll 4
            for (int i = 0; i < 4; ++i) {
                const __m512 f0 = _mm512_maskz_loadu_ps(m0, f + i * width + e);
                const __m512 f1 = _mm512_maskz_loadu_ps(m1, f + i * width + e + 16);
                a[i][0] = _mm512_fmadd_ps(f0, p0, a[i][0]);
                b[i][0] = _mm512_fmadd_ps(f1, p1, b[i][0]);
                a[i][1] = _mm512_fmadd_ps(f0, q0, a[i][1]);
                b[i][1] = _mm512_fmadd_ps(f1, q1, b[i][1]);
            }
        }
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
            mu0[r + i] = detail::hsum_ps(_mm512_add_ps(a[i][0], b[i][0])) * rho0;
            mu1[r + i] = detail::hsum_ps(_mm512_add_ps(a[i][1], b[i][1])) * rho1;
        }
    }
    if (r < rows) {
        rows_fast(x0, fn, r, rows, width, rho0, mu0);
        rows_fast(x1, fn, r, rows, width, rho1, mu1);
    }
}

// Σ_i double(w_i · x_i) from +0 in the order i = 0..n-1 for the 16 lanes at x (products in
// fp32, as the scalar loops compute them), as floats: mhc_*_avx2's sums, 8 doubles a step.
FATHOM_FWD_AVX512_TARGET inline __m512 sum_products_16(
    const float *w, const float *x, int64_t ld, int n, __mmask16 mk)
{
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    for (int i = 0; i < n; ++i) {
        const __m512 p = _mm512_mul_ps(_mm512_set1_ps(w[i]), _mm512_maskz_loadu_ps(mk, x + i * ld));
        lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(p)));
        hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(p, 1)));
    }
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
}

// The collapse and post mix over the elements [e0, e1) of one token: the same bits as
// detail::mhc_collapse_avx2 / mhc_post_avx2 and the scalar loops.
FATHOM_FWD_AVX512_TARGET void collapse_avx512(
    const float *x, const float *pre, int n, int64_t d, int64_t e0, int64_t e1, float *u)
{
    for (int64_t e = e0; e < e1; e += 16) {
        const __mmask16 mk = detail::lanes16(static_cast<int>(std::min<int64_t>(16, e1 - e)));
        _mm512_mask_storeu_ps(u + e,
                              mk,
                              detail::round_bf16_nan_ps(sum_products_16(pre, x + e, d, n, mk)));
    }
}

FATHOM_FWD_AVX512_TARGET void post_avx512(const float *x,
                                          const float *y,
                                          const float *post,
                                          const float *comb,
                                          int n,
                                          int64_t d,
                                          int64_t e0,
                                          int64_t e1,
                                          float *out)
{
    float col[16];
    for (int j = 0; j < n; ++j) {
        for (int i = 0; i < n; ++i)
            col[i] = comb[i * n + j];
        const __m512 pj = _mm512_set1_ps(post[j]);
        float *o = out + j * d;
        for (int64_t e = e0; e < e1; e += 16) {
            const __mmask16 mk = detail::lanes16(static_cast<int>(std::min<int64_t>(16, e1 - e)));
            const __m512 s = sum_products_16(col, x + e, d, n, mk);
            __m512 a = _mm512_mul_ps(pj, _mm512_maskz_loadu_ps(mk, y + e));
            // The product is rounded on its own as in the scalar loop: no fused multiply-add.
            __asm__("" : "+v"(a));
            _mm512_mask_storeu_ps(o + e, mk, detail::round_bf16_nan_ps(_mm512_add_ps(a, s)));
        }
    }
}
#endif

void mixes(const float *x,
           const float *fn,
           int rows,
           int width,
           float normEps,
           float *mu,
           parallel_runner *pool,
           bool fp32Sums = false)
{
#if FATHOM_FWD_AVX512
    if (fp32Sums && cpu_has_avx512()) {
        const float rho = detail::rsqrt_f32(sumsq_fast(x, width) / width + normEps);
        parallel_for(pool, rows, 4, [&](int64_t r0, int64_t r1) {
            rows_fast(x, fn, r0, r1, width, rho, mu);
        });
        return;
    }
#endif
    const double ss = detail::dot_f64(x, x, width);
    const float rho = detail::rsqrt_f32(static_cast<float>(ss / width) + normEps);
    parallel_for(pool, rows, 4, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const float *f = fn + r * width;
            mu[r] = static_cast<float>(detail::dot_f64(f, x, width)) * rho;
        }
    });
}

void collapse(const float *x, const float *pre, int n, int d, float *u, parallel_runner *pool)
{
    parallel_for(pool, d, 256, [&](int64_t e0, int64_t e1) {
#if FATHOM_FWD_AVX512
        if (cpu_has_avx512()) {
            collapse_avx512(x, pre, n, d, e0, e1, u);
            return;
        }
#endif
#if FATHOM_KERNELS_HAVE_AVX2
        if (cpu_has_avx2_fma()) {
            detail::mhc_collapse_avx2(x, pre, n, d, e0, e1, u);
            return;
        }
#endif
        for (int64_t e = e0; e < e1; ++e) {
            double acc = 0.0;
            for (int i = 0; i < n; ++i)
                acc += static_cast<double>(pre[i] * x[static_cast<long>(i) * d + e]);
            u[e] = round_bf16(static_cast<float>(acc));
        }
    });
}

} // namespace

Status mhc_pre_cpu(const MhcPreParams &p, parallel_runner *pool)
{
    if (!p.x || !p.fn || !p.base || !p.scale || !p.pre || !p.post || !p.comb || !p.u || p.n_hc <= 0
        || p.n_hc > 16 || p.d <= 0 || p.sinkhorn_iters < 1)
        return Status::invalid("mhc_pre: bad arguments");
    const int n = p.n_hc;
    const int rows = (2 + n) * n;
    const int width = n * p.d;
    std::vector<float> mu(rows), muNext(rows);
#if FATHOM_FWD_AVX512
    // Prefill without a pool (CpuExecutor splits the tokens): fp32 mixes two tokens at a time.
    const bool pairs = p.fp32_sums && !pool && cpu_has_avx512();
#else
    const bool pairs = false;
#endif
    bool haveNext = false;
    for (int t = 0; t < p.tokens; ++t) {
        const float *x = p.x + static_cast<long>(t) * width;
        if (haveNext) {
            mu.swap(muNext);
            haveNext = false;
        } else if (pairs && t + 1 < p.tokens) {
#if FATHOM_FWD_AVX512
            const float *x1 = x + width;
            rows_fast2(x,
                       x1,
                       p.fn,
                       rows,
                       width,
                       detail::rsqrt_f32(sumsq_fast(x, width) / width + p.norm_eps),
                       detail::rsqrt_f32(sumsq_fast(x1, width) / width + p.norm_eps),
                       mu.data(),
                       muNext.data());
            haveNext = true;
#endif
        } else {
            mixes(x, p.fn, rows, width, p.norm_eps, mu.data(), pool, p.fp32_sums);
        }
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
        collapse(x, pre, n, p.d, p.u + static_cast<long>(t) * p.d, pool);
    }
    return Status::success();
}

Status mhc_post_cpu(const MhcPostParams &p, parallel_runner *pool)
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
        parallel_for(pool, p.d, 256, [&](int64_t e0, int64_t e1) {
#if FATHOM_FWD_AVX512
            if (cpu_has_avx512()) {
                post_avx512(x, y, post, c, n, p.d, e0, e1, out);
                return;
            }
#endif
#if FATHOM_KERNELS_HAVE_AVX2
            if (cpu_has_avx2_fma()) {
                detail::mhc_post_avx2(x, y, post, c, n, p.d, e0, e1, out);
                return;
            }
#endif
            for (int j = 0; j < n; ++j) {
                for (int64_t e = e0; e < e1; ++e) {
                    double acc = 0.0;
                    for (int i = 0; i < n; ++i)
                        acc += static_cast<double>(c[i * n + j] * x[i * p.d + e]);
                    const float a = post[j] * y[e];
                    out[j * p.d + e] = round_bf16(a + static_cast<float>(acc));
                }
            }
        });
    }
    return Status::success();
}

Status mhc_head_cpu(const MhcHeadParams &p, parallel_runner *pool)
{
    if (!p.x || !p.fn || !p.base || !p.scale || !p.u || p.n_hc <= 0 || p.n_hc > 16 || p.d <= 0)
        return Status::invalid("mhc_head: bad arguments");
    const int n = p.n_hc;
    const int width = n * p.d;
    float mu[16], pre[16];
    for (int t = 0; t < p.tokens; ++t) {
        const float *x = p.x + static_cast<long>(t) * width;
        mixes(x, p.fn, n, width, p.norm_eps, mu, pool, p.fp32_sums);
        for (int i = 0; i < n; ++i)
            pre[i] = detail::sigmoid_f32(p.scale[0] * mu[i] + p.base[i]) + p.hc_eps;
        collapse(x, pre, n, p.d, p.u + static_cast<long>(t) * p.d, pool);
    }
    return Status::success();
}

} // namespace fathom::kernels
