// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  Manifold-constrained hyper-connections (mhc.h): pre (mixes + Sinkhorn + collapse, fused), post
  (stream mixing) and head (collapse for the final norm).

  pre/head run as two kernels per call:
  1. dots: one block per (token, φ row) and one per token for Σx̄², each a block reduction in
     double (exact products, as dot_f64) rounded once to fp32 — (2+n)·n + 1 blocks per token, so a
     decode step streams φ (1.5 MiB for V4-Flash) with 25 SMs instead of one. The fp32 results
     (fl32(φ_r·x̄) and fl32(Σx̄²/width), exactly what the CPU keeps) are parked in the first 25
     floats of the token's u row, which the second kernel overwrites last.
  2. finish: one block per token; the scalar part (sigmoids, row softmax, Sinkhorn iterations)
     as mhc_pre_cpu, then the block forms u = bf16(Σ_i pre_i·X[i]).
  post: one thread per output element, Σ_i C[i][j]·X[i] in double as the CPU, no FMA.

  Latency (session 12, FATHOM_CUDA_MHC_FAST, default 1; 0: the previous code, for device A/B):
  the scalar part by one warp (lane k holds comb entry k; a row's or a column's double sum is
  formed by every lane of it from shuffled entries in mhc_pre_cpu's order, then each lane divides
  its own entry) instead of thread 0 on a local-memory array; the dots and u's loop with 8 / 4
  elements' loads issued before their adds (the adds in the same order); the streams' element
  (j, e) of PostedRows without 64-bit divisions. The same operations on the same values in the
  same order: the same bits (tst_cuda_ops compares both settings bit for bit).

  The block bodies (dots, finish, the fused pre and post + pre) are in mhc_block.cuh, shared
  with the cooperative GEMV chains' mHC phase (linear_gemv.cu, mhcchain).
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"
#include "mhc_block.cuh"

#include <atomic>

