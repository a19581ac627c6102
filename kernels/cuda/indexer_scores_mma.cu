// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  Lightning-indexer scores on tensor cores (the non-exact mode's prefill variant of
  indexer_scores.cu): I(t, s) = bf16(Σ_h bf16(w_th · relu(bf16(q_th · k_s)))) with the head dots
  from bf16 mma.sync (m16n8k16, fp32 accumulation) and the head sum in fp32, head by head.

  Why bf16 and not e4m3: q and k are FP4 fake-quantised (e2m1 x 2^s per 32 dims, spec §3.7 and
  tst_kvlayout), so e4m3 m16n8k32 with one k-step per scale block would also have exact products,
  but it needs the per-block scales split off both operands (a quantisation pass over q and the
  keys, two more fp32 multiplies per fragment); bf16 holds the fake-quantised values exactly, with
  the same exact products, at half the e4m3 rate. That is the next step if this kernel limits.

  Tile: a block of 4 warps scores 32 query rows x 256 keys. The key tile sits in shared memory as
  bf16 (row stride dim + 8 halves: the B-fragment reads of a warp, row g word t, hit 32 different
  banks; 68 KiB for dim 128); warp w owns 16 query rows (the mma's M; rows of w & 1) and 128 keys
  (half w >> 1) and walks the heads: per head it loads its A fragments (16 rows x dim) straight
  from global fp32 q (bf16-valued, so the conversion is exact), runs dim/16 k-steps against each
  of its 16 key n-tiles, and folds the 16 x 8 dots into its score accumulators with the op's bf16
  roundings (ReLU with std::max's semantics: −0 and NaN pass). The q fragments are the kernel's
  main memory traffic (64 heads x 128 dims x 4 B per row and 128 keys, ~30x the key tile's), so
  the two warps of a row group read the same q (the second from L1) for twice the keys.
  Causal visibility: a warp stops at the last 8-key tile any of its rows sees (row_n), a warp
  whose rows see none of its keys, or a block none of whose rows sees a key of its tile, exits
  at once, and scores at or past a row's visible count are not written (topk_rows reads only
  those before it).

  Differences from the exact kernel: the dots are fp32 sums (error <= dim · 2^-24 · Σ|q||k| with
  the hardware's fp32 accumulation, 0 under the emulation's double sums) and the head sum is an
  fp32 sum in head order; each may move a bf16 rounding by one ulp. Bounds: tst_cuda_ops.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"
#include "indexer_rows.h"
#include "kv_packed.cuh"
#include "linear_internal.cuh"
#include "mma_sync.cuh"
#include "topk_row.cuh"

namespace fathom::kernels {

using cuda::mma::aligned16;
using cuda::mma::load_f32x4;
using cuda::mma::pack_bf16;
using cuda::mma::round_bf16x2;

namespace {

constexpr int k_rows_per_warp = 16;
constexpr int k_keys_per_warp = 128;
constexpr int k_warps = 4;                  // 2 row groups x 2 key halves
constexpr int k_rows = 2 * k_rows_per_warp; // query rows per block
constexpr int k_keys = 2 * k_keys_per_warp; // keys per block
constexpr int k_ntiles = k_keys_per_warp / 8;
constexpr int k_max_ksteps = 8; // dim <= 128

// Causal visibility of a tile (both kernels): how many keys the thread's rows r0 and r0 + 8 see,
// the most any row of its warp sees (a row past n_q sees none; row_n null: every row sees all n_keys), and the most any warp of
// the block sees. The whole block calls it (one barrier); s_lim is k_warps ints of shared memory.
struct visible_keys
{
    int row0, row1, warp, block; // rows r0 and r0 + 8, the warp, the block
};
__device__ inline visible_keys visible_key_limits(
    int r0, int n_q, const int32_t *row_n, int n_keys, int *s_lim)
{
    auto limit = [&](int r) {
        if (r >= n_q)
            return 0;
        const int n = row_n ? row_n[r] : n_keys;
        return n < n_keys ? n : n_keys;
    };
    const int lim0 = limit(r0), lim1 = limit(r0 + 8);
    int wlim = lim0 > lim1 ? lim0 : lim1;
    for (int o = 16; o > 0; o >>= 1) {
        const int other = __shfl_xor_sync(0xFFFFFFFFu, wlim, o);
        wlim = other > wlim ? other : wlim;
    }
    if ((threadIdx.x & 31) == 0)
        s_lim[threadIdx.x >> 5] = wlim;
    __syncthreads();
    int blim = 0;
    for (int w = 0; w < k_warps; ++w)
        blim = s_lim[w] > blim ? s_lim[w] : blim;
    return {lim0, lim1, wlim, blim};
}

// Both kernels' epilogue: the warp's head sums rounded to bf16 and stored, row r0 / r0 + 8 only
// for keys below its visible count lim0 / lim1 (the warp's n-tiles from key kw0 = key0 + kw).
__device__ __forceinline__ void store_tile_scores(float (&acc)[k_ntiles][4],
                                                  int nt,
                                                  int kw0,
                                                  int t,
                                                  int r0,
                                                  int lim0,
                                                  int lim1,
                                                  float *scores,
                                                  int64_t ld)
{
#pragma unroll
    for (int j = 0; j < k_ntiles; ++j) {
        if (j < nt) {
            round_bf16x2(acc[j][0], acc[j][1]);
            round_bf16x2(acc[j][2], acc[j][3]);
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int key = kw0 + j * 8 + 2 * t + (i & 1);
                const int r = i < 2 ? r0 : r0 + 8;
                if (key < (i < 2 ? lim0 : lim1))
                    scores[static_cast<int64_t>(r) * ld + key] = acc[j][i];
            }
        }
    }
}

// Two / four consecutive floats as bf16 pairs, one 8- / 16-byte load on the device (src aligned
// to it: the launchers check the base pointers, row strides are multiples of 16 floats).
__device__ inline uint32_t load_bf16x2(const float *src)
{
#ifdef FATHOM_CUDA_EMULATION
    return pack_bf16(src[0], src[1]);
#else
    const float2 v = *reinterpret_cast<const float2 *>(src);
    return pack_bf16(v.x, v.y);
#endif
}

// Keys key0 .. key0 + count - 1 into shared memory as bf16 pairs, stride_w words per key; keys
// at or past `limit` are zero (their scores are never written). In batches of 4 quads per
// thread, the loads first (4 16-byte loads in flight per thread). The whole block calls it.
// keys16 (bf16 bits, a device sequence state's keys) instead of keys: 8-byte loads stored as
// loaded, half the bytes and no conversion; keys8 (packed rows, kv_packed.cuh) before both.
__device__ __forceinline__ void stage_key_tile(uint32_t *sk,
                                               const float *keys,
                                               const uint16_t *keys16,
                                               const uint8_t *keys8,
                                               int key0,
                                               int count,
                                               int limit,
                                               int dim,
                                               int stride_w)
{
    const int quads = dim / 4;
    if (keys8) {
        // Packed keys (e2m1 pairs + E8M0 per 32): 2-byte code loads and the scale, dequantised
        // to bf16 pairs (exact).
        const int64_t rb = cuda::packed_row_bytes(dim, -1);
        for (int i0 = threadIdx.x; i0 < count * quads; i0 += 4 * blockDim.x) {
            uint32_t w[4][2];
#pragma unroll
            for (int b = 0; b < 4; ++b) {
                const int i = i0 + b * blockDim.x;
                const int kk = i / quads, d4 = i % quads;
                w[b][0] = w[b][1] = 0u;
                if (i < count * quads && key0 + kk < limit)
                    cuda::packed_key_bf16x4(keys8 + static_cast<int64_t>(key0 + kk) * rb,
                                            4 * d4,
                                            dim,
                                            w[b]);
            }
            cuda::mma::store_staged_quads(sk, stride_w, w, i0, quads, count * quads);
        }
        return;
    }
    if (keys16) {
        for (int i0 = threadIdx.x; i0 < count * quads; i0 += 4 * blockDim.x) {
            uint32_t w[4][2];
#pragma unroll
            for (int b = 0; b < 4; ++b) {
                const int i = i0 + b * blockDim.x;
                const int kk = i / quads, d4 = i % quads;
                w[b][0] = w[b][1] = 0u;
                if (i < count * quads && key0 + kk < limit) {
                    const uint16_t *src = keys16 + static_cast<int64_t>(key0 + kk) * dim + 4 * d4;
#ifdef FATHOM_CUDA_EMULATION
                    w[b][0] = static_cast<uint32_t>(src[0]) | (static_cast<uint32_t>(src[1]) << 16);
                    w[b][1] = static_cast<uint32_t>(src[2]) | (static_cast<uint32_t>(src[3]) << 16);
#else
                    const uint2 v = *reinterpret_cast<const uint2 *>(src);
                    w[b][0] = v.x;
                    w[b][1] = v.y;
#endif
                }
            }
            cuda::mma::store_staged_quads(sk, stride_w, w, i0, quads, count * quads);
        }
        return;
    }
    for (int i0 = threadIdx.x; i0 < count * quads; i0 += 4 * blockDim.x) {
        float f[4][4];
#pragma unroll
        for (int b = 0; b < 4; ++b) {
            const int i = i0 + b * blockDim.x;
            const int kk = i / quads, d4 = i % quads;
            f[b][0] = f[b][1] = f[b][2] = f[b][3] = 0.0f;
            if (i < count * quads && key0 + kk < limit)
                load_f32x4(keys + static_cast<int64_t>(key0 + kk) * dim + 4 * d4, f[b]);
        }
#pragma unroll
        for (int b = 0; b < 4; ++b) {
            const int i = i0 + b * blockDim.x;
            const int kk = i / quads, d4 = i % quads;
            if (i < count * quads) {
                sk[kk * stride_w + 2 * d4] = pack_bf16(f[b][0], f[b][1]);
                sk[kk * stride_w + 2 * d4 + 1] = pack_bf16(f[b][2], f[b][3]);
            }
        }
    }
}

// One 16 x 8 mma tile of head dots (A: the 16 rows' fragments per 16-dim step, kr: this lane's
// key row in the staged tile) and its terms pr = bf16(w x relu(bf16(dot))), ReLU with
// std::max(dv, 0.0f)'s semantics; w0 weighs the tile's rows g, w1 its rows g + 8.
__device__ __forceinline__ void head_terms(float pr[4],
                                           const uint32_t (&a)[k_max_ksteps][4],
                                           const uint32_t *kr,
                                           int ksteps,
                                           float w0,
                                           float w1)
{
    float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int ks = 0; ks < k_max_ksteps; ++ks) {
        if (ks < ksteps) {
            const uint32_t b[2] = {kr[ks * 8], kr[ks * 8 + 4]};
            cuda::mma::m16n8k16_bf16(d, a[ks], b, d);
        }
    }
    round_bf16x2(d[0], d[1]);
    round_bf16x2(d[2], d[3]);
#pragma unroll
    for (int i = 0; i < 4; ++i)
        pr[i] = __fmul_rn(i < 2 ? w0 : w1, d[i] < 0.0f ? 0.0f : d[i]);
    round_bf16x2(pr[0], pr[1]);
    round_bf16x2(pr[2], pr[3]);
}

__global__ void __launch_bounds__(k_warps * 32)
    indexer_scores_mma_kernel(cuda::IndexerRowsArgs args)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const float *q_all = args.p.q, *w_all = args.p.weights, *keys = args.p.keys;
    const uint16_t *keys16 = args.p.keys_bf16;
    const uint8_t *keys8 = args.p.keys_packed;
    float *scores = args.p.scores;
    const int n_q = args.n_q, n_heads = args.p.n_heads, dim = args.p.dim, n_keys = args.p.n_keys;
    const int64_t ld = args.scores_ld;
    const int32_t *row_n = args.row_n;
    FATHOM_EXTERN_SHARED(uint32_t, sk); // [k_keys][stride_w] bf16 pairs
    __shared__ int s_lim[k_warps];
    const int stride_w = dim / 2 + 4; // words per key row (== 4 mod 8: conflict-free B reads)
    const int ksteps = dim / 16;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const int key0 = blockIdx.y * k_keys;
    // Warps 0, 1 and 2, 3 own the same 16 query rows (their q fragments: one L2 read, the
    // second warp's from L1), warps 0, 2 and 1, 3 the same 128 keys.
    const int r0 = blockIdx.x * k_rows + (warp & 1) * k_rows_per_warp + g;
    const int kw = (warp >> 1) * k_keys_per_warp; // the warp's first key in the tile
    const int r1 = r0 + 8;
    const visible_keys lim = visible_key_limits(r0, n_q, row_n, n_keys, s_lim);
    const int lim0 = lim.row0, lim1 = lim.row1, wlim = lim.warp;
    if (key0 >= lim.block)
        return; // no row of the block sees a key of this tile (uniform over the block)

    // The key tile as bf16 pairs; keys past n_keys are zero (their scores are never written).
    stage_key_tile(sk, keys, keys16, keys8, key0, k_keys, n_keys, dim, stride_w);
    __syncthreads();
    if (key0 + kw >= wlim)
        return; // this warp's rows see none of its keys (no barrier follows)
    const int vis = wlim - key0 - kw;
    const int nt = vis >= k_keys_per_warp ? k_ntiles : (vis + 7) / 8;

    float acc[k_ntiles][4];
#pragma unroll
    for (int j = 0; j < k_ntiles; ++j)
        acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;

    const float *q0 = q_all + static_cast<int64_t>(r0) * n_heads * dim;
    const float *q1 = q_all + static_cast<int64_t>(r1) * n_heads * dim;
    const bool ok0 = r0 < n_q, ok1 = r1 < n_q;
    for (int h = 0; h < n_heads; ++h) {
        uint32_t a[k_max_ksteps][4];
#pragma unroll
        for (int ks = 0; ks < k_max_ksteps; ++ks) {
            if (ks < ksteps) {
                const int c = h * dim + ks * 16 + 2 * t;
                a[ks][0] = ok0 ? load_bf16x2(q0 + c) : 0u;
                a[ks][1] = ok1 ? load_bf16x2(q1 + c) : 0u;
                a[ks][2] = ok0 ? load_bf16x2(q0 + c + 8) : 0u;
                a[ks][3] = ok1 ? load_bf16x2(q1 + c + 8) : 0u;
            }
        }
        const float w0 = ok0 ? w_all[static_cast<int64_t>(r0) * n_heads + h] : 0.0f;
        const float w1 = ok1 ? w_all[static_cast<int64_t>(r1) * n_heads + h] : 0.0f;
#pragma unroll
        for (int j = 0; j < k_ntiles; ++j) {
            if (j < nt) {
                float pr[4];
                head_terms(pr, a, sk + (kw + j * 8 + g) * stride_w + t, ksteps, w0, w1);
#pragma unroll
                for (int i = 0; i < 4; ++i)
                    acc[j][i] = __fadd_rn(acc[j][i], pr[i]);
            }
        }
    }
    store_tile_scores(acc, nt, key0 + kw, t, r0, lim0, lim1, scores, ld);
}

/*
  Decode variant (fewer than k_min_fast_rows query rows): the heads are the mma's M (one row's
  q: n_heads x dim, 16 heads per M tile), the keys its N. A block of 4 warps scores one row
  (blockIdx.y) against k_dkeys keys (blockIdx.x), so a long row fills the GPU; warp w takes the
  M tiles w, w + 4, ... against all the block's keys and stores each (head, key) term
  bf16(w_h relu(bf16(dot))) to shared memory; then one thread per key sums the terms in head
  order in fp32 and rounds to bf16: the same arithmetic, in the same order, as the prefill
  kernel above (and the same bound). The row's visible count is device data (row_n): the launch
  shape depends only on n_keys (the capacity) and n_q, so a replayed decode graph stays valid;
  blocks past the count exit at once.
*/
constexpr int k_dkeys = 128; // keys per decode block
constexpr int k_dntiles = k_dkeys / 8;
// Term row stride (floats): == 8 mod 32, so a warp's term stores (lanes g x t: heads g, keys 2t)
// fall on 2-way bank conflicts instead of 8-way; the per-key sum reads are conflict-free.
constexpr int k_dpr_stride = k_dkeys + 8;

// The decode kernels' shared memory (the key tile, then the per-head partial products), for
// indexer_scores_rows_fast_cuda and indexer_topk_rows_fast_cuda's scoring part.
inline size_t decode_smem_bytes(int n_heads, int dim)
{
    const int heads16 = (n_heads + 15) / 16 * 16;
    return sizeof(uint32_t) * k_dkeys * (dim / 2 + 4) + sizeof(float) * heads16 * k_dpr_stride;
}

// One decode block's tile (the kernels below); returns at once past the row's visible keys.
__device__ inline void decode_tile(uint32_t *sk, // [k_dkeys][stride_w] bf16 pairs, then the terms
                                   const cuda::IndexerRowsArgs &args)
{
    const float *q_all = args.p.q, *w_all = args.p.weights, *keys = args.p.keys;
    const uint16_t *keys16 = args.p.keys_bf16;
    const uint8_t *keys8 = args.p.keys_packed;
    float *scores = args.p.scores;
    const int n_heads = args.p.n_heads, dim = args.p.dim, n_keys = args.p.n_keys;
    const int64_t ld = args.scores_ld;
    const int32_t *row_n = args.row_n;
    const int stride_w = dim / 2 + 4;
    float *s_pr = reinterpret_cast<float *>(sk + k_dkeys * stride_w); // [heads16][k_dpr_stride]
    const int ksteps = dim / 16;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const int r = blockIdx.y;
    const int key0 = blockIdx.x * k_dkeys;
    int lim = row_n ? row_n[r] : n_keys;
    lim = lim < n_keys ? lim : n_keys;
    if (key0 >= lim)
        return; // uniform over the block

    stage_key_tile(sk, keys, keys16, keys8, key0, k_dkeys, lim, dim, stride_w);
    __syncthreads();
    const int vis = lim - key0;
    const int nt = vis >= k_dkeys ? k_dntiles : (vis + 7) / 8;
    const float *q = q_all + static_cast<int64_t>(r) * n_heads * dim;
    const float *w = w_all + static_cast<int64_t>(r) * n_heads;
    const int mtiles = (n_heads + 15) / 16;
    for (int mt = warp; mt < mtiles; mt += k_warps) {
        const int h0 = mt * 16 + g, h1 = h0 + 8;
        const bool ok0 = h0 < n_heads, ok1 = h1 < n_heads;
        uint32_t a[k_max_ksteps][4];
#pragma unroll
        for (int ks = 0; ks < k_max_ksteps; ++ks) {
            if (ks < ksteps) {
                const int c = ks * 16 + 2 * t;
                a[ks][0] = ok0 ? load_bf16x2(q + h0 * dim + c) : 0u;
                a[ks][1] = ok1 ? load_bf16x2(q + h1 * dim + c) : 0u;
                a[ks][2] = ok0 ? load_bf16x2(q + h0 * dim + c + 8) : 0u;
                a[ks][3] = ok1 ? load_bf16x2(q + h1 * dim + c + 8) : 0u;
            }
        }
        const float w0 = ok0 ? w[h0] : 0.0f;
        const float w1 = ok1 ? w[h1] : 0.0f;
#pragma unroll
        for (int j = 0; j < k_dntiles; ++j) {
            if (j < nt) {
                float pr[4];
                head_terms(pr, a, sk + (j * 8 + g) * stride_w + t, ksteps, w0, w1);
                const int c = j * 8 + 2 * t;
                s_pr[h0 * k_dpr_stride + c] = pr[0];
                s_pr[h0 * k_dpr_stride + c + 1] = pr[1];
                s_pr[h1 * k_dpr_stride + c] = pr[2];
                s_pr[h1 * k_dpr_stride + c + 1] = pr[3];
            }
        }
    }
    __syncthreads();
    for (int kk = threadIdx.x; kk < k_dkeys; kk += blockDim.x) {
        if (kk < vis) {
            float acc = 0.0f;
            for (int h = 0; h < n_heads; ++h)
                acc = __fadd_rn(acc, s_pr[h * k_dpr_stride + kk]);
            float dummy = 0.0f;
            round_bf16x2(acc, dummy);
            scores[static_cast<int64_t>(r) * ld + key0 + kk] = acc;
        }
    }
}

__global__ void __launch_bounds__(k_warps * 32)
    indexer_scores_mma_decode_kernel(cuda::IndexerRowsArgs args)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(uint32_t, sk);
    decode_tile(sk, args);
}

