// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  Top-k (indexer.h topk_cpu) per row: one block of 1024 threads per row runs topk_row
  (topk_row.cuh: radix select, ordered compaction, bitonic sort; the algorithm and its tie rules
  are described there). idxchain: with TopkIndexRows the block also writes its row's attention
  index row from the sorted pairs, so a CSA decode step needs no sparse_indices launch. idxtopk:
  the decode indexer runs the same body in its scoring launch's last block of a row
  (indexer_topk_rows_cuda); this launch is its switch-off path and the prefill's.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"
#include "topk_row.cuh"

namespace fathom::kernels {

namespace {

constexpr int k_threads = 1024;
constexpr int k_max_k = cuda::k_topk_max_k;

__global__ void __launch_bounds__(k_threads) topk_kernel(const float *values,
                                                         int64_t ld,
                                                         int n,
                                                         const int32_t *row_n,
                                                         int k,
                                                         int32_t *out,
                                                         int64_t out_ld,
                                                         TopkIndexRows ix)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    __shared__ int hist[256];
    __shared__ unsigned long long buf[k_max_k];
    const int r = blockIdx.x;
    int nr = n;
    if (row_n) {
        nr = row_n[r];
        nr = nr < 0 ? 0 : (nr > n ? n : nr);
    }
    cuda::topk_row(values + static_cast<int64_t>(r) * ld,
                   nr,
                   k,
                   out + static_cast<int64_t>(r) * out_ld,
                   ix,
                   r,
                   hist,
                   buf);
}

} // namespace

Status topk_rows_cuda(const float *values,
                      int rows,
                      int64_t ld,
                      int n,
                      const int32_t *row_n,
                      int k,
                      int32_t *out,
                      int64_t out_ld,
                      CUstream_st *stream,
                      const TopkIndexRows *index_rows)
{
    if (!values || !out || rows < 0 || n < 0 || k < 0 || k > k_max_k || ld < n || out_ld < k)
        return Status::invalid("topk_rows_cuda: bad arguments (k <= 2048)");
    const TopkIndexRows ix = index_rows ? *index_rows : TopkIndexRows{};
    if (ix.out && (!ix.step || ix.n_idx <= 0 || ix.window < 0 || ix.n_win < 0 || k == 0))
        return Status::invalid("topk_rows_cuda: bad index rows");
    if (rows == 0 || k == 0)
        return Status::success();
    FATHOM_LAUNCH(rows, k_threads, 0, stream, topk_kernel)
    (values, ld, n, row_n, k, out, out_ld, ix);
    return cuda::launch_status();
}

Status topk_cuda(const float *values, int n, int k, int32_t *out_idx, CUstream_st *stream)
{
    if (k > n)
        return Status::invalid("topk_cuda: k must be in [0, n]");
    return topk_rows_cuda(values, 1, n, n, nullptr, k, out_idx, k, stream);
}

} // namespace fathom::kernels