namespace fathom::kernels {

namespace {

constexpr int k_threads = 512;
constexpr int k_max_rows = cuda::k_mhc_max_rows;

using namespace cuda; // mhc_block.cuh

// RowsFastest (Fast, prefill sizes): the grid is (rows + 1, tokens), so the hardware's block order
// runs a token's rows + 1 blocks together and its x row (64 KiB for V4-Flash) comes from DRAM
// once, the other blocks finding it in L2; with (tokens, rows + 1) each of the rows + 1 passes
// over the tokens streamed every x row again (25 x the bytes: ~13 GB for an 8K chunk).
template<bool Fast, bool RowsFastest>
__global__ void __launch_bounds__(k_threads)
    mhc_dots_kernel(const float *xall, const float *fn, int rows, int width, float *u, int d)
{
    const int t = RowsFastest ? blockIdx.y : blockIdx.x, r = RowsFastest ? blockIdx.x : blockIdx.y;
    if (Fast)
        prefetch_fn_row(t, r, fn, rows, width);
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    __shared__ double scratch[32];
    dots_block<Fast>(t, r, StreamRows{xall}, fn, rows, width, u, d, scratch);
}

// prefillother (session 15, FATHOM_CUDA_MHC_TILE): the dots of T consecutive tokens in one block
// (prefill sizes). The (rows + 1, tokens) grid reads a token's x row (64 KiB for V4-Flash) and a
// φ row (64 KiB) per block: 25 x 128 KiB from L2 per token, ~26 GB an 8K call. Here a block
// stages its T tokens' x rows in shared memory once (from DRAM) and streams each φ row once for
// the T of them: ~1.5 MiB / T of φ per token (~4.3 GB an 8K call at T = 3). Per (token, row) the
// same loops as dots_block<true> (thread i takes elements i + k·blockDim, 8 at a time into acc0 /
// acc1 in that order, then the pairs and the tail) and block_sum's tree (each warp's warp_sum,
// then lane 0 of warp k sums warp k's token's 16 warp values as block_sum's lanes do): the same
// bits. The x rows are staged with 16-byte copies where aligned (one barrier before the dots).
constexpr int k_tile_min_tokens = 256; // fewer tokens: the (rows + 1, tokens) grid (more blocks)

template<int T>
__device__ inline void tile_partials(
    const float *sx, int nt, const float *f, int width, double (&part)[T])
{
    double acc0[T], acc1[T];
#pragma unroll
    for (int k = 0; k < T; ++k)
        acc0[k] = acc1[k] = 0.0;
    const int bd = static_cast<int>(blockDim.x);
    int i = threadIdx.x;
#pragma unroll 2
    for (; i + 7 * bd < width; i += 8 * bd) {
        float fv[8];
#pragma unroll
        for (int q = 0; q < 8; ++q)
            fv[q] = f ? f[i + q * bd] : 0.0f;
#pragma unroll
        for (int k = 0; k < T; ++k) {
            if (k >= nt)
                break;
            const float *xs = sx + static_cast<int64_t>(k) * width;
            float xv[8];
#pragma unroll
            for (int q = 0; q < 8; ++q)
                xv[q] = xs[i + q * bd];
#pragma unroll
            for (int q = 0; q < 8; q += 2) {
                acc0[k] += static_cast<double>(f ? fv[q] : xv[q]) * static_cast<double>(xv[q]);
                acc1[k] += static_cast<double>(f ? fv[q + 1] : xv[q + 1])
                           * static_cast<double>(xv[q + 1]);
            }
        }
    }
    for (; i + bd < width; i += 2 * bd) {
        const float f0 = f ? f[i] : 0.0f, f1 = f ? f[i + bd] : 0.0f;
#pragma unroll
        for (int k = 0; k < T; ++k) {
            if (k >= nt)
                break;
            const float *xs = sx + static_cast<int64_t>(k) * width;
            const float x0 = xs[i], x1 = xs[i + bd];
            acc0[k] += static_cast<double>(f ? f0 : x0) * static_cast<double>(x0);
            acc1[k] += static_cast<double>(f ? f1 : x1) * static_cast<double>(x1);
        }
    }
    for (; i < width; i += bd) {
        const float f0 = f ? f[i] : 0.0f;
#pragma unroll
        for (int k = 0; k < T; ++k) {
            if (k >= nt)
                break;
            const float x0 = sx[static_cast<int64_t>(k) * width + i];
            acc0[k] += static_cast<double>(f ? f0 : x0) * static_cast<double>(x0);
        }
    }
#pragma unroll
    for (int k = 0; k < T; ++k)
        part[k] = acc0[k] + acc1[k];
}

template<int T>
__global__ void __launch_bounds__(k_threads) mhc_dots_tile_kernel(
    const float *xall, const float *fn, int rows, int width, float *u, int d, int tokens)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(float, sx);
    __shared__ double scratch[2][T][32];
    const int t0 = blockIdx.x * T;
    const int nt = tokens - t0 < T ? tokens - t0 : T;
    const float *src = xall + static_cast<int64_t>(t0) * width;
    const int n = nt * width; // the tile's rows are consecutive in x and in sx
    if ((n & 3) == 0 && (reinterpret_cast<uintptr_t>(src) & 15u) == 0) {
        // 16-byte copies, 4 in flight a thread; then every thread reads what others stored.
        const float4 *s4 = reinterpret_cast<const float4 *>(src);
        float4 *d4 = reinterpret_cast<float4 *>(sx);
#pragma unroll 4
        for (int i = threadIdx.x; i < n / 4; i += blockDim.x)
            d4[i] = s4[i];
        __syncthreads();
    } else {
        for (int i = threadIdx.x; i < n; i += blockDim.x)
            sx[i] = src[i];
        __syncthreads();
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int nwarps = (blockDim.x + 31) >> 5;
    for (int r = 0; r <= rows; ++r) {
        double part[T];
        tile_partials<T>(sx,
                         nt,
                         r < rows ? fn + static_cast<int64_t>(r) * width : nullptr,
                         width,
                         part);
        double(*sc)[32] = scratch[r & 1]; // read after this barrier, rewritten after the next
#pragma unroll
        for (int k = 0; k < T; ++k) {
            const double v = cuda::warp_sum(part[k]);
            if (lane == 0)
                sc[k][warp] = v;
        }
        __syncthreads();
        if (warp < nt) {
            const double s = cuda::warp_sum(lane < nwarps ? sc[warp][lane] : 0.0);
            if (lane == 0)
                u[static_cast<int64_t>(t0 + warp) * d + r] = r < rows
                                                                 ? static_cast<float>(s)
                                                                 : static_cast<float>(s / width);
        }
    }
}

// FATHOM_CUDA_MHC_TILE (read once; unset or anything but 0 and 2: on): the tiled dots above at
// >= k_tile_min_tokens tokens (with the fast code only); 2 (tests): at any token count.
std::atomic<int> g_mhc_tile{-1}; // -1: not read yet

int mhc_tile()
{
    int tile = g_mhc_tile.load(std::memory_order_relaxed);
    if (tile < 0) {
        const char *env = std::getenv("FATHOM_CUDA_MHC_TILE");
        tile = env && std::strcmp(env, "2") == 0 ? 2 : cuda::env_switch_on("FATHOM_CUDA_MHC_TILE");
        g_mhc_tile.store(tile, std::memory_order_relaxed);
    }
    return tile;
}

// The tokens a tiled block takes for rows of `width` floats (0: the tile does not fit): 3 where
// three x rows fit in the device's opt-in shared memory (V4-Flash: 192 KiB of 227), else fewer.
int tile_tokens(int width)
{
    constexpr int k_devices = 64;
    static int cache[k_devices] = {}; // benign race: every thread computes the same value
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= k_devices)
        return 0;
    if (cache[dev] == 0) {
        int optin = 0;
        if (cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev)
                != cudaSuccess
            || optin < 48 * 1024)
            optin = 48 * 1024;
        cache[dev] = optin - 4 * 1024; // the static scratch (1.5 KiB) and headroom
    }
    const int64_t row = static_cast<int64_t>(width) * 4;
    for (int t = 3; t >= 1; --t)
        if (t * row <= cache[dev])
            return t;
    return 0;
}

