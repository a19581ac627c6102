// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kernels/moe.h"

#include "kernels/indexer.h"

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

} // namespace fathom::kernels
