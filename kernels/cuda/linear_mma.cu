// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  LINEAR on tensor cores (non-exact mode, prefill): y = x W^T for FP8 (e4m3, 128x128 e8m0
  blocks) and FP4 (e2m1, 1x32 e8m0 blocks) weights with mma.sync m16n8k32 e4m3 (mma_sync.cuh).

  Numerics (the block-scaled scheme DeepGEMM describes): x is activation-quantised per 1x128 as
  every LINEAR does (amax, e8m0 scale sA, e4m3 round to nearest even: the same device helpers as
  linear_tiled.cu / linear_fp8_quant.cu, so x' = q * sA is the CPU's); the tensor cores form
  sums of exact e4m3 code products over a weight block (FP8: 4 k32 steps = one 128 block, in
  the mma's fp32 accumulator; FP4: its weights converted e2m1 -> e4m3 in shared memory, exact
  since e2m1 is a subset of e4m3) and each block partial is promoted into the fp32 accumulator
  as acc += partial * (sA * sW), in k order. FP4 k blocks are folded where the tile allows
  (linear_wgmma.cu's rule, helpers in linear_internal.cuh): a column's four 32-block scales
  2^e_j become 2^emax, the codes times 2^(e_j - emax) (exact while the spread is <= 8
  octaves), so 4 k32 steps form one partial promoted with sA[row] * 2^emax[col]; a k block
  where any column of the tile spreads wider promotes every k32 step with its own 2^e_j
  (block-uniform, __syncthreads_or). FATHOM_CUDA_FP4_FOLD=0: always per 32. Only the in-block
  sum differs from the CPU's fp32 mode: Hopper's FP8 tensor cores keep fewer accumulator bits
  inside an mma (about 14; see tst_cuda_ops' cuBLASLt bound), the emulation sums them exactly.
  So this is a "tensor-core, tolerance" mode: never used by the exact mode.

  Tiling: 64 rows x 128 columns per block of 8 warps (2 x 4; 32 x 32 outputs per warp = 2 x 4
  mma tiles), k walked in steps of 128: stage the quantised x tile (e4m3 codes + per-row sA) and
  the weight tile (e4m3 codes; FP4 converted, per-row per-32 sW) in shared memory with rows
  padded to 144 bytes (lane (g, t) reads word 36 g + t: 32 distinct banks), then 4 k32 steps.
  With a workspace x is quantised once per call (mma_quant_kernel) and the next k-block's codes,
  weights and scales are read into registers during the current block's mma; without one every
  column tile quantises its x rows itself (same bytes and results). NOTE: correctness first, not
  measured on a device. The FP8 workspace path has a cp.async / ldmatrix pipelined mainloop, and
  on sm_90a builds a Hopper device takes the wgmma mainloop (linear_wgmma.cu) when the items
  average >= 64 rows (see docs/perf/cuda.md "Session 6: tensor-core GEMMs" and "Session 7: wgmma
  mainloop").

  Grouped form: a batch of up to k_max_items linears sharing n, k, types and strides (the experts
  of a MoE layer) in one launch, passed by value; blocks map to (column tile, row tile of some
  item) through the items' row-tile prefix sums.
*/
#include "kernels/cuda_ops.h"

#include "async_copy.cuh"
#include "linear_internal.cuh"
#include "linear_wgmma.cuh"
#include "mma_sync.cuh"

namespace fathom::kernels {

namespace cuda {

namespace {

constexpr int k_bm = 64;
constexpr int k_bn = 128;
constexpr int k_bk = 128;
constexpr int k_row_bytes = k_bk + 16; // padded shared row (bank-conflict free fragment reads)
constexpr int k_row_words = k_row_bytes / 4;
constexpr int k_threads = 256;
constexpr int k_max_items = 56;

struct mma_item
{
    const void *x;
    const void *w;
    const uint8_t *w_scale;
    void *y;
    uint8_t *q; // pre-quantised x (workspace): [m, k] e4m3 codes, or nullptr (quantise in-kernel)
    float *qs;  // its scales sA: [m, k / 128]
    int m;
    int tile0; // first row tile of this item in the launch
};

struct mma_batch
{
    mma_item items[k_max_items];
    int count;
    int tiles; // row tiles of all items
    int n, k;
    int64_t ldx, ldy;
    act_type x_type, y_type;
    linear_weight_type w_type;
    int y_round; // linear_params::y_round_bf16 (fp32 outputs rounded to bf16 values)
    int fold;    // FP4: fold 32-block scales per 128 where the tile allows (FATHOM_CUDA_FP4_FOLD)
    int pad_;    // no padding hole in the launch argument
};

// Row tile `tile` of a launch (numbered across the items): its item and the item's first row.
struct tile_place
{
    int item;
    int row0;
};

__device__ __forceinline__ tile_place place_of_tile(const mma_batch &bt, int tile)
{
    int it = 0;
    while (it + 1 < bt.count && bt.items[it + 1].tile0 <= tile)
        ++it;
    return {it, (tile - bt.items[it].tile0) * k_bm};
}

// A warp's 32 x 32 outputs as 2 x 4 mma tiles of 16 x 8 (C/D fragment layout).
using warp_acc = float[2][4][4];

__device__ __forceinline__ void zero_tiles(warp_acc &v)
{
#pragma unroll
    for (int a = 0; a < 2; ++a)
#pragma unroll
        for (int c = 0; c < 4; ++c)
#pragma unroll
            for (int i = 0; i < 4; ++i)
                v[a][c][i] = 0.0f;
}

// FP8 promotion of one 128-deep block: acc += partial * (sA[row] * sW), rows of the tile's sA.
__device__ __forceinline__ void promote_fp8(
    warp_acc &acc, const warp_acc &part, const float *sa, float sw, int wm, int g)
{
#pragma unroll
    for (int a = 0; a < 2; ++a)
#pragma unroll
        for (int c = 0; c < 4; ++c)
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int r = wm + 16 * a + g + (i >= 2 ? 8 : 0);
                acc[a][c][i] = fmaf(part[a][c][i], __fmul_rn(sa[r], sw), acc[a][c][i]);
            }
}

// FP4: acc += partial * (sA[row] * sW[col][s]) per output, the partial then cleared: per 32-block
// (s = the k32 step) or, folded, per 128-block (s = 0: sw[col][0] holds the column's 2^emax).
__device__ __forceinline__ void promote_fp4(warp_acc &acc,
                                            warp_acc &part,
                                            const float *sa,
                                            const float (*sw)[4],
                                            int s,
                                            int wm,
                                            int wn,
                                            int g,
                                            int t)
{
#pragma unroll
    for (int a = 0; a < 2; ++a)
#pragma unroll
        for (int c = 0; c < 4; ++c)
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int r = wm + 16 * a + g + (i >= 2 ? 8 : 0);
                const int col = wn + 8 * c + 2 * t + (i & 1);
                acc[a][c][i] = fmaf(part[a][c][i], __fmul_rn(sa[r], sw[col][s]), acc[a][c][i]);
                part[a][c][i] = 0.0f;
            }
}

// The warp's outputs to y (fp32 or bf16, row stride ldy), rows >= m and columns >= n left alone.
__device__ __forceinline__ void store_tiles(const warp_acc &acc,
                                            void *y,
                                            act_type y_type,
                                            int y_round,
                                            int64_t ldy,
                                            int m,
                                            int n,
                                            int row0,
                                            int col0,
                                            int wm,
                                            int wn,
                                            int g,
                                            int t)
{
#pragma unroll
    for (int a = 0; a < 2; ++a)
#pragma unroll
        for (int c = 0; c < 4; ++c)
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int64_t row = row0 + wm + 16 * a + g + (i >= 2 ? 8 : 0);
                const int64_t col = col0 + wn + 8 * c + 2 * t + (i & 1);
                if (row >= m || col >= n)
                    continue;
                const int64_t at = row * ldy + col;
                if (y_type == act_type::bf16)
                    static_cast<uint16_t *>(y)[at] = f32_to_bf16_bits(acc[a][c][i]);
                else
                    static_cast<float *>(y)[at] = y_round ? round_bf16(acc[a][c][i]) : acc[a][c][i];
            }
}

// The 32-bit word `lane` (k = 4 lane .. 4 lane + 3 of the block at k0) of row `row` of x,
// activation-quantised; every lane of the warp calls it for the same row (warp_max). sA is the
// scale's value. The same device helpers as linear_tiled.cu / linear_fp8_quant.cu.
__device__ inline uint32_t quantise_word(
    const mma_batch &bt, const mma_item &item, int64_t row, int k0, int lane, float &sA)
{
    float v[4];
    float amax = 0.0f;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        v[i] = 0.0f;
        if (row < item.m) {
            const int64_t at = row * bt.ldx + k0 + 4 * lane + i;
            v[i] = bt.x_type == act_type::bf16
                       ? bf16_bits_to_f32(static_cast<const uint16_t *>(item.x)[at])
                       : static_cast<const float *>(item.x)[at];
        }
        amax = fmaxf(amax, fabsf(v[i]));
    }
    amax = warp_max(amax);
    const uint8_t s = act_scale(amax);
    const float inv = e8m0_inverse_f32(s);
    uint32_t packed = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i)
        packed |= static_cast<uint32_t>(f32_to_e4m3(__fmul_rn(v[i], inv))) << (8 * i);
    sA = e8m0_to_f32(s);
    return packed;
}

// Pre-pass (with a workspace): every row of every item quantised once, instead of once per
// column tile. Block (row tile, k block); warp w does rows 8w .. 8w + 7 of the tile.
__global__ void __launch_bounds__(k_threads) mma_quant_kernel(mma_batch bt)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const tile_place place = place_of_tile(bt, static_cast<int>(blockIdx.x));
    const mma_item item = bt.items[place.item];
    const int b = static_cast<int>(blockIdx.y), kb = bt.k / k_bk;
    const int warp = static_cast<int>(threadIdx.x) >> 5, lane = static_cast<int>(threadIdx.x) & 31;
    for (int rr = 0; rr < k_bm / 8; ++rr) {
        const int64_t row = static_cast<int64_t>(place.row0) + warp * (k_bm / 8) + rr;
        if (row >= item.m) // whole warp: same row
            break;
        float sA;
        const uint32_t w = quantise_word(bt, item, row, b * k_bk, lane, sA);
        reinterpret_cast<uint32_t *>(item.q + row * bt.k + b * k_bk)[lane] = w;
        if (lane == 0)
            item.qs[row * kb + b] = sA;
    }
}

