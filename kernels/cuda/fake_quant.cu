// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  Fake quantisation (quant.h fake_quant_*): quantise-dequantise bf16-valued rows in place through
  e4m3 (KV nope dims, block 64) or e2m1 (indexer, block 32) with power-of-two scales. One warp
  per (row, block): amax by a warp reduction (max is order-free), the e8m0 scale from the fp32
  product amax·fl32(1/max) as the reference kernels form it, RNE with saturation on the grid,
  times the scale, rounded to bf16. Bit-identical to the CPU by construction.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"

namespace fathom::kernels {

namespace {

enum class FakeQuantFormat { E4m3, E2m1 };

template<FakeQuantFormat F>
__global__ void fake_quant_kernel(float *x, int rows, int row_stride, int dims, int block)
{
    const int blocks_per_row = (dims + block - 1) / block;
    const int64_t unit = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x & 31;
    if (unit >= static_cast<int64_t>(rows) * blocks_per_row)
        return;
    const int r = static_cast<int>(unit / blocks_per_row);
    const int b0 = static_cast<int>(unit % blocks_per_row) * block;
    const int b1 = b0 + block < dims ? b0 + block : dims;
    float *v = x + static_cast<int64_t>(r) * row_stride;
    float amax = 0.0f;
    for (int i = b0 + lane; i < b1; i += 32)
        amax = fmaxf(amax, fabsf(cuda::round_bf16(v[i])));
    amax = cuda::warp_max(amax);
    const uint8_t s = F == FakeQuantFormat::E4m3 ? cuda::pow2_scale_e8m0(amax,
                                                                         cuda::k_e4m3_inv_max,
                                                                         cuda::k_e4m3_amax_floor)
                                                 : cuda::pow2_scale_e8m0(amax,
                                                                         cuda::k_e2m1_inv_max,
                                                                         cuda::k_e2m1_amax_floor);
    const float inv = cuda::e8m0_inverse_f32(s);
    const float sv = cuda::e8m0_to_f32(s);
    for (int i = b0 + lane; i < b1; i += 32) {
        const float xv = __fmul_rn(cuda::round_bf16(v[i]), inv);
        const float q = F == FakeQuantFormat::E4m3 ? cuda::e4m3_to_f32(cuda::f32_to_e4m3(xv))
                                                   : cuda::e2m1_to_f32(cuda::f32_to_e2m1(xv));
        v[i] = cuda::round_bf16(__fmul_rn(q, sv));
    }
}

template<FakeQuantFormat F>
Status launch(float *x, int rows, int row_stride, int dims, int block, CUstream_st *stream)
{
    if (!x || rows < 0 || dims < 0 || block <= 0 || row_stride < dims)
        return Status::invalid("fake_quant_cuda: bad arguments");
    if (rows == 0 || dims == 0)
        return Status::success();
    const long long units = static_cast<long long>(rows) * ((dims + block - 1) / block);
    const int threads = 256;
    FATHOM_LAUNCH(cuda::grid_for(units, threads / 32), threads, 0, stream, fake_quant_kernel<F>)
    (x, rows, row_stride, dims, block);
    return cuda::launch_status();
}

} // namespace

Status fake_quant_e4m3_cuda(
    float *x, int rows, int row_stride, int dims, int block, CUstream_st *stream)
{
    return launch<FakeQuantFormat::E4m3>(x, rows, row_stride, dims, block, stream);
}

Status fake_quant_e2m1_cuda(
    float *x, int rows, int row_stride, int dims, int block, CUstream_st *stream)
{
    return launch<FakeQuantFormat::E2m1>(x, rows, row_stride, dims, block, stream);
}

} // namespace fathom::kernels
