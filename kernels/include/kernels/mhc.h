// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Manifold-constrained hyper-connections (spec §3.2-§3.3), per token with n_hc streams of width d:

  mhc_pre:  x̄ = concat(X[0..n_hc)) in fp32, ρ = rsqrt(mean(x̄²) + norm_eps), μ = (φ·x̄)·ρ,
            pre_i = sigmoid(α0 μ_i + b_i) + hc_eps, post_i = 2 sigmoid(α1 μ_{n+i} + b_{n+i}),
            C̃[i][j] = α2 μ_{2n+n i+j} + b_{2n+n i+j}; Sinkhorn: C = rowsoftmax(C̃) + hc_eps,
            C /= colsum + hc_eps, then (iters − 1) × (rows, columns) normalisations;
            u = bf16(Σ_i pre_i X[i]).
  mhc_post: X'[j] = bf16(post_j · y + Σ_i C[i][j] X[i])  (C row = input stream, column = output).
  mhc_head: pre_i = sigmoid(α μ_i + b_i) + hc_eps (φ has n_hc rows), u = bf16(Σ pre_i X[i]).

  With a pool, the rows of φ·x̄ and the d elements of u / X' are shared out inside each token (for
  a decode step; several tokens are better split over tokens by the caller). The bits do not
  depend on the pool.
*/

#include "kernels/parallel.h"
#include "kernels/status.h"

#include <cstdint>

namespace fathom::kernels {

struct MhcPreParams
{
    const float *x = nullptr;     // [tokens, n_hc, d] bf16-valued streams
    const float *fn = nullptr;    // [(2 + n_hc) * n_hc, n_hc * d] fp32 (hc_*_fn)
    const float *base = nullptr;  // [(2 + n_hc) * n_hc] fp32
    const float *scale = nullptr; // [3] fp32
    float *pre = nullptr;         // [tokens, n_hc] fp32
    float *post = nullptr;        // [tokens, n_hc] fp32
    float *comb = nullptr;        // [tokens, n_hc, n_hc] fp32, row i = input stream
    float *u = nullptr;           // [tokens, d] bf16-valued collapsed input of the sublayer
    int tokens = 0;
    int n_hc = 4;
    int d = 0;
    int sinkhorn_iters = 20;
    float norm_eps = 1e-6f;
    float hc_eps = 1e-6f;
    // Non-exact mode (CpuExecutor without exact linears): φ·x̄ and mean(x̄²) summed in fp32 in
    // any order (AVX-512); everything after μ unchanged.
    bool fp32_sums = false;
    uint8_t pad_[7]
        = {}; // explicit padding: launch parameters carry no stack bytes (params_padding.cpp)
};

Status mhc_pre_cpu(const MhcPreParams &p, parallel_runner *pool = nullptr);

struct MhcPostParams
{
    const float *x = nullptr;    // [tokens, n_hc, d] bf16-valued streams entering the sublayer
    const float *y = nullptr;    // [tokens, d] bf16-valued sublayer output
    const float *post = nullptr; // [tokens, n_hc]
    const float *comb = nullptr; // [tokens, n_hc, n_hc]
    float *out = nullptr;        // [tokens, n_hc, d] bf16-valued; must not alias x
    int tokens = 0;
    int n_hc = 4;
    int d = 0;
    int32_t pad_ = 0; // explicit padding: launch parameters carry no stack bytes (params_padding.cpp)
};

Status mhc_post_cpu(const MhcPostParams &p, parallel_runner *pool = nullptr);

struct MhcHeadParams
{
    const float *x = nullptr;     // [tokens, n_hc, d] bf16-valued
    const float *fn = nullptr;    // [n_hc, n_hc * d] fp32 (hc_head_fn)
    const float *base = nullptr;  // [n_hc]
    const float *scale = nullptr; // [1]
    float *u = nullptr;           // [tokens, d] bf16-valued
    int tokens = 0;
    int n_hc = 4;
    int d = 0;
    float norm_eps = 1e-6f;
    float hc_eps = 1e-6f;
    bool fp32_sums = false; // as in MhcPreParams
    uint8_t pad_[3] = {};   // explicit padding (params_padding.cpp)
};

Status mhc_head_cpu(const MhcHeadParams &p, parallel_runner *pool = nullptr);

} // namespace fathom::kernels