// FP4 scales (fold): each k block either folds (the tile's every column spreads its four 32-block
// scales by at most k_fold_max_shift octaves: codes converted times 2^(e_j - emax), 4 k32 mma
// steps into one partial, one promotion with sA[row] * 2^emax[col], as FP8 promotes with its
// per-tile sW) or takes the per-32 path (unshifted codes, each k32 step promoted with
// sA[row] * 2^e_j[col]); the choice is block-uniform (__syncthreads_or). Thread tid converts
// columns tid / 8 + 32 u (u < 4), 16 codes of the 32-block j = (tid % 8) / 2 each; it reads
// those 4 scale bytes itself, and the 8 lanes of a column (consecutive) find its emax by
// shuffles.
template<linear_weight_type WType, bool Pre>
__global__ void __launch_bounds__(k_threads) mma_kernel(mma_batch bt)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    constexpr bool fp4 = WType == linear_weight_type::fp4_e2m1;
    __align__(16) __shared__ uint32_t xs[k_bm * k_row_words];
    __align__(16) __shared__ uint32_t ws[k_bn * k_row_words];
    __shared__ float sa[k_bm];
    // FP4: per column, per 32-block of the step (folded: [col][0] = 2^emax); FP8: [0][0]
    __shared__ float sw[k_bn][4];

    const tile_place place = place_of_tile(bt, static_cast<int>(blockIdx.y));
    const mma_item item = bt.items[place.item];
    const int m = item.m, n = bt.n, k = bt.k;
    const int kb = k / k_bk;
    const int row0 = place.row0, col0 = static_cast<int>(blockIdx.x) * k_bn;
    const int warp = static_cast<int>(threadIdx.x) >> 5, lane = static_cast<int>(threadIdx.x) & 31;
    const int g = lane >> 2, t = lane & 3;
    const int wm = (warp >> 2) * 32, wn = (warp & 3) * 32; // the warp's 32 x 32 outputs

    warp_acc acc, part;
    zero_tiles(acc);

    // The next k-block's global data is read into registers (ld_*) while the tensor cores work
    // on the current one, then written to shared memory (st_*): a register-staged two-step
    // pipeline (with the workspace; the in-kernel quantisation stages x directly).
    constexpr int k_wunits = k_bn * (k_bk / 16) / k_threads; // 16 weight bytes (FP4: 8) each: 4
    constexpr int k_xunits = k_bm * (k_bk / 16) / k_threads; // 16 code bytes each: 2
    const int fj = (static_cast<int>(threadIdx.x) % (k_bk / 16)) / 2; // FP4: this thread's 32-block
    const uint8_t *wbase = static_cast<const uint8_t *>(item.w);
    uint4 wr[k_wunits];
    uint4 xr[k_xunits];
    float swr = 0.0f; // FP8: the tile's weight scale (thread 0)
    uint32_t scr = 0; // FP4: the e8m0 bytes of (column tid / 8 + 32 u, 32-block fj), byte u
    uint32_t emx = 0; // FP4: those columns' largest of the four, byte u
    float sar = 0.0f;
    auto ld = [&](int b) {
        const int k0 = b * k_bk;
#pragma unroll
        for (int u = 0; u < k_wunits; ++u) {
            const int i = static_cast<int>(threadIdx.x) + u * k_threads;
            const int c = i / (k_bk / 16), q = i % (k_bk / 16);
            const int64_t j = col0 + c;
            wr[u] = uint4{0u, 0u, 0u, 0u};
            if (j < n) {
                if (!fp4) {
                    wr[u] = *reinterpret_cast<const uint4 *>(wbase + j * k + k0 + 16 * q);
                } else {
                    const uint32_t *src = reinterpret_cast<const uint32_t *>(wbase + j * (k / 2)
                                                                             + k0 / 2 + 8 * q);
                    wr[u].x = src[0];
                    wr[u].y = src[1];
                }
            }
        }
        if (!fp4) {
            if (threadIdx.x == 0)
                swr = e8m0_to_f32(item.w_scale[(col0 / 128) * kb + b]);
        } else {
            scr = 0;
#pragma unroll
            for (int u = 0; u < k_wunits; ++u) {
                const int64_t j = col0 + static_cast<int>(threadIdx.x) / (k_bk / 16) + 32 * u;
                if (j < n) // columns past n: scale byte 0 (spread 0, never "wide")
                    scr |= static_cast<uint32_t>(item.w_scale[j * (k / 32) + b * 4 + fj])
                           << (8 * u);
            }
        }
        if (Pre) {
#pragma unroll
            for (int u = 0; u < k_xunits; ++u) {
                const int i = static_cast<int>(threadIdx.x) + u * k_threads;
                const int64_t grow = row0 + i / (k_bk / 16);
                xr[u] = uint4{0u, 0u, 0u, 0u};
                if (grow < m)
                    xr[u] = *reinterpret_cast<const uint4 *>(item.q + grow * k + k0
                                                             + 16 * (i % (k_bk / 16)));
            }
            if (threadIdx.x < k_bm)
                sar = row0 + static_cast<int>(threadIdx.x) < m
                          ? item.qs[static_cast<int64_t>(row0 + threadIdx.x) * kb + b]
                          : 0.0f;
        }
    };
    // FP4: the loaded block's emax per column (emx) and whether it folds. Also a barrier: every
    // thread is past the previous block's reads of shared memory.
    auto decide = [&]() -> bool {
        bool wide = false;
        emx = 0;
#pragma unroll
        for (int u = 0; u < k_wunits; ++u) {
            const uint32_t e = (scr >> (8 * u)) & 0xFFu;
            uint32_t mx = max(e, __shfl_xor_sync(0xFFFFFFFFu, e, 2));
            mx = max(mx, __shfl_xor_sync(0xFFFFFFFFu, mx, 4));
            wide = wide || mx - e > static_cast<uint32_t>(k_fold_max_shift);
            emx |= mx << (8 * u);
        }
        return __syncthreads_or(wide ? 1 : 0) == 0 && bt.fold;
    };
    auto st = [&](bool fold) {
#pragma unroll
        for (int u = 0; u < k_wunits; ++u) {
            const int i = static_cast<int>(threadIdx.x) + u * k_threads;
            uint32_t *dst = ws + (i / (k_bk / 16)) * k_row_words + 4 * (i % (k_bk / 16));
            if (!fp4) {
                dst[0] = wr[u].x;
                dst[1] = wr[u].y;
                dst[2] = wr[u].z;
                dst[3] = wr[u].w;
            } else {
                // 16 e2m1 codes (low nibble = even k) -> 16 e4m3 codes, times 2^-d when folded.
                const uint32_t e = (scr >> (8 * u)) & 0xFFu, mx = (emx >> (8 * u)) & 0xFFu;
                uint32_t out[4];
                convert16(wr[u].x, wr[u].y, fold ? static_cast<int>(mx - e) : 0, out);
                dst[0] = out[0];
                dst[1] = out[1];
                dst[2] = out[2];
                dst[3] = out[3];
                if ((threadIdx.x & 1) == 0) // one of the two lanes of (column, 32-block)
                    sw[i / (k_bk / 16)][fj] = e8m0_to_f32(fold ? mx : e);
            }
        }
        if (!fp4) {
            if (threadIdx.x == 0)
                sw[0][0] = swr;
        }
        if (Pre) {
#pragma unroll
            for (int u = 0; u < k_xunits; ++u) {
                const int i = static_cast<int>(threadIdx.x) + u * k_threads;
                uint32_t *dst = xs + (i / (k_bk / 16)) * k_row_words + 4 * (i % (k_bk / 16));
                dst[0] = xr[u].x;
                dst[1] = xr[u].y;
                dst[2] = xr[u].z;
                dst[3] = xr[u].w;
            }
            if (threadIdx.x < k_bm)
                sa[threadIdx.x] = sar;
        }
    };

    if (Pre)
        ld(0);
    for (int b = 0; b < kb; ++b) {
        if (!Pre) {
            // x rows: warp w quantises rows 8w .. 8w + 7 of the tile (4 values per lane).
            for (int rr = 0; rr < k_bm / 8; ++rr) {
                const int r = warp * (k_bm / 8) + rr;
                float sA;
                xs[r * k_row_words + lane] = quantise_word(bt, item, row0 + r, b * k_bk, lane, sA);
                if (lane == 0)
                    sa[r] = sA;
            }
            ld(b);
        }
        // FP4 with the workspace: decide()'s barrier is also the one that ends block b - 1.
        const bool fold = fp4 ? decide() : false;
        st(fold);
        __syncthreads();
        if (Pre && b + 1 < kb)
            ld(b + 1); // in flight during the mma below

        zero_tiles(part);
#pragma unroll
        for (int s = 0; s < 4; ++s) {
            const int kw = s * 8 + t; // word of k = 32 s + 4 t
            uint32_t af[2][4], bf[4][2];
#pragma unroll
            for (int a = 0; a < 2; ++a) {
                const int r = wm + 16 * a + g;
                af[a][0] = xs[r * k_row_words + kw];
                af[a][1] = xs[(r + 8) * k_row_words + kw];
                af[a][2] = xs[r * k_row_words + kw + 4];
                af[a][3] = xs[(r + 8) * k_row_words + kw + 4];
            }
#pragma unroll
            for (int c = 0; c < 4; ++c) {
                const int col = wn + 8 * c + g;
                bf[c][0] = ws[col * k_row_words + kw];
                bf[c][1] = ws[col * k_row_words + kw + 4];
            }
#pragma unroll
            for (int a = 0; a < 2; ++a)
#pragma unroll
                for (int c = 0; c < 4; ++c)
                    mma::m16n8k32_e4m3(part[a][c], af[a], bf[c], part[a][c]);
            if (fp4 && !fold) // promote each 32-block
                promote_fp4(acc, part, sa, sw, s, wm, wn, g, t);
        }
        if (!fp4)
            promote_fp8(acc, part, sa, sw[0][0], wm, g);
        else if (fold) // one 128-deep partial (the wgmma kernel's folded promotion, same order)
            promote_fp4(acc, part, sa, sw, 0, wm, wn, g, t);
        if (!fp4 || !Pre)
            __syncthreads();
    }

    store_tiles(acc, item.y, bt.y_type, bt.y_round, bt.ldy, m, n, row0, col0, wm, wn, g, t);
}

