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
#include "row_ops.cuh"

namespace fathom::kernels {

namespace {

enum class FakeQuantFormat { E4m3, E2m1 };

template<FakeQuantFormat F>
__global__ void fake_quant_kernel(float *x, int rows, int row_stride, int dims, int block)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const int blocks_per_row = (dims + block - 1) / block;
    const int64_t unit = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x & 31;
    if (unit >= static_cast<int64_t>(rows) * blocks_per_row)
        return;
    const int r = static_cast<int>(unit / blocks_per_row);
    const int b0 = static_cast<int>(unit % blocks_per_row) * block;
    const int b1 = b0 + block < dims ? b0 + block : dims;
    cuda::fake_quant_block<F == FakeQuantFormat::E4m3>(x + static_cast<int64_t>(r) * row_stride,
                                                       b0,
                                                       b1,
                                                       lane);
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