// False (nothing launched, no error left behind) where the shared memory cannot be had.
template<int T>
bool launch_dots_tile(const float *x,
                      const float *fn,
                      int rows,
                      int width,
                      float *u,
                      int d,
                      int tokens,
                      CUstream_st *stream)
{
    const size_t smem = static_cast<size_t>(T) * width * sizeof(float);
    if (cuda::allow_smem(mhc_dots_tile_kernel<T>, smem) != cudaSuccess) {
        cudaGetLastError();
        return false;
    }
    FATHOM_LAUNCH((tokens + T - 1) / T, k_threads, smem, stream, mhc_dots_tile_kernel<T>)
    (x, fn, rows, width, u, d, tokens);
    return true;
}

// The dots launch of a pre or head: rows + 1 blocks a token, in the order above (or tiled).
Status launch_dots(const float *x,
                   const float *fn,
                   int rows,
                   int width,
                   float *u,
                   int d,
                   int tokens,
                   bool fast,
                   CUstream_st *stream)
{
    const int tile = fast ? mhc_tile() : 0;
    if (tile != 0 && (tokens >= k_tile_min_tokens || tile == 2)) {
        const int t = tile_tokens(width);
        if ((t == 3 && launch_dots_tile<3>(x, fn, rows, width, u, d, tokens, stream))
            || (t == 2 && launch_dots_tile<2>(x, fn, rows, width, u, d, tokens, stream))
            || (t == 1 && launch_dots_tile<1>(x, fn, rows, width, u, d, tokens, stream)))
            return cuda::launch_status();
    }
    if (fast && tokens <= 65535) {
        FATHOM_LAUNCH(dim3(rows + 1, tokens), k_threads, 0, stream, mhc_dots_kernel<true, true>)
        (x, fn, rows, width, u, d);
    } else {
        auto *dots = fast ? mhc_dots_kernel<true, false> : mhc_dots_kernel<false, false>;
        FATHOM_LAUNCH(dim3(tokens, rows + 1), k_threads, 0, stream, dots)
        (x, fn, rows, width, u, d);
    }
    return cuda::launch_status();
}

template<int Mode, bool Fast>
__global__ void __launch_bounds__(k_threads) mhc_finish_kernel(const float *xall,
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
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    __shared__ float s_dots[k_max_rows + 1];
    __shared__ float s_pre[16];
    __shared__ double scratch[32];
    const int t = blockIdx.x;
    const int rows = Mode != 1 ? (2 + n) * n : n;
    const float *u = u_out + static_cast<int64_t>(t) * d;
    if (threadIdx.x <= rows)
        s_dots[threadIdx.x] = u[threadIdx.x];
    __syncthreads();
    finish_token<Mode, Fast>(t,
                             s_dots,
                             s_pre,
                             scratch,
                             StreamRows{xall},
                             base,
                             scale,
                             pre_out,
                             post_out,
                             comb_out,
                             u_out,
                             n,
                             d,
                             iters,
                             norm_eps,
                             hc_eps,
                             norm_weight,
                             rms_eps);
}