// The pipelined mainloop of the workspace path, FP8 weights (x pre-quantised by
// mma_quant_kernel). The same tile (64 x 128, 8 warps of 32 x 32), fragments and promotion
// order as mma_kernel<fp8, true>, so the same bits; what differs is how data reaches the
// tensor cores: k_stages shared-memory stages (x codes, weight codes, sA) filled by cp.async
// 16-byte copies k_stages - 1 steps ahead (one commit group per step, zero-filled past m / n),
// one barrier per step, and A / B fragments read with ldmatrix.x4 (rows padded to 144 bytes: the
// 8 row addresses of one 8x8 matrix start 4 banks apart, so each ldmatrix phase is conflict
// free). No registers hold the next step's data, so it fits 2 blocks per SM (launch bounds).
constexpr int k_stages = 3;
constexpr int k_stage_x = k_bm * k_row_bytes;                   // 9216
constexpr int k_stage_w = k_bn * k_row_bytes;                   // 18432
constexpr int k_stage_bytes = k_stage_x + k_stage_w + k_bm * 4; // + sA: 27904
constexpr int k_pipe_smem = k_stages * k_stage_bytes;           // 83712

__global__ void __launch_bounds__(k_threads, 2) mma_pipe_kernel(mma_batch bt)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(unsigned char, smem);

    const tile_place place = place_of_tile(bt, static_cast<int>(blockIdx.y));
    const mma_item &item = bt.items[place.item];
    const int m = item.m, n = bt.n, k = bt.k;
    const int kb = k / k_bk;
    const int row0 = place.row0, col0 = static_cast<int>(blockIdx.x) * k_bn;
    const int warp = static_cast<int>(threadIdx.x) >> 5, lane = static_cast<int>(threadIdx.x) & 31;
    const int g = lane >> 2, t = lane & 3;
    const int wm = (warp >> 2) * 32, wn = (warp & 3) * 32;
    const uint8_t *wbase = static_cast<const uint8_t *>(item.w);
    const uint8_t *q = item.q;
    const float *qs = item.qs;
    const uint8_t *wsc = item.w_scale + (col0 / 128) * kb;

    // Issue stage (b % k_stages) <- k-block b: 16-byte units, thread i takes units i, i + 256, ..
    auto issue = [&](int b) {
        unsigned char *st = smem + (b % k_stages) * k_stage_bytes;
        const int k0 = b * k_bk;
#pragma unroll
        for (int u = 0; u < k_bn * (k_bk / 16) / k_threads; ++u) {
            const int i = static_cast<int>(threadIdx.x) + u * k_threads;
            const int c = i >> 3, part = i & 7;
            const bool ok = col0 + c < n;
            const uint8_t *src = ok ? wbase + static_cast<int64_t>(col0 + c) * k + k0 + 16 * part
                                    : wbase;
            async::cp_async16(st + k_stage_x + c * k_row_bytes + 16 * part, src, ok);
        }
#pragma unroll
        for (int u = 0; u < k_bm * (k_bk / 16) / k_threads; ++u) {
            const int i = static_cast<int>(threadIdx.x) + u * k_threads;
            const int r = i >> 3, part = i & 7;
            const bool ok = row0 + r < m;
            const uint8_t *src = ok ? q + static_cast<int64_t>(row0 + r) * k + k0 + 16 * part : q;
            async::cp_async16(st + r * k_row_bytes + 16 * part, src, ok);
        }
        if (threadIdx.x < k_bm) {
            const int r = static_cast<int>(threadIdx.x);
            const bool ok = row0 + r < m;
            const float *src = ok ? qs + static_cast<int64_t>(row0 + r) * kb + b : qs;
            async::cp_async4(st + k_stage_x + k_stage_w + 4 * r, src, ok);
        }
    };

    warp_acc acc, part;
    zero_tiles(acc);

    // Prologue: k_stages - 1 groups in flight (empty groups past kb keep the count uniform).
    for (int s = 0; s < k_stages - 1; ++s) {
        if (s < kb)
            issue(s);
        async::cp_async_commit();
    }

    // ldmatrix row addresses (byte offsets in a stage): lane l gives row (l & 7) of matrix
    // (l >> 3). A (16 rows x 32 k per mma): matrices (rows 0-7, k 0-15), (rows 8-15, k 0-15),
    // (rows 0-7, k 16-31), (rows 8-15, k 16-31) = a[0..3]. B (two n8 tiles): (cols 0-7, k 0-15),
    // (cols 0-7, k 16-31), (cols 8-15, k 0-15), (cols 8-15, k 16-31) = b[c][0], b[c][1],
    // b[c + 1][0], b[c + 1][1].
    const int lr = lane & 7, lm = lane >> 3;
    const int a_off = (wm + lr + 8 * (lm & 1)) * k_row_bytes + 16 * (lm >> 1);
    const int b_off = k_stage_x + (wn + lr + 8 * (lm >> 1)) * k_row_bytes + 16 * (lm & 1);

    for (int b = 0; b < kb; ++b) {
        async::cp_async_wait<k_stages - 2>(); // this thread's copies of k-block b have landed
        __syncthreads(); // everyone's have; and everyone is done with the stage refilled below
        if (b + k_stages - 1 < kb)
            issue(b + k_stages - 1);
        async::cp_async_commit();

        const unsigned char *st = smem + (b % k_stages) * k_stage_bytes;
        zero_tiles(part);
#pragma unroll
        for (int s = 0; s < 4; ++s) {
            uint32_t af[2][4], bf[4][2];
#pragma unroll
            for (int a = 0; a < 2; ++a)
                async::ldmatrix_x4(af[a], st + a_off + 16 * a * k_row_bytes + 32 * s);
#pragma unroll
            for (int c = 0; c < 4; c += 2) {
                uint32_t r[4];
                async::ldmatrix_x4(r, st + b_off + 8 * c * k_row_bytes + 32 * s);
                bf[c][0] = r[0];
                bf[c][1] = r[1];
                bf[c + 1][0] = r[2];
                bf[c + 1][1] = r[3];
            }
#pragma unroll
            for (int a = 0; a < 2; ++a)
#pragma unroll
                for (int c = 0; c < 4; ++c)
                    mma::m16n8k32_e4m3(part[a][c], af[a], bf[c], part[a][c]);
        }
        const float *sa = reinterpret_cast<const float *>(st + k_stage_x + k_stage_w);
        promote_fp8(acc, part, sa, e8m0_to_f32(wsc[b]), wm, g);
    }
    async::cp_async_wait<0>(); // only empty groups remain; nothing left in flight at exit

    // store_tiles() written out: through the helper (even force-inlined) ptxas (CUDA 13, sm_90a)
    // spills 52 bytes at this kernel's 128-register bound; this way it spills nothing.
