// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  Sparse MQA attention with a sink on tensor cores (the non-exact mode's prefill variant of
  sparse_attn.cu; sparse_attn.h's definition, sparse_attn_fast_cpu's numerics).

  One block of 16 warps per (query row, group of 64 heads). All heads of a row attend to the same
  gathered kv rows (MQA, K = V), so per block of p.block (<= 64) indices the row is a small dense
  attention: S = Q K^T (64 heads x 64 keys, k = head_dim) and O += P V (64 x head_dim, k = 64).
  Per index block:
  1. warp 0 compacts the valid indices (−1 and out-of-range skipped, order kept; the exact
     kernel's rule) with a shuffle scan;
  2. the block gathers those rows into shared memory as bf16 (the pool is bf16-valued: exact;
     a bf16 pool, p.kv_bf16 / p.kv_ext_bf16, is copied as it is: half the bytes read, no
     conversion; a packed pool, p.kv_packed / p.kv_ext_packed, is dequantised while staged:
     4-byte loads of e4m3 codes or bf16 RoPE pairs, exact, kv_packed.cuh: 0.57x the bf16
     bytes), rows past the valid count zero;
  3. S: warp (m, c) computes heads 16m..16m+15 x keys 16c..16c+15 over the whole head_dim with
     bf16 mma.sync (fp32 accumulation), scaled, into shared memory (fp32);
  4. softmax, warp w for heads 4w..4w+3, a lane per 2 keys: block maximum, running maximum,
     alpha = exp(m − m_new), p = exp(z − m_new) (fp32 expf), the fp32 sum of p into the running
     denominator, bf16(p) into shared memory for P·V;
  5. P·V: warp (m, c) rescales its O accumulators (heads of m, dims c·D/4 .. (c+1)·D/4, in
     registers for the whole row) by alpha and adds P V with bf16 mma.sync.
  At the end o = bf16(O / (denominator + exp(sink − m))) (a row with no valid key: 0, as the
  exact kernel). Shared memory rows are padded so that the fragment reads of a warp hit 32
  different banks (row stride ≡ 4 words mod 8).
  Shared memory for head_dim 512: 2 x 65 KiB (kv, q) + 18 KiB (S) + 9 KiB (P) ≈ 160 KiB (one block
  per SM; the sm_90 opt-in).
  Differences from the exact kernel: fp32 dots and P·V sums (hardware order), expf (~2 ulp), fp32
  denominators; each may move a bf16 rounding by one ulp. Bounds: tst_cuda_ops.

  Decode rows (split-KV, attnsplit): by default the same kernel with one M tile (16 heads, 4
  warps, 128 threads, ~90 KiB of shared memory: two blocks an SM) per block and 32 indices a
  split, so one V4-Flash row is 4 head groups x 20 (CSA, 640 indices) or 36 (HCA, 1152) splits =
  80 or 144 blocks instead of 10 or 18 blocks of 64 heads; each block's serial chain is one
  32-key block (gather, S, softmax, P·V). FATHOM_CUDA_ATTN_DECODE_SPLIT=0: the previous shape.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"
#include "kv_packed.cuh"
#include "mma_sync.cuh"
#include "row_ops.cuh"

#include <atomic>
#include <cstdlib>

namespace fathom::kernels {

using cuda::mma::aligned16;
using cuda::mma::load_f32x4;
using cuda::mma::pack_bf16;
using cuda::mma::round_bf16x2;

namespace {

// A block takes KM M tiles of 16 heads (4 KM warps): KM = 4 (64 heads, 16 warps) for prefill
// rows and the previous decode split; KM = 1 (16 heads, 4 warps) for the decode split that
// fills the GPU at batch 1 (attnsplit: heads and short key ranges across blocks).
template<int KM>
constexpr int heads_of = 16 * KM;
template<int KM>
constexpr int threads_of = 128 * KM;
constexpr int k_blk = 64; // keys per index block (max)
constexpr int k_max_splits = 64; // decode splits per index row (the merge's e_s in shared memory)
constexpr int k_max_dim = 512;
constexpr int k_max_nt = k_max_dim / 32;    // O n-tiles per warp (dims D/4 in tiles of 8)
constexpr int k_s_stride = k_blk + 8;       // fp32 S row stride
constexpr int k_p_stride_w = k_blk / 2 + 4; // bf16-pair P row stride (words)

struct Layout
{
    int row_w; // words per kv / q row
    size_t kv, q, s, p, stats, rows;
    size_t total() const { return kv + q + s + p + stats + rows; }
};

__host__ __device__ inline Layout layout(int head_dim, int heads)
{
    Layout l;
    l.row_w = head_dim / 2 + 4;
    l.kv = sizeof(uint32_t) * k_blk * l.row_w;
    l.q = sizeof(uint32_t) * heads * l.row_w;
    l.s = sizeof(float) * heads * k_s_stride;
    l.p = sizeof(uint32_t) * heads * k_p_stride_w;
    l.stats = sizeof(float) * 3 * heads;
    l.rows = sizeof(int32_t) * k_blk;
    return l;
}

// Four consecutive floats as two bf16 pairs, one 16-byte load on the device (src aligned to it:
// the launcher checks the base pointers, row strides are multiples of 32 floats).
__device__ inline void load_bf16x4(const float *src, uint32_t *dst)
{
    float f[4];
    load_f32x4(src, f);
    dst[0] = pack_bf16(f[0], f[1]);
    dst[1] = pack_bf16(f[2], f[3]);
}

// Four consecutive bf16 values (bits) as two pairs, one 8-byte load on the device (src aligned
// to it: the launcher checks the base pointers, row strides are multiples of 32 values).
__device__ inline void load_bf16x4_bits(const uint16_t *src, uint32_t *dst)
{
#ifdef FATHOM_CUDA_EMULATION
    dst[0] = static_cast<uint32_t>(src[0]) | (static_cast<uint32_t>(src[1]) << 16);
    dst[1] = static_cast<uint32_t>(src[2]) | (static_cast<uint32_t>(src[3]) << 16);
#else
    const uint2 v = *reinterpret_cast<const uint2 *>(src);
    dst[0] = v.x;
    dst[1] = v.y;
#endif
}

inline bool aligned8(const void *p)
{
    return (reinterpret_cast<uintptr_t>(p) & 7u) == 0;
}

using cuda::load_cg;

// The fused tail's inverse RoPE (p.out_rope_positions set) of heads [h_begin, h_end) of output
// row t_row, in place on the stored bf16 values by the whole block (the caller's barrier after
// its stores): rope_kernel's rope_pair on the same values, so the bits of the separate launch.
__device__ inline void out_rope_rows(const SparseAttnParams &p, int t_row, int h_begin, int h_end)
{
    const int half = p.out_rope_dim / 2, off = p.head_dim - p.out_rope_dim;
    const int pos = p.out_rope_positions[t_row];
    for (int i = threadIdx.x; i < (h_end - h_begin) * half; i += blockDim.x) {
        const int hh = h_begin + i / half, j = i % half;
        cuda::rope_pair(p.out + (static_cast<int64_t>(t_row) * p.n_heads + hh) * p.head_dim + off
                            + 2 * j,
                        pos,
                        p.out_rope_freqs[j],
                        true);
    }
}

// The split merge of one (row, head) by one warp (all 32 lanes call it; splits <=
// k_max_splits), the partials of split s at w + s·(D + 2) (load: plain or past L1): the maximum
// M, e_s = exp(m_s − M) into e[s] (−1 marks an empty split, skipped; the caller's barrier before
// other warps read it), and the denominator with the sink (1 without any key: none), the same in
// every lane. Lane l takes splits l, l + 32 (loads in parallel, not a serial chain of splits);
// the denominator's fp32 sum is the lanes' sums, then a butterfly: one fixed order.
template<typename Load>
__device__ inline float combine_stats(
    const float *w, int D, int splits, float sink, float *e, bool *none, Load load)
{
    const int D2 = D + 2, lane = threadIdx.x & 31;
    const float ninf = -__int_as_float(0x7F800000);
    const float m0 = lane < splits ? load(w + lane * D2 + D) : ninf;
    const float m1 = lane + 32 < splits ? load(w + (lane + 32) * D2 + D) : ninf;
    const float d0 = lane < splits ? load(w + lane * D2 + D + 1) : 0.0f;
    const float d1 = lane + 32 < splits ? load(w + (lane + 32) * D2 + D + 1) : 0.0f;
    const float m = cuda::warp_max(fmaxf(m0, m1));
    *none = isinf(m);
    const float e0 = isinf(m0) ? -1.0f : expf(__fsub_rn(m0, m));
    const float e1 = isinf(m1) ? -1.0f : expf(__fsub_rn(m1, m));
    if (lane < splits)
        e[lane] = e0;
    if (lane + 32 < splits)
        e[lane + 32] = e1;
    float den = __fadd_rn(isinf(m0) ? 0.0f : __fmul_rn(d0, e0),
                          isinf(m1) ? 0.0f : __fmul_rn(d1, e1));
    for (int o = 16; o > 0; o >>= 1)
        den = __fadd_rn(den, __shfl_xor_sync(0xFFFFFFFFu, den, o));
    return *none ? 1.0f : __fadd_rn(den, expf(__fsub_rn(sink, m)));
}

// Output dims d0, d0 + step, .. (N of them, those < D) of that (row, head): bf16(Σ_s O_s[d] e_s /
// den), splits in order, empty ones skipped, 0 without a key, to out[d]. Splits in chunks of 8:
// the chunk's 8 N loads first (all in flight), then its ordered sums - a few rounds of loads per
// thread instead of one load latency per split and dim.
template<int N, typename Load>
__device__ inline void combine_values(const float *w,
                                      int D,
                                      int splits,
                                      int d0,
                                      int step,
                                      const float *e,
                                      float den,
                                      bool none,
                                      float *out,
                                      Load load)
{
    constexpr int k_chunk = 8;
    const int D2 = D + 2;
    float acc[N];
#pragma unroll
    for (int j = 0; j < N; ++j)
        acc[j] = 0.0f;
    for (int s0 = 0; s0 < splits; s0 += k_chunk) {
        float o[k_chunk][N], es[k_chunk];
#pragma unroll
        for (int u = 0; u < k_chunk; ++u) {
            const int s = s0 + u;
            es[u] = s < splits ? e[s] : -1.0f;
#pragma unroll
            for (int j = 0; j < N; ++j)
                o[u][j] = s < splits && !(es[u] < 0.0f) && d0 + j * step < D
                              ? load(w + s * D2 + d0 + j * step)
                              : 0.0f;
        }
#pragma unroll
        for (int u = 0; u < k_chunk; ++u)
            if (!(es[u] < 0.0f))
#pragma unroll
                for (int j = 0; j < N; ++j)
                    acc[j] = __fadd_rn(acc[j], __fmul_rn(o[u][j], es[u]));
    }
#pragma unroll
    for (int j = 0; j < N; ++j)
        if (d0 + j * step < D) {
            float x = none ? 0.0f : __fdiv_rn(acc[j], den), dummy = 0.0f;
            round_bf16x2(x, dummy);
            out[d0 + j * step] = x;
        }
}

// part == nullptr: the whole index row in online-softmax blocks of blk indices, normalised output
// (prefill). Otherwise the decode variant's split blockIdx.z: indices [z keys, (z + 1) keys)
// only (blocks of blk), and the unnormalised
// partial O, its maximum and its denominator (no sink) to part (sparse_attn_combine_kernel),
// or with counters (the fused tail) the merge in the same launch: the last block of each
// (row, head group) to finish (a counter per group, left at 0 again for the next launch or a
// graph replay) merges the group's splits as the combine kernel does. The output's inverse
// RoPE (p.out_rope_positions) follows the store that writes the final output.
template<int KM>
__global__ void __launch_bounds__(threads_of<KM>, KM == 4 ? 1 : 2)
    sparse_attn_mma_kernel(SparseAttnParams p, float *part, int keys, int blk, int *counters)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    constexpr int k_heads = heads_of<KM>;
    constexpr int k_warps = 4 * KM;
    // Loads in flight per thread while staging q and the kv rows (4 KM warps: 16 / KM).
    constexpr int k_gather_batch = 16 / KM;
    FATHOM_EXTERN_SHARED(unsigned char, smem);
    __shared__ int s_n;
    const int D = p.head_dim;
    const Layout l = layout(D, k_heads);
    uint32_t *kvs = reinterpret_cast<uint32_t *>(smem);
    uint32_t *qs = reinterpret_cast<uint32_t *>(smem + l.kv);
    float *ss = reinterpret_cast<float *>(smem + l.kv + l.q);
    uint32_t *ps = reinterpret_cast<uint32_t *>(smem + l.kv + l.q + l.s);
    float *sm = reinterpret_cast<float *>(smem + l.kv + l.q + l.s + l.p);
    float *sden = sm + k_heads;
    float *salpha = sden + k_heads;
    int32_t *rows = reinterpret_cast<int32_t *>(smem + l.kv + l.q + l.s + l.p + l.stats);

    const int t_row = blockIdx.x;
    const int h0 = blockIdx.y * k_heads;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const int quads = D / 4;

    const int32_t *idx = p.idx + static_cast<int64_t>(t_row) * p.n_idx;
    int i_begin = 0, i_end = p.n_idx;
    if (part) {
        const int64_t first = static_cast<int64_t>(blockIdx.z) * keys;
        i_begin = first < p.n_idx ? static_cast<int>(first) : p.n_idx;
        i_end = first + keys < p.n_idx ? static_cast<int>(first + keys) : p.n_idx;
    }
    // The first index block's indices (warp 0, lane: 2 lane, + 1), loaded before q so that their
    // latency overlaps q's.
    int32_t first_r[2] = {-1, -1};
    if (warp == 0)
        for (int j = 0; j < 2; ++j) {
            const int i = i_begin + 2 * lane + j;
            if (i < (i_begin + blk < i_end ? i_begin + blk : i_end))
                first_r[j] = idx[i];
        }

    // Q of the block's heads as bf16 (heads past n_heads zero), running statistics. Batches of
    // k_q_batch quads a thread, loads first (1 round of loads for 16 heads, 2 for 64: not 16).
    constexpr int k_q_batch = KM == 1 ? 16 : 8;
    for (int i0 = threadIdx.x; i0 < k_heads * quads; i0 += k_q_batch * blockDim.x) {
        uint32_t v[k_q_batch][2];
#pragma unroll
        for (int b = 0; b < k_q_batch; ++b) {
            const int i = i0 + b * blockDim.x;
            const int hh = i / quads, d4 = i % quads;
            v[b][0] = v[b][1] = 0u;
            if (i < k_heads * quads && h0 + hh < p.n_heads)
                load_bf16x4(p.q + (static_cast<int64_t>(t_row) * p.n_heads + h0 + hh) * D + 4 * d4,
                            v[b]);
        }
        cuda::mma::store_staged_quads(qs, l.row_w, v, i0, quads, k_heads * quads);
    }
    if (threadIdx.x < k_heads) {
        sm[threadIdx.x] = -__int_as_float(0x7F800000);
        sden[threadIdx.x] = 0.0f;
    }

    const int m_tile = warp % KM; // heads 16 m_tile .. + 15 (S and P·V)
    const int c_part = warp / KM; // S: keys 16 c_part .. + 15; P·V: dims c_part · D/4 ..
    const int nt = D / 32;        // P·V n-tiles of this warp
    const int ksteps = D / 16;    // S k-steps
    float acc[k_max_nt][4];
#pragma unroll
    for (int j = 0; j < k_max_nt; ++j)
        acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;

    for (int b0 = i_begin; b0 < i_end; b0 += blk) {
        const int b1 = b0 + blk < i_end ? b0 + blk : i_end;
        __syncthreads(); // the previous block's tiles are no longer read
        // 1. Compaction: lane handles indices b0 + 2 lane, + 1 (block <= 64).
        if (warp == 0) {
            int32_t r[2];
            int ok[2];
            for (int j = 0; j < 2; ++j) {
                const int i = b0 + 2 * lane + j;
                r[j] = b0 == i_begin ? first_r[j] : i < b1 ? idx[i] : -1;
                ok[j] = r[j] >= 0
                        && (r[j] < p.n_kv
                            || ((p.kv_ext || p.kv_ext_bf16 || p.kv_ext_packed)
                                && r[j] - p.n_kv < p.n_kv_ext));
            }
            const int c = ok[0] + ok[1];
            int incl = c;
            for (int o = 1; o < 32; o <<= 1) {
                const int v = __shfl_up_sync(0xFFFFFFFFu, incl, o);
                if (lane >= o)
                    incl += v;
            }
            int pos = incl - c;
            for (int j = 0; j < 2; ++j)
                if (ok[j])
                    rows[pos++] = r[j];
            if (lane == 31)
                s_n = incl;
        }
        __syncthreads();
        const int n = s_n;
        if (n == 0)
            continue;
        // 2. Gather (rows n.. zero: their scores are masked, their values must not be NaN; rows
        // past n rounded up to 16 are never read, not staged). In batches of k_gather_batch
        // quads per thread, loads first: 2048 16-byte loads in flight a block (bf16 pools:
        // 8-byte loads, stored as loaded).
        const int staged = ((n + 15) & ~15) * quads;
        if (p.kv_packed || p.kv_ext_packed) {
            const int nope = D - p.kv_rope;
            const int64_t rb = cuda::packed_row_bytes(D, p.kv_rope);
            for (int i0 = threadIdx.x; i0 < staged; i0 += k_gather_batch * blockDim.x) {
                uint32_t w[k_gather_batch][2];
#pragma unroll
                for (int b = 0; b < k_gather_batch; ++b) {
                    const int i = i0 + b * blockDim.x;
                    const int s = i / quads, d4 = i % quads;
                    w[b][0] = w[b][1] = 0u;
                    if (i < staged && s < n) {
                        const int32_t r = rows[s];
                        cuda::packed_kv_bf16x4(r < p.n_kv
                                                   ? p.kv_packed + static_cast<int64_t>(r) * rb
                                                   : p.kv_ext_packed
                                                         + static_cast<int64_t>(r - p.n_kv) * rb,
                                               4 * d4,
                                               nope,
                                               p.kv_rope,
                                               w[b]);
                    }
                }
                cuda::mma::store_staged_quads(kvs, l.row_w, w, i0, quads, staged);
            }
        } else if (p.kv_bf16 || p.kv_ext_bf16) {
            for (int i0 = threadIdx.x; i0 < staged; i0 += k_gather_batch * blockDim.x) {
                uint32_t w[k_gather_batch][2];
#pragma unroll
                for (int b = 0; b < k_gather_batch; ++b) {
                    const int i = i0 + b * blockDim.x;
                    const int s = i / quads, d4 = i % quads;
                    w[b][0] = w[b][1] = 0u;
                    if (i < staged && s < n) {
                        const int32_t r = rows[s];
                        load_bf16x4_bits((r < p.n_kv ? p.kv_bf16 + static_cast<int64_t>(r) * D
                                                     : p.kv_ext_bf16
                                                           + static_cast<int64_t>(r - p.n_kv) * D)
                                             + 4 * d4,
                                         w[b]);
                    }
                }
                cuda::mma::store_staged_quads(kvs, l.row_w, w, i0, quads, staged);
            }
        } else {
            for (int i0 = threadIdx.x; i0 < staged; i0 += k_gather_batch * blockDim.x) {
                float f[k_gather_batch][4];
#pragma unroll
                for (int b = 0; b < k_gather_batch; ++b) {
                    const int i = i0 + b * blockDim.x;
                    const int s = i / quads, d4 = i % quads;
                    f[b][0] = f[b][1] = f[b][2] = f[b][3] = 0.0f;
                    if (i < staged && s < n) {
                        const int32_t r = rows[s];
                        load_f32x4((r < p.n_kv ? p.kv + static_cast<int64_t>(r) * D
                                               : p.kv_ext + static_cast<int64_t>(r - p.n_kv) * D)
                                       + 4 * d4,
                                   f[b]);
                    }
                }
#pragma unroll
                for (int b = 0; b < k_gather_batch; ++b) {
                    const int i = i0 + b * blockDim.x;
                    const int s = i / quads, d4 = i % quads;
                    if (i < staged) {
                        kvs[s * l.row_w + 2 * d4] = pack_bf16(f[b][0], f[b][1]);
                        kvs[s * l.row_w + 2 * d4 + 1] = pack_bf16(f[b][2], f[b][3]);
                    }
                }
            }
        }
        __syncthreads();
        // 3. S = scale · Q K^T for heads of m_tile x keys 16 c_part .. + 15.
        if (16 * c_part < n) {
            float d[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
            const uint32_t *qa = qs + (16 * m_tile + g) * l.row_w + t;
            const uint32_t *kb0 = kvs + (16 * c_part + g) * l.row_w + t;
            const uint32_t *kb1 = kb0 + 8 * l.row_w;
            for (int ks = 0; ks < ksteps; ++ks) {
                const int w = ks * 8;
                const uint32_t a[4] = {qa[w],
                                       qa[w + 8 * l.row_w],
                                       qa[w + 4],
                                       qa[w + 8 * l.row_w + 4]};
                const uint32_t bA[2] = {kb0[w], kb0[w + 4]};
                const uint32_t bB[2] = {kb1[w], kb1[w + 4]};
                cuda::mma::m16n8k16_bf16(d[0], a, bA, d[0]);
                cuda::mma::m16n8k16_bf16(d[1], a, bB, d[1]);
            }
            for (int jj = 0; jj < 2; ++jj)
                for (int i = 0; i < 4; ++i) {
                    const int hh = 16 * m_tile + g + (i >= 2 ? 8 : 0);
                    const int key = 16 * c_part + 8 * jj + 2 * t + (i & 1);
                    ss[hh * k_s_stride + key] = __fmul_rn(d[jj][i], p.scale);
                }
        }
        __syncthreads();
        // 4. Online softmax, heads 4 warp .. + 3, keys lane and lane + 32. The 4 heads' loads
        // first and their chains (reductions, expf) side by side, not one head after another;
        // the same arithmetic per head.
        {
            const float ninf = -__int_as_float(0x7F800000);
            float z0[4], z1[4], m_old[4], den_old[4];
#pragma unroll
            for (int hr = 0; hr < 4; ++hr) {
                const int hh = 4 * warp + hr;
                z0[hr] = lane < n ? ss[hh * k_s_stride + lane] : ninf;
                z1[hr] = lane + 32 < n ? ss[hh * k_s_stride + lane + 32] : ninf;
                m_old[hr] = sm[hh];
                den_old[hr] = sden[hh];
            }
            float m_new[4], alpha[4], sum[4];
            uint32_t pw[4];
#pragma unroll
            for (int hr = 0; hr < 4; ++hr) {
                m_new[hr] = fmaxf(m_old[hr], cuda::warp_max(fmaxf(z0[hr], z1[hr])));
                alpha[hr] = isinf(m_old[hr]) ? 0.0f : expf(__fsub_rn(m_old[hr], m_new[hr]));
                const float p0 = lane < n ? expf(__fsub_rn(z0[hr], m_new[hr])) : 0.0f;
                const float p1 = lane + 32 < n ? expf(__fsub_rn(z1[hr], m_new[hr])) : 0.0f;
                sum[hr] = __fadd_rn(p0, p1);
                pw[hr] = pack_bf16(p0, p1);
            }
#pragma unroll
            for (int o = 16; o > 0; o >>= 1)
#pragma unroll
                for (int hr = 0; hr < 4; ++hr)
                    sum[hr] = __fadd_rn(sum[hr], __shfl_xor_sync(0xFFFFFFFFu, sum[hr], o));
#pragma unroll
            for (int hr = 0; hr < 4; ++hr) {
                const int hh = 4 * warp + hr;
                // bf16(p) into P row words (keys 2i, 2i + 1): lane l holds keys l and l + 32,
                // packed as one word; word l < 16 takes the low halves of lanes 2l, 2l + 1, word
                // l >= 16 their high halves (keys 32 + 2(l - 16), + 1).
                const uint32_t e = __shfl_sync(0xFFFFFFFFu, pw[hr], (2 * lane) & 31);
                const uint32_t o = __shfl_sync(0xFFFFFFFFu, pw[hr], (2 * lane + 1) & 31);
                ps[hh * k_p_stride_w + lane] = lane < 16 ? (e & 0xFFFFu) | (o << 16)
                                                         : (e >> 16) | (o & 0xFFFF0000u);
                if (lane == 0) {
                    sm[hh] = m_new[hr];
                    sden[hh] = __fadd_rn(__fmul_rn(den_old[hr], alpha[hr]), sum[hr]);
                    salpha[hh] = alpha[hr];
                }
            }
        }
        __syncthreads();
        // 5. O = alpha O + P V for heads of m_tile, dims c_part · D/4 .. + D/4.
        {
            const float al0 = salpha[16 * m_tile + g], al1 = salpha[16 * m_tile + g + 8];
#pragma unroll
            for (int j = 0; j < k_max_nt; ++j) {
                acc[j][0] = __fmul_rn(acc[j][0], al0);
                acc[j][1] = __fmul_rn(acc[j][1], al0);
                acc[j][2] = __fmul_rn(acc[j][2], al1);
                acc[j][3] = __fmul_rn(acc[j][3], al1);
            }
            const uint16_t *kv16 = reinterpret_cast<const uint16_t *>(kvs);
            const int row_h = 2 * l.row_w; // halves per kv row
            const uint32_t *pa = ps + (16 * m_tile + g) * k_p_stride_w + t;
            const int kmax = (n + 15) / 16;
            for (int ks = 0; ks < kmax; ++ks) {
                const int w = ks * 8;
                const uint32_t a[4] = {pa[w],
                                       pa[w + 8 * k_p_stride_w],
                                       pa[w + 4],
                                       pa[w + 8 * k_p_stride_w + 4]};
                const uint16_t *v0 = kv16 + (16 * ks + 2 * t) * row_h + c_part * (D / 4) + g;
#pragma unroll
                for (int j = 0; j < k_max_nt; ++j) {
                    if (j < nt) {
                        const uint16_t *v = v0 + 8 * j;
                        const uint32_t b[2] = {static_cast<uint32_t>(v[0])
                                                   | (static_cast<uint32_t>(v[row_h]) << 16),
                                               static_cast<uint32_t>(v[8 * row_h])
                                                   | (static_cast<uint32_t>(v[9 * row_h]) << 16)};
                        cuda::mma::m16n8k16_bf16(acc[j], a, b, acc[j]);
                    }
                }
            }
        }
    }
    __syncthreads(); // statistics final (a row whose last blocks were empty skipped step 4)
    const int hA = 16 * m_tile + g, hB = hA + 8;
    if (part) { // split partials: [row][head][split][D O values, m, den]
        const int D2 = D + 2;
        for (int half = 0; half < 2; ++half) {
            const int hh = half ? hB : hA;
            if (h0 + hh >= p.n_heads)
                continue;
            float *w = part
                       + ((static_cast<int64_t>(t_row) * p.n_heads + h0 + hh) * gridDim.z
                          + blockIdx.z)
                             * D2;
            float *o = w + c_part * (D / 4);
#pragma unroll
            for (int j = 0; j < k_max_nt; ++j) {
                if (j < nt) {
                    o[8 * j + 2 * t] = acc[j][2 * half];
                    o[8 * j + 2 * t + 1] = acc[j][2 * half + 1];
                }
            }
            if (c_part == 0 && t == 0) {
                w[D] = sm[hh];
                w[D + 1] = sden[hh];
            }
        }
        if (!counters)
            return;
        // The partials stored above published; the row and head group's last split merges.
        if (!cuda::arrive_last(counters + t_row * gridDim.y + blockIdx.y,
                               static_cast<int>(gridDim.z)))
            return;
        // The merge of heads h0 .. h0 + nh − 1: their e_s and denominators (a warp per head;
        // the S tile's shared memory, free now: heads x (k_max_splits + 2) floats <= heads x
        // k_s_stride), then the outputs: 128 threads per head, 4 dims each (D <= 512), KM heads
        // at a time.
        static_assert(k_max_splits + 2 <= k_s_stride, "the merge's statistics fit the S tile");
        const int nh = p.n_heads - h0 < k_heads ? p.n_heads - h0 : k_heads;
        const int splits = static_cast<int>(gridDim.z);
        const auto cg = [](const float *a) { return load_cg(a); };
        float *e_all = ss, *dens = ss + k_heads * k_max_splits;
        int *nones = reinterpret_cast<int *>(dens + k_heads);
        const float *w0 = part + (static_cast<int64_t>(t_row) * p.n_heads + h0) * splits * D2;
        for (int hh = warp; hh < nh; hh += k_warps) {
            bool none = false;
            const float den = combine_stats(w0 + static_cast<int64_t>(hh) * splits * D2,
                                            D,
                                            splits,
                                            p.sink[h0 + hh],
                                            e_all + k_max_splits * hh,
                                            &none,
                                            cg);
            if (lane == 0) {
                dens[hh] = den;
                nones[hh] = none;
            }
        }
        __syncthreads();
        for (int hh = threadIdx.x / 128; hh < nh; hh += KM)
            combine_values<4>(w0 + static_cast<int64_t>(hh) * splits * D2,
                              D,
                              splits,
                              threadIdx.x % 128,
                              128,
                              e_all + k_max_splits * hh,
                              dens[hh],
                              nones[hh] != 0,
                              p.out + (static_cast<int64_t>(t_row) * p.n_heads + h0 + hh) * D,
                              cg);
        if (p.out_rope_positions) {
            __syncthreads(); // the outputs stored above, read back by other threads
            out_rope_rows(p, t_row, h0, h0 + nh);
        }
        return;
    }
    for (int half = 0; half < 2; ++half) {
        const int hh = half ? hB : hA;
        if (h0 + hh >= p.n_heads)
            continue;
        const float m = sm[hh];
        const bool none = isinf(m);
        const float sink_term = none ? 1.0f : expf(__fsub_rn(p.sink[h0 + hh], m));
        const float den = none ? 1.0f : __fadd_rn(sden[hh], sink_term);
        float *o = p.out + (static_cast<int64_t>(t_row) * p.n_heads + h0 + hh) * D
                   + c_part * (D / 4);
#pragma unroll
        for (int j = 0; j < k_max_nt; ++j) {
            if (j < nt) {
                float x = __fdiv_rn(acc[j][2 * half], den);
                float y = __fdiv_rn(acc[j][2 * half + 1], den);
                round_bf16x2(x, y);
                o[8 * j + 2 * t] = x;
                o[8 * j + 2 * t + 1] = y;
            }
        }
    }
    if (p.out_rope_positions) {
        __syncthreads(); // the outputs stored above, read back by other threads
        out_rope_rows(p, t_row, h0, p.n_heads - h0 < k_heads ? p.n_heads : h0 + k_heads);
    }
}

// The decode variant's merge, one block per (row, head): M = max_s m_s, the split sums rescaled
// by exp(m_s - M), the sink in the final denominator only; o = bf16(O / den), 0 without a key;
// then the output's inverse RoPE (p.out_rope_positions).
// 128 threads (the statistics by warp 0, 4 dims a thread: D <= 512), the same arithmetic in the
// same order as the fused tail's merge (the same bits).
__global__ void __launch_bounds__(128) sparse_attn_combine_kernel(const float *part,
                                                                   SparseAttnParams p,
                                                                   int splits)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    __shared__ float e[k_max_splits];
    __shared__ float s_den;
    __shared__ int s_none;
    const int D = p.head_dim;
    const int64_t rh = blockIdx.x; // row x n_heads + head
    const int h = static_cast<int>(rh % p.n_heads);
    const float *w = part + rh * splits * (D + 2);
    const auto plain = [](const float *a) { return *a; };
    if (threadIdx.x < 32) {
        bool none = false;
        const float den = combine_stats(w, D, splits, p.sink[h], e, &none, plain);
        if (threadIdx.x == 0) {
            s_den = den;
            s_none = none;
        }
    }
    __syncthreads();
    combine_values<4>(w, D, splits, threadIdx.x, 128, e, s_den, s_none != 0, p.out + rh * D, plain);
    if (p.out_rope_positions) {
        __syncthreads(); // the outputs stored above, read back by other threads
        const int t_row = static_cast<int>(rh / p.n_heads);
        out_rope_rows(p, t_row, h, h + 1);
    }
}

// FATHOM_CUDA_ATTN_DECODE_SPLIT (read once): indices per decode split with 16 heads a block
// (unset: k_decode_keys; a multiple of 16 from 16 to 4096), or 0: the previous shape (64 heads a
// block, whole online-softmax blocks per split, at most 32 splits). Tests override it
// (sparse_attn_decode_set_split).
constexpr int k_decode_keys = 32;
std::atomic<int> g_decode_keys{-1}; // -1: not read yet

int decode_keys_setting()
{
    int keys = g_decode_keys.load(std::memory_order_relaxed);
    if (keys < 0) {
        keys = k_decode_keys;
        if (const char *v = std::getenv("FATHOM_CUDA_ATTN_DECODE_SPLIT"); v && *v) {
            const int x = std::atoi(v);
            keys = x <= 0 ? 0 : x < 16 ? 16 : x > 4096 ? 4096 : (x + 15) / 16 * 16;
        }
        g_decode_keys.store(keys, std::memory_order_relaxed);
    }
    return keys;
}

// The decode variant's launch shape: fixed by the index row's width and the setting (a replayed
// graph's launch shape does not depend on how many indices are valid): km M tiles of 16 heads a
// block, `splits` splits of `keys` indices each (the last one shorter), online-softmax blocks of
// blk indices inside a split.
struct DecodeShape
{
    int km, splits, keys, blk;
};

DecodeShape decode_shape(const SparseAttnParams &p)
{
    const int setting = decode_keys_setting();
    DecodeShape d;
    if (setting == 0) { // the previous shape: whole blocks of p.block, at most 32 splits
        const int nb = p.n_idx > 0 ? (p.n_idx + p.block - 1) / p.block : 1;
        const int want = nb < 32 ? nb : 32;
        const int bps = (nb + want - 1) / want;
        d.km = 4;
        d.splits = (nb + bps - 1) / bps;
        d.keys = bps * p.block;
        d.blk = p.block;
        return d;
    }
    int keys = setting; // grown in steps of the setting until the splits fit the merge
    while (p.n_idx > static_cast<int64_t>(keys) * k_max_splits)
        keys += setting;
    d.km = 1;
    d.splits = p.n_idx > 0 ? (p.n_idx + keys - 1) / keys : 1;
    d.keys = keys;
    d.blk = p.block < keys ? p.block : keys;
    return d;
}

} // namespace

void sparse_attn_decode_set_split(int keys)
{
    g_decode_keys.store(keys < 0 ? -1 : keys == 0 ? 0 : keys < 16 ? 16 : (keys + 15) / 16 * 16,
                        std::memory_order_relaxed);
}

size_t sparse_attn_decode_workspace_floats(const SparseAttnParams &p)
{
    if (p.block <= 0 || p.n_q <= 0 || p.n_heads <= 0)
        return 0;
    const int splits = decode_shape(p).splits;
    return static_cast<size_t>(p.n_q) * p.n_heads * splits * (p.head_dim + 2);
}

bool sparse_attn_mma_supported(const SparseAttnParams &p)
{
    return p.head_dim >= 32 && p.head_dim <= k_max_dim && p.head_dim % 32 == 0 && p.block > 0
           && p.block <= k_blk;
}

int sparse_attn_decode_counters(const SparseAttnParams &p)
{
    if (p.n_q <= 0 || p.n_heads <= 0 || p.block <= 0)
        return 0;
    const int heads = 16 * decode_shape(p).km;
    return p.n_q * ((p.n_heads + heads - 1) / heads);
}

Status sparse_attn_fast_cuda(const SparseAttnParams &p,
                             CUstream_st *stream,
                             float *workspace,
                             int *counters)
{
    const bool decode = p.n_q < k_min_fast_rows;
    const bool packed = p.kv_packed || p.kv_ext_packed;
    const bool bf16 = !packed && (p.kv_bf16 || p.kv_ext_bf16);
    // Packed rows: 4-byte loads of codes and RoPE pairs (rows of a multiple of 4 bytes, nope
    // dims a multiple of 4), else the exact kernel.
    const bool packed_ok = !packed
                           || (p.kv_rope >= 0 && p.kv_rope < p.head_dim
                               && (p.head_dim - p.kv_rope) % 4 == 0
                               && cuda::packed_row_bytes(p.head_dim, p.kv_rope) % 4 == 0
                               && (reinterpret_cast<uintptr_t>(p.kv_packed) & 3u) == 0
                               && (reinterpret_cast<uintptr_t>(p.kv_ext_packed) & 3u) == 0);
    if (p.n_q <= 0 || (decode && !workspace) || !sparse_attn_mma_supported(p) || !aligned16(p.q)
        || !aligned16(p.kv) || !aligned16(p.kv_ext) || !aligned8(p.kv_bf16)
        || !aligned8(p.kv_ext_bf16) || !packed_ok)
        return sparse_attn_cuda(p, stream);
    const void *pool = packed ? static_cast<const void *>(p.kv_packed)
                       : bf16 ? static_cast<const void *>(p.kv_bf16)
                              : p.kv;
    if (!p.q || !p.idx || !p.sink || !p.out || p.n_heads <= 0 || (p.n_kv > 0 && !pool)
        || (bf16 && p.kv_ext && !p.kv_ext_bf16)
        || (packed && (p.kv_ext || p.kv_ext_bf16) && !p.kv_ext_packed) || p.n_idx < 0
        || (p.n_heads + 15) / 16 > 65535
        || (p.out_rope_positions
            && (!p.out_rope_freqs || p.out_rope_dim <= 0 || (p.out_rope_dim & 1)
                || p.out_rope_dim > p.head_dim)))
        return Status::invalid("sparse_attn_fast_cuda: bad arguments");
    if (p.n_q == 0)
        return Status::success();
    const DecodeShape ds = decode ? decode_shape(p) : DecodeShape{4, 1, p.n_idx, p.block};
    if (ds.splits > k_max_splits)
        return Status::invalid("sparse_attn_fast_cuda: too many decode splits");
    const int heads = 16 * ds.km;
    const dim3 grid(p.n_q, (p.n_heads + heads - 1) / heads, decode ? ds.splits : 1);
    const size_t bytes = layout(p.head_dim, heads).total();
    if (ds.km == 4) {
        if (const cudaError_t err = cuda::allow_smem(sparse_attn_mma_kernel<4>, bytes);
            err != cudaSuccess)
            return cuda_status(err);
        FATHOM_LAUNCH(grid, threads_of<4>, bytes, stream, sparse_attn_mma_kernel<4>)
        (p, decode ? workspace : nullptr, ds.keys, ds.blk, decode ? counters : nullptr);
    } else {
        if (const cudaError_t err = cuda::allow_smem(sparse_attn_mma_kernel<1>, bytes);
            err != cudaSuccess)
            return cuda_status(err);
        FATHOM_LAUNCH(grid, threads_of<1>, bytes, stream, sparse_attn_mma_kernel<1>)
        (p, workspace, ds.keys, ds.blk, counters);
    }
    Status st = cuda::launch_status();
    if (!decode)
        return st;
    const int splits = ds.splits;
    if (!st.ok() || counters)
        return st;
    FATHOM_LAUNCH(dim3(p.n_q * p.n_heads), 128, 0, stream, sparse_attn_combine_kernel)
    (workspace, p, splits);
    return cuda::launch_status();
}

} // namespace fathom::kernels