// idxtopk: the same tiles, then the row's last block (counters[row], gridDim.x blocks) runs the
// row's top-k and index row with its 128 threads (topk_row.cuh indexer_topk_tail).
__global__ void __launch_bounds__(k_warps * 32)
    indexer_topk_mma_decode_kernel(cuda::IndexerRowsArgs args)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(uint32_t, sk);
    decode_tile(sk, args);
    cuda::indexer_topk_tail(args, blockIdx.y, static_cast<int>(gridDim.x), sk);
}

/*
  e4m3 variant (the non-exact prefill default on sm_89+, FATHOM_CUDA_INDEXER=bf16 keeps the bf16
  kernel above): the same tile, causal limits, epilogue and roundings, with the head dots from
  e4m3 mma.sync m16n8k32 (twice the bf16 rate on Hopper, half the k-steps) on q and keys that
  carry their power-of-two scales outside the e4m3 bytes.

  Operands. Both sides are FP4 fake-quantised (e2m1 x 2^s per 32 dims): every value is 1 or 1.5
  times a power of two. A vector (one query head, one key) is stored as e4m3 bytes of v x 2^-b
  with one float 2^b per vector, b chosen from its largest value (q: floor(log2 amax) - 8, so the
  largest byte is 256 or 384; keys: from the largest E8M0 block scale, the largest e2m1 magnitude
  6 landing on 384). A value more than 2^16 (q) / 2^14 block scales (keys) below the vector's
  largest would need more than e4m3's subnormal range and is rounded (nearest even; never in
  Hadamard-rotated FP4 rows, which would need one 32-dim block 2^12 below another); every other
  value is exact. So the products are exact, and each k-step's 32 products share one power of
  two: each m16n8k32 adds 32 exact products of 13 significant bits (e2m1 products are multiples
  of 1/4 with |.| <= 36 before the shared scale) to the running fp32 dot; the 4 k-steps are
  chained through the accumulator (no per-k-step scale multiplies: the scale of a dot is the
  product of its two vector scales, applied once, after the bf16 rounding, which it commutes
  with: bf16(d 2^a) = bf16(d) 2^a, relu too, and w (2^a 2^b relu) = (w 2^a)(relu 2^b) exactly).
  Hence the dot is a 4-term fp32 sum of exact block partials (3 roundings, <= 3 2^-24 sum|q||k|)
  if the tensor cores add the accumulator in fp32 (the emulation does: double sums rounded once
  per k-step). Hopper's FP8 accumulation is reported to keep fewer bits (~14 inside WGMMA,
  DeepSeek-V3); a block partial needs <= 13, the chain more. The Split variant takes each k-step
  from a zero accumulator and adds the 4 partials in fp32 itself (3 adds per element and head),
  independent of the hardware's accumulator; the device run decides the default. The per-k-step
  scale multiplies the brief first proposed (8 fp32 ops per mma) would cost more issue slots than
  the bf16 kernel's whole k-loop; here the e4m3 path adds one multiply per score element and head.

  q: packed once per prefill by indexer_q_pack_e4m3 (one warp per row and head): 128 bytes per
  head in fragment order (below) plus the float scales, a quarter of the bytes of the fp32 q the
  bf16 kernel reads once per 256-key tile. Keys: the device state's packed rows (kv_packed.cuh:
  e2m1 pairs + E8M0 per 32) converted while staged (e2m1 x 2^(s_b - b) -> e4m3, exact as above).

  Fragment order (dim 128, 32 words per vector): word w = 8 k + 4 h + t of the natural order
  (k-step k, half h = which of the mma's two registers of a row/column, lane t) is stored at
  8 t + 2 k + h, so lane t's 8 words (all 4 k-steps) are one 32-byte run: two 16-byte loads per
  q row and head (global), two per key and n-tile (shared). Shared key rows are 36 words apart:
  a 16-byte load is served per 8 lanes (rows g, g + 1 of 4 lanes t), whose 8 x 4 words at
  36 g + 8 t + (0..3) cover the 32 banks once (36 = 4 mod 32 shifts row g + 1 by 4 banks into
  the gaps of row g), so the B reads are conflict-free; the staging stores write one key's 32
  words per warp (a permutation of 32 consecutive words: conflict-free). 36 KiB of key bytes +
  1 KiB of key scales per block (the bf16 kernel's tile: 68 KiB).
*/
// Dim 128 (V4's index heads) or 64 (the tiny test models'): Ks k-steps, Ks 8 words per vector.
template<int Dim>
struct e4_shape
{
    static_assert(Dim == 64 || Dim == 128, "the e4m3 indexer handles dims 64 and 128");
    static constexpr int words = Dim / 4;
    static constexpr int ksteps = Dim / 32;
    // Shared words per key row: lane t's run (2 ksteps words) of rows g, g + 1 must fill the 32
    // banks between them: 36 = 4 mod 32 for 8-word runs, 16 for 4-word runs.
    static constexpr int stride = Dim == 128 ? 36 : 16;
};