#pragma unroll
    for (int a = 0; a < 2; ++a)
#pragma unroll
        for (int c = 0; c < 4; ++c)
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int64_t row = row0 + wm + 16 * a + g + (i >= 2 ? 8 : 0);
                const int64_t col = col0 + wn + 8 * c + 2 * t + (i & 1);
                if (row >= m || col >= n)
                    continue;
                const int64_t at = row * bt.ldy + col;
                if (bt.y_type == act_type::bf16)
                    static_cast<uint16_t *>(item.y)[at] = f32_to_bf16_bits(acc[a][c][i]);
                else
                    static_cast<float *>(item.y)[at] = bt.y_round ? round_bf16(acc[a][c][i])
                                                                  : acc[a][c][i];
            }
}

// One warp, one mma: the fragment test of tst_cuda_ops (kind 0 = e4m3 m16n8k32, 1 = bf16 m16n8k16).
__global__ void mma_probe_kernel(
    int kind, const uint32_t *a, const uint32_t *b, const float *c, float *d)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const int lane = static_cast<int>(threadIdx.x);
    uint32_t af[4], bf[2];
    float cf[4], df[4];
    for (int i = 0; i < 4; ++i) {
        af[i] = a[lane * 4 + i];
        cf[i] = c[lane * 4 + i];
    }
    bf[0] = b[lane * 2];
    bf[1] = b[lane * 2 + 1];
    if (kind == 0)
        mma::m16n8k32_e4m3(df, af, bf, cf);
    else
        mma::m16n8k16_bf16(df, af, bf, cf);
    for (int i = 0; i < 4; ++i)
        d[lane * 4 + i] = df[i];
}

