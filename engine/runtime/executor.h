// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  Executor: the operations the V4 forward pass (forward.h) needs from a backend. The forward pass
  is written once against this interface; the CPU executor (engine/cpu/cpuexecutor.h) implements
  it with the kernels of kernels/cpu, a CUDA executor supplies the same ops from kernels/cuda.

  Every op takes the kernel's params struct (kernels/include/kernels/<op>.h documents shapes,
  dtypes and the exact numerics). Activations are float arrays holding bf16 values where the
  reference holds bf16 ("bf16-valued") and fp32 values elsewhere.
  NOTE: in this version every buffer is host memory owned by the forward pass; a device executor
  will add buffer allocation to this interface.

  Thread: one thread drives an executor at a time (the engine thread); ops may use a pool inside.
*/

#include "engine/core/error.h"
#include "engine/model/modelweights.h"
#include "kernels/compressor.h"
#include "kernels/indexer.h"
#include "kernels/mhc.h"
#include "kernels/moe.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/sparse_attn.h"

#include <cstdint>
#include <vector>

namespace fathom::engine {

enum class LinearOutput { Bf16, F32 };

/** One expert FFN application: y = w2(bf16(swiglu(w1 x, w3 x) · rowWeight)) for `rows` rows. */
struct ExpertJob
{
    const LinearWeight *w1 = nullptr, *w2 = nullptr, *w3 = nullptr;
    const float *x = nullptr;          // [rows, d] bf16-valued
    const float *rowWeights = nullptr; // [rows] routing weights, nullptr for the shared expert
    float *y = nullptr;                // [rows, d] bf16-valued
    int rows = 0;
};

class Executor
{
public:
    virtual ~Executor() = default;

    virtual const char *name() const = 0;

    /** y [m, w.outFeatures] (row stride ldy, 0 = packed) = x [m, w.inFeatures] (stride ldx) · Wᵀ.
        x holds bf16-valued or fp32 values; FP8/FP4 weights quantise x per 128 block first. */
    virtual Result<void> linear(const LinearWeight &w,
                                const float *x,
                                int m,
                                float *y,
                                LinearOutput out,
                                int64_t ldx = 0,
                                int64_t ldy = 0)
        = 0;

    virtual Result<void> rmsNorm(const kernels::RmsNormParams &p) = 0;
    virtual Result<void> headRmsNormBf16(float *x, int rows, int dim, float eps) = 0;
    virtual Result<void> rope(const kernels::RopeParams &p) = 0;
    virtual Result<void> mhcPre(const kernels::MhcPreParams &p) = 0;
    virtual Result<void> mhcPost(const kernels::MhcPostParams &p) = 0;
    virtual Result<void> mhcHead(const kernels::MhcHeadParams &p) = 0;
    virtual Result<void> compressorPool(const kernels::CompressorPoolParams &p) = 0;
    virtual Result<void> hadamard(float *x, int rows, int n, float scale) = 0;
    /** In place on [rows, row_stride] bf16-valued rows, dims [0, dims): quantise-dequantise
        through e4m3 (blocks of `block`, KV) or e2m1 (indexer). */
    virtual Result<void> fakeQuantE4m3(float *x, int rows, int rowStride, int dims, int block) = 0;
    virtual Result<void> fakeQuantE2m1(float *x, int rows, int rowStride, int dims, int block) = 0;
    virtual Result<void> indexerScores(const kernels::IndexerScoreParams &p) = 0;
    virtual Result<void> topk(const float *values, int n, int k, int32_t *outIdx) = 0;
    virtual Result<void> sparseAttention(const kernels::SparseAttnParams &p) = 0;
    virtual Result<void> moeRoute(const kernels::MoeRouteParams &p) = 0;
    virtual Result<void> swiglu(const kernels::SwigluParams &p) = 0;

    /** Every expert of a MoE layer in one call (w1, w3, clamped SwiGLU, w2), so a backend can
        schedule them together. The default runs them one by one through linear() / swiglu(). */
    virtual Result<void> expertFfn(const std::vector<ExpertJob> &jobs, int inter, float limit);
};

} // namespace fathom::engine
