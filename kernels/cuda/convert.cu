// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  Small conversions the executor needs between ops: rounding f32 rows to bf16 values in place
  (a linear with LinearOutput::Bf16 into an f32 buffer) and the embedding gather with the
  hyper-connection expansion (spec §3.1: every stream starts as the token's embedding row), and
  the converting scatter of fp32 rows into a bf16 sequence state (RowHistory's bf16 rows), and
  the quantising scatter into a packed one (kernels/kv_packed.h: e4m3 / e2m1 codes with E8M0
  block scales). Bit-identical to the CPU (round_bf16, bf16 bits widened, pack_state_row).
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"
#include "kv_packed.cuh"
#include "state_rows.cuh"

namespace fathom::kernels {

namespace {

__global__ void round_rows_kernel(float *y, int rows, int cols, int64_t ld)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
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
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
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
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    for (int k = blockIdx.x; k < n; k += gridDim.x) {
        const int bad = cuda::store_bf16_row(dst + static_cast<int64_t>(rows[k]) * width,
                                             src + static_cast<int64_t>(k) * width,
                                             width);
        if (bad && inexact)
            atomicAdd(inexact, bad);
    }
}

// One block per source row (grid-strided), a thread per scale block: the block's largest
// magnitude, its E8M0 scale (the reference's rule, as the fake quantisers), the codes; RoPE dims
// of a KV entry as bf16 bits; padding zero. Values the layout does not hold exactly (rounded,
// saturated, NaN) are counted, as the bf16 scatter does.
__global__ void scatter_packed_kernel(uint8_t *dst,
                                      const float *src,
                                      const int32_t *rows,
                                      int n,
                                      int width,
                                      int rope,
                                      int64_t row_bytes,
                                      int *inexact)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    for (int k = blockIdx.x; k < n; k += gridDim.x) {
        const int bad = cuda::store_packed_row(dst + static_cast<int64_t>(rows[k]) * row_bytes,
                                               src + static_cast<int64_t>(k) * width,
                                               width,
                                               rope);
        if (bad && inexact)
            atomicAdd(inexact, bad);
    }
}

// A decode step's appends (append_state_rows_cuda): one block per row of every segment
// (grid-strided over the rows of all segments), each row as the scatters above store it, the
// gate rows with their positional bias added first (fp32, written back to src as well).
__global__ void append_state_kernel(StateAppendParams p, int *inexact)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    int total = 0;
    for (int k = 0; k < p.segments; ++k)
        total += p.seg[k].count;
    for (int i = blockIdx.x; i < total; i += gridDim.x) {
        int k = 0, t = i;
        while (t >= p.seg[k].count) {
            t -= p.seg[k].count;
            ++k;
        }
        const StateAppendSegment &sg = p.seg[k];
        const int bad = cuda::append_state_row(sg,
                                               p.positions[sg.first + t],
                                               sg.src + static_cast<int64_t>(t) * sg.width);
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

Status scatter_rows_packed_cuda(uint8_t *dst,
                                const float *src,
                                const int32_t *rows,
                                int n,
                                int width,
                                int rope,
                                int *inexact,
                                CUstream_st *stream)
{
    if (n < 0 || width < 0 || rope >= width || (n > 0 && width > 0 && (!dst || !src || !rows)))
        return Status::invalid("scatter_rows_packed_cuda: bad arguments");
    if (n == 0 || width == 0)
        return Status::success();
    FATHOM_LAUNCH(n < 65535 ? n : 65535, 64, 0, stream, scatter_packed_kernel)
    (dst, src, rows, n, width, rope, cuda::packed_row_bytes(width, rope), inexact);
    return cuda::launch_status();
}

Status append_state_rows_cuda(const StateAppendParams &p, int *inexact, CUstream_st *stream)
{
    if (p.segments < 0 || p.segments > k_state_append_segments)
        return Status::invalid("append_state_rows_cuda: bad segment count");
    int64_t total = 0;
    for (int k = 0; k < p.segments; ++k) {
        const StateAppendSegment &sg = p.seg[k];
        if (sg.count < 0 || sg.width < 0 || sg.first < 0 || sg.slot_mask < 0
            || (sg.slot_mask & (sg.slot_mask + 1)) != 0
            || (sg.count > 0 && (!sg.dst || !sg.src || !p.positions))
            || (sg.ape && (sg.rows != StateRows::F32 || sg.period <= 0))
            || (sg.rows == StateRows::Packed && sg.rope >= sg.width))
            return Status::invalid("append_state_rows_cuda: bad segment");
        total += sg.count;
    }
    if (total == 0)
        return Status::success();
    FATHOM_LAUNCH(total < 65535 ? total : 65535, 128, 0, stream, append_state_kernel)(p, inexact);
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
