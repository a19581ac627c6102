// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kernels/rope.h"

#include "fwd_math.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace fathom::kernels {

Status rope_freqs_cpu(const RopeFreqParams &p, float *freqs)
{
    if (!freqs || p.rope_dim <= 0 || (p.rope_dim & 1))
        return Status::invalid("rope_freqs: rope_dim must be even and positive");
    const int half = p.rope_dim / 2;
    const float base = static_cast<float>(p.base);
    for (int j = 0; j < half; ++j) {
        const float e = static_cast<float>(2 * j) / static_cast<float>(p.rope_dim);
        const float pw = static_cast<float>(
            std::pow(static_cast<double>(base), static_cast<double>(e)));
        freqs[j] = 1.0f / pw;
    }
    if (p.yarn_factor > 1.0) {
        const double pi = 3.14159265358979323846;
        auto corrDim = [&](double rotations) {
            return p.rope_dim * std::log(p.original_seq_len / (rotations * 2 * pi))
                   / (2 * std::log(p.base));
        };
        double low = std::max(std::floor(corrDim(p.beta_fast)), 0.0);
        double high = std::min(std::ceil(corrDim(p.beta_slow)), static_cast<double>(p.rope_dim - 1));
        if (low == high)
            high += 0.001;
        const float factor = static_cast<float>(p.yarn_factor);
        for (int j = 0; j < half; ++j) {
            float ramp = (static_cast<float>(j) - static_cast<float>(low))
                         / static_cast<float>(high - low);
            ramp = std::clamp(ramp, 0.0f, 1.0f);
            const float smooth = 1.0f - ramp;
            const float a = (freqs[j] / factor) * (1.0f - smooth);
            const float b = freqs[j] * smooth;
            freqs[j] = a + b;
        }
    }
    return Status::success();
}

Status rope_cpu(const RopeParams &p)
{
    if (!p.x || !p.positions || !p.freqs || p.rope_dim <= 0 || (p.rope_dim & 1)
        || p.rows_per_position <= 0 || p.offset + p.rope_dim > p.row_stride)
        return Status::invalid("rope: bad arguments");
    const int half = p.rope_dim / 2;
    std::vector<float> cs(half), sn(half);
    int lastPos = -1;
    for (int r = 0; r < p.rows; ++r) {
        const int pos = p.positions[r / p.rows_per_position];
        if (pos != lastPos) {
            for (int j = 0; j < half; ++j) {
                const float angle = static_cast<float>(pos) * p.freqs[j];
                cs[j] = static_cast<float>(std::cos(static_cast<double>(angle)));
                sn[j] = static_cast<float>(std::sin(static_cast<double>(angle)));
                if (p.direction == RopeDirection::Inverse)
                    sn[j] = -sn[j];
            }
            lastPos = pos;
        }
        float *x = p.x + static_cast<long>(r) * p.row_stride + p.offset;
        for (int j = 0; j < half; ++j) {
            const float a = x[2 * j], b = x[2 * j + 1];
            const float ac = a * cs[j], bd = b * sn[j], ad = a * sn[j], bc = b * cs[j];
            x[2 * j] = round_bf16(ac - bd);
            x[2 * j + 1] = round_bf16(ad + bc);
        }
    }
    return Status::success();
}

} // namespace fathom::kernels