// Natural word w of a vector -> its fragment-order slot.
template<int Dim>
__host__ __device__ constexpr int e4_slot(int w)
{
    return 2 * e4_shape<Dim>::ksteps * (w & 3) + 2 * (w >> 3) + ((w >> 2) & 1);
}

// Four consecutive 32-bit words (16-byte aligned), one 16-byte load on the device.
__device__ inline void load_u32x4(const uint32_t *src, uint32_t dst[4])
{
#ifdef FATHOM_CUDA_EMULATION
    dst[0] = src[0];
    dst[1] = src[1];
    dst[2] = src[2];
    dst[3] = src[3];
#else
    const uint4 v = *reinterpret_cast<const uint4 *>(src);
    dst[0] = v.x;
    dst[1] = v.y;
    dst[2] = v.z;
    dst[3] = v.w;
#endif
}

// 2^e as a float for e in [-126, 127] (the callers clamp).
__device__ inline float pow2f(int e)
{
    return __uint_as_float(static_cast<uint32_t>(e + 127) << 23);
}

// One warp per (row, head) vector: lane l holds dims 4l .. 4l + 3 (lanes past Dim / 4 none).
template<int Dim>
__global__ void __launch_bounds__(256)
    indexer_q_pack_e4m3_kernel(const float *q, int64_t vectors, uint32_t *q8, float *qs)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const int lane = threadIdx.x & 31;
    const int64_t v = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (v >= vectors)
        return; // uniform over the warp
    using S = e4_shape<Dim>;
    float x[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (lane < S::words)
        load_f32x4(q + v * Dim + 4 * lane, x);
    float amax = 0.0f;
    for (int i = 0; i < 4; ++i)
        amax = fmaxf(amax, fabsf(x[i]));
    amax = cuda::warp_max(amax);
    // floor(log2 amax) - 8: the largest value (1 or 1.5 x 2^e) becomes 256 or 384; clamped so that
    // 2^-b stays a normal float (amax below 2^-118 only loses its smallest values).
    int b = static_cast<int>((__float_as_uint(amax) >> 23) & 0xFFu) - 127 - 8;
    b = b < -126 ? -126 : (b > 126 ? 126 : b);
    if (!(amax > 0.0f) || amax > 3.0e38f)
        b = 0; // zeros (any scale) or inf / NaN (propagate through the bytes)
    const float inv = pow2f(-b);
    uint32_t word = 0;
    for (int i = 0; i < 4; ++i)
        word |= static_cast<uint32_t>(cuda::f32_to_e4m3(__fmul_rn(x[i], inv))) << (8 * i);
    if (lane < S::words)
        q8[v * S::words + e4_slot<Dim>(lane)] = word;
    if (lane == 0)
        qs[v] = pow2f(b);
}

