// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once
// The mHC pre's and post's block bodies (mhc.h; mhc.cu's launches), shared by mhc.cu and the
// cooperative GEMV chains' mHC phase (linear_gemv.cu, mhcchain: the post of one sublayer and the
// pre + RMSNorm of the next as a chain's phase 0). A block body takes its block's coordinates
// (t, r) as arguments, so a chain's virtual block runs exactly the launch's block. Any block
// size that is a multiple of 32, at least 256 (the RMSNorm's 256 threads' sums) and at most
// 1024; mhc.cu launches 512 threads, as the GEMV chains do.
#include "kernels/mhc.h"

#include "cuda_common.cuh"

namespace fathom::kernels::cuda {

constexpr int k_mhc_max_rows = 24; // (2 + n)·n for n = 4; n_hc <= 4 on the device

// Host: whether mhc_post_pre_norm_cuda takes these arguments (the pre reads the post's output;
// n_hc 1..4, d >= 25, a norm weight and counters); post_pre_block's blocks run on them.
inline bool post_pre_args_ok(const MhcPostParams &q,
                             const MhcPreParams &p,
                             const float *norm_weight,
                             const int *counters)
{
    return q.x && q.y && q.post && q.comb && q.out && q.n_hc == p.n_hc && q.d == p.d
           && q.tokens == p.tokens && q.out == p.x && q.x != q.out && norm_weight && counters && p.x
           && p.fn && p.base && p.scale && p.pre && p.post && p.comb && p.u && p.n_hc > 0
           && p.n_hc <= 4 && p.d >= k_mhc_max_rows + 1 && p.sinkhorn_iters >= 1 && p.tokens >= 0
           && p.tokens <= 0x7FFFFFFF;
}

// The streams a pre reads: token t's row of x in memory (StreamRows), or (PostedRows, nodes2)
// the previous sublayer's post computed where it is needed: mhc_post_kernel's value of the same
// element (post_value), so every block and the finish see the bits the post would have stored.
struct StreamRows
{
    const float *x;
    __device__ float operator()(int64_t t, int64_t width, int64_t i) const
    {
        return x[t * width + i];
    }
    // Stream j's element e (i = j·d + e).
    __device__ float at(int64_t t, int64_t width, int d, int j, int e) const
    {
        return x[t * width + static_cast<int64_t>(j) * d + e];
    }
};

// mhc_post_kernel's element (t, j, e): Σ_i C[i][j]·X[i] in double, no FMA, plus post_j·y.
__device__ inline float post_value(const MhcPostParams &p, int64_t t, int j, int e)
{
    const int n = p.n_hc;
    const float *x = p.x + t * n * p.d;
    const float *c = p.comb + t * n * n;
    double acc = 0.0;
    for (int i = 0; i < n; ++i)
        acc += static_cast<double>(__fmul_rn(c[i * n + j], x[static_cast<int64_t>(i) * p.d + e]));
    const float a = __fmul_rn(p.post[t * n + j], p.y[t * p.d + e]);
    return round_bf16(__fadd_rn(a, static_cast<float>(acc)));
}

struct PostedRows
{
    MhcPostParams q;
    __device__ float operator()(int64_t t, int64_t, int64_t i) const
    {
        return post_value(q, t, static_cast<int>(i / q.d), static_cast<int>(i % q.d));
    }
    __device__ float at(int64_t t, int64_t, int, int j, int e) const
    {
        return post_value(q, t, j, e);
    }
};

// PostedRows with 32-bit index arithmetic (i < width = n·d, an int): the same j and e.
struct PostedRows32
{
    MhcPostParams q;
    __device__ float operator()(int64_t t, int64_t, int64_t i) const
    {
        const unsigned k = static_cast<unsigned>(i), d = static_cast<unsigned>(q.d);
        return post_value(q, t, static_cast<int>(k / d), static_cast<int>(k % d));
    }
    __device__ float at(int64_t t, int64_t, int, int j, int e) const
    {
        return post_value(q, t, j, e);
    }
};

// Block (t, r): r < rows: fl32(φ_r·x̄_t); r == rows: fl32(Σx̄_t² / width). Written to u[t][r].
// Fast: 8 elements' loads (4 pairs) before their adds, in the pairs loop's order: acc0 and acc1
// take the same products in the same order as 4 turns of that loop.
template<bool Fast, typename Rows>
__device__ void dots_block(int t,
                           int r,
                           const Rows &xr,
                           const float *fn,
                           int rows,
                           int width,
                           float *u,
                           int d,
                           double *scratch)
{
    const bool sq = r >= rows;
    const float *f = sq ? nullptr : fn + static_cast<int64_t>(r) * width;
    double acc0 = 0.0, acc1 = 0.0;
    int i = threadIdx.x;
    if (Fast) {
        const int bd = static_cast<int>(blockDim.x);
        for (; i + 7 * bd < width; i += 8 * bd) {
            float xv[8], fv[8];
#pragma unroll
            for (int q = 0; q < 8; ++q) {
                xv[q] = xr(t, width, i + q * bd);
                fv[q] = sq ? xv[q] : f[i + q * bd];
            }
#pragma unroll
            for (int q = 0; q < 8; q += 2) {
                acc0 += static_cast<double>(fv[q]) * static_cast<double>(xv[q]);
                acc1 += static_cast<double>(fv[q + 1]) * static_cast<double>(xv[q + 1]);
            }
        }
    }
    for (; i + static_cast<int>(blockDim.x) < width; i += 2 * blockDim.x) {
        const float x0 = xr(t, width, i), x1 = xr(t, width, i + blockDim.x);
        acc0 += static_cast<double>(sq ? x0 : f[i]) * static_cast<double>(x0);
        acc1 += static_cast<double>(sq ? x1 : f[i + blockDim.x]) * static_cast<double>(x1);
    }
    for (; i < width; i += blockDim.x) {
        const float x0 = xr(t, width, i);
        acc0 += static_cast<double>(sq ? x0 : f[i]) * static_cast<double>(x0);
    }
    const double s = block_sum(acc0 + acc1, scratch);
    if (threadIdx.x == 0)
        u[static_cast<int64_t>(t) * d + r] = r < rows ? static_cast<float>(s)
                                                      : static_cast<float>(s / width);
}

// Fast: token 0's block (0, r < rows) asks L2 for φ's row r before FATHOM_PDL_WAIT() (a weight,
// which no kernel writes), a 16-byte-aligned piece per warp (lane 0), so the dots' φ loads find
// it there; nothing when the row is not 16-byte aligned.
__device__ inline void prefetch_fn_row(int t, int r, const float *fn, int rows, int width)
{
    if (t != 0 || r >= rows || (threadIdx.x & 31) != 0 || (width & 3) != 0)
        return;
    const auto *row = reinterpret_cast<const unsigned char *>(fn + static_cast<int64_t>(r) * width);
    if ((reinterpret_cast<uintptr_t>(row) & 15u) != 0)
        return;
    const uint32_t bytes = static_cast<uint32_t>(width) * 4u, warps = blockDim.x / 32u;
    const uint32_t chunk = (bytes / warps + 15u) & ~15u, b0 = (threadIdx.x / 32u) * chunk;
    if (b0 < bytes)
        prefetch_l2(row + b0, bytes - b0 < chunk ? bytes - b0 : chunk);
}

// Token t's scalar part (thread 0; Fast = 0): pre (into s_pre and pre_out), post and comb (the
// Sinkhorn iterations) from s_dots, as mhc_pre_cpu.
template<int Mode>
__device__ void mixes_thread0(int t,
                              const float *s_dots,
                              float *s_pre,
                              const float *base,
                              const float *scale,
                              float *pre_out,
                              float *post_out,
                              float *comb_out,
                              int n,
                              int iters,
                              float norm_eps,
                              float hc_eps)
{
    const int rows = Mode != 1 ? (2 + n) * n : n;
    const float rho = rsqrt_f32(__fadd_rn(s_dots[rows], norm_eps));
    float mu[k_mhc_max_rows];
    for (int r = 0; r < rows; ++r)
        mu[r] = __fmul_rn(s_dots[r], rho);
    for (int i = 0; i < n; ++i) {
        const float pre = __fadd_rn(sigmoid_f32(__fadd_rn(__fmul_rn(scale[0], mu[i]), base[i])),
                                    hc_eps);
        s_pre[i] = pre;
        if (Mode != 1) {
            pre_out[t * n + i] = pre;
            post_out[t * n + i] = 2.0f
                                  * sigmoid_f32(
                                      __fadd_rn(__fmul_rn(scale[1], mu[n + i]), base[n + i]));
        }
    }
    if (Mode != 1) {
        float c[16];
        for (int k = 0; k < n * n; ++k)
            c[k] = __fadd_rn(__fmul_rn(scale[2], mu[2 * n + k]), base[2 * n + k]);
        for (int i = 0; i < n; ++i) {
            float *row = c + i * n;
            float mx = row[0];
            for (int j = 1; j < n; ++j)
                mx = row[j] > mx ? row[j] : mx;
            double s = 0.0;
            for (int j = 0; j < n; ++j) {
                row[j] = exp_f32(__fsub_rn(row[j], mx));
                s += row[j];
            }
            const float sum = static_cast<float>(s);
            for (int j = 0; j < n; ++j)
                row[j] = __fadd_rn(__fdiv_rn(row[j], sum), hc_eps);
        }
        for (int it = 0; it < iters; ++it) {
            if (it > 0) {
                for (int i = 0; i < n; ++i) {
                    double s = 0.0;
                    for (int j = 0; j < n; ++j)
                        s += c[i * n + j];
                    const float den = __fadd_rn(static_cast<float>(s), hc_eps);
                    for (int j = 0; j < n; ++j)
                        c[i * n + j] = __fdiv_rn(c[i * n + j], den);
                }
            }
            for (int j = 0; j < n; ++j) {
                double s = 0.0;
                for (int i = 0; i < n; ++i)
                    s += c[i * n + j];
                const float den = __fadd_rn(static_cast<float>(s), hc_eps);
                for (int i = 0; i < n; ++i)
                    c[i * n + j] = __fdiv_rn(c[i * n + j], den);
            }
        }
        for (int k = 0; k < n * n; ++k)
            comb_out[t * n * n + k] = c[k];
    }
}

// mixes_thread0 by the block's first warp (all 32 lanes call it), n = N: lane i < N the pre
// sigmoid, lane N + i the post's, lane k < N·N comb entry k (row k / N, column k % N; the other
// lanes follow lane 0's values and store nothing). A row's (column's) max and double sum are
// formed by each lane of that row (column) from its entries, shuffled in, in mhc_pre_cpu's
// order (j = 0..N-1, i = 0..N-1); each lane then divides its own entry: every value the same
// operations on the same operands as thread 0's loops.
template<int Mode, int N>
__device__ void mixes_warp(int t,
                           const float *s_dots,
                           float *s_pre,
                           const float *base,
                           const float *scale,
                           float *pre_out,
                           float *post_out,
                           float *comb_out,
                           int iters,
                           float norm_eps,
                           float hc_eps)
{
    constexpr int rows = Mode != 1 ? (2 + N) * N : N, nn = N * N;
    constexpr unsigned all = 0xFFFFFFFFu;
    const int lane = static_cast<int>(threadIdx.x);
    const float rho = rsqrt_f32(__fadd_rn(s_dots[rows], norm_eps));
    if (lane < N) {
        const float mu = __fmul_rn(s_dots[lane], rho);
        const float pre = __fadd_rn(sigmoid_f32(__fadd_rn(__fmul_rn(scale[0], mu), base[lane])),
                                    hc_eps);
        s_pre[lane] = pre;
        if (Mode != 1)
            pre_out[t * N + lane] = pre;
    } else if (Mode != 1 && lane < 2 * N) {
        const int i = lane - N;
        const float mu = __fmul_rn(s_dots[N + i], rho);
        post_out[t * N + i] = 2.0f * sigmoid_f32(__fadd_rn(__fmul_rn(scale[1], mu), base[N + i]));
    }
    if (Mode == 1)
        return;
    const int k = lane < nn ? lane : 0;
    const int row0 = (k / N) * N, col = k % N;
    float c = __fadd_rn(__fmul_rn(scale[2], __fmul_rn(s_dots[2 * N + k], rho)), base[2 * N + k]);
    // Row softmax: max from the row's first entry on, exp, double sum, division.
    float mx = __shfl_sync(all, c, row0);
#pragma unroll
    for (int j = 1; j < N; ++j) {
        const float v = __shfl_sync(all, c, row0 + j);
        mx = v > mx ? v : mx;
    }
    c = exp_f32(__fsub_rn(c, mx));
    {
        double s = 0.0;
#pragma unroll
        for (int j = 0; j < N; ++j)
            s += __shfl_sync(all, c, row0 + j);
        const float sum = static_cast<float>(s);
        c = __fadd_rn(__fdiv_rn(c, sum), hc_eps);
    }
    for (int it = 0; it < iters; ++it) {
        if (it > 0) {
            double s = 0.0;
#pragma unroll
            for (int j = 0; j < N; ++j)
                s += __shfl_sync(all, c, row0 + j);
            const float den = __fadd_rn(static_cast<float>(s), hc_eps);
            c = __fdiv_rn(c, den);
        }
        double s = 0.0;
#pragma unroll
        for (int i = 0; i < N; ++i)
            s += __shfl_sync(all, c, i * N + col);
        const float den = __fadd_rn(static_cast<float>(s), hc_eps);
        c = __fdiv_rn(c, den);
    }
    if (lane < nn)
        comb_out[t * nn + lane] = c;
}

// Token t's finish (one block): s_dots holds its (2+n)·n (head: n) dots and Σx̄²/width.
// mode 0 = pre, 1 = head, 2 = pre then rmsnorm of u in place (norm_weight, rms_eps)
template<int Mode, bool Fast = false, typename Rows = StreamRows>
__device__ void finish_token(int t,
                             float *s_dots,
                             float *s_pre,
                             double *scratch,
                             const Rows &xr,
                             const float *base,
                             const float *scale,
                             float *pre_out,
                             float *post_out,
                             float *comb_out,
                             float *u_out,
                             int n,
                             int d,
                             int iters,
                             float norm_eps,
                             float hc_eps,
                             const float *norm_weight,
                             float rms_eps)
{
    const int64_t width = static_cast<int64_t>(n) * d;
    float *u = u_out + static_cast<int64_t>(t) * d;
    if (!Fast) {
        if (threadIdx.x == 0)
            mixes_thread0<Mode>(t,
                                s_dots,
                                s_pre,
                                base,
                                scale,
                                pre_out,
                                post_out,
                                comb_out,
                                n,
                                iters,
                                norm_eps,
                                hc_eps);
    } else if (threadIdx.x < 32) {
#define FATHOM_MHC_MIXES(N) \
    mixes_warp<Mode, N>( \
        t, s_dots, s_pre, base, scale, pre_out, post_out, comb_out, iters, norm_eps, hc_eps)
        switch (n) {
        case 1:
            FATHOM_MHC_MIXES(1);
            break;
        case 2:
            FATHOM_MHC_MIXES(2);
            break;
        case 3:
            FATHOM_MHC_MIXES(3);
            break;
        default:
            FATHOM_MHC_MIXES(4);
            break;
        }
#undef FATHOM_MHC_MIXES
    }
    __syncthreads();
    const int bd = static_cast<int>(blockDim.x);
    int e0 = threadIdx.x;
    if (Fast) {
        // 4 elements' n loads each before their sums (the stores to u after them).
        for (; e0 + 3 * bd < d; e0 += 4 * bd) {
            float xv[4][4];
#pragma unroll
            for (int q = 0; q < 4; ++q)
#pragma unroll
                for (int i = 0; i < 4; ++i)
                    if (i < n)
                        xv[q][i] = xr.at(t, width, d, i, e0 + q * bd);
#pragma unroll
            for (int q = 0; q < 4; ++q) {
                double a = 0.0;
#pragma unroll
                for (int i = 0; i < 4; ++i)
                    if (i < n)
                        a += static_cast<double>(__fmul_rn(s_pre[i], xv[q][i]));
                u[e0 + q * bd] = round_bf16(static_cast<float>(a));
            }
        }
    }
    for (int e = e0; e < d; e += bd) {
        double a = 0.0;
        for (int i = 0; i < n; ++i)
            a += static_cast<double>(
                __fmul_rn(s_pre[i], xr(t, width, static_cast<int64_t>(i) * d + e)));
        u[e] = round_bf16(static_cast<float>(a));
    }
    if (Mode == 2) {
        // rmsnorm_kernel on the block's u row: its 256 threads' strided sums (the others add
        // zeros, which leave block_sum's tree unchanged), then the same scaling.
        __syncthreads();
        double ss = 0.0;
        if (threadIdx.x < 256) {
            int e = threadIdx.x;
            if (Fast)
                for (; e + 3 * 256 < d; e += 4 * 256) {
                    double v[4];
#pragma unroll
                    for (int q = 0; q < 4; ++q)
                        v[q] = u[e + q * 256];
#pragma unroll
                    for (int q = 0; q < 4; ++q)
                        ss += v[q] * v[q];
                }
            for (; e < d; e += 256) {
                const double v = u[e];
                ss += v * v;
            }
        }
        ss = block_sum(ss, scratch);
        const float var = static_cast<float>(ss / d);
        const float rs = rsqrt_f32(__fadd_rn(var, rms_eps));
        __syncthreads(); // every thread has read u
        int e = threadIdx.x;
        if (Fast)
            for (; e + 3 * bd < d; e += 4 * bd) {
                float v[4], w[4];
#pragma unroll
                for (int q = 0; q < 4; ++q) {
                    v[q] = u[e + q * bd];
                    w[q] = norm_weight ? norm_weight[e + q * bd] : 1.0f;
                }
#pragma unroll
                for (int q = 0; q < 4; ++q) {
                    const float y = __fmul_rn(v[q], rs);
                    u[e + q * bd] = round_bf16(norm_weight ? __fmul_rn(w[q], y) : y);
                }
            }
        for (; e < d; e += bd) {
            const float y = __fmul_rn(u[e], rs);
            u[e] = round_bf16(norm_weight ? __fmul_rn(norm_weight[e], y) : y);
        }
    }
}

// dots and finish in one launch: every block (t, r) its dot as mhc_dots_kernel, then the last
// block of token t to finish (a counter per token, left at 0 again for the next launch or a
// graph replay) runs the token's finish as mhc_finish_kernel<2> does. The same bits, one node.
template<bool Fast, typename Rows>
__device__ void pre_fused_block(const Rows &xr,
                                const MhcPreParams &p,
                                const float *norm_weight,
                                float rms_eps,
                                int *counters,
                                int t,
                                int r)
{
    __shared__ double scratch[32];
    __shared__ float s_dots[k_mhc_max_rows + 1];
    __shared__ float s_pre[16];
    const int n = p.n_hc, rows = (2 + n) * n;
    dots_block<Fast>(t, r, xr, p.fn, rows, n * p.d, p.u, p.d, scratch);
    // The dot (thread 0's store) published; the token's last block (of rows + 1) reads them all.
    if (!arrive_last(counters + t, rows + 1))
        return;
    const float *u = p.u + static_cast<int64_t>(t) * p.d;
    if (threadIdx.x <= rows)
        s_dots[threadIdx.x] = load_cg(u + threadIdx.x);
    __syncthreads();
    finish_token<2, Fast>(t,
                          s_dots,
                          s_pre,
                          scratch,
                          xr,
                          p.base,
                          p.scale,
                          p.pre,
                          p.post,
                          p.comb,
                          p.u,
                          n,
                          p.d,
                          p.sinkhorn_iters,
                          p.norm_eps,
                          p.hc_eps,
                          norm_weight,
                          rms_eps);
}

// The post of sublayer i (q) and the pre + RMSNorm of sublayer i+1 (p, p.x == q.out), block
// (t, r) of mhc_post_pre_fused_kernel's grid (tokens, rows + 1): it stores its share of token t's
// q.out (the chunks r, r + rows + 1, ... of blockDim elements), then runs pre_fused_block on the
// post's values computed where they are read (PostedRows32 / PostedRows). Fast: 32-bit element
// indices (the width n·d is an int).
template<bool Fast>
__device__ void post_pre_block(const MhcPostParams &q,
                               const MhcPreParams &p,
                               const float *norm_weight,
                               float rms_eps,
                               int *counters,
                               int t,
                               int r)
{
    const int n = p.n_hc, rows = (2 + n) * n;
    const int64_t width = static_cast<int64_t>(n) * p.d;
    if constexpr (Fast) {
        float *out = q.out + t * width;
        const unsigned d = static_cast<unsigned>(q.d), w = static_cast<unsigned>(width),
                       step = static_cast<unsigned>(rows + 1) * blockDim.x;
        for (unsigned i = static_cast<unsigned>(r) * blockDim.x + threadIdx.x; i < w; i += step)
            out[i] = post_value(q, t, static_cast<int>(i / d), static_cast<int>(i % d));
        pre_fused_block<Fast>(PostedRows32{q}, p, norm_weight, rms_eps, counters, t, r);
    } else {
        for (int64_t i = static_cast<int64_t>(r) * blockDim.x + threadIdx.x; i < width;
             i += static_cast<int64_t>(rows + 1) * blockDim.x)
            q.out[t * width + i] = post_value(q,
                                              t,
                                              static_cast<int>(i / q.d),
                                              static_cast<int>(i % q.d));
        pre_fused_block<Fast>(PostedRows{q}, p, norm_weight, rms_eps, counters, t, r);
    }
}

} // namespace fathom::kernels::cuda
