// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kernels/compressor.h"

#include "fwd_math.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace fathom::kernels {

Status compressor_pool_cpu(const CompressorPoolParams &p)
{
    return compressor_pool_range_cpu(p, 0, p.dc);
}

Status compressor_pool_range_cpu(const CompressorPoolParams &p, int e0, int e1)
{
    const bool ov = p.overlap == CompressorOverlap::Overlapped;
    if (!p.kv || !p.score || !p.out || p.ratio <= 0 || p.dc <= 0 || (!ov && p.prev_kv)
        || (p.prev_kv && !p.prev_score) || e0 < 0 || e1 < e0 || e1 > p.dc)
        return Status::invalid("compressor_pool: bad arguments");
    const int width = ov ? 2 * p.dc : p.dc;
    const int bOff = ov ? p.dc : 0;
    const int nSlots = (p.prev_kv ? 2 : 1) * p.ratio;
    std::vector<float> g(nSlots), a(nSlots);
    for (int e = e0; e < e1; ++e) {
        int k = 0;
        if (p.prev_kv) {
            for (int r = 0; r < p.ratio; ++r, ++k) {
                g[k] = p.prev_score[static_cast<long>(r) * width + e];
                a[k] = p.prev_kv[static_cast<long>(r) * width + e];
            }
        }
        for (int r = 0; r < p.ratio; ++r, ++k) {
            g[k] = p.score[static_cast<long>(r) * width + bOff + e];
            a[k] = p.kv[static_cast<long>(r) * width + bOff + e];
        }
        const float mx = *std::max_element(g.begin(), g.end());
        double s = 0.0;
        for (int i = 0; i < nSlots; ++i) {
            g[i] = detail::exp_f32(g[i] - mx);
            s += g[i];
        }
        const float sum = static_cast<float>(s);
        double acc = 0.0;
        for (int i = 0; i < nSlots; ++i)
            acc += static_cast<double>((g[i] / sum) * a[i]);
        p.out[e] = detail::round_bf16(static_cast<float>(acc));
    }
    return Status::success();
}

} // namespace fathom::kernels