// Keys key0 .. key0 + count - 1 of packed rows (68 bytes: 64 nibble bytes, 4 E8M0 scales) into
// shared e4m3 words in fragment order and their scales; keys at or past `limit` are zero.
template<int Dim>
__device__ __forceinline__ void stage_key_tile_e4m3(
    uint32_t *sk, float *sks, const uint8_t *keys8, int key0, int count, int limit)
{
    using S = e4_shape<Dim>;
    constexpr int64_t rb = Dim / 2 + Dim / 32;
    for (int i0 = threadIdx.x; i0 < count * S::words; i0 += 4 * blockDim.x) {
        uint32_t c[4], s[4];
#pragma unroll
        for (int bt = 0; bt < 4; ++bt) {
            const int i = i0 + bt * blockDim.x;
            const int kk = i / S::words, w = i % S::words;
            c[bt] = 0u;
            s[bt] = 0x7F7F7F7Fu; // zero codes: any scale
            if (i < count * S::words && key0 + kk < limit) {
                const uint8_t *row = keys8 + static_cast<int64_t>(key0 + kk) * rb;
                c[bt] = static_cast<uint32_t>(row[2 * w])
                        | (static_cast<uint32_t>(row[2 * w + 1]) << 8);
                s[bt] = Dim == 128 ? cuda::load_u32(row + Dim / 2) // 4-byte aligned rows
                                   : static_cast<uint32_t>(
                                       row[Dim / 2] | (row[Dim / 2 + 1] << 8)); // 2 scales, 0 pads
            }
        }
#pragma unroll
        for (int bt = 0; bt < 4; ++bt) {
            const int i = i0 + bt * blockDim.x;
            const int kk = i / S::words, w = i % S::words;
            if (i >= count * S::words)
                continue;
            int smax = 0;
            for (int j = 0; j < 4; ++j) {
                const int sj = static_cast<int>((s[bt] >> (8 * j)) & 0xFFu);
                smax = sj > smax ? sj : smax;
            }
            // Key scale 2^(smax - 127 - 6): e2m1's largest magnitude 6 lands on 384.
            const int sb = static_cast<int>((s[bt] >> (8 * (w >> 3))) & 0xFFu);
            const int rel = sb - smax + 6; // this block's bytes: e2m1 x 2^rel (rel <= 6)
            const float f = rel < -126 ? 0.0f : pow2f(rel);
            uint32_t word = 0;
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const float x = __fmul_rn(cuda::e2m1_to_f32((c[bt] >> (4 * j)) & 0xFu), f);
                word |= static_cast<uint32_t>(cuda::f32_to_e4m3(x)) << (8 * j);
            }
            sk[kk * S::stride + e4_slot<Dim>(w)] = word;
            if (w == 0) {
                const int e = smax - 127 - 6;
                sks[kk] = smax == 255 ? __uint_as_float(0x7FC00000u)
                                      : (e < -126 ? ldexpf(1.0f, e) : pow2f(e));
            }
        }
    }
}

