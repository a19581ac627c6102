// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// Glue kernels of the CUDA executor (cudaglue.h): grid-stride loops over elements or rows. fp32
// additions use __fadd_rn / __fmul_rn so nvcc cannot fuse them into an FMA the host code does
// not do; bf16 rounding is round to nearest even with NaN kept, as kernels/formats.h.
#include "cudaglue.h"

#include <cuda_runtime.h>

// FATHOM_LAUNCH and the PDL wait: the same source also builds as C++ against tests/gpu/emu.
#include "kernels/cuda/cuda_common.cuh"

namespace fathom::engine::cudaglue {

namespace {

__device__ inline float roundBf16(float f)
{
    uint32_t b = __float_as_uint(f);
    if ((b & 0x7FFFFFFFu) > 0x7F800000u)
        return __uint_as_float(((b >> 16) | 0x40u) << 16);
    b += 0x7FFFu + ((b >> 16) & 1u);
    return __uint_as_float((b >> 16) << 16);
}

int blocksFor(int64_t n, int threads)
{
    const int64_t b = (n + threads - 1) / threads;
    return static_cast<int>(b < 65535 * 16 ? (b > 0 ? b : 1) : 65535 * 16);
}

int status()
{
    return static_cast<int>(cudaGetLastError());
}

__global__ void addPeriodicRowsKernel(
    float *x, const float *table, const int32_t *positions, int rows, int width, int period)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const int64_t n = static_cast<int64_t>(rows) * width;
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int64_t r = i / width, e = i % width;
        x[i] = __fadd_rn(x[i], table[static_cast<int64_t>(positions[r] % period) * width + e]);
    }
}

__global__ void scaleRoundKernel(float *x, int64_t n, float scale)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x)
        x[i] = roundBf16(__fmul_rn(x[i], scale));
}

// One block per row; float4 when the width allows.
__global__ void gatherKernel(
    float *dst, const float *src, const int32_t *rows, int n, int width, bool scatter)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    for (int k = blockIdx.x; k < n; k += gridDim.x) {
        const int64_t from = scatter ? k : rows[k];
        const int64_t to = scatter ? rows[k] : k;
        const float *s = src + from * width;
        float *d = dst + to * width;
        if ((width & 3) == 0
            && ((reinterpret_cast<uintptr_t>(s) | reinterpret_cast<uintptr_t>(d)) & 15) == 0) {
            const float4 *s4 = reinterpret_cast<const float4 *>(s);
            float4 *d4 = reinterpret_cast<float4 *>(d);
            for (int e = threadIdx.x; e < width / 4; e += blockDim.x)
                d4[e] = s4[e];
        } else {
            for (int e = threadIdx.x; e < width; e += blockDim.x)
                d[e] = s[e];
        }
    }
}

// One block per row: the k slots in increasing expert id (stable for equal ids), summed in fp32
// in that order, then the shared expert, rounded to bf16.
__global__ void moeCombineKernel(
    float *y, const float *routed, const float *shared, const int32_t *ids, int rows, int k, int d)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    __shared__ int order[32];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        if (threadIdx.x == 0) {
            const int32_t *rid = ids + static_cast<int64_t>(r) * k;
            for (int j = 0; j < k; ++j)
                order[j] = j;
            for (int a = 1; a < k; ++a) { // insertion sort: stable, as std::stable_sort
                const int v = order[a];
                int b = a - 1;
                while (b >= 0 && rid[order[b]] > rid[v]) {
                    order[b + 1] = order[b];
                    --b;
                }
                order[b + 1] = v;
            }
        }
        __syncthreads();
        for (int e = threadIdx.x; e < d; e += blockDim.x) {
            float acc = 0.0f;
            for (int j = 0; j < k; ++j)
                acc = __fadd_rn(acc, routed[(static_cast<int64_t>(r) * k + order[j]) * d + e]);
            acc = __fadd_rn(acc, shared[static_cast<int64_t>(r) * d + e]);
            y[static_cast<int64_t>(r) * d + e] = roundBf16(acc);
        }
        __syncthreads();
    }
}

__global__ void addBroadcastKernel(float *out, const float *a, const float *b, int rows, int n, int d)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const int64_t total = static_cast<int64_t>(rows) * n * d;
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int64_t row = i / (static_cast<int64_t>(n) * d), k = i % d;
        out[i] = roundBf16(__fadd_rn(a[row * d + k], b[i]));
    }
}

