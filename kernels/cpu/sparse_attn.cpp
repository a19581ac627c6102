// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kernels/sparse_attn.h"

#include "fwd_avx512.h"
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

// ---- fp32 sums (non-exact mode) ------------------------------------------------------------------

namespace fathom::kernels {

#if FATHOM_FWD_AVX512
namespace {

using detail::hmax_ps;
using detail::hsum_ps;
using detail::round_bf16_ps;

inline __mmask16 lanes(int n)
{
    return detail::lanes16(n);
}

// z[h * ldz + j] = scale · (q_h · k_j) for HG heads (q rows D apart) and n keys, two keys per
// pass so every q vector load serves two FMAs.
template<int HG>
FATHOM_FWD_AVX512_TARGET void scores_heads(
    const float *q, int D, const float *const *rows, int n, float scale, float *z, int ldz)
{
    int j = 0;
    for (; j + 2 <= n; j += 2) {
        __m512 a0[HG], a1[HG];
#pragma GCC unroll 8
        for (int h = 0; h < HG; ++h)
            a0[h] = a1[h] = _mm512_setzero_ps();
        const float *k0 = rows[j], *k1 = rows[j + 1];
        for (int e = 0; e < D; e += 16) {
            const __mmask16 mk = lanes(D - e);
            const __m512 v0 = _mm512_maskz_loadu_ps(mk, k0 + e);
            const __m512 v1 = _mm512_maskz_loadu_ps(mk, k1 + e);
#pragma GCC unroll 8
            for (int h = 0; h < HG; ++h) {
                const __m512 qv = _mm512_maskz_loadu_ps(mk, q + h * D + e);
                a0[h] = _mm512_fmadd_ps(qv, v0, a0[h]);
                a1[h] = _mm512_fmadd_ps(qv, v1, a1[h]);
            }
        }
#pragma GCC unroll 8
        for (int h = 0; h < HG; ++h) {
            z[h * ldz + j] = hsum_ps(a0[h]) * scale;
            z[h * ldz + j + 1] = hsum_ps(a1[h]) * scale;
        }
    }
    if (j < n) {
        __m512 a0[HG];
#pragma GCC unroll 8
        for (int h = 0; h < HG; ++h)
            a0[h] = _mm512_setzero_ps();
        const float *k0 = rows[j];
        for (int e = 0; e < D; e += 16) {
            const __mmask16 mk = lanes(D - e);
            const __m512 v0 = _mm512_maskz_loadu_ps(mk, k0 + e);
#pragma GCC unroll 8
            for (int h = 0; h < HG; ++h)
                a0[h] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, q + h * D + e), v0, a0[h]);
        }
#pragma GCC unroll 8
        for (int h = 0; h < HG; ++h)
            z[h * ldz + j] = hsum_ps(a0[h]) * scale;
    }
}

// acc_h = alpha_h · acc_h + Σ_j pb[h * ldp + j] · k_j for HG heads (acc rows D apart), 32
// elements of every head's row in registers at a time.
template<int HG>
FATHOM_FWD_AVX512_TARGET void pv_heads(
    float *acc, int D, const float *alpha, const float *pb, int ldp, const float *const *rows, int n)
{
    for (int e = 0; e < D; e += 32) {
        const __mmask16 m0 = lanes(D - e), m1 = lanes(D - e - 16 > 0 ? D - e - 16 : 0);
        __m512 c0[HG], c1[HG];
#pragma GCC unroll 8
        for (int h = 0; h < HG; ++h) {
            const __m512 a = _mm512_set1_ps(alpha[h]);
            c0[h] = _mm512_mul_ps(_mm512_maskz_loadu_ps(m0, acc + h * D + e), a);
            c1[h] = _mm512_mul_ps(_mm512_maskz_loadu_ps(m1, acc + h * D + e + 16), a);
        }
        for (int j = 0; j < n; ++j) {
            const __m512 v0 = _mm512_maskz_loadu_ps(m0, rows[j] + e);
            const __m512 v1 = _mm512_maskz_loadu_ps(m1, rows[j] + e + 16);
#pragma GCC unroll 8
            for (int h = 0; h < HG; ++h) {
                const __m512 b = _mm512_set1_ps(pb[h * ldp + j]);
                c0[h] = _mm512_fmadd_ps(b, v0, c0[h]);
                c1[h] = _mm512_fmadd_ps(b, v1, c1[h]);
            }
        }
#pragma GCC unroll 8
        for (int h = 0; h < HG; ++h) {
            _mm512_mask_storeu_ps(acc + h * D + e, m0, c0[h]);
            _mm512_mask_storeu_ps(acc + h * D + e + 16, m1, c1[h]);
        }
    }
}

// Heads in groups of 8, 4, 2, 1 (the register budget of the two loops above).
template<typename Fn>
void for_head_groups(int H, Fn &&fn)
{
    for (int h = 0; h < H;) {
        const int left = H - h;
        const int g = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
        fn(h, g);
        h += g;
    }
}