// Split: each k-step's partial from a zero accumulator, the 4 partials added in fp32 (the sum
// never relies on the tensor cores' accumulation; 3 more adds per element and head); otherwise
// the k-steps chain through the accumulator (see the header comment).
template<int Dim, bool Split>
__global__ void __launch_bounds__(k_warps * 32) indexer_scores_e4m3_kernel(const uint32_t *q8,
                                                                           const float *qs,
                                                                           const float *w_all,
                                                                           const uint8_t *keys8,
                                                                           float *scores,
                                                                           int n_q,
                                                                           int n_heads,
                                                                           int n_keys,
                                                                           int64_t ld,
                                                                           const int32_t *row_n)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(uint32_t, sk); // [k_keys][S::stride] e4m3 words, then k_keys scales
    using S = e4_shape<Dim>;
    float *sks = reinterpret_cast<float *>(sk + k_keys * S::stride);
    __shared__ int s_lim[k_warps];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const int key0 = blockIdx.y * k_keys;
    const int r0 = blockIdx.x * k_rows + (warp & 1) * k_rows_per_warp + g;
    const int kw = (warp >> 1) * k_keys_per_warp;
    const int r1 = r0 + 8;
    const visible_keys lim = visible_key_limits(r0, n_q, row_n, n_keys, s_lim);
    const int lim0 = lim.row0, lim1 = lim.row1, wlim = lim.warp;
    if (key0 >= lim.block)
        return; // uniform over the block

    stage_key_tile_e4m3<Dim>(sk, sks, keys8, key0, k_keys, n_keys);
    __syncthreads();
    if (key0 + kw >= wlim)
        return;
    const int vis = wlim - key0 - kw;
    const int nt = vis >= k_keys_per_warp ? k_ntiles : (vis + 7) / 8;

    float acc[k_ntiles][4];
