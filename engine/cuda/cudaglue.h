// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Device versions of the executor's glue steps (executor.h: addPeriodicRows ... moeCombine), the
  data movement and elementwise work the forward pass does between model ops. Plain C++ (no CUDA
  header) so cudaexecutor.cpp can include it; the kernels are in cudaglue.cu (compiled as C++17).

  Every pointer is a device pointer, index arrays included. Each call enqueues on `stream` and
  returns the launch status (0 = cudaSuccess). Results are bit-identical to the host defaults in
  engine/runtime/executor.cpp: the same fp32 operations in the same order, bf16 round to nearest
  even.
*/

#include <cstdint>

struct CUstream_st;

namespace fathom::engine::cudaglue {

int addPeriodicRows(float *x,
                    const float *table,
                    const int32_t *positions,
                    int rows,
                    int width,
                    int period,
                    CUstream_st *stream);
int scaleRoundBf16(float *x, int64_t n, float scale, CUstream_st *stream);
int gatherRows(
    float *dst, const float *src, const int32_t *rows, int n, int width, CUstream_st *stream);
int scatterRows(
    float *dst, const float *src, const int32_t *rows, int n, int width, CUstream_st *stream);
// ids [rows, k]; k <= 32.
int moeCombine(float *y,
               const float *routed,
               const float *shared,
               const int32_t *ids,
               int rows,
               int k,
               int d,
               CUstream_st *stream);
int addBroadcastRoundBf16(
    float *out, const float *a, const float *b, int rows, int n, int d, CUstream_st *stream);
// Sparse-attention index rows of `rows` consecutive queries at positions start, start + 1, ...
// (forward.cpp's host loop): window rows max(0, pos − window + 1) .. pos as offsets from
// windowStart (ringMask 0) or as ring slots p & ringMask, then for ratio 4 the selections
// sel [rows, topk] that are >= 0, for another ratio > 0 the entries 0 .. (pos + 1) / ratio − 1,
// each offset by nWin (the window pool's size); −1 in the remaining slots. start and windowStart
// are read from device memory (step = {start, windowStart}), so the launch's arguments do not
// change from one decode step to the next (a step graph is replayed unchanged).
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
                       CUstream_st *stream);
// Fills `bytes` with 0xFF (NaN in fp32): poisons fresh buffers to catch reads of unwritten memory.
int poison(void *p, uint64_t bytes, CUstream_st *stream);

} // namespace fathom::engine::cudaglue
