// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  Small conversions the executor needs between ops: rounding f32 rows to bf16 values in place
  (a linear with LinearOutput::Bf16 into an f32 buffer) and the embedding gather with the
  hyper-connection expansion (spec §3.1: every stream starts as the token's embedding row), and
  the converting scatter of fp32 rows into a bf16 sequence state (RowHistory's bf16 rows).
  Elementwise; bit-identical to the CPU (round_bf16, bf16 bits widened).
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"

namespace fathom::kernels {

namespace {

__global__ void round_rows_kernel(float *y, int rows, int cols, int64_t ld)
{
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= static_cast<int64_t>(rows) * cols)
        return;
    float *v = y + (i / cols) * ld + i % cols;
    *v = cuda::round_bf16(*v);
}

__global__ void embed_kernel(const uint16_t *table,
                             int vocab,
                             int dim,
                             const int32_t *ids,
                             int n_tokens,
                             int copies,
                             float *out)
{
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t per_token = static_cast<int64_t>(copies) * dim;
    if (i >= per_token * n_tokens)
        return;
    const int64_t t = i / per_token;
    const int e = static_cast<int>(i % dim);
    const int32_t id = ids[t];
    out[i] = id >= 0 && id < vocab
                 ? cuda::bf16_bits_to_f32(table[static_cast<int64_t>(id) * dim + e])
                 : 0.0f;
}

// One block per source row (grid-strided). A value that bf16 does not hold exactly (rounded, or
// a NaN, whose payload bf16 cannot keep either) is counted: the rows are bf16-exact by
// construction, so a count is a bug upstream.
__global__ void scatter_bf16_kernel(
    uint16_t *dst, const float *src, const int32_t *rows, int n, int width, int *inexact)
{
    for (int k = blockIdx.x; k < n; k += gridDim.x) {
        const float *s = src + static_cast<int64_t>(k) * width;
        uint16_t *d = dst + static_cast<int64_t>(rows[k]) * width;
        int bad = 0;
        for (int e = threadIdx.x; e < width; e += blockDim.x) {
            const float v = s[e];
            const uint16_t b = cuda::f32_to_bf16_bits(v);
            d[e] = b;
            bad += __float_as_uint(cuda::bf16_bits_to_f32(b)) != __float_as_uint(v);
        }
        if (bad && inexact)
            atomicAdd(inexact, bad);
    }
}

} // namespace

Status scatter_rows_bf16_cuda(uint16_t *dst,
                              const float *src,
                              const int32_t *rows,
                              int n,
                              int width,
                              int *inexact,
                              CUstream_st *stream)
{
    if (n < 0 || width < 0 || (n > 0 && width > 0 && (!dst || !src || !rows)))
        return Status::invalid("scatter_rows_bf16_cuda: bad arguments");
    if (n == 0 || width == 0)
        return Status::success();
    FATHOM_LAUNCH(n < 65535 ? n : 65535, 128, 0, stream, scatter_bf16_kernel)
    (dst, src, rows, n, width, inexact);
    return cuda::launch_status();
}

Status round_bf16_rows_cuda(float *y, int rows, int cols, int64_t ld, CUstream_st *stream)
{
    if (!y || rows < 0 || cols < 0 || (ld != 0 && ld < cols))
        return Status::invalid("round_bf16_rows_cuda: bad arguments");
    if (rows == 0 || cols == 0)
        return Status::success();
    const long long n = static_cast<long long>(rows) * cols;
    FATHOM_LAUNCH(cuda::grid_for(n, 256), 256, 0, stream, round_rows_kernel)
    (y, rows, cols, ld ? ld : cols);
    return cuda::launch_status();
}

Status embed_rows_cuda(const uint16_t *table,
                       int vocab,
                       int dim,
                       const int32_t *ids,
                       int n_tokens,
                       int copies,
                       float *out,
                       CUstream_st *stream)
{
    if (!table || !ids || !out || vocab <= 0 || dim <= 0 || n_tokens < 0 || copies <= 0)
        return Status::invalid("embed_rows_cuda: bad arguments");
    if (n_tokens == 0)
        return Status::success();
    const long long n = static_cast<long long>(n_tokens) * copies * dim;
    FATHOM_LAUNCH(cuda::grid_for(n, 256), 256, 0, stream, embed_kernel)
    (table, vocab, dim, ids, n_tokens, copies, out);
    return cuda::launch_status();
}

} // namespace fathom::kernels