#pragma unroll
    for (int j = 0; j < k_ntiles; ++j)
        acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;

    const bool ok0 = r0 < n_q, ok1 = r1 < n_q;
    for (int h = 0; h < n_heads; ++h) {
        // Lane t's 2 Ks words of rows r0 / r1: a[k] = {row g k-low, row g + 8 k-low, row g
        // k-high, row g + 8 k-high} (mma_sync.cuh's e4m3 A table).
        constexpr int run = 2 * S::ksteps;
        uint32_t x0[run] = {}, x1[run] = {};
        float wq0 = 0.0f, wq1 = 0.0f;
        if (ok0) {
            const uint32_t *src = q8 + (static_cast<int64_t>(r0) * n_heads + h) * S::words
                                  + run * t;
#pragma unroll
            for (int u = 0; u < run; u += 4)
                load_u32x4(src + u, x0 + u);
            wq0 = __fmul_rn(w_all[static_cast<int64_t>(r0) * n_heads + h],
                            qs[static_cast<int64_t>(r0) * n_heads + h]);
        }
        if (ok1) {
            const uint32_t *src = q8 + (static_cast<int64_t>(r1) * n_heads + h) * S::words
                                  + run * t;
#pragma unroll
            for (int u = 0; u < run; u += 4)
                load_u32x4(src + u, x1 + u);
            wq1 = __fmul_rn(w_all[static_cast<int64_t>(r1) * n_heads + h],
                            qs[static_cast<int64_t>(r1) * n_heads + h]);
        }
#pragma unroll
        for (int j = 0; j < k_ntiles; ++j) {
            if (j < nt) {
                const int kr = kw + j * 8;
                uint32_t y[run];
#pragma unroll
                for (int u = 0; u < run; u += 4)
                    load_u32x4(sk + (kr + g) * S::stride + run * t + u, y + u);
                float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
                for (int ks = 0; ks < S::ksteps; ++ks) {
                    const uint32_t a[4] = {x0[2 * ks], x1[2 * ks], x0[2 * ks + 1], x1[2 * ks + 1]};
                    const uint32_t b[2] = {y[2 * ks], y[2 * ks + 1]};
                    if constexpr (Split) {
                        const float z[4] = {0.0f, 0.0f, 0.0f, 0.0f};
                        float part[4];
                        cuda::mma::m16n8k32_e4m3(part, a, b, z);
#pragma unroll
                        for (int i = 0; i < 4; ++i)
                            d[i] = __fadd_rn(d[i], part[i]);
                    } else {
                        cuda::mma::m16n8k32_e4m3(d, a, b, d);
                    }
                }
                const float sc0 = sks[kr + 2 * t], sc1 = sks[kr + 2 * t + 1];
                round_bf16x2(d[0], d[1]);
                round_bf16x2(d[2], d[3]);
                float pr[4];
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const float rl = __fmul_rn(d[i] < 0.0f ? 0.0f : d[i], (i & 1) ? sc1 : sc0);
                    pr[i] = __fmul_rn(i < 2 ? wq0 : wq1, rl);
                }
                round_bf16x2(pr[0], pr[1]);
                round_bf16x2(pr[2], pr[3]);
#pragma unroll
                for (int i = 0; i < 4; ++i)
                    acc[j][i] = __fadd_rn(acc[j][i], pr[i]);
            }
        }
    }
    store_tile_scores(acc, nt, key0 + kw, t, r0, lim0, lim1, scores, ld);
}
} // namespace

