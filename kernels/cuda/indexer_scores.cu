// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  Lightning-indexer scores (indexer.h): I(s) = bf16(Σ_h bf16(w_h · relu(bf16(q_h·k_s)))).

  One block per (tile of 16 keys, query). The query's heads and the key tile sit in shared
  memory (key rows padded by one float against bank conflicts); thread (key, head group) forms
  the head dots in double (exact products, as dot_f64), rounds each to bf16, applies the ReLU
  with std::max's semantics (−0 and NaN pass through), weights and rounds, and sums its heads in
  double; the 16 group partials of a key are added in double and rounded once. Only the order of
  the double sums differs from the CPU. Keys in bf16 (p.keys_bf16, a device sequence state's) are
  widened when staged (exact).
  NOTE: at 1M context a decode step scores 256K keys per CSA layer; an fp32 (or bf16 mma) dot
  would be ~2x (resp. ~30x) faster but no longer bit-exact against the CPU twin.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"
#include "indexer_rows.h"
#include "kv_packed.cuh"
#include "topk_row.cuh"

namespace fathom::kernels {

namespace {

constexpr int k_keys = 16;   // keys per block
constexpr int k_groups = 16; // head groups per block
constexpr int k_threads = k_keys * k_groups;

// One block's tile (the kernels below); returns at once when no key of the tile is visible.
__device__ inline void score_tile(float *smem, const cuda::IndexerRowsArgs &a)
{
    const float *q_all = a.p.q, *w_all = a.p.weights, *keys = a.p.keys;
    const uint16_t *keys_bf16 = a.p.keys_bf16;
    const uint8_t *keys_packed = a.p.keys_packed;
    float *scores_all = a.p.scores;
    const int n_heads = a.p.n_heads, dim = a.p.dim, n_keys = a.p.n_keys;
    const int64_t scores_ld = a.scores_ld;
    const int32_t *row_n = a.row_n;
    float *sq = smem;               // [n_heads * dim]
    float *sw = sq + n_heads * dim; // [n_heads]
    float *sk = sw + n_heads;       // [k_keys][dim + 1]
    __shared__ double part[k_groups][k_keys];
    const int qi = blockIdx.x; // queries on x (2^31 − 1), key tiles on y (65535 · 16 keys)
    const float *q = q_all + static_cast<int64_t>(qi) * n_heads * dim;
    const float *w = w_all + static_cast<int64_t>(qi) * n_heads;
    const int key0 = blockIdx.y * k_keys;
    if (row_n && key0 >= row_n[qi])
        return; // the whole block: no key of this tile is visible to the query
    for (int i = threadIdx.x; i < n_heads * dim; i += blockDim.x)
        sq[i] = q[i];
    for (int i = threadIdx.x; i < n_heads; i += blockDim.x)
        sw[i] = w[i];
    for (int i = threadIdx.x; i < k_keys * dim; i += blockDim.x) {
        const int kk = i / dim, d = i % dim;
        const int64_t at = static_cast<int64_t>(key0 + kk) * dim + d;
        float v = 0.0f;
        if (key0 + kk < n_keys)
            v = keys_packed ? cuda::packed_key_f32(keys_packed
                                                       + static_cast<int64_t>(key0 + kk)
                                                             * cuda::packed_row_bytes(dim, -1),
                                                   d,
                                                   dim)
                : keys_bf16 ? cuda::bf16_bits_to_f32(keys_bf16[at])
                            : keys[at];
        sk[kk * (dim + 1) + d] = v;
    }
    __syncthreads();
    const int kk = threadIdx.x % k_keys;
    const int g = threadIdx.x / k_keys;
    const float *k = sk + kk * (dim + 1);
    double acc = 0.0;
    for (int h = g; h < n_heads; h += k_groups) {
        const float *qh = sq + h * dim;
        double d0 = 0.0, d1 = 0.0; // two chains against the DFMA latency
        int d = 0;
        for (; d + 2 <= dim; d += 2) {
            d0 += static_cast<double>(qh[d]) * static_cast<double>(k[d]);
            d1 += static_cast<double>(qh[d + 1]) * static_cast<double>(k[d + 1]);
        }
        if (d < dim)
            d0 += static_cast<double>(qh[d]) * static_cast<double>(k[d]);
        const double dot = d0 + d1;
        const float dv = cuda::round_bf16(static_cast<float>(dot));
        const float v = dv < 0.0f ? 0.0f : dv; // std::max(dv, 0.0f)
        acc += cuda::round_bf16(__fmul_rn(sw[h], v));
    }
    part[g][kk] = acc;
    __syncthreads();
    if (threadIdx.x < k_keys && key0 + threadIdx.x < n_keys) {
        double s = 0.0;
        for (int gg = 0; gg < k_groups; ++gg)
            s += part[gg][threadIdx.x];
        scores_all[static_cast<int64_t>(qi) * scores_ld + key0 + threadIdx.x] = cuda::round_bf16(
            static_cast<float>(s));
    }
}

__global__ void indexer_scores_kernel(cuda::IndexerRowsArgs a)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(float, smem);
    score_tile(smem, a);
}

// idxtopk: the same tiles, then the row's last block (counters[row], gridDim.y blocks) runs the
// row's top-k and index row (topk_row.cuh indexer_topk_tail).
__global__ void indexer_topk_kernel(cuda::IndexerRowsArgs a)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(float, smem);
    score_tile(smem, a);
    cuda::indexer_topk_tail(a, blockIdx.x, static_cast<int>(gridDim.y), smem);
}

size_t smem_bytes(int n_heads, int dim)
{
    return sizeof(float) * (static_cast<size_t>(n_heads) * dim + n_heads + k_keys * (dim + 1));
}

} // namespace

