// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  CpuExecutor: Executor on the host CPU with the kernels of kernels/cpu, multithreaded over a
  ThreadPool (owned here). Thread: driven by one thread at a time.
*/

#include "engine/core/threadpool.h"
#include "engine/runtime/executor.h"

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace fathom::engine {

class CpuExecutor final : public Executor
{
public:
    // threads <= 0: kernels::cpu_physical_threads(). exactLinear: exact block sums (bit-identical
    // to the reference kernels' definition) instead of fp32 FMA accumulation.
    explicit CpuExecutor(int threads = 0, bool exactLinear = true);
    ~CpuExecutor() override;

    const char *name() const override { return "cpu"; }
    ThreadPool &pool() { return *m_pool; }

    Result<void> linear(const LinearWeight &w,
                        const float *x,
                        int m,
                        float *y,
                        LinearOutput out,
                        int64_t ldx,
                        int64_t ldy) override;
    Result<void> rmsNorm(const kernels::RmsNormParams &p) override;
    Result<void> headRmsNormBf16(float *x, int rows, int dim, float eps) override;
    Result<void> rope(const kernels::RopeParams &p) override;
    Result<void> mhcPre(const kernels::MhcPreParams &p) override;
    Result<void> mhcPost(const kernels::MhcPostParams &p) override;
    Result<void> mhcHead(const kernels::MhcHeadParams &p) override;
    Result<void> compressorPool(const kernels::CompressorPoolParams &p) override;
    Result<void> hadamard(float *x, int rows, int n, float scale) override;
    Result<void> fakeQuantE4m3(float *x, int rows, int rowStride, int dims, int block) override;
    Result<void> fakeQuantE2m1(float *x, int rows, int rowStride, int dims, int block) override;
    Result<void> indexerScores(const kernels::IndexerScoreParams &p) override;
    Result<void> indexerSelect(const kernels::IndexerScoreParams &p,
                               int rows,
                               const int32_t *hostVisible,
                               int k,
                               int32_t *hostOut) override;
    Result<void> topk(const float *values, int n, int k, int32_t *outIdx) override;
    // Row copies of the MoE dispatch, on the pool for prefill-sized copies.
    Result<void> gatherRows(
        float *dst, const float *src, const int32_t *hostRows, int n, int width) override;
    Result<void> scatterRows(
        float *dst, const float *src, const int32_t *hostRows, int n, int width) override;
    Result<void> sparseAttention(const kernels::SparseAttnParams &p) override;
    Result<void> moeRoute(const kernels::MoeRouteParams &p) override;
    Result<void> swiglu(const kernels::SwigluParams &p) override;
    // Experts run concurrently, one thread each, in one pool dispatch (the default, one expert
    // after the other with every linear multithreaded, only with fewer experts than threads).
    Result<void> expertFfn(const std::vector<ExpertJob> &jobs, int inter, float limit) override;
    // Executor::embedRows, the rows on the pool.
    Result<void> embedRows(const uint16_t *table,
                           const int32_t *hostIds,
                           int rows,
                           int d,
                           int copies,
                           float *out) override;
    // Executor::addPeriodicRows, the rows on the pool.
    Result<void> addPeriodicRows(float *x,
                                 const float *table,
                                 const int32_t *hostPositions,
                                 int rows,
                                 int width,
                                 int period) override;
    // Executor::moeCombine's sums, the rows on the pool.
    Result<void> moeCombine(float *y,
                            const float *routed,
                            const float *shared,
                            const int32_t *hostIds,
                            int rows,
                            int k,
                            int d) override;

    // Large activation buffers are recycled: a forward pass allocates the same sizes layer
    // after layer and step after step, and fresh large blocks (mmap'ed by malloc) cost a page
    // fault per 4 KiB on first touch (~8 % of a prefill profile). Blocks of 64 KiB and more
    // come back uninitialised (like a device executor's memory: the forward pass writes every
    // element before reading it); smaller ones zero-filled from calloc.
    Result<void *> allocate(size_t bytes, const char *what) override;
    void release(void *p) override;

private:
    // Runs fn(params, first, end) over [0, rows) on the pool (one call for a single row).
    template<typename Params, typename Fn>
    kernels::Status splitRows(const Params &p, int rows, int64_t grain, Fn &&fn);
    // Fake quantisation of `rows` rows through bf16 with `quant` (kernels/quant.h's e4m3 or
    // e2m1 row function), rows on the pool.
    using FakeQuantRowsFn = void (*)(float *, int64_t, int64_t, int64_t, int);
    Result<void> fakeQuantSplit(float *x,
                                int rows,
                                int rowStride,
                                int dims,
                                int block,
                                FakeQuantRowsFn quant,
                                const char *what);

    // RoPE cos/sin (cos then sin, half each) of positions [0, rows), kept per frequency vector.
    struct RopeTable
    {
        std::vector<float> freqs;
        std::vector<float> cosSin; // [rows, 2 * half]
        int rows = 0;
    };
    // The table of `freqs`, grown to cover maxPosition (up to the cached positions); looked up
    // once per call, not per position.
    const RopeTable *ropeTable(const float *freqs, int half, int32_t maxPosition);

    std::unique_ptr<ThreadPool> m_pool;
    std::vector<RopeTable> m_ropeTables;
    std::vector<float> m_ropeCall; // the current call's [groups, 2 * half]
    bool m_exactLinear = true;
    std::mutex m_cacheMutex;
    std::multimap<size_t, void *> m_freeBlocks;      // size -> block, not in use
    std::unordered_map<void *, size_t> m_liveBlocks; // recyclable blocks in use
    size_t m_freeBytes = 0;
};

} // namespace fathom::engine