bool indexer_scores_mma_supported(int n_heads, int dim)
{
    return n_heads > 0 && dim >= 16 && dim <= 16 * k_max_ksteps && dim % 16 == 0;
}

// The decode variant (see its kernel): grid (key blocks, rows), independent of the visible counts.
static Status indexer_scores_decode_fast_cuda(const IndexerScoreParams &p,
                                              int n_q,
                                              int64_t scores_ld,
                                              CUstream_st *stream,
                                              const int32_t *row_n)
{
    if (!p.q || !p.weights || (!p.keys && !p.keys_bf16 && !p.keys_packed && p.n_keys)
        || (!p.scores && p.n_keys) || n_q < 0 || scores_ld < p.n_keys)
        return Status::invalid("indexer_scores_rows_fast_cuda: bad arguments");
    if (p.n_keys == 0 || n_q == 0)
        return Status::success();
    const size_t smem = decode_smem_bytes(p.n_heads, p.dim);
    if (smem > 227 * 1024)
        return indexer_scores_rows_cuda(p, n_q, scores_ld, stream, row_n); // > 448 heads
    if (const cudaError_t err = cuda::allow_smem(indexer_scores_mma_decode_kernel, smem);
        err != cudaSuccess)
        return cuda_status(err);
    const dim3 grid((p.n_keys + k_dkeys - 1) / k_dkeys, n_q);
    FATHOM_LAUNCH(grid, k_warps * 32, smem, stream, indexer_scores_mma_decode_kernel)
    (cuda::indexer_rows_args(p, n_q, scores_ld, row_n));
    return cuda::launch_status();
}

Status indexer_scores_rows_fast_cuda(const IndexerScoreParams &p,
                                     int n_q,
                                     int64_t scores_ld,
                                     CUstream_st *stream,
                                     const int32_t *row_n)
{
    if (!indexer_scores_mma_supported(p.n_heads, p.dim) || !aligned16(p.q) || !aligned16(p.keys)
        || (reinterpret_cast<uintptr_t>(p.keys_bf16) & 7u) != 0)
        return indexer_scores_rows_cuda(p, n_q, scores_ld, stream, row_n);
    if (n_q < k_min_fast_rows)
        return indexer_scores_decode_fast_cuda(p, n_q, scores_ld, stream, row_n);
    if (!p.q || !p.weights || (!p.keys && !p.keys_bf16 && !p.keys_packed && p.n_keys)
        || (!p.scores && p.n_keys) || n_q < 0 || scores_ld < p.n_keys
        || (p.n_keys + k_keys - 1) / k_keys > 65535)
        return Status::invalid("indexer_scores_rows_fast_cuda: bad arguments");
    if (p.n_keys == 0 || n_q == 0)
        return Status::success();
    const size_t smem = sizeof(uint32_t) * k_keys * (p.dim / 2 + 4); // <= 68 KiB
    if (const cudaError_t err = cuda::allow_smem(indexer_scores_mma_kernel, smem);
        err != cudaSuccess)
        return cuda_status(err);
    const dim3 grid((n_q + k_rows - 1) / k_rows, (p.n_keys + k_keys - 1) / k_keys);
    FATHOM_LAUNCH(grid, k_warps * 32, smem, stream, indexer_scores_mma_kernel)
    (cuda::indexer_rows_args(p, n_q, scores_ld, row_n));
    return cuda::launch_status();
}