// One thread per query row (decode: one row; prefill chunks: a few thousand).
__global__ void sparseIndicesKernel(int32_t *out,
                                    int rows,
                                    int nIdx,
                                    const int32_t *step,
                                    int ringMask,
                                    int window,
                                    int nWin,
                                    int ratio,
                                    const int32_t *sel,
                                    int topk)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    const int64_t start = step[0], windowStart = step[1];
    for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < rows; t += gridDim.x * blockDim.x) {
        const int64_t pos = start + t;
        int32_t *row = out + static_cast<int64_t>(t) * nIdx;
        int j = 0;
        for (int64_t p = pos - window + 1 > 0 ? pos - window + 1 : 0; p <= pos && j < nIdx; ++p)
            row[j++] = static_cast<int32_t>(ringMask ? (p & ringMask) : p - windowStart);
        if (ratio == 4) {
            const int32_t *s = sel + static_cast<int64_t>(t) * topk;
            for (int k = 0; k < topk && j < nIdx; ++k)
                if (s[k] >= 0)
                    row[j++] = nWin + s[k];
        } else if (ratio > 0) {
            const int nVis = static_cast<int>((pos + 1) / ratio);
            for (int e = 0; e < nVis && j < nIdx; ++e)
                row[j++] = nWin + e;
        }
        for (; j < nIdx; ++j)
            row[j] = -1;
    }
}

} // namespace

int buildSparseIndices(int32_t *out,
                       int rows,
                       int nIdx,
                       const int32_t *step,
                       int ringMask,
                       int window,
                       int nWin,
                       int ratio,
                       const int32_t *sel,
                       int topk,
                       CUstream_st *stream)
{
    if (rows <= 0 || nIdx <= 0)
        return 0;
    FATHOM_LAUNCH(blocksFor(rows, 128), 128, 0, stream, sparseIndicesKernel)
    (out, rows, nIdx, step, ringMask, window, nWin, ratio, sel, topk);
    return status();
}

int addPeriodicRows(float *x,
                    const float *table,
                    const int32_t *positions,
                    int rows,
                    int width,
                    int period,
                    CUstream_st *stream)
{
    const int64_t n = static_cast<int64_t>(rows) * width;
    if (n == 0)
        return 0;
    FATHOM_LAUNCH(blocksFor(n, 256), 256, 0, stream, addPeriodicRowsKernel)
    (x, table, positions, rows, width, period);
    return status();
}

int scaleRoundBf16(float *x, int64_t n, float scale, CUstream_st *stream)
{
    if (n == 0)
        return 0;
    FATHOM_LAUNCH(blocksFor(n, 256), 256, 0, stream, scaleRoundKernel)(x, n, scale);
    return status();
}

int gatherRows(
    float *dst, const float *src, const int32_t *rows, int n, int width, CUstream_st *stream)
{
    if (n == 0)
        return 0;
    FATHOM_LAUNCH((n < 65535 ? n : 65535), 128, 0, stream, gatherKernel)
    (dst, src, rows, n, width, false);
    return status();
}

int scatterRows(
    float *dst, const float *src, const int32_t *rows, int n, int width, CUstream_st *stream)
{
    if (n == 0)
        return 0;
    FATHOM_LAUNCH((n < 65535 ? n : 65535), 128, 0, stream, gatherKernel)
    (dst, src, rows, n, width, true);
    return status();
}

int moeCombine(float *y,
               const float *routed,
               const float *shared,
               const int32_t *ids,
               int rows,
               int k,
               int d,
               CUstream_st *stream)
{
    if (k > 32)
        return static_cast<int>(cudaErrorInvalidValue);
    if (rows == 0)
        return 0;
    FATHOM_LAUNCH((rows < 65535 ? rows : 65535), 256, 0, stream, moeCombineKernel)
    (y, routed, shared, ids, rows, k, d);
    return status();
}

int addBroadcastRoundBf16(
    float *out, const float *a, const float *b, int rows, int n, int d, CUstream_st *stream)
{
    const int64_t total = static_cast<int64_t>(rows) * n * d;
    if (total == 0)
        return 0;
    FATHOM_LAUNCH(blocksFor(total, 256), 256, 0, stream, addBroadcastKernel)(out, a, b, rows, n, d);
    return status();
}

int poison(void *p, uint64_t bytes, CUstream_st *stream)
{
    return static_cast<int>(cudaMemsetAsync(p, 0xFF, bytes, stream));
}

} // namespace fathom::engine::cudaglue
