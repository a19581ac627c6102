// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  The attention's per-row chains (row_chain.h) as one launch: one block of 256 threads per row,
  the row in shared memory, one barrier between steps. Every step calls the device function its
  single kernel calls (row_ops.cuh) with the same reductions, so the result is the single
  kernels' (and the CPU twins') bits:
  - rmsnorm: rmsnorm_row over 256 threads (rmsnorm_kernel's block size, the same block_sum tree);
  - head_rmsnorm_bf16: warp 0 alone computes the scale, as head_rmsnorm_bf16_kernel's warp does;
  - rope: each pair on its own;
  - hadamard: the butterfly stages (each element sees the same additions whatever the mapping);
  - fake quantisation: one warp per scale block of the row.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"
#include "row_ops.cuh"

namespace fathom::kernels {

namespace {

constexpr int k_threads = 256; // rmsnorm_kernel's block: the same reduction tree

__global__ void row_chain_kernel(RowChainParams p)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(float, v);
    __shared__ double scratch[32];
    __shared__ float rs_shared;
    const int n = p.dim;
    float *row = p.x + static_cast<int64_t>(blockIdx.x) * n;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        v[i] = row[i];
    __syncthreads();

    if (p.norm == RowNorm::Rms) {
        cuda::rmsnorm_row(v, v, p.norm_weight, n, p.eps, scratch);
        __syncthreads();
    } else if (p.norm == RowNorm::HeadBf16) {
        if (threadIdx.x < 32) {
            const float rs = cuda::head_rms_scale_bf16(v, n, p.eps, threadIdx.x);
            if (threadIdx.x == 0)
                rs_shared = rs;
        }
        __syncthreads();
        const float rs = rs_shared;
        for (int i = threadIdx.x; i < n; i += blockDim.x)
            v[i] = cuda::round_bf16(__fmul_rn(v[i], rs));
        __syncthreads();
    }

    if (p.positions) {
        const int half = p.rope_dim / 2;
        const int pos = p.positions[static_cast<int>(blockIdx.x) / p.rows_per_position];
        for (int j = threadIdx.x; j < half; j += blockDim.x)
            cuda::rope_pair(v + p.rope_offset + 2 * j, pos, p.freqs[j], false);
        __syncthreads();
    }

    if (p.hadamard_scale != 0.0f) {
        cuda::hadamard_butterflies(v, n);
        for (int i = threadIdx.x; i < n; i += blockDim.x)
            v[i] = cuda::round_bf16(__fmul_rn(v[i], p.hadamard_scale));
        __syncthreads();
    }

    if (p.quant != RowQuant::None) {
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
        const int nblocks = (p.quant_dims + p.quant_block - 1) / p.quant_block;
        for (int b = warp; b < nblocks; b += k_threads / 32) {
            const int b0 = b * p.quant_block;
            const int b1 = b0 + p.quant_block < p.quant_dims ? b0 + p.quant_block : p.quant_dims;
            if (p.quant == RowQuant::E4m3)
                cuda::fake_quant_block<true>(v, b0, b1, lane);
            else
                cuda::fake_quant_block<false>(v, b0, b1, lane);
        }
        __syncthreads();
    }

    for (int i = threadIdx.x; i < n; i += blockDim.x)
        row[i] = v[i];
}

} // namespace

Status row_chain_cuda(const RowChainParams &p, CUstream_st *stream)
{
    if (!p.x || p.rows < 0 || p.dim <= 0 || p.dim > 8192)
        return Status::invalid("row_chain_cuda: bad rows (dim <= 8192)");
    if (p.positions
        && (!p.freqs || p.rope_dim <= 0 || (p.rope_dim & 1) || p.rows_per_position <= 0
            || p.rope_offset < 0 || p.rope_offset + p.rope_dim > p.dim))
        return Status::invalid("row_chain_cuda: bad rope arguments");
    if (p.hadamard_scale != 0.0f && (p.dim & (p.dim - 1)))
        return Status::invalid("row_chain_cuda: hadamard needs a power-of-two dim");
    if (p.quant != RowQuant::None
        && (p.quant_block <= 0 || p.quant_dims < 0 || p.quant_dims > p.dim))
        return Status::invalid("row_chain_cuda: bad quantisation arguments");
    if (p.rows == 0)
        return Status::success();
    FATHOM_LAUNCH(p.rows, k_threads, p.dim * sizeof(float), stream, row_chain_kernel)(p);
    return cuda::launch_status();
}

} // namespace fathom::kernels