template<bool Fast>
__global__ void __launch_bounds__(k_threads)
    mhc_pre_fused_kernel(MhcPreParams p, const float *norm_weight, float rms_eps, int *counters)
{
    if (Fast)
        prefetch_fn_row(blockIdx.x, blockIdx.y, p.fn, (2 + p.n_hc) * p.n_hc, p.n_hc * p.d);
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    pre_fused_block<Fast>(StreamRows{p.x},
                          p,
                          norm_weight,
                          rms_eps,
                          counters,
                          static_cast<int>(blockIdx.x),
                          static_cast<int>(blockIdx.y));
}

// nodes2: the post of sublayer i (q) and the pre + RMSNorm of sublayer i+1 (p, p.x == q.out) in
// one launch. Every block computes the post's values of its token where it reads them (the
// dots, and the last block's u), so no block reads another's stores of q.out; the blocks of a
// token store q.out between them (block r the chunks r, r + rows + 1, ... of blockDim
// elements) for the next sublayer's post and the residual. The hand-off of the dots is
// pre_fused_block's (fence, per-token counter), unchanged. Fast: 32-bit element indices (the
// width n·d is an int: launch_pre's dots take it as one).
template<bool Fast>
__global__ void __launch_bounds__(k_threads) mhc_post_pre_fused_kernel(
    MhcPostParams q, MhcPreParams p, const float *norm_weight, float rms_eps, int *counters)
{
    if (Fast)
        prefetch_fn_row(blockIdx.x, blockIdx.y, p.fn, (2 + p.n_hc) * p.n_hc, p.n_hc * p.d);
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    post_pre_block<Fast>(q,
                         p,
                         norm_weight,
                         rms_eps,
                         counters,
                         static_cast<int>(blockIdx.x),
                         static_cast<int>(blockIdx.y));
}

__global__ void mhc_post_kernel(MhcPostParams p)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const int n = p.n_hc;
    const int64_t total = static_cast<int64_t>(p.tokens) * n * p.d;
    const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (tid >= total)
        return;
    const int e = static_cast<int>(tid % p.d);
    const int j = static_cast<int>((tid / p.d) % n);
    const int64_t t = tid / (static_cast<int64_t>(p.d) * n);
    p.out[tid] = post_value(p, t, j, e);
}

// FATHOM_CUDA_MHC_FAST (read once; unset or anything but 0: on): the latency-cut code above,
// or (0) the previous code, for a device A/B; the same bits either way. A test may override it
// (mhc_cuda_set_fast).
std::atomic<int> g_mhc_fast{-1}; // -1: not read yet

bool mhc_fast()
{
    int fast = g_mhc_fast.load(std::memory_order_relaxed);
    if (fast < 0) {
        fast = cuda::env_switch_on("FATHOM_CUDA_MHC_FAST") ? 1 : 0;
        g_mhc_fast.store(fast, std::memory_order_relaxed);
    }
    return fast != 0;
}

// The pre of a sublayer: dots, then the finish (with the sublayer's RMSNorm of u when
// norm_weight is set); with counters (zeroed, one per token) both in one launch.
Status launch_pre(const MhcPreParams &p,
                  const char *bad_arguments, // the error's text (a literal: Status keeps it)
                  const float *norm_weight,
                  float norm_eps,
                  int *counters,
                  CUstream_st *stream)
{
    if (!p.x || !p.fn || !p.base || !p.scale || !p.pre || !p.post || !p.comb || !p.u || p.n_hc <= 0
        || p.n_hc > 4 || p.d < k_max_rows + 1 || p.sinkhorn_iters < 1 || p.tokens < 0
        || p.tokens > 0x7FFFFFFF)
        return Status::invalid(bad_arguments);
    if (p.tokens == 0)
        return Status::success();
    const int rows = (2 + p.n_hc) * p.n_hc;
    const bool fast = mhc_fast();
    if (counters) {
        auto *fused = fast ? mhc_pre_fused_kernel<true> : mhc_pre_fused_kernel<false>;
        FATHOM_LAUNCH(dim3(p.tokens, rows + 1), k_threads, 0, stream, fused)
        (p, norm_weight, norm_eps, counters);
        return cuda::launch_status();
    }
    if (Status st = launch_dots(p.x, p.fn, rows, p.n_hc * p.d, p.u, p.d, p.tokens, fast, stream);
        !st.ok())
        return st;
    auto *finish = norm_weight ? (fast ? mhc_finish_kernel<2, true> : mhc_finish_kernel<2, false>)
                               : (fast ? mhc_finish_kernel<0, true> : mhc_finish_kernel<0, false>);
    FATHOM_LAUNCH(p.tokens, k_threads, 0, stream, finish)
    (p.x,
     p.base,
     p.scale,
     p.pre,
     p.post,
     p.comb,
     p.u,
     p.n_hc,
     p.d,
     p.sinkhorn_iters,
     p.norm_eps,
     p.hc_eps,
     norm_weight,
     norm_eps);
    return cuda::launch_status();
}

} // namespace