// Why p cannot take the tensor-core path (nullptr: it can).
const char *refusal(const linear_params &p)
{
    if (p.w_type != linear_weight_type::fp8_e4m3 && p.w_type != linear_weight_type::fp4_e2m1)
        return "linear_mma: only FP8 / FP4 weights";
    if (p.k <= 0 || p.k % k_bk != 0)
        return "linear_mma: k must be a positive multiple of 128";
    if (p.n <= 0 || p.m < 0)
        return "linear_mma: bad shape";
    if (!p.x || !p.w || !p.w_scale || !p.y)
        return "linear_mma: null x, w, w_scale or y";
    if ((reinterpret_cast<uintptr_t>(p.w) & 15u) != 0)
        return "linear_mma: weights not 16-byte aligned";
    if ((p.ldx != 0 && p.ldx < p.k) || (p.ldy != 0 && p.ldy < p.n))
        return "linear_mma: row stride smaller than the row";
    return nullptr;
}

bool same_group(const linear_params &a, const linear_params &b)
{
    return a.w_type == b.w_type && a.n == b.n && a.k == b.k && a.x_type == b.x_type
           && a.y_type == b.y_type && a.y_round_bf16 == b.y_round_bf16
           && (a.ldx ? a.ldx : a.k) == (b.ldx ? b.ldx : b.k)
           && (a.ldy ? a.ldy : a.n) == (b.ldy ? b.ldy : b.n);
}

