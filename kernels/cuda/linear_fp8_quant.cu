// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  Activation quantisation for the cuBLASLt FP8 block-scaled GEMM (linear_fp8_cublaslt.h). One
  warp per (row, 128-block): the same amax, scale byte and e4m3 rounding as the exact SIMT
  kernels (linear_gemv.cu), so x' = q * sA is the one the CPU's linear computes with; only the
  GEMM's accumulation differs (linear.h, accum fp32).
*/
#include "kernels/linear_fp8_cublaslt.h"

#include "cuda_common.cuh"

#include <cstring>

namespace fathom::kernels {

namespace {

constexpr int k_threads = 256;

__global__ void __launch_bounds__(k_threads)
    act_quant_vec128_kernel(const float *x, int m, int k, int64_t ldx, uint8_t *q, float *scales)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const int kb = k / 128;
    const int64_t unit = static_cast<int64_t>(blockIdx.x) * (k_threads / 32) + (threadIdx.x >> 5);
    if (unit >= static_cast<int64_t>(m) * kb)
        return;
    const int lane = threadIdx.x & 31;
    const int r = static_cast<int>(unit / kb), b = static_cast<int>(unit % kb);
    const float *xr = x + static_cast<int64_t>(r) * ldx + b * 128;
    float v[4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
        v[i] = xr[lane + 32 * i];
    const float s = cuda::warp_quant128_e4m3(v, q + static_cast<int64_t>(r) * k + b * 128);
    if (lane == 0)
        scales[static_cast<int64_t>(b) * m + r] = s;
}

__global__ void widen_bf16_kernel(const uint16_t *yb, int64_t total, int n, float *y, int64_t ldy)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= total)
        return;
    y[(i / n) * ldy + i % n] = cuda::bf16_bits_to_f32(yb[i]);
}

// One thread per element: hi = bf16(v), lo = bf16(v - hi) (the difference is exact in fp32).
__global__ void split_bf16_kernel(
    const float *x, int64_t total, int k, int64_t ldx, uint16_t *hi, uint16_t *lo)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= total)
        return;
    const float v = x[(i / k) * ldx + i % k];
    const uint16_t h = cuda::f32_to_bf16_bits(v);
    const float hv = cuda::bf16_bits_to_f32(h);
    hi[i] = h;
    // An infinite or NaN hi (also a finite v rounded up to infinity) keeps lo 0: no inf - inf.
    lo[i] = isfinite(hv) ? cuda::f32_to_bf16_bits(__fsub_rn(v, hv)) : uint16_t(0);
}

} // namespace

Status split_bf16_rows_cuda(
    const float *x, int m, int k, int64_t ldx, uint16_t *hi, uint16_t *lo, CUstream_st *stream)
{
    if (m < 0 || k < 0)
        return Status::invalid("split_bf16_rows_cuda: negative shape");
    const int64_t total = static_cast<int64_t>(m) * k;
    if (total == 0)
        return Status::success();
    if (!x || !hi || !lo)
        return Status::invalid("split_bf16_rows_cuda: null x, hi or lo");
    FATHOM_LAUNCH(static_cast<unsigned>((total + k_threads - 1) / k_threads),
                  k_threads,
                  0,
                  stream,
                  split_bf16_kernel)
    (x, total, k, ldx ? ldx : k, hi, lo);
    return cuda::launch_status();
}

Status widen_bf16_rows_cuda(
    const uint16_t *yb, int m, int n, float *y, int64_t ldy, CUstream_st *stream)
{
    if (m < 0 || n < 0)
        return Status::invalid("widen_bf16_rows_cuda: negative shape");
    const int64_t total = static_cast<int64_t>(m) * n;
    if (total == 0)
        return Status::success();
    if (!yb || !y)
        return Status::invalid("widen_bf16_rows_cuda: null yb or y");
    FATHOM_LAUNCH(static_cast<unsigned>((total + k_threads - 1) / k_threads),
                  k_threads,
                  0,
                  stream,
                  widen_bf16_kernel)
    (yb, total, n, y, ldy ? ldy : n);
    return cuda::launch_status();
}

Status act_quant_fp8_vec128_cuda(
    const float *x, int m, int k, int64_t ldx, uint8_t *q, float *scales, CUstream_st *stream)
{
    if (m < 0 || k < 0 || k % 128 != 0)
        return Status::invalid("act_quant_fp8_vec128_cuda: k must be a multiple of 128");
    if (m == 0 || k == 0)
        return Status::success();
    if (!x || !q || !scales)
        return Status::invalid("act_quant_fp8_vec128_cuda: null x, q or scales");
    const int64_t units = static_cast<int64_t>(m) * (k / 128);
    const int64_t blocks = (units + k_threads / 32 - 1) / (k_threads / 32);
    FATHOM_LAUNCH(static_cast<unsigned>(blocks), k_threads, 0, stream, act_quant_vec128_kernel)
    (x, m, k, ldx ? ldx : k, q, scales);
    return cuda::launch_status();
}

int64_t fp8_blk128_scale_count(int64_t n, int64_t k)
{
    const int64_t nb = (n + 127) / 128, kb = (k + 127) / 128;
    return nb * ((kb + 3) / 4 * 4);
}

void fp8_blk128_scales_from_e8m0(const uint8_t *e8m0, int64_t n, int64_t k, float *out)
{
    const int64_t nb = (n + 127) / 128, kb = (k + 127) / 128, l4 = (kb + 3) / 4 * 4;
    for (int64_t i = 0; i < nb; ++i)
        for (int64_t j = 0; j < l4; ++j) {
            float v = 0.0f;
            if (j < kb) {
                const uint8_t s = e8m0[i * kb + j];
                // The bit patterns of formats.h's e8m0: 2^(s-127), s = 0 the subnormal 2^-127.
                const uint32_t bits = s == 255 ? 0x7FC00000u
                                      : s == 0 ? 0x00400000u
                                               : static_cast<uint32_t>(s) << 23;
                std::memcpy(&v, &bits, sizeof v);
            }
            out[i * l4 + j] = v;
        }
}

} // namespace fathom::kernels
