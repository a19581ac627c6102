// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  Sparse MQA attention with a sink (sparse_attn.h), decode (n_q = 1) and prefill (n_q > 1).

  One block per (query row, group of 4 heads), one warp per head. The query row's index list is
  walked in the reference's blocks of 64 indices: the block gathers the valid rows (−1 and
  out-of-range indices skipped, order kept) into shared memory as bf16 bits (the pool is
  bf16-valued, so this is exact and halves shared memory; a bf16 pool, p.kv_bf16 /
  p.kv_ext_bf16, is copied as it is; a packed pool, p.kv_packed / p.kv_ext_packed, is
  dequantised, exactly: kv_packed.cuh), then
    scores: lane i computes z_i = fl32(q_h·kv_i)·scale with the dot in double (exact products);
    softmax: block max, rescale of the running sums (alpha = exp(m − m_new), fp32), the block's
             probabilities exp(z − m_new) in double rounded to fp32, their sum in double, bf16
             copies for P·V;
    P·V: every lane owns head_dim/32 output dims and accumulates bf16(p)·kv in double, rounded
         to fp32 at the end of each block — the CPU twin's exact sequence of fp32 roundings.
  The sink enters the final denominator only. Keys are shared by the heads of a block, so the
  gathered tile is read from global memory once per 4 heads.
  NOTE: the double dots keep the op bit-exact against the CPU; a Hopper path (wgmma over 64-key
  tiles with fp32 accumulation, split-KV for decode) trades that for speed.
  With p.out_rope_positions each warp then applies the output's inverse RoPE to its head's
  stored row (the attention's tail in the same launch; the bits of a separate rope_cuda).
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"
#include "kv_packed.cuh"
#include "row_ops.cuh"

namespace fathom::kernels {

namespace {

constexpr int k_heads_per_block = 4;
constexpr int k_threads = 32 * k_heads_per_block;
constexpr int k_max_dim = 512;
constexpr int k_max_block = 64;

struct SmemLayout
{
    int kv_stride; // uint16 elements per gathered row (odd number of 32-bit words)
    size_t kv_bytes, q_bytes, z_bytes, rows_bytes;
    size_t total() const { return kv_bytes + q_bytes + z_bytes + rows_bytes; }
};

__host__ __device__ inline SmemLayout smem_layout(int head_dim, int block)
{
    SmemLayout l;
    l.kv_stride = head_dim + 2; // head_dim even: (head_dim + 2) / 2 words; make it odd
    if (((l.kv_stride / 2) & 1) == 0)
        l.kv_stride += 2;
    l.kv_bytes = static_cast<size_t>(block) * l.kv_stride * sizeof(uint16_t);
    l.kv_bytes = (l.kv_bytes + 15) / 16 * 16;
    l.q_bytes = static_cast<size_t>(k_heads_per_block) * head_dim * sizeof(float);
    l.z_bytes = static_cast<size_t>(k_heads_per_block) * block * sizeof(float);
    l.rows_bytes = static_cast<size_t>(block) * sizeof(int32_t);
    return l;
}

__global__ void __launch_bounds__(k_threads) sparse_attn_kernel(SparseAttnParams p)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(unsigned char, smem);
    const SmemLayout l = smem_layout(p.head_dim, p.block);
    uint16_t *kvs = reinterpret_cast<uint16_t *>(smem);
    float *qs = reinterpret_cast<float *>(smem + l.kv_bytes);
    float *zs = reinterpret_cast<float *>(smem + l.kv_bytes + l.q_bytes);
    int32_t *rows = reinterpret_cast<int32_t *>(smem + l.kv_bytes + l.q_bytes + l.z_bytes);
    __shared__ int s_n;

    const int D = p.head_dim;
    const int t = blockIdx.x;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int h = blockIdx.y * k_heads_per_block + warp;
    const bool active = h < p.n_heads;
    const int32_t *idx = p.idx + static_cast<int64_t>(t) * p.n_idx;
    float *q = qs + warp * D;
    float *z = zs + warp * p.block;
    if (active)
        for (int e = lane; e < D; e += 32)
            q[e] = p.q[(static_cast<int64_t>(t) * p.n_heads + h) * D + e];

    constexpr int k_dims_per_lane = k_max_dim / 32;
    const int dpl = (D + 31) / 32;
    double acc[k_dims_per_lane];
#pragma unroll
    for (int j = 0; j < k_dims_per_lane; ++j)
        acc[j] = 0.0;
    float m = -__int_as_float(0x7F800000);
    float denom = 0.0f;

    for (int b0 = 0; b0 < p.n_idx; b0 += p.block) {
        const int b1 = b0 + p.block < p.n_idx ? b0 + p.block : p.n_idx;
        __syncthreads(); // the previous block's tile is no longer read
        if (threadIdx.x == 0) {
            int n = 0;
            for (int i = b0; i < b1; ++i) {
                const int32_t r = idx[i];
                const bool ok = r >= 0
                                && (r < p.n_kv
                                    || ((p.kv_ext || p.kv_ext_bf16 || p.kv_ext_packed)
                                        && r - p.n_kv < p.n_kv_ext));
                if (ok)
                    rows[n++] = r;
            }
            s_n = n;
        }
        __syncthreads();
        const int n = s_n;
        if (n == 0)
            continue;
        if (p.kv_packed || p.kv_ext_packed) {
            const int nope = D - p.kv_rope;
            const int64_t rb = cuda::packed_row_bytes(D, p.kv_rope);
            for (int i = threadIdx.x; i < n * D; i += blockDim.x) {
                const int s = i / D, e = i % D;
                const int32_t r = rows[s];
                const uint8_t *src = r < p.n_kv
                                         ? p.kv_packed + static_cast<int64_t>(r) * rb
                                         : p.kv_ext_packed + static_cast<int64_t>(r - p.n_kv) * rb;
                kvs[s * l.kv_stride + e] = cuda::packed_kv_bf16(src, e, nope, p.kv_rope);
            }
        } else if (p.kv_bf16 || p.kv_ext_bf16) {
            for (int i = threadIdx.x; i < n * D; i += blockDim.x) {
                const int s = i / D, e = i % D;
                const int32_t r = rows[s];
                const uint16_t *src = r < p.n_kv
                                          ? p.kv_bf16 + static_cast<int64_t>(r) * D
                                          : p.kv_ext_bf16 + static_cast<int64_t>(r - p.n_kv) * D;
                kvs[s * l.kv_stride + e] = src[e];
            }
        } else {
            for (int i = threadIdx.x; i < n * D; i += blockDim.x) {
                const int s = i / D, e = i % D;
                const int32_t r = rows[s];
                const float *src = r < p.n_kv ? p.kv + static_cast<int64_t>(r) * D
                                              : p.kv_ext + static_cast<int64_t>(r - p.n_kv) * D;
                kvs[s * l.kv_stride + e] = cuda::f32_to_bf16_bits(src[e]);
            }
        }
        __syncthreads();
        if (!active)
            continue;
        // Scores: lane i handles rows i, i + 32.
        float bm = -__int_as_float(0x7F800000);
        for (int s = lane; s < n; s += 32) {
            const uint16_t *k = kvs + s * l.kv_stride;
            // Four independent chains (one chain would be bound by the DFMA latency); the sum is
            // exact in double but for astronomically rare cases, as on the CPU (AVX2: 4 lanes).
            double d0 = 0.0, d1 = 0.0, d2 = 0.0, d3 = 0.0;
            int e = 0;
            for (; e + 4 <= D; e += 4) {
                d0 += static_cast<double>(q[e]) * static_cast<double>(cuda::bf16_bits_to_f32(k[e]));
                d1 += static_cast<double>(q[e + 1])
                      * static_cast<double>(cuda::bf16_bits_to_f32(k[e + 1]));
                d2 += static_cast<double>(q[e + 2])
                      * static_cast<double>(cuda::bf16_bits_to_f32(k[e + 2]));
                d3 += static_cast<double>(q[e + 3])
                      * static_cast<double>(cuda::bf16_bits_to_f32(k[e + 3]));
            }
            for (; e < D; ++e)
                d0 += static_cast<double>(q[e]) * static_cast<double>(cuda::bf16_bits_to_f32(k[e]));
            const double dot = (d0 + d1) + (d2 + d3);
            const float zv = __fmul_rn(static_cast<float>(dot), p.scale);
            z[s] = zv;
            bm = fmaxf(bm, zv);
        }
        bm = cuda::warp_max(bm);
        __syncwarp();
        const float m_new = fmaxf(m, bm);
        const float alpha = isinf(m) ? 0.0f : cuda::exp_f32(__fsub_rn(m, m_new));
        denom = __fmul_rn(denom, alpha);
#pragma unroll
        for (int j = 0; j < k_dims_per_lane; ++j)
            if (j < dpl)
                acc[j] = static_cast<double>(__fmul_rn(static_cast<float>(acc[j]), alpha));
        // Probabilities (fp32), replacing z in place.
        for (int s = lane; s < n; s += 32)
            z[s] = cuda::exp_f32(__fsub_rn(z[s], m_new));
        __syncwarp();
        double bsum = 0.0;
        for (int s = 0; s < n; ++s) {
            const float pr = z[s];
            bsum += pr;
            const double pb = cuda::round_bf16(pr);
            const uint16_t *k = kvs + s * l.kv_stride;
#pragma unroll
            for (int j = 0; j < k_dims_per_lane; ++j) {
                const int e = lane + 32 * j;
                if (j < dpl && e < D)
                    acc[j] += pb * static_cast<double>(cuda::bf16_bits_to_f32(k[e]));
            }
        }
#pragma unroll
        for (int j = 0; j < k_dims_per_lane; ++j)
            acc[j] = static_cast<double>(static_cast<float>(acc[j]));
        denom = __fadd_rn(denom, static_cast<float>(bsum));
        m = m_new;
        __syncwarp();
    }
    if (!active)
        return;
    const bool none = isinf(m);
    const float sink_term = none ? 1.0f : cuda::exp_f32(__fsub_rn(p.sink[h], m));
    const float den = none ? 1.0f : __fadd_rn(denom, sink_term);
    float *o = p.out + (static_cast<int64_t>(t) * p.n_heads + h) * D;
#pragma unroll
    for (int j = 0; j < k_dims_per_lane; ++j) {
        const int e = lane + 32 * j;
        if (j < dpl && e < D)
            o[e] = cuda::round_bf16(__fdiv_rn(static_cast<float>(acc[j]), den));
    }
    // The output's inverse RoPE (the fused tail): rope_kernel's rope_pair on the stored values
    // of this warp's head, so the bits of the separate launch.
    if (p.out_rope_positions) {
        __syncwarp(); // the lanes' stores above, read back by other lanes
        const int half = p.out_rope_dim / 2, off = D - p.out_rope_dim;
        for (int j = lane; j < half; j += 32)
            cuda::rope_pair(o + off + 2 * j, p.out_rope_positions[t], p.out_rope_freqs[j], true);
    }
}

} // namespace

Status sparse_attn_cuda(const SparseAttnParams &p, CUstream_st *stream)
{
    // Both pools of one type: fp32, bf16 or packed (a sequence state's rows are one type on
    // the device).
    const bool packed = p.kv_packed || p.kv_ext_packed;
    const bool bf16 = !packed && (p.kv_bf16 || p.kv_ext_bf16);
    const void *pool = packed ? static_cast<const void *>(p.kv_packed)
                       : bf16 ? static_cast<const void *>(p.kv_bf16)
                              : p.kv;
    if (!p.q || !p.idx || !p.sink || !p.out || p.n_heads <= 0 || p.head_dim <= 0 || p.block <= 0
        || (p.n_kv > 0 && !pool) || p.n_q < 0 || p.n_idx < 0 || (bf16 && p.kv_ext && !p.kv_ext_bf16)
        || (packed && (p.kv_ext || p.kv_ext_bf16) && !p.kv_ext_packed)
        || (packed && (p.kv_rope < 0 || p.kv_rope > p.head_dim))
        || (p.out_rope_positions
            && (!p.out_rope_freqs || p.out_rope_dim <= 0 || (p.out_rope_dim & 1)
                || p.out_rope_dim > p.head_dim)))
        return Status::invalid("sparse_attn_cuda: bad arguments");
    if (p.head_dim > k_max_dim || (p.head_dim & 1) || p.block > k_max_block)
        return Status::unsupported(
            "sparse_attn_cuda: head_dim must be even and <= 512, block <= 64");
    if (p.n_q == 0)
        return Status::success();
    const size_t bytes = smem_layout(p.head_dim, p.block).total();
    if (const cudaError_t err = cuda::allow_smem(sparse_attn_kernel, bytes); err != cudaSuccess)
        return cuda_status(err);
    const dim3 grid(p.n_q, (p.n_heads + k_heads_per_block - 1) / k_heads_per_block);
    FATHOM_LAUNCH(grid, k_threads, bytes, stream, sparse_attn_kernel)(p);
    return cuda::launch_status();
}

} // namespace fathom::kernels
