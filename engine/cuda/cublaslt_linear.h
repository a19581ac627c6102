// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  CublasLtLinear: the FP8 block-scaled prefill GEMM through cuBLASLt, for CudaExecutor's
  non-exact mode (setExactLinear(false), the CPU's linear_accum::fp32 twin); also the bf16
  (dense) weights' prefill GEMMs on the bf16 tensor cores (runDense, below).

  What it computes: y[m][j] = sum_k x'[k] * w'[j][k] in fp32 with x' the activation-quantised x
  (linear.h / quant.h act_quant: e4m3, 1x128 blocks, power-of-two scales; done on the device by
  act_quant_fp8_vec128_cuda) and w' the FP8 weight with its 128x128 e8m0 scales. cuBLASLt's
  Hopper block-scaled modes express exactly that scheme (spec §6.3): operand A = W (k-major,
  CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F), operand B = x (k-major,
  CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F), fp32 accumulation with per-block scale promotion,
  D fp32 = y. The accumulation order is cuBLASLt's, so the result is within linear.h's fp32
  bound of the exact result, not bit-identical to the CPU or to the SIMT kernel.

  When it runs: FP8 weights, m >= kMinRows, n and k multiples of 128 (partial 128-blocks are not
  sent: the scale layouts for them are not documented for these modes), x and y f32, row
  strides keeping 16-byte alignment. D is f32; where cuBLASLt has no f32-output kernel for these
  modes and the caller rounds to bf16 anyway, a bf16 D is widened into y (same values).
  Everything else answers false and the caller runs the SIMT kernel; so does every failure
  (library missing, no algorithm from the heuristic, a failed call), logged once per kind.

  Loading: libcublasLt is opened with dlopen on first use, so neither fathom nor fathom-cli gets
  a load-time dependency on it (the CUDA runtime is static and loads the driver lazily too).

  Memory: the fp32 weight scales (converted once per weight, on first use, from the host copy of
  the e8m0 bytes), the quantised activations and cuBLASLt's workspaces (one, plus K - 1 of the
  same size for expertsViaLt's side streams: reserveWorkspaces) are this object's own cudaMalloc
  blocks, outside the executor's arena and memoryStats(). Nothing is allocated while the stream
  is being captured: a weight or a size not yet prepared then answers false.

  Thread: one thread at a time (the executor's).
*/

#include "kernels/linear.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

struct CUstream_st;

namespace fathom::engine {

class CublasLtLinear
{
public:
    static constexpr int kMinRows = 64;

    explicit CublasLtLinear(int device);
    ~CublasLtLinear();
    CublasLtLinear(const CublasLtLinear &) = delete;
    CublasLtLinear &operator=(const CublasLtLinear &) = delete;

    // Whether the library loaded and a handle exists (else why()).
    bool available();
    const std::string &why() const { return m_why; }

    // ltexperts: the FP4 experts of the prefill folded to e4m3 on the device
    // (kernels::fp4_fold_e4m3_cuda): w e4m3 codes [n, k] with fp32 BLK128x128 scales wScales
    // (device, kernels::fp8_blk128_scale_count(n, k) floats, no host key), x already quantised
    // (codes xq [m, k] packed and VEC128 scales xScales [k/128][m]: act_quant_fp8_vec128_cuda's
    // layout, so a row slice of a bigger quantised x is not one - each call quantises its own
    // rows). y [m, n] f32, row stride ldy (0 = n), unrounded fp32 sums. n, k multiples of 128,
    // m >= 1, 16-byte aligned w, xq, y. Allocates no device memory and never synchronises (the
    // first call of a shape makes its plan: host work only). False: nothing was enqueued, the
    // caller runs its own kernel (no f32-output algorithm, a failed call; warned once a kind).
    // workspace: which of reserveWorkspaces()'s workspaces the call uses (calls that may run at
    // once, on different streams, need different ones; 0 is always there).
    bool runQuantized(const uint8_t *w,
                      const float *wScales,
                      int n,
                      int k,
                      const uint8_t *xq,
                      const float *xScales,
                      int m,
                      float *y,
                      int64_t ldy,
                      CUstream_st *stream,
                      int workspace = 0);
    // ltstreams: `count` workspaces of the same size (the heuristic's choices, made for that
    // size, stay the same whichever a call uses), allocated now where missing: call it before
    // the calls. False (what was made is kept): not available, the caller's
    // stream being captured or out of memory; the caller uses workspace 0 alone.
    bool reserveWorkspaces(int count, CUstream_st *stream);
    int workspaces() const { return 1 + static_cast<int>(m_moreWorkspaces.size()); }

    // Shape/type test only (no library call).
    static bool accepts(const kernels::linear_params &p);

    // p: device pointers (x f32, y f32, w e4m3 codes); hostScale: the weight's e8m0 scale bytes
    // in host memory (the cache key). True when y has been computed (enqueued on stream).
    // bf16Output: the caller rounds y to bf16 anyway (LinearOutput::Bf16), so when cuBLASLt has
    // no f32-output kernel a bf16-output one may be used (D = bf16(fp32 result), widened into y).
    bool run(const kernels::linear_params &p,
             const uint8_t *hostScale,
             CUstream_st *stream,
             bool bf16Output = false);

    // dense: bf16 weights (the compressors' wkv / wgate, the MoE gate, the indexer's head
    // weights at prefill sizes), y = W x in fp32 on the bf16 tensor cores, x f32 split into
    // hi + lo bf16 (kernels::split_bf16_rows_cuda) and summed as two GEMMs (beta = 1 on the
    // second): exact products, fp32 accumulation, x to about 2^-16 relative (exactly where x holds
    // bf16 values, as the engine's activations at these linears do). Any n; k % 8 == 0.
    static bool acceptsDense(const kernels::linear_params &p);
    // Device pointers as run(); the caller rounds y to bf16 where it wants bf16 (as for run()).
    bool runDense(const kernels::linear_params &p, CUstream_st *stream);

    struct Stats
    {
        long long calls = 0;     // run() that went through cuBLASLt
        long long fallbacks = 0; // run() that answered false for an accepted shape
    };
    Stats stats() const { return m_stats; }

private:
    struct Api;
    struct Plan;
    bool load();
    void warnOnce(const std::string &what);
    const float *weightScales(const kernels::linear_params &p,
                              const uint8_t *hostScale,
                              bool capturing);
    bool ensureScratch(
        size_t qBytes, size_t sBytes, size_t yBytes, bool capturing, CUstream_st *stream);
    // The operand and output types of a plan (also its cache key's tag).
    enum class Operands : int {
        E4m3ToF32,  // block-scaled FP8 (run, runQuantized)
        E4m3ToBf16, // the same with a bf16 D (run's fallback)
        Bf16ToF32,  // runDense
    };
    Plan *plan(const kernels::linear_params &p,
               Operands ops,
               const void *scaleA,
               const void *scaleB);
    bool matmul(Plan *pl,
                const void *w,
                const float *wScales,
                const void *x,
                const float *xScales,
                void *d,
                float beta,
                CUstream_st *stream,
                const char *what,
                int workspace = 0);
    bool chooseAlgo(Plan *raw, const std::string &what);

    int m_device = 0;
    bool m_tried = false;
    std::string m_why;
    std::unique_ptr<Api> m_api;
    void *m_handle = nullptr; // cublasLtHandle_t
    void *m_workspace = nullptr;
    size_t m_workspaceBytes = 0;
    std::vector<void *> m_moreWorkspaces; // reserveWorkspaces(): 1, 2, ... (each m_workspaceBytes)
    uint8_t *m_q = nullptr;
    size_t m_qBytes = 0;
    float *m_xs = nullptr;
    size_t m_xsBytes = 0;
    uint16_t *m_yb = nullptr; // bf16 D when only a bf16-output algorithm exists
    size_t m_ybBytes = 0;
    std::map<const uint8_t *, float *> m_scales;
    std::map<std::tuple<int, int, int, int64_t, int64_t>, std::unique_ptr<Plan>> m_plans;
    std::map<std::string, bool> m_warned;
    Stats m_stats;
};

} // namespace fathom::engine