Status indexer_scores_rows_cuda(const IndexerScoreParams &p,
                                int n_q,
                                int64_t scores_ld,
                                CUstream_st *stream,
                                const int32_t *row_n)
{
    if (!p.q || !p.weights || (!p.keys && !p.keys_bf16 && !p.keys_packed && p.n_keys)
        || (!p.scores && p.n_keys) || p.n_heads <= 0 || p.dim <= 0 || n_q < 0
        || scores_ld < p.n_keys || (p.n_keys + k_keys - 1) / k_keys > 65535)
        return Status::invalid("indexer_scores_cuda: bad arguments");
    if (smem_bytes(p.n_heads, p.dim) > 48 * 1024)
        return Status::unsupported("indexer_scores_cuda: n_heads * dim too large (max ~11.5K)");
    if (p.n_keys == 0 || n_q == 0)
        return Status::success();
    const dim3 grid(n_q, (p.n_keys + k_keys - 1) / k_keys);
    FATHOM_LAUNCH(grid, k_threads, smem_bytes(p.n_heads, p.dim), stream, indexer_scores_kernel)
    (cuda::indexer_rows_args(p, n_q, scores_ld, row_n));
    return cuda::launch_status();
}

bool indexer_topk_fused_fits(const IndexerScoreParams &p, int n_q, int k)
{
    return n_q > 0 && n_q < k_min_fast_rows && p.n_keys > 0 && k > 0 && k <= cuda::k_topk_max_k
           && cuda::indexer_topk_smem(k, p.n_keys) <= k_indexer_topk_max_smem;
}

Status indexer_topk_rows_cuda(const IndexerScoreParams &p,
                              int n_q,
                              int64_t scores_ld,
                              const int32_t *row_n,
                              const IndexerTopkOut &o,
                              CUstream_st *stream)
{
    if (const Status st = cuda::indexer_topk_rows_check(p, n_q, scores_ld, o, false); !st.ok())
        return st;
    if ((p.n_keys + k_keys - 1) / k_keys > 65535)
        return Status::invalid("indexer_topk_rows_cuda: bad arguments");
    const size_t scoring = smem_bytes(p.n_heads, p.dim);
    if (scoring > 48 * 1024)
        return Status::unsupported("indexer_topk_rows_cuda: n_heads * dim too large (max ~11.5K)");
    const size_t tail = cuda::indexer_topk_smem(o.k, p.n_keys);
    const size_t smem = scoring > tail ? scoring : tail;
    if (const cudaError_t err = cuda::allow_smem(indexer_topk_kernel, smem); err != cudaSuccess)
        return cuda_status(err);
    const dim3 grid(n_q, (p.n_keys + k_keys - 1) / k_keys);
    FATHOM_LAUNCH(grid, k_threads, smem, stream, indexer_topk_kernel)
    (cuda::indexer_rows_args(p, n_q, scores_ld, row_n, &o));
    return cuda::launch_status();
}

Status indexer_scores_cuda(const IndexerScoreParams &p, CUstream_st *stream)
{
    return indexer_scores_rows_cuda(p, 1, p.n_keys, stream);
}

} // namespace fathom::kernels
