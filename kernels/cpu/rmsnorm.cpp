// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kernels/rmsnorm.h"

#include "fwd_math.h"

namespace fathom::kernels {

Status rmsnorm_cpu(const RmsNormParams &p)
{
    if (!p.x || !p.y || p.rows < 0 || p.dim <= 0)
        return Status::invalid("rmsnorm: bad arguments");
    const int xs = p.x_stride ? p.x_stride : p.dim;
    const int ys = p.y_stride ? p.y_stride : p.dim;
    for (int r = 0; r < p.rows; ++r) {
        const float *x = p.x + static_cast<long>(r) * xs;
        float *y = p.y + static_cast<long>(r) * ys;
        const double ss = detail::dot_f64(x, x, p.dim);
        const float var = static_cast<float>(ss / p.dim);
        const float rs = detail::rsqrt_f32(var + p.eps);
        for (int i = 0; i < p.dim; ++i) {
            const float n = x[i] * rs;
            y[i] = round_bf16(p.weight ? p.weight[i] * n : n);
        }
    }
    return Status::success();
}

Status head_rmsnorm_bf16_cpu(float *x, int rows, int dim, float eps)
{
    if (!x || rows < 0 || dim <= 0)
        return Status::invalid("head_rmsnorm_bf16: bad arguments");
    for (int r = 0; r < rows; ++r) {
        float *v = x + static_cast<long>(r) * dim;
        double s = 0.0;
        for (int i = 0; i < dim; ++i)
            s += round_bf16(v[i] * v[i]);
        const float mean = round_bf16(static_cast<float>(s / dim));
        const float var = round_bf16(mean + eps);
        const float rs = round_bf16(detail::rsqrt_f32(var));
        for (int i = 0; i < dim; ++i)
            v[i] = round_bf16(v[i] * rs);
    }
    return Status::success();
}

} // namespace fathom::kernels