// The pipelined kernel's dynamic shared memory (above the 48 KiB default) is granted once per
// device; where the attribute is refused the register-staged kernel runs instead.
bool pipe_ok()
{
    static int s_state[64] = {};
    return cuda::once_per_device(s_state, [](int) {
        const cudaError_t err = cuda::allow_smem(mma_pipe_kernel, k_pipe_smem);
        if (err != cudaSuccess)
            (void) cudaGetLastError(); // clear it: the fallback kernel runs
        return err == cudaSuccess;
    });
}

// The kernel that ran last (bench tables name it): a string literal.
const char *g_last_kernel = "none";

// FATHOM_CUDA_FP4_FOLD=0: mma_kernel's FP4 path promotes every 32-block (no folding); read once.
bool fp4_fold_enabled()
{
    static const bool s_on = env_switch_on("FATHOM_CUDA_FP4_FOLD");
    return s_on;
}

// The batch as the wgmma kernel's (128-row tiles), or false when it cannot take it: FP4 scale
// rows are read 4 bytes at a time (aligned), k / 32 per row keeps that for every row.
bool to_wgmma(const mma_batch &bt, wgmma_batch &wb)
{
    wb = wgmma_batch{};
    wb.n = bt.n;
    wb.k = bt.k;
    wb.ldy = bt.ldy;
    wb.y_type = bt.y_type;
    wb.y_round = bt.y_round;
    wb.w_type = bt.w_type;
    for (int i = 0; i < bt.count; ++i) {
        const mma_item &it = bt.items[i];
        if (bt.w_type == linear_weight_type::fp4_e2m1
            && (reinterpret_cast<uintptr_t>(it.w_scale) & 3u) != 0)
            return false;
        wb.items[wb.count++] = wgmma_item{it.q, it.qs, it.w, it.w_scale, it.y, it.m, wb.tiles};
        wb.tiles += (it.m + k_wgmma_bm - 1) / k_wgmma_bm;
    }
    return true;
}