Status indexer_topk_rows_fast_cuda(const IndexerScoreParams &p,
                                   int n_q,
                                   int64_t scores_ld,
                                   const int32_t *row_n,
                                   const IndexerTopkOut &o,
                                   CUstream_st *stream)
{
    // indexer_scores_rows_fast_cuda's choices for decode rows (n_q < k_min_fast_rows).
    const size_t scoring = decode_smem_bytes(p.n_heads, p.dim);
    if (!indexer_scores_mma_supported(p.n_heads, p.dim) || !aligned16(p.q) || !aligned16(p.keys)
        || (reinterpret_cast<uintptr_t>(p.keys_bf16) & 7u) != 0 || n_q >= k_min_fast_rows
        || scoring > 227 * 1024)
        return indexer_topk_rows_cuda(p, n_q, scores_ld, row_n, o, stream);
    if (const Status st = cuda::indexer_topk_rows_check(p, n_q, scores_ld, o, true); !st.ok())
        return st;
    const size_t tail = cuda::indexer_topk_smem(o.k, p.n_keys);
    const size_t smem = scoring > tail ? scoring : tail;
    if (smem > 227 * 1024)
        return Status::unsupported("indexer_topk_rows_fast_cuda: shared memory");
    if (const cudaError_t err = cuda::allow_smem(indexer_topk_mma_decode_kernel, smem);
        err != cudaSuccess)
        return cuda_status(err);
    const dim3 grid((p.n_keys + k_dkeys - 1) / k_dkeys, n_q);
    FATHOM_LAUNCH(grid, k_warps * 32, smem, stream, indexer_topk_mma_decode_kernel)
    (cuda::indexer_rows_args(p, n_q, scores_ld, row_n, &o));
    return cuda::launch_status();
}

bool indexer_scores_e4m3_supported(const IndexerScoreParams &p)
{
    return (p.dim == 128 || p.dim == 64) && p.n_heads > 0 && p.keys_packed
           && (p.dim == 64 || (reinterpret_cast<uintptr_t>(p.keys_packed) & 3u) == 0)
           && cuda::linear_mma_device_ok();
}

size_t indexer_q_e4m3_bytes(int n_q, int n_heads, int dim)
{
    const size_t vectors = static_cast<size_t>(n_q) * static_cast<size_t>(n_heads);
    return vectors * static_cast<size_t>(dim) + vectors * sizeof(float);
}

Status indexer_q_pack_e4m3_cuda(
    const float *q, int n_q, int n_heads, int dim, uint8_t *out, CUstream_st *stream)
{
    if ((dim != 128 && dim != 64) || n_q < 0 || n_heads <= 0 || (n_q && (!q || !out))
        || !aligned16(q) || !aligned16(out))
        return Status::invalid("indexer_q_pack_e4m3_cuda: bad arguments (dim 64 or 128, "
                               "16-byte aligned buffers)");
    const int64_t vectors = static_cast<int64_t>(n_q) * n_heads;
    if (vectors == 0)
        return Status::success();
    constexpr int per_block = 8; // warps
    const int64_t blocks = (vectors + per_block - 1) / per_block;
    if (blocks > 0x7FFFFFFF)
        return Status::invalid("indexer_q_pack_e4m3_cuda: too many rows");
    auto *q8 = reinterpret_cast<uint32_t *>(out);
    auto *qs = reinterpret_cast<float *>(out + vectors * dim);
    const auto nb = static_cast<unsigned>(blocks);
    if (dim == 128) {
        FATHOM_LAUNCH(nb, per_block * 32, 0, stream, indexer_q_pack_e4m3_kernel<128>)
        (q, vectors, q8, qs);
    } else {
        FATHOM_LAUNCH(nb, per_block * 32, 0, stream, indexer_q_pack_e4m3_kernel<64>)
        (q, vectors, q8, qs);
    }
    return cuda::launch_status();
}

template<int Dim, bool Split>
static Status launch_scores_e4m3(const IndexerScoreParams &p,
                                 const uint32_t *q8,
                                 const float *qs,
                                 int n_q,
                                 int64_t scores_ld,
                                 CUstream_st *stream,
                                 const int32_t *row_n)
{
    const size_t smem = sizeof(uint32_t) * k_keys * e4_shape<Dim>::stride + sizeof(float) * k_keys;
    if (const cudaError_t err = cuda::allow_smem(indexer_scores_e4m3_kernel<Dim, Split>, smem);
        err != cudaSuccess)
        return cuda_status(err);
    const dim3 grid((n_q + k_rows - 1) / k_rows, (p.n_keys + k_keys - 1) / k_keys);
    FATHOM_LAUNCH(grid, k_warps * 32, smem, stream, indexer_scores_e4m3_kernel<Dim, Split>)
    (q8, qs, p.weights, p.keys_packed, p.scores, n_q, p.n_heads, p.n_keys, scores_ld, row_n);
    return cuda::launch_status();
}

Status indexer_scores_rows_e4m3_cuda(const IndexerScoreParams &p,
                                     const uint8_t *q_packed,
                                     int q_packed_rows,
                                     int q_row0,
                                     int n_q,
                                     int64_t scores_ld,
                                     CUstream_st *stream,
                                     const int32_t *row_n,
                                     bool split_ksteps)
{
    if (!indexer_scores_e4m3_supported(p) || !q_packed || !aligned16(q_packed) || !p.weights
        || (!p.scores && p.n_keys) || n_q < 0 || q_row0 < 0 || q_row0 + n_q > q_packed_rows
        || scores_ld < p.n_keys || (p.n_keys + k_keys - 1) / k_keys > 65535)
        return Status::invalid("indexer_scores_rows_e4m3_cuda: bad arguments");
    if (p.n_keys == 0 || n_q == 0)
        return Status::success();
    const int64_t all = static_cast<int64_t>(q_packed_rows) * p.n_heads;
    const int64_t first = static_cast<int64_t>(q_row0) * p.n_heads;
    const auto *q8 = reinterpret_cast<const uint32_t *>(q_packed) + first * (p.dim / 4);
    const auto *qs = reinterpret_cast<const float *>(q_packed + all * p.dim) + first;
    if (p.dim == 128)
        return split_ksteps
                   ? launch_scores_e4m3<128, true>(p, q8, qs, n_q, scores_ld, stream, row_n)
                   : launch_scores_e4m3<128, false>(p, q8, qs, n_q, scores_ld, stream, row_n);
    return split_ksteps ? launch_scores_e4m3<64, true>(p, q8, qs, n_q, scores_ld, stream, row_n)
                        : launch_scores_e4m3<64, false>(p, q8, qs, n_q, scores_ld, stream, row_n);
}

} // namespace fathom::kernels
