// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  The attention's per-row chains (row_chain.h) as one launch: one block of 256 threads per row,
  the row in shared memory, one barrier between steps. Every step is the arithmetic of its
  single kernel, with the same reductions, so the result is the single kernels' (and the CPU
  twins') bits:
  - rmsnorm: thread-strided double sums of the squares over 256 threads and block_sum, as
    rmsnorm_kernel (same block size, same tree);
  - head_rmsnorm_bf16: warp 0 alone, lane-strided and warp_sum, as head_rmsnorm_bf16_kernel;
  - rope: each pair on its own (rope_kernel's angle, cos/sin and products);
  - hadamard: the butterfly stages of hadamard_kernel (each element sees the same additions
    whatever the thread mapping);
  - fake quantisation: one warp per block of the row, fake_quant_kernel's amax and grid.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"

namespace fathom::kernels {

namespace {

constexpr int k_threads = 256; // rmsnorm_kernel's block: the same reduction tree

template<RowQuant Q>
__device__ void quant_block(float *v, int b0, int b1, int lane)
{
    float amax = 0.0f;
    for (int i = b0 + lane; i < b1; i += 32)
        amax = fmaxf(amax, fabsf(cuda::round_bf16(v[i])));
    amax = cuda::warp_max(amax);
    const uint8_t s = Q == RowQuant::E4m3
                          ? cuda::pow2_scale_e8m0(amax, cuda::k_e4m3_inv_max, cuda::k_e4m3_amax_floor)
                          : cuda::pow2_scale_e8m0(amax, cuda::k_e2m1_inv_max, cuda::k_e2m1_amax_floor);
    const float inv = cuda::e8m0_inverse_f32(s);
    const float sv = cuda::e8m0_to_f32(s);
    for (int i = b0 + lane; i < b1; i += 32) {
        const float xv = __fmul_rn(cuda::round_bf16(v[i]), inv);
        const float q = Q == RowQuant::E4m3 ? cuda::e4m3_to_f32(cuda::f32_to_e4m3(xv))
                                            : cuda::e2m1_to_f32(cuda::f32_to_e2m1(xv));
        v[i] = cuda::round_bf16(__fmul_rn(q, sv));
    }
}

__global__ void row_chain_kernel(RowChainParams p)
{
    FATHOM_EXTERN_SHARED(float, v);
    __shared__ double scratch[32];
    __shared__ float rs_shared;
    const int n = p.dim;
    float *row = p.x + static_cast<int64_t>(blockIdx.x) * n;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        v[i] = row[i];
    __syncthreads();

    if (p.norm == RowNorm::Rms) {
        double ss = 0.0;
        for (int i = threadIdx.x; i < n; i += blockDim.x) {
            const double x = v[i];
            ss += x * x;
        }
        ss = cuda::block_sum(ss, scratch);
        const float var = static_cast<float>(ss / n);
        const float rs = cuda::rsqrt_f32(__fadd_rn(var, p.eps));
        for (int i = threadIdx.x; i < n; i += blockDim.x) {
            const float y = __fmul_rn(v[i], rs);
            v[i] = cuda::round_bf16(p.norm_weight ? __fmul_rn(p.norm_weight[i], y) : y);
        }
        __syncthreads();
    } else if (p.norm == RowNorm::HeadBf16) {
        if (threadIdx.x < 32) {
            const int lane = threadIdx.x;
            double s = 0.0;
            for (int i = lane; i < n; i += 32)
                s += cuda::round_bf16(__fmul_rn(v[i], v[i]));
            s = cuda::warp_sum(s);
            const float mean = cuda::round_bf16(static_cast<float>(s / n));
            const float var = cuda::round_bf16(__fadd_rn(mean, p.eps));
            if (lane == 0)
                rs_shared = cuda::round_bf16(cuda::rsqrt_f32(var));
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
        for (int j = threadIdx.x; j < half; j += blockDim.x) {
            const float angle = __fmul_rn(static_cast<float>(pos), p.freqs[j]);
            const float cs = static_cast<float>(cos(static_cast<double>(angle)));
            const float sn = static_cast<float>(sin(static_cast<double>(angle)));
            float *x = v + p.rope_offset + 2 * j;
            const float a = x[0], b = x[1];
            const float ac = __fmul_rn(a, cs), bd = __fmul_rn(b, sn);
            const float ad = __fmul_rn(a, sn), bc = __fmul_rn(b, cs);
            x[0] = cuda::round_bf16(__fsub_rn(ac, bd));
            x[1] = cuda::round_bf16(__fadd_rn(ad, bc));
        }
        __syncthreads();
    }

    if (p.hadamard_scale != 0.0f) {
        for (int h = 1; h < n; h *= 2) {
            for (int i = threadIdx.x; i < n / 2; i += blockDim.x) {
                const int j = (i / h) * 2 * h + (i % h);
                const float a = v[j], b = v[j + h];
                v[j] = __fadd_rn(a, b);
                v[j + h] = __fsub_rn(a, b);
            }
            __syncthreads();
        }
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
                quant_block<RowQuant::E4m3>(v, b0, b1, lane);
            else
                quant_block<RowQuant::E2m1>(v, b0, b1, lane);
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
    // Field by field into zeroed bytes (no stray padding in the launch's arguments).
    RowChainParams d;
    d.x = p.x;
    d.norm_weight = p.norm_weight;
    d.positions = p.positions;
    d.freqs = p.freqs;
    d.rows = p.rows;
    d.dim = p.dim;
    d.norm = p.norm;
    d.eps = p.eps;
    d.rope_offset = p.rope_offset;
    d.rope_dim = p.rope_dim;
    d.rows_per_position = p.rows_per_position;
    d.hadamard_scale = p.hadamard_scale;
    d.quant = p.quant;
    d.quant_dims = p.quant_dims;
    d.quant_block = p.quant_block;
    FATHOM_LAUNCH(p.rows, k_threads, p.dim * sizeof(float), stream, row_chain_kernel)(d);
    return cuda::launch_status();
}

} // namespace fathom::kernels