Status launch_batch(const mma_batch &bt, bool pre, CUstream_st *stream)
{
    if (bt.tiles == 0)
        return Status::success();
    const dim3 grid((bt.n + k_bn - 1) / k_bn, bt.tiles);
    constexpr linear_weight_type F8 = linear_weight_type::fp8_e4m3,
                                 F4 = linear_weight_type::fp4_e2m1;
    if (pre) {
        FATHOM_LAUNCH(dim3(bt.tiles, bt.k / k_bk), k_threads, 0, stream, mma_quant_kernel)(bt);
        if (Status st = launch_status(); !st.ok())
            return st;
        int64_t rows = 0;
        for (int i = 0; i < bt.count; ++i)
            rows += bt.items[i].m;
        static_assert(k_wgmma_max_items >= k_max_items, "a batch fits the wgmma batch");
        if (linear_wgmma_selected(bt.count, rows, bt.w_type)) {
            wgmma_batch wb;
            if (to_wgmma(bt, wb)) {
                const Status st = linear_wgmma_launch(wb, stream);
                if (st.code != StatusCode::Unsupported) {
                    g_last_kernel = "wgmma m64n128k32 (sm_90a)";
                    return st;
                }
            }
        }
        g_last_kernel = bt.w_type == F8 && pipe_ok() ? "mma.sync m16n8k32, cp.async pipeline"
                        : bt.w_type == F8            ? "mma.sync m16n8k32"
                        : bt.fold                    ? "mma.sync m16n8k32, FP4 folded per 128"
                                                     : "mma.sync m16n8k32, FP4 per 32";
        if (bt.w_type == F8 && pipe_ok()) {
            FATHOM_LAUNCH(grid, k_threads, k_pipe_smem, stream, mma_pipe_kernel)(bt);
        } else if (bt.w_type == F8)
            FATHOM_LAUNCH(grid, k_threads, 0, stream, mma_kernel<F8, true>)(bt);
        else
            FATHOM_LAUNCH(grid, k_threads, 0, stream, mma_kernel<F4, true>)(bt);
    } else if (bt.w_type == F8) {
        g_last_kernel = "mma.sync m16n8k32, x quantised per tile";
        FATHOM_LAUNCH(grid, k_threads, 0, stream, mma_kernel<F8, false>)(bt);
    } else {
        g_last_kernel = bt.fold ? "mma.sync m16n8k32, x quantised per tile, FP4 folded per 128"
                                : "mma.sync m16n8k32, x quantised per tile, FP4 per 32";
        FATHOM_LAUNCH(grid, k_threads, 0, stream, mma_kernel<F4, false>)(bt);
    }
    return launch_status();
}

// Workspace bytes of one item: codes [m, k] then scales [m, k / 128] fp32, 16-byte aligned.
int64_t item_workspace(const linear_params &p)
{
    const int64_t codes = (static_cast<int64_t>(p.m) * p.k + 15) / 16 * 16;
    const int64_t scales = (static_cast<int64_t>(p.m) * (p.k / k_bk) * 4 + 15) / 16 * 16;
    return codes + scales;
}

} // namespace