FATHOM_FWD_AVX512_TARGET void sparse_attn_fast_avx512(const SparseAttnParams &p)
{
    const int D = p.head_dim, H = p.n_heads, B = p.block;
    const int ldz = (B + 15) & ~15;
    std::vector<float> acc(static_cast<size_t>(H) * D), z(static_cast<size_t>(H) * ldz),
        pb(static_cast<size_t>(H) * ldz), m(H), denom(H), alpha(H);
    std::vector<const float *> rows(B);
    for (int t = 0; t < p.n_q; ++t) {
        const int32_t *idx = p.idx + static_cast<long>(t) * p.n_idx;
        const float *qt = p.q + static_cast<long>(t) * H * D;
        std::fill(m.begin(), m.end(), -std::numeric_limits<float>::infinity());
        std::fill(denom.begin(), denom.end(), 0.0f);
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int b0 = 0; b0 < p.n_idx; b0 += B) {
            const int b1 = std::min(p.n_idx, b0 + B);
            int n = 0;
            for (int i = b0; i < b1; ++i) {
                const int32_t r = idx[i];
                const float *k = nullptr;
                if (r >= 0 && r < p.n_kv)
                    k = p.kv + static_cast<long>(r) * D;
                else if (r >= p.n_kv && r - p.n_kv < p.n_kv_ext && p.kv_ext)
                    k = p.kv_ext + static_cast<long>(r - p.n_kv) * D;
                if (k)
                    rows[n++] = k;
            }
            if (n == 0)
                continue;
            for_head_groups(H, [&](int h, int g) {
                const float *q = qt + static_cast<long>(h) * D;
                float *zh = z.data() + static_cast<size_t>(h) * ldz;
                switch (g) {
                case 8:
                    scores_heads<8>(q, D, rows.data(), n, p.scale, zh, ldz);
                    break;
                case 4:
                    scores_heads<4>(q, D, rows.data(), n, p.scale, zh, ldz);
                    break;
                case 2:
                    scores_heads<2>(q, D, rows.data(), n, p.scale, zh, ldz);
                    break;
                default:
                    scores_heads<1>(q, D, rows.data(), n, p.scale, zh, ldz);
                    break;
                }
            });
            for (int h = 0; h < H; ++h) {
                const float *zh = z.data() + static_cast<size_t>(h) * ldz;
                float *ph = pb.data() + static_cast<size_t>(h) * ldz;
                __m512 vm = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
                for (int j = 0; j < n; j += 16)
                    vm = _mm512_max_ps(vm, _mm512_mask_loadu_ps(vm, lanes(n - j), zh + j));
                const float mNew = std::max(m[h], hmax_ps(vm));
                alpha[h] = std::isinf(m[h]) ? 0.0f : detail::exp_f32(m[h] - mNew);
                m[h] = mNew;
                const __m512 vmax = _mm512_set1_ps(mNew);
                __m512 vs = _mm512_setzero_ps();
                for (int j = 0; j < n; j += 16) {
                    const __mmask16 mk = lanes(n - j);
                    const __m512 e = detail::exp_ps(
                        _mm512_sub_ps(_mm512_maskz_loadu_ps(mk, zh + j), vmax));
                    vs = _mm512_mask_add_ps(vs, mk, vs, e);
                    _mm512_mask_storeu_ps(ph + j, mk, round_bf16_ps(e));
                }
                denom[h] = denom[h] * alpha[h] + hsum_ps(vs);
            }
            for_head_groups(H, [&](int h, int g) {
                float *a = acc.data() + static_cast<size_t>(h) * D;
                const float *ph = pb.data() + static_cast<size_t>(h) * ldz;
                switch (g) {
                case 8:
                    pv_heads<8>(a, D, alpha.data() + h, ph, ldz, rows.data(), n);
                    break;
                case 4:
                    pv_heads<4>(a, D, alpha.data() + h, ph, ldz, rows.data(), n);
                    break;
                case 2:
                    pv_heads<2>(a, D, alpha.data() + h, ph, ldz, rows.data(), n);
                    break;
                default:
                    pv_heads<1>(a, D, alpha.data() + h, ph, ldz, rows.data(), n);
                    break;
                }
            });
        }
        for (int h = 0; h < H; ++h) {
            float *o = p.out + (static_cast<long>(t) * H + h) * D;
            const float *a = acc.data() + static_cast<size_t>(h) * D;
            const float sinkTerm = std::isinf(m[h]) ? 1.0f : detail::exp_f32(p.sink[h] - m[h]);
            const float den = std::isinf(m[h]) ? 1.0f : denom[h] + sinkTerm;
            for (int e = 0; e < D; ++e)
                o[e] = round_bf16(a[e] / den);
        }
    }
}

} // namespace
#endif

Status sparse_attn_fast_cpu(const SparseAttnParams &p)
{
#if FATHOM_FWD_AVX512
    if (cpu_has_avx512()) {
        if (!p.q || !p.idx || !p.sink || !p.out || p.n_heads <= 0 || p.head_dim <= 0 || p.block <= 0
            || (p.n_kv > 0 && !p.kv))
            return Status::invalid("sparse_attn: bad arguments");
        sparse_attn_fast_avx512(p);
        return Status::success();
    }
#endif
    return sparse_attn_cpu(p);
}

} // namespace fathom::kernels