void mhc_cuda_set_fast(int fast)
{
    g_mhc_fast.store(fast < 0 ? -1 : (fast != 0 ? 1 : 0), std::memory_order_relaxed);
}

void mhc_cuda_set_tile(int tile)
{
    g_mhc_tile.store(tile < 0 ? -1 : (tile > 2 ? 2 : tile), std::memory_order_relaxed);
}

Status mhc_pre_cuda(const MhcPreParams &p, CUstream_st *stream)
{
    return launch_pre(p,
                      "mhc_pre_cuda: bad arguments (n_hc 1..4, d >= 25)",
                      nullptr,
                      0.0f,
                      nullptr,
                      stream);
}

Status mhc_pre_norm_cuda(const MhcPreParams &p,
                         const float *norm_weight,
                         float norm_eps,
                         int *counters,
                         CUstream_st *stream)
{
    if (!norm_weight)
        return Status::invalid("mhc_pre_norm_cuda: no norm weight");
    return launch_pre(p,
                      "mhc_pre_norm_cuda: bad arguments (n_hc 1..4, d >= 25)",
                      norm_weight,
                      norm_eps,
                      counters,
                      stream);
}

Status mhc_head_cuda(const MhcHeadParams &p, CUstream_st *stream)
{
    if (!p.x || !p.fn || !p.base || !p.scale || !p.u || p.n_hc <= 0 || p.n_hc > 4
        || p.d < p.n_hc + 1 || p.tokens < 0)
        return Status::invalid("mhc_head_cuda: bad arguments (n_hc 1..4)");
    if (p.tokens == 0)
        return Status::success();
    const bool fast = mhc_fast();
    if (Status st = launch_dots(p.x, p.fn, p.n_hc, p.n_hc * p.d, p.u, p.d, p.tokens, fast, stream);
        !st.ok())
        return st;
    auto *finish = fast ? mhc_finish_kernel<1, true> : mhc_finish_kernel<1, false>;
    FATHOM_LAUNCH(p.tokens, k_threads, 0, stream, finish)
    (p.x,
     p.base,
     p.scale,
     nullptr,
     nullptr,
     nullptr,
     p.u,
     p.n_hc,
     p.d,
     1,
     p.norm_eps,
     p.hc_eps,
     nullptr,
     0.0f);
    return cuda::launch_status();
}

Status mhc_post_pre_norm_cuda(const MhcPostParams &q,
                              const MhcPreParams &p,
                              const float *norm_weight,
                              float norm_eps,
                              int *counters,
                              CUstream_st *stream)
{
    if (!post_pre_args_ok(q, p, norm_weight, counters))
        return Status::invalid("mhc_post_pre_norm_cuda: bad arguments (the pre reads the post's "
                               "output; n_hc 1..4, d >= 25; norm weight and counters required)");
    if (p.tokens == 0)
        return Status::success();
    const int rows = (2 + p.n_hc) * p.n_hc;
    auto *fused = mhc_fast() ? mhc_post_pre_fused_kernel<true> : mhc_post_pre_fused_kernel<false>;
    FATHOM_LAUNCH(dim3(p.tokens, rows + 1), k_threads, 0, stream, fused)
    (q, p, norm_weight, norm_eps, counters);
    return cuda::launch_status();
}

Status mhc_post_cuda(const MhcPostParams &p, CUstream_st *stream)
{
    if (!p.x || !p.y || !p.post || !p.comb || !p.out || p.n_hc <= 0 || p.d <= 0 || p.tokens < 0)
        return Status::invalid("mhc_post_cuda: bad arguments");
    if (p.tokens == 0)
        return Status::success();
    const long long total = static_cast<long long>(p.tokens) * p.n_hc * p.d;
    FATHOM_LAUNCH(cuda::grid_for(total, 256), 256, 0, stream, mhc_post_kernel)(p);
    return cuda::launch_status();
}

} // namespace fathom::kernels