bool linear_mma_device_ok()
{
    // Queried once per device index (the e4m3 mma needs sm_89+).
    static int s_state[64] = {};
    return cuda::once_per_device(s_state, [](int dev) {
        cudaDeviceProp prop{};
        return cudaGetDeviceProperties(&prop, dev) == cudaSuccess
               && (prop.major > 8 || (prop.major == 8 && prop.minor >= 9));
    });
}

Status linear_mma_launch(const linear_params *items,
                         int count,
                         void *workspace,
                         size_t workspace_bytes,
                         CUstream_st *stream)
{
    // With a big enough workspace x is quantised once per call (mma_quant_kernel).
    int64_t need = 0;
    for (int j = 0; j < count; ++j)
        need += items[j].m ? item_workspace(items[j]) : 0;
    const bool pre = workspace && need > 0 && static_cast<int64_t>(workspace_bytes) >= need
                     && (reinterpret_cast<uintptr_t>(workspace) & 15u) == 0;
    uint8_t *ws = static_cast<uint8_t *>(workspace);
    int i = 0;
    while (i < count) {
        mma_batch bt{};
        const linear_params &p0 = items[i];
        bt.n = p0.n;
        bt.k = p0.k;
        bt.ldx = p0.ldx ? p0.ldx : p0.k;
        bt.ldy = p0.ldy ? p0.ldy : p0.n;
        bt.x_type = p0.x_type;
        bt.y_type = p0.y_type;
        bt.y_round = p0.y_round_bf16 ? 1 : 0;
        bt.w_type = p0.w_type;
        bt.fold = p0.w_type == linear_weight_type::fp4_e2m1 && fp4_fold_enabled() ? 1 : 0;
        for (; i < count && bt.count < k_max_items && same_group(items[i], p0); ++i) {
            const linear_params &p = items[i];
            if (p.m == 0)
                continue;
            const int tiles = (p.m + k_bm - 1) / k_bm;
            if (bt.tiles + tiles > 65535)
                break;
            uint8_t *q = nullptr;
            float *qs = nullptr;
            if (pre) {
                q = ws;
                qs = reinterpret_cast<float *>(ws
                                               + (static_cast<int64_t>(p.m) * p.k + 15) / 16 * 16);
                ws += item_workspace(p);
            }
            bt.items[bt.count++] = mma_item{p.x, p.w, p.w_scale, p.y, q, qs, p.m, bt.tiles};
            bt.tiles += tiles;
        }
        if (Status st = launch_batch(bt, pre, stream); !st.ok())
            return st;
    }
    return Status::success();
}

const char *linear_mma_refusal(const linear_params &p)
{
    return refusal(p);
}

// Declared where used (tst_cuda_ops): whether mma.sync's FP4 path folds (FATHOM_CUDA_FP4_FOLD).
bool linear_mma_fp4_fold()
{
    return fp4_fold_enabled();
}

// Declared where used (bench_cuda, tst_cuda_ops): which kernel the last linear_*mma_cuda call
// of this process launched (its last batch), for tables; not thread-safe, diagnostics only.
const char *linear_mma_last_kernel()
{
    return g_last_kernel;
}

} // namespace cuda

Status mma_probe_cuda(
    int kind, const uint32_t *a, const uint32_t *b, const float *c, float *d, CUstream_st *stream)
{
    if ((kind != 0 && kind != 1) || !a || !b || !c || !d)
        return Status::invalid("mma_probe_cuda: bad arguments");
    if (kind == 0 && !cuda::linear_mma_device_ok())
        return Status::unsupported("mma_probe_cuda: the device has no e4m3 tensor cores (sm_89+)");
    FATHOM_LAUNCH(1, 32, 0, stream, cuda::mma_probe_kernel)(kind, a, b, c, d);
    return cuda::launch_status();
}

Status linear_mma_cuda(const linear_params &p,
                       CUstream_st *stream,
                       void *workspace,
                       size_t workspace_bytes)
{
    return linear_grouped_mma_cuda(&p, 1, stream, workspace, workspace_bytes);
}

size_t linear_mma_workspace_bytes(const linear_params *items, int count)
{
    int64_t need = 0;
    for (int i = 0; i < count; ++i)
        if (items[i].m > 0 && items[i].k > 0)
            need += cuda::item_workspace(items[i]);
    return static_cast<size_t>(need);
}

Status linear_grouped_mma_cuda(const linear_params *items,
                               int count,
                               CUstream_st *stream,
                               void *workspace,
                               size_t workspace_bytes)
{
    if (count < 0 || (count > 0 && !items))
        return Status::invalid("linear_grouped_mma_cuda: bad arguments");
    for (int i = 0; i < count; ++i) {
        if (items[i].m == 0)
            continue;
        if (const char *why = cuda::linear_mma_refusal(items[i]))
            return Status::unsupported(why);
        if (static_cast<int64_t>(items[i].m) > 65535LL * 64)
            return Status::unsupported("linear_mma: more than 4M rows");
    }
    if (!cuda::linear_mma_device_ok())
        return Status::unsupported("linear_mma: the device has no e4m3 tensor cores (sm_89+)");
    return cuda::linear_mma_launch(items, count, workspace, workspace_bytes, stream);
}

} // namespace fathom::kernels
