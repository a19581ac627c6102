// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kernels/moe.h"

#include "kernels/indexer.h"

#include "fwd_avx512.h"
#include "fwd_math.h"

#include <algorithm>
#include <vector>

namespace fathom::kernels {

Status moe_route_cpu(const MoeRouteParams &p)
{
    if (!p.logits || !p.ids || !p.weights || p.n_experts <= 0 || p.topk <= 0 || p.topk > p.n_experts)
        return Status::invalid("moe_route: bad arguments");
    std::vector<float> s(p.n_experts), sel(p.n_experts);
    for (int t = 0; t < p.tokens; ++t) {
        const float *l = p.logits + static_cast<long>(t) * p.n_experts;
        for (int e = 0; e < p.n_experts; ++e) {
            s[e] = detail::sqrt_f32(detail::softplus_f32(l[e]));
            sel[e] = p.bias ? s[e] + p.bias[e] : s[e];
        }
        if (p.select_scores)
            std::copy(sel.begin(), sel.end(), p.select_scores + static_cast<long>(t) * p.n_experts);
        int32_t *ids = p.ids + static_cast<long>(t) * p.topk;
        if (p.forced_ids) {
            const int32_t *f = p.forced_ids + static_cast<long>(t) * p.topk;
            for (int j = 0; j < p.topk; ++j) {
                if (f[j] < 0 || f[j] >= p.n_experts)
                    return Status::invalid("moe_route: forced expert id out of range");
                ids[j] = f[j];
            }
        } else if (Status st = topk_cpu(sel.data(), p.n_experts, p.topk, ids); !st.ok()) {
            return st;
        }
        double sum = 0.0;
        for (int j = 0; j < p.topk; ++j)
            sum += s[ids[j]];
        const float den = static_cast<float>(sum);
        float *w = p.weights + static_cast<long>(t) * p.topk;
        for (int j = 0; j < p.topk; ++j)
            w[j] = (s[ids[j]] / den) * p.route_scale;
    }
    return Status::success();
}

Status swiglu_cpu(const SwigluParams &p)
{
    if (!p.gate || !p.up || !p.out || p.rows < 0 || p.inter <= 0)
        return Status::invalid("swiglu: bad arguments");
    for (int r = 0; r < p.rows; ++r) {
        const float *g = p.gate + static_cast<long>(r) * p.inter;
        const float *u = p.up + static_cast<long>(r) * p.inter;
        float *o = p.out + static_cast<long>(r) * p.inter;
        const float w = p.row_weights ? p.row_weights[r] : 1.0f;
        for (int i = 0; i < p.inter; ++i) {
            float gv = g[i], uv = u[i];
            if (p.limit > 0) {
                gv = std::min(gv, p.limit);
                uv = std::clamp(uv, -p.limit, p.limit);
            }
            float h = detail::silu_f32(gv) * uv;
            if (p.row_weights)
                h = h * w;
            o[i] = detail::round_bf16(h);
        }
    }
    return Status::success();
}

#if FATHOM_FWD_AVX512
namespace {

FATHOM_FWD_AVX512_TARGET void swiglu_fast_avx512(const SwigluParams &p)
{
    const bool clamp = p.limit > 0;
    const __m512 lim = _mm512_set1_ps(p.limit), nlim = _mm512_set1_ps(-p.limit);
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int r = 0; r < p.rows; ++r) {
        const float *g = p.gate + static_cast<long>(r) * p.inter;
        const float *u = p.up + static_cast<long>(r) * p.inter;
        float *o = p.out + static_cast<long>(r) * p.inter;
        const __m512 w = _mm512_set1_ps(p.row_weights ? p.row_weights[r] : 1.0f);
        for (int i = 0; i < p.inter; i += 16) {
            const __mmask16 mk = detail::lanes16(p.inter - i);
            __m512 gv = _mm512_maskz_loadu_ps(mk, g + i), uv = _mm512_maskz_loadu_ps(mk, u + i);
            if (clamp) {
                gv = _mm512_min_ps(gv, lim);
                uv = _mm512_max_ps(_mm512_min_ps(uv, lim), nlim);
            }
            const __m512 e = detail::exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), gv));
            __m512 h = _mm512_mul_ps(_mm512_div_ps(gv, _mm512_add_ps(one, e)), uv);
            if (p.row_weights)
                h = _mm512_mul_ps(h, w);
            _mm512_mask_storeu_ps(o + i, mk, detail::round_bf16_ps(h));
        }
    }
}

} // namespace
#endif

Status swiglu_fast_cpu(const SwigluParams &p)
{
#if FATHOM_FWD_AVX512
    if (cpu_has_avx512()) {
        if (!p.gate || !p.up || !p.out || p.rows < 0 || p.inter <= 0)
            return Status::invalid("swiglu: bad arguments");
        swiglu_fast_avx512(p);
        return Status::success();
    }
#endif
    return swiglu_cpu(p);
}

} // namespace fathom::kernels
