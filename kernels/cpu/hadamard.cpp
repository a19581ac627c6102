// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kernels/hadamard.h"

#include "fwd_math.h"

namespace fathom::kernels {

Status hadamard_cpu(float *x, int rows, int n, float scale)
{
    if (!x || rows < 0 || n <= 0 || (n & (n - 1)))
        return Status::invalid("hadamard: n must be a power of two");
    for (int r = 0; r < rows; ++r) {
        float *v = x + static_cast<long>(r) * n;
        for (int h = 1; h < n; h *= 2) {
            for (int i = 0; i < n; i += 2 * h) {
                for (int j = i; j < i + h; ++j) {
                    const float a = v[j], b = v[j + h];
                    v[j] = a + b;
                    v[j + h] = a - b;
                }
            }
        }
        for (int i = 0; i < n; ++i)
            v[i] = detail::round_bf16(v[i] * scale);
    }
    return Status::success();
}

} // namespace fathom::kernels
