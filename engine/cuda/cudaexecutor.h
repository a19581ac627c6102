// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  CudaExecutor: Executor on one CUDA device with the ops of kernels/cuda (cuda_ops.h) and the
  glue kernels of cudaglue.cu.

  Memory: allocate() hands out device memory from a caching arena (freed blocks are kept by size
  and reused, so a decode step allocates nothing from the driver after the first; on
  cudaMalloc failure the cache is returned to the driver and the allocation retried once). An
  out-of-memory error names the device, what was being allocated, the size and the device's
  free/total memory. Fresh blocks are not zeroed (the forward pass writes every element before
  reading it); FATHOM_CUDA_POISON=1 fills them with NaN bytes to prove that in tests.

  Weights: uploadModel() copies every tensor the V4Model points to (projections and their scales,
  norm vectors, RoPE tables, tid2eid, embedding, head, mHC weights, sinks, ape) into one device
  allocation, once; afterwards ops are called with the model's host pointers and map them to the
  device copies (device() below), also for pointers inside a tensor (wo_a groups). The host keeps
  only the read-only file mapping the pointers came from (page cache, dropped by the kernel under
  memory pressure; no anonymous copies).

  Streams: every op is enqueued on the executor's stream (non-blocking); copyToHost() waits for
  it. Graphs: captureGraph() records the ops of a callable into a CUDA graph and launchGraph()
  replays it, for step sequences without host round trips. A decode step reads nothing back
  before its logits (MoE grouping, indexer selections and attention indices stay on the device:
  moeOnDevice, indexerSelectOnExecutor, sparseIndicesOnExecutor) and runs as one graph launch
  with one upload before and one read-back after it (beginStep/endStep below). A step has the
  launches of any earlier step of the same shape (state rows in rings at fixed slots, caches
  read over their capacity and appended at indices given as data, the compressor pooling at
  ring slots given as data, per-step values as uploaded data), so a step whose key (V4Forward:
  model, batch shape, closing pattern, state buffers) matches a kept graph is a replay of it:
  V4Forward's step script kept with the graph fills the upload block and advances the states
  (no forward walk), and the kept graph is launched (see docs/perf/cuda.md, "Decode-step
  graphs", sessions 6 and 7).

  Multi-GPU: everything is tied to m_device (made current before each call), ready for one
  executor per device with an NCCL communicator beside it (engine/parallel).

  Thread: one thread at a time (the engine thread).
*/

#include "engine/cuda/kvlayout.h"
#include "engine/runtime/executor.h"
#include "kernels/linear_group.h" // mhc_chain_prologue

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

struct CUstream_st;
struct CUgraphExec_st;

namespace fathom::engine {

class V4Model;
class CublasLtLinear;

struct CudaMemoryStats
{
    uint64_t weightBytes = 0; // the uploaded model
    uint64_t liveBytes = 0;   // arena blocks in use
    uint64_t cachedBytes = 0; // arena blocks free for reuse
    uint64_t foldedBytes = 0; // resident e4m3 copies of FP4 experts (expertsViaLt), a cache
    uint64_t peakBytes = 0;   // max of live + cached + weights + folded since resetPeak()
    uint64_t deviceFree = 0;  // cudaMemGetInfo
    uint64_t deviceTotal = 0;
};

class CudaExecutor final : public Executor
{
public:
    // Opens device `device` (its primary context) and makes the stream.
    static Result<std::unique_ptr<CudaExecutor>> create(int device);
    ~CudaExecutor() override;

    const char *name() const override { return "cuda"; }
    int device() const { return m_device; }
    CUstream_st *stream() const { return m_stream; }

    // ---- DeviceMemory ---------------------------------------------------------------------------
    bool hostAddressable() const override { return false; }
    std::string deviceName() const override { return m_deviceName; }
    Result<void *> allocate(size_t bytes, const char *what) override;
    void release(void *p) override;
    Result<void> copy(void *dst, const void *src, size_t bytes) override;
    Result<void> copyToHost(void *hostDst, const void *src, size_t bytes) override;
    Result<void> copyFromHost(void *dst, const void *hostSrc, size_t bytes) override;
    // Inside a recorded decode step: the staged bytes' device address (Executor::stageInPlace).
    Result<const void *> stageInPlace(const void *hostSrc, size_t bytes) override;
    Result<void> synchronize() override;

    // ---- model ----------------------------------------------------------------------------------
    // progress(done, total) in bytes; return false to cancel.
    Result<void> uploadModel(const V4Model &model,
                             const std::function<bool(uint64_t, uint64_t)> &progress = {});
    // The device address of a model pointer (or of any pointer inside an uploaded tensor); other
    // pointers (device buffers) come back unchanged.
    const void *device(const void *p) const;
    template<typename T>
    const T *device(const T *p) const
    {
        return static_cast<const T *>(device(static_cast<const void *>(p)));
    }
    // mHC params (pre, head) with their weights (fn, base, scale) at their device addresses.
    template<typename P>
    P mhcOnDevice(const P &p) const
    {
        P d = p;
        d.fn = device(p.fn);
        d.base = device(p.base);
        d.scale = device(p.scale);
        return d;
    }
    // tcgemm: the tensor-core GEMM's workspace for these items (empty: none needed / failed).
    Buffer<uint8_t> mmaWorkspace(const kernels::linear_params *items, int count);
    // ltexperts: expertFfn's foldable FP4 experts (non-exact mode, >= kExpertsLtMinRows rows)
    // converted to e4m3 + 128x128 scales (kernels::fp4_fold_e4m3_cuda) and run through cuBLASLt;
    // done[i] is set for the jobs it ran, the count returned. Never reads the device back.
    Result<int> expertsViaLt(const std::vector<ExpertJob> &jobs,
                             int inter,
                             float limit,
                             std::vector<char> &done);
    // cublaslt: q on CublasLtLinear (FP8 block-scaled, or bf16 when dense) where it takes it,
    // y rounded to bf16 after when roundBf16; false: the caller's kernel runs it.
    Result<bool> linearViaCublasLt(const kernels::linear_params &q,
                                   const LinearWeight &w,
                                   bool roundBf16,
                                   bool dense,
                                   const char *name);
    // Whether an FP4 weight folds exactly (kernels::fp4_fold_foldable on its host scales; cached).
    bool expertFoldable(const LinearWeight &w);
    // The exact fp32-in/fp32-out linear over `rows` rows of x with w's device addresses
    // (contiguous rows; callers set strides).
    kernels::linear_params linearParams(const LinearWeight &w,
                                        const float *x,
                                        float *y,
                                        int rows) const;

    CudaMemoryStats memoryStats() const;
    void resetPeak();
    // Returns every cached arena block to the driver.
    void trimCache();

    // ---- profiling (benchmarks) -------------------------------------------------------------------
    // While on, every op is bracketed by device events and its time added to its category:
    // "gemm" (linear, expert FFN), "attention" (sparse attention), "indexer" (scores, top-k),
    // "other". Costs an event pair per op; off by default.
    void setProfiling(bool on);
    struct Profile
    {
        std::map<std::string, double> ms; // by category
        double gemmFlops = 0;             // 2·m·n·k summed over the GEMMs
        // By op (the CudaExecutor member that launched it, with the weights it ran on where it
        // names them): milliseconds, calls and weight bytes read.
        struct OpTime
        {
            double ms = 0;
            int calls = 0;
            double bytes = 0;
        };
        std::map<std::string, OpTime> byOp;
    };
    // Waits for the device and returns the times gathered since the last call (then cleared).
    Result<Profile> takeProfile();

    // ---- graphs ---------------------------------------------------------------------------------
    // Records the ops `body` enqueues (it must not copy to or from the host) into a graph.
    // Arena blocks the body releases become the graph's own until destroyGraph() (a replay
    // writes them again, so nothing else may get them meanwhile); blocks it allocates and keeps
    // are the caller's (the graph's inputs and outputs). Capture runs in the relaxed mode, so a
    // body may allocate from the driver; running it once eagerly first warms the arena.
    Result<CUgraphExec_st *> captureGraph(const std::function<Result<void>()> &body);
    Result<void> launchGraph(CUgraphExec_st *graph);
    void destroyGraph(CUgraphExec_st *graph);

    // ---- decode-step graphs (Executor::beginStep / endStep) --------------------------------------
    // A decode step of <= kMaxStepRows single-token items is recorded (relaxed capture) and
    // launched as one graph: its host-to-device copies are staged in pinned memory and uploaded
    // by ONE copy before the launch (the graph copies each piece to its destination on the
    // device, in stream order), its device-to-host copies (logits, final streams) are gathered
    // by the graph into one pinned block read back by ONE copy after it. The instantiated graph
    // of a batch size is kept and updated in place with the next step's recording
    // (cudaGraphExecUpdate: same kernels in the same order, new arguments); a step whose
    // launches differ (a compressor closes a window, a state buffer grows) gets its own
    // instantiation, up to kStepExecs kept per batch size. On by default;
    // FATHOM_CUDA_STEP_GRAPHS=0 or setStepGraphs(false) turns it off (eager launches).
    static constexpr int kMaxStepRows = 4; // moeOnDevice's limit: no read-back inside the step
    static constexpr int kStepExecs = 8;
    void setStepGraphs(bool on) { m_stepGraphs = on; }

    // cublaslt: false = non-exact linears (the CPU's linear_accum::fp32 twin): FP8 prefill GEMMs
    // with m >= 64 rows go through cuBLASLt's block-scaled FP8 GEMM (cublaslt_linear.h), the
    // rest through the exact SIMT kernels. Default true (exact, bit-identical to the CPU);
    // FATHOM_CUDA_EXACT_LINEAR=0 makes create() start with false.
    void setExactLinear(bool exact) { m_exactLinear = exact; }
    bool exactLinear() const { return m_exactLinear; }
    // bf16state: sequence states moved into this executor store their window rows, compressed
    // entries and index keys as bf16 (RowHistory; lossless, half the bytes). Default on;
    // FATHOM_CUDA_FP32_STATE=1 makes create() start with fp32 rows (for comparisons). Applies
    // to states moved in afterwards. stateRowsInexact(): values the converting appends had to
    // round since create() (the rows are bf16-exact by construction: nonzero is a bug upstream).
    void setBf16StateRows(bool on) { m_kvLayout = on ? KvLayout::Bf16 : KvLayout::Fp32; }
    // packedkv: the layout of those rows (engine/cuda/kvlayout.h): Packed (the default since
    // session 8: e4m3 + bf16 RoPE + E8M0 entries, e2m1 + E8M0 keys, kernels/kv_packed.h),
    // Bf16 (FATHOM_CUDA_KV_LAYOUT=bf16) or Fp32 (FATHOM_CUDA_FP32_STATE=1). Applies to states
    // moved in afterwards; stateRowsInexact() counts the quantising appends' rounded values too.
    void setKvLayout(KvLayout layout) { m_kvLayout = layout; }
    KvLayout kvLayout() const { return m_kvLayout; }
    Result<int64_t> stateRowsInexact();
    bool stepGraphs() const { return m_stepGraphs; }
    struct StepStats
    {
        long long steps = 0;          // graphed steps launched
        long long instantiations = 0; // cudaGraphInstantiate calls
        long long updates = 0;        // successful cudaGraphExecUpdate calls
        long long uploads = 0;        // host-to-device copies issued for graphed steps
        long long readbacks = 0;      // device-to-host copies issued for graphed steps
        long long nodes = 0;          // staged pieces: uploads + read-backs recorded in graphs
        long long replays = 0; // steps launched as a kept graph without a recording (of steps)
        long long walkFreeReplays = 0; // of replays: by V4Forward's step script, no walk
        // Nodes of the last recorded step's graph (kernels, copies, memsets): each costs launch
        // latency on the device, so the per-layer overhead is mostly nodes per layer.
        long long lastGraphNodes = 0;
        // Host time from beginStep() to the launch: the forward walk of replayed steps (no
        // launches; uploads staged, state bookkeeping), and of recorded steps (the walk with
        // its captured launches, plus cudaGraphExecUpdate / cudaGraphInstantiate).
        double replayHostSeconds = 0;
        double recordHostSeconds = 0;
    };
    StepStats stepStats() const { return m_stepStats; }
    // FATHOM_CUDA_VERIFY_REPLAY=1 (emulation builds): replays are verified (see below).
    bool verifiesReplays() const { return m_verifyReplay; }
    // Replay (shapeKey != 0): when a kept graph of the batch size was recorded under the same
    // key (and is replayable: every block it allocated was released inside it, it did not
    // spill its staging, the staging chunks are still the ones it copies from), the step is not
    // recorded: the forward walk runs with every launch skipped - its allocations are served
    // the recording's blocks in the recording's order (the instantiation keeps them reserved
    // meanwhile), its uploads are staged as before - and the kept graph is launched. The walk's
    // sequence of allocations, launches, copies, uploads and read-backs is hashed both times; a
    // replay whose hash differs from its recording's fails (Internal) instead of launching.
    // A replay without the walk (V4Forward's step script, recorded with the graph): the caller
    // fills the upload block itself (replayWithoutWalk) and endStep() launches; no allocation,
    // launch or copy is walked or checked (the key decides, its completeness and the script's
    // bytes are what the verify mode tests).
    Result<bool> beginStep(int rows, uint64_t shapeKey) override;
    Result<void> endStep(bool ok) override;
    bool stepReplays() const override { return m_inStep && m_replaying; }
    const StepPieces *stepPieces() const override { return m_inStep ? &m_pieces : nullptr; }
    const uint8_t *stepUploadHost() const override
    {
        return m_inStep && !m_up.empty() ? reinterpret_cast<const uint8_t *>(m_up[0].host)
                                         : nullptr;
    }
    void keepStepScript(std::shared_ptr<const StepScript> script) override
    {
        m_pendingScript = std::move(script);
    }
    const StepScript *stepScript() const override
    {
        return m_inStep && m_replaying && m_replay ? m_replay->script.get() : nullptr;
    }
    bool verifyingStep() const override { return m_inStep && m_verifying; }
    Result<uint8_t *> replayWithoutWalk(size_t uploadBytes,
                                        size_t readbackBytes,
                                        const std::vector<StepPiece> &readbacks) override;

    // ---- Executor ops ---------------------------------------------------------------------------
    Result<void> linear(const LinearWeight &w,
                        const float *x,
                        int m,
                        float *y,
                        LinearOutput out,
                        int64_t ldx,
                        int64_t ldy) override;
    // Decode-sized m (<= 4): one GEMV launch for the whole group (linear_group.h).
    Result<void> linearGroup(const float *x,
                             int m,
                             const std::vector<LinearJob> &jobs,
                             int64_t ldx) override;
    // ffnnodes: decode-sized rows: the norm in the GEMVs' staging of x (one launch, no rmsnorm).
    Result<void> normLinearGroup(const kernels::RmsNormParams &np,
                                 const std::vector<LinearJob> &jobs) override;
    // Decode-sized m (<= 4): the steps as one cooperative GEMV chain (linear_group.h
    // linear_chain_gemv_cuda) where they fit it (FATHOM_CUDA_GEMV_CHAINS); first as the chain's
    // mHC phase where it fits too (FATHOM_CUDA_MHC_CHAIN), else its own launch before.
    Result<void> linearChain(int m,
                             const std::vector<LinearChainStep> &steps,
                             const MhcPostPreOp *first = nullptr) override;
    Result<void> rmsNorm(const kernels::RmsNormParams &p) override;
    Result<void> headRmsNormBf16(float *x, int rows, int dim, float eps) override;
    Result<void> rope(const kernels::RopeParams &p) override;
    Result<void> mhcPre(const kernels::MhcPreParams &p) override;
    Result<void> mhcPost(const kernels::MhcPostParams &p) override;
    Result<void> mhcPostPreNorm(const kernels::MhcPostParams &post,
                                const kernels::MhcPreParams &pre,
                                const float *normWeight,
                                float eps) override;
    Result<void> mhcPreNorm(const kernels::MhcPreParams &p,
                            const float *normWeight,
                            float eps) override; // the norm in mhc_pre's last launch
    Result<void> mhcHead(const kernels::MhcHeadParams &p) override;
    Result<void> compressorPool(const kernels::CompressorPoolParams &p) override;
    Result<bool> compressorPoolEntries(const kernels::CompressorPoolParams &p,
                                       int entries) override;
    Result<bool> compressorPoolSlots(const kernels::CompressorPoolParams &p,
                                     const int32_t *hostSlots) override;
    Result<void> hadamard(float *x, int rows, int n, float scale) override;
    Result<void> fakeQuantE4m3(float *x, int rows, int rowStride, int dims, int block) override;
    Result<void> fakeQuantE2m1(float *x, int rows, int rowStride, int dims, int block) override;
    Result<void> rowChain(const kernels::RowChainParams &p) override; // one launch
    Result<void> indexerScores(const kernels::IndexerScoreParams &p) override;
    Result<void> topk(const float *values, int n, int k, int32_t *outIdx) override;
    Result<void> indexerSelect(const kernels::IndexerScoreParams &p,
                               int rows,
                               const int32_t *hostVisible,
                               int k,
                               int32_t *hostOut) override;
    // The selections stay on the device and the index rows are built there (no read-back).
    Result<bool> indexerSelectOnExecutor(const kernels::IndexerScoreParams &p,
                                         int rows,
                                         const int32_t *hostVisible,
                                         int k,
                                         int32_t *out) override;
    Result<bool> sparseIndicesOnExecutor(int32_t *out,
                                         int rows,
                                         int nIdx,
                                         int64_t start,
                                         int64_t windowStart,
                                         int window,
                                         int nWin,
                                         int ratio,
                                         const int32_t *sel,
                                         int topk,
                                         int64_t ringRows) override;
    // idxchain: the index rows from the top-k launch (FATHOM_CUDA_INDEXER_FUSED=0: false).
    Result<bool> indexerSparseOnExecutor(const kernels::IndexerScoreParams &p,
                                         int rows,
                                         const int32_t *hostVisible,
                                         int k,
                                         int32_t *sel,
                                         const SparseIndexJob &job) override;
    Result<void> sparseAttention(const kernels::SparseAttnParams &p) override;
    Result<void> moeRoute(const kernels::MoeRouteParams &p) override;
    Result<void> gateRoute(const LinearWeight &gate,
                           const float *x,
                           float *logits,
                           const kernels::MoeRouteParams &p) override;
    Result<void> swiglu(const kernels::SwigluParams &p) override;
    Result<void> expertFfn(const std::vector<ExpertJob> &jobs, int inter, float limit) override;
    // Decode-sized batches (<= 4 rows): grouping by expert on the device (moe_group_cuda), the
    // routed experts in one grouped launch per projection (linear_experts_gemv_cuda), a fixed
    // launch sequence whatever the routing. Larger batches: false (host grouping).
    Result<bool> moeOnDevice(const MoeDeviceJob &job) override;
    // moechain: the gate + routing + grouping and the two FFN halves as one cooperative launch
    // (linear_moe_chain_gemv_cuda) where the job fits it (FATHOM_CUDA_MOE_CHAIN); first as the
    // chain's mHC phase where it fits too (FATHOM_CUDA_MHC_CHAIN), else its own launch before.
    Result<bool> gateMoeOnDevice(const LinearWeight &gate,
                                 const float *x,
                                 float *logits,
                                 const kernels::MoeRouteParams &p,
                                 const MoeDeviceJob &job,
                                 const MhcPostPreOp *first = nullptr) override;

    Result<void> embedRows(const uint16_t *table,
                           const int32_t *hostIds,
                           int rows,
                           int d,
                           int copies,
                           float *out) override;
    Result<void> addPeriodicRows(float *x,
                                 const float *table,
                                 const int32_t *hostPositions,
                                 int rows,
                                 int width,
                                 int period) override;
    Result<void> scaleRoundBf16(float *x, int64_t n, float scale) override;
    Result<void> gatherRows(
        float *dst, const float *src, const int32_t *hostRows, int n, int width) override;
    Result<void> scatterRows(
        float *dst, const float *src, const int32_t *hostRows, int n, int width) override;
    bool bf16StateRows() const override { return m_kvLayout != KvLayout::Fp32; }
    Result<void> scatterRowsBf16(
        uint16_t *dst, const float *src, const int32_t *hostRows, int n, int width) override;
    bool packedStateRows() const override { return m_kvLayout == KvLayout::Packed; }
    Result<void> scatterRowsPacked(uint8_t *dst,
                                   const float *src,
                                   const int32_t *hostRows,
                                   int n,
                                   int width,
                                   int rope) override;
    bool fusedStateAppends() const override { return m_fusedAppends; }
    Result<void> appendStateRows(const StateAppend *appends,
                                 int n,
                                 const int32_t *hostPositions,
                                 int positions) override;
    Result<void> rowChainAppend(const kernels::RowChainParams &chain,
                                const StateAppend *appends,
                                int n,
                                const int32_t *hostPositions,
                                int positions,
                                const ChainsWith *with = nullptr) override;
    Result<void> moeCombine(float *y,
                            const float *routed,
                            const float *shared,
                            const int32_t *hostIds,
                            int rows,
                            int k,
                            int d) override;
    Result<void> addBroadcastRoundBf16(
        float *out, const float *a, const float *b, int rows, int n, int d) override;

private:
    friend class CudaOpTimer;
    CudaExecutor() = default;
    struct Range
    {
        const char *hostBegin = nullptr;
        size_t bytes = 0;
        char *deviceBegin = nullptr;
    };
    Result<void> cudaCheck(int err, const std::string &what) const;
    Result<void> opCheck(const char *op, int code, const char *message) const;
    // Host ints (index lists) for an op: inside a recorded decode step a view of the step's
    // upload block (stageInPlace: no copy node), else a device block released after the op is
    // enqueued (stream order keeps the block until the op has read it).
    struct DeviceInts
    {
        Buffer<int32_t> owned; // empty for a view
        const int32_t *view = nullptr;
        const int32_t *data() const { return view; }
    };
    Result<DeviceInts> uploadInts(const int32_t *host, int64_t n, const char *what);
    // Stages `bytes` of host data in the step's upload block (a piece of stepPieces()); the
    // device address of the staged bytes. `dst` is only hashed into the walk.
    Result<const char *> stageUpload(const void *hostSrc, size_t bytes, const void *dst);
    Result<void> makeCurrent() const;
    // A row chain with its weights (norm_weight, freqs) at their device addresses.
    kernels::RowChainParams deviceChain(const kernels::RowChainParams &p) const;

    int m_device = 0;
    std::string m_deviceName;
    CUstream_st *m_stream = nullptr;
    bool m_poison = false;

    bool m_profiling = false;
    struct Timed
    {
        const char *category;
        const char *op;          // the CudaExecutor member that launched it (std::source_location)
        std::string detail;      // what it ran on (weight names), where the member says
        const char *suffix = ""; // of the op's name ("+mhc": a chain's folded mHC phase)
        double bytes = 0;        // weight bytes it read, where known
        void *start = nullptr, *stop = nullptr; // cudaEvent_t
    };
    std::vector<Timed> m_timed;
    std::vector<void *> m_eventPool;
    double m_gemmFlops = 0;
    bool m_exactLinear = true;
    bool m_mhcPostPre = true;   // mhcPostPreNorm() as one launch (FATHOM_CUDA_MHC_POST_PRE)
    bool m_poolRuns = true;     // compressorPoolEntries() (FATHOM_CUDA_POOL_RUNS)
    bool m_fusedAppends = true; // appendStateRows in one launch (FATHOM_CUDA_FUSED_APPENDS)
    bool m_chainAppends = true; // rowChainAppend in one launch (FATHOM_CUDA_FUSED_APPENDS=2: not)
    // rowchains: rowChainAppend's `with` chains in its launch (FATHOM_CUDA_ROW_CHAINS_FUSED).
    bool m_rowChainsFused = true;
    // rowchains: the bytes of `with`'s weights its launch asks L2 for (FATHOM_CUDA_L2_AHEAD_MB).
    int64_t m_l2AheadBytes = int64_t(24) << 20;
    // appendStateRows / rowChainAppend (chain: nullptr for the appends alone) as one launch;
    // with (chain given only): rowChainAppend's chains in it too.
    Result<void> launchAppends(const kernels::RowChainParams *chain,
                               const StateAppend *appends,
                               int n,
                               const int32_t *hostPositions,
                               int positions,
                               const ChainsWith *with = nullptr);
    // linearGroup's / normLinearGroup's GEMV items for the jobs (false: the jobs do not take the
    // group GEMV; scales: each job's scaleRound folded into the epilogue, else 0).
    bool groupItems(const float *x,
                    int m,
                    const std::vector<LinearJob> &jobs,
                    int64_t ldx,
                    std::vector<kernels::linear_params> &items,
                    std::vector<float> &scales) const;
    bool prenormItems(const kernels::RmsNormParams &np,
                      const std::vector<LinearJob> &jobs,
                      std::vector<kernels::linear_params> &items) const;
    // Cooperative GEMV chains (FATHOM_CUDA_GEMV_CHAINS): the chains' grid-barrier state (in the
    // counters block) and a pinned word its timed-out flag is read into at every synchronize()
    // and every kChainCheckSteps graphed decode steps.
    bool m_gemvChains = true;
    bool m_chainsLaunched = false;
    static constexpr int kChainCheckSteps = 256;
    int m_chainUncheckedSteps = 0;
    unsigned *m_chainBarrier = nullptr;
    int *m_chainFlagHost = nullptr;
    void queueChainFlagRead();
    Result<void> chainBarrierCheck(Result<void> waited);
    bool m_groupLinear = true; // linearGroup() in one launch where it can (FATHOM_CUDA_GROUP_LINEAR)
    KvLayout m_kvLayout = KvLayout::Packed;
    int *m_counters = nullptr;     // one zeroed block: the four counter sets below point into it
    int *m_stateInexact = nullptr; // device counter of scatter_rows_bf16_cuda / _packed_cuda
    // mhc_pre_norm_cuda's one-launch path: a zeroed counter per token (it leaves them 0).
    static constexpr int kMhcCounterTokens = 64;
    int *m_mhcCounters = nullptr;
    // ffnnodes: normLinearGroup's norm in the GEMVs' staging (FATHOM_CUDA_GEMV_PRENORM), the MoE
    // combine in moeOnDevice's w2 launch (FATHOM_CUDA_MOE_COMBINE_FUSED) with its zeroed
    // counters (one per grid column of that launch; the launch leaves them 0).
    static constexpr int kCombineCounters = 1024;
    bool m_gemvPreNorm = true;
    bool m_moeCombineFused = true;
    bool m_moePrefetch = true; // moeprefetch: FATHOM_CUDA_MOE_PREFETCH
    bool m_moeChain = true;    // moechain: FATHOM_CUDA_MOE_CHAIN (with the GEMV chains' barrier)
    bool m_mhcChain = true;    // mhcchain: FATHOM_CUDA_MHC_CHAIN and _MHC_FAST (into the chains)
    bool m_gateRouteFused = true; // gate: FATHOM_CUDA_GATE_ROUTE_FUSED
    bool m_indexerFused = true;   // idxchain: FATHOM_CUDA_INDEXER_FUSED
    bool m_idxTopkFused = true;   // idxtopk: FATHOM_CUDA_IDX_TOPK_FUSED
    // idxtopk: the decode indexer's fused top-k, a zeroed counter per row (it leaves them 0).
    static constexpr int kIdxTopkCounters = 8;  // kernels::k_min_fast_rows (asserted)
    static constexpr int kChainBarrierInts = 4; // kernels::k_linear_chain_barrier_bytes

    int *m_idxTopkCounters = nullptr;
    bool m_denseFp32 = true;      // FATHOM_CUDA_DENSE_FP32: non-exact dense prefill GEMMs in fp32
    static constexpr int kDenseFp32Rows = 64;
    bool m_denseLt = true; // FATHOM_CUDA_DENSE_LT: non-exact dense prefill GEMMs via cuBLASLt
    int *m_combineCounters = nullptr;
    // attnnodes: the attention's tail (split merge + inverse RoPE) in the attention launch
    // (FATHOM_CUDA_ATTN_FUSED_TAIL), its zeroed counters (one per decode row and head group).
    static constexpr int kAttnCounters = 256;
    bool m_attnFusedTail = true;
    bool m_attnMergeAlways = false; // FATHOM_CUDA_ATTN_FUSED_TAIL=1
    static constexpr int64_t kAttnFusedMergeBytes = 256 * 1024;
    int *m_attnCounters = nullptr;
    std::shared_ptr<CublasLtLinear> m_lt; // cublaslt: made on first non-exact FP8 GEMM
    // ltexperts: FATHOM_CUDA_EXPERTS_LT=0 keeps every prefill expert on the grouped kernel.
    bool m_expertsLt = true;
    bool m_expertsLtEmu = false; // FATHOM_CUDA_EXPERTS_LT_EMU=1: the path in the emulation
    // ltstreams: expertsViaLt's GEMMs of a chunk spread over K side streams (forked from and
    // joined back into m_stream by events), FATHOM_CUDA_EXPERT_STREAMS=K (default 4; 1: all on
    // m_stream). Made on first use (expertStreams()); any failure: K = 1.
    static constexpr int kMaxExpertStreams = 16;
    int m_expertStreams = 4;
    bool m_sideTried = false;
    std::vector<CUstream_st *> m_sideStreams;
    std::vector<void *> m_sideEvents; // cudaEvent_t: [0] the fork, [1 + s] side stream s's join
    int expertStreams();              // K usable now (1: no side streams)
    static constexpr int kExpertsLtMinRows = 64;
    static constexpr int kExpertsLtChunk = 16;  // experts converted per scratch fill
    std::map<const uint8_t *, bool> m_foldable; // host e8m0 scales -> foldable (expertFoldable)
    // resident: an expert's folded w1 | w3 and w2 (codes and block scales) kept on the device
    // after its first conversion, while memory allows (FATHOM_CUDA_EXPERTS_RESIDENT: unset =
    // auto, keep while the device keeps kFoldedReserve free after it; 0 never; 1 whenever the
    // allocation succeeds). A cache: dropped by trimCache() (memory pressure) and a new model.
    struct FoldedExpert
    {
        void *block = nullptr;
        size_t bytes = 0;
        uint8_t *w13 = nullptr, *w2 = nullptr;
        float *s13 = nullptr, *s2 = nullptr;
    };
    FoldedExpert *residentFold(
        const void *key, int64_t codes13, int64_t codes2, int64_t sc13, int64_t sc2);
    void dropFolded();
    void forgetFolded(const void *key);            // one copy not (yet) filled by its conversion
    std::map<const void *, FoldedExpert> m_folded; // by the expert's w1 host weight
    uint64_t m_foldedBytes = 0;
    int m_expertsResident = -1; // -1 auto, 0 off, 1 on
    bool m_foldedFull = false;  // auto: the reserve was reached; no more tries until a drop
    uint64_t m_foldedDrops = 0; // dropFolded() calls (pointers into m_folded die with each)
    static constexpr uint64_t kFoldedReserveMin = uint64_t(16) << 30;

    // Free blocks by (size, address): an allocation takes the lowest address of its size, so
    // the same sequence of requests from the same free blocks gets the same addresses (a
    // decode step's activations land where the previous step's did and its graph's arguments
    // stay the same).
    using BlockSet = std::set<std::pair<size_t, void *>>;
    // Graph capture: blocks released while capturing (reused within the capture), then owned
    // by the graph.
    bool m_capturing = false;
    BlockSet m_capturePool;
    std::map<CUgraphExec_st *, BlockSet> m_graphBlocks;
    uint64_t m_graphBytes = 0; // in m_capturePool and m_graphBlocks
    // Blocks a graph (or a failed capture) owned go back to the cache; empties `blocks`.
    void returnGraphBlocks(BlockSet &blocks);

    // Decode-step graphs: staging chunks (pinned host + device, same size); a step uses the
    // first chunk and spills into more only when it outgrows it (then the next step's first
    // chunk is made large enough).
    struct Staging
    {
        char *host = nullptr;
        char *device = nullptr;
        size_t capacity = 0, used = 0;
    };
    struct Readback
    {
        void *hostDst;
        size_t chunk, offset, bytes;
    };
    Result<std::pair<size_t, size_t>> stage(std::vector<Staging> &chunks, size_t bytes);
    void freeStaging(std::vector<Staging> &chunks);
    bool m_stepGraphs = true;
    bool m_inStep = false;
    bool m_stepNeedsHost = false; // a host-path op ran inside the recording (a bug: fails the step)
    int m_stepRows = 0;
    std::vector<Staging> m_up, m_down;
    std::vector<Readback> m_readbacks;
    // The step's staged pieces (stepPieces()), the recording's keepStepScript(), and whether
    // the step is a replay without the walk (replayWithoutWalk()).
    StepPieces m_pieces;
    std::shared_ptr<const StepScript> m_pendingScript;
    bool m_scripted = false;
    // A kept decode-step instantiation: the key and walk hash of its recording, the blocks that
    // recording allocated (in order; reserved for replays while the graph is kept).
    struct StepExec
    {
        CUgraphExec_st *exec = nullptr;
        uint64_t key = 0; // 0: not replayable
        uint64_t walk = 0;
        uint64_t staging = 0; // m_stagingGeneration it copies from
        std::vector<std::pair<size_t, void *>> allocations;
        BlockSet blocks; // owned (m_graphBytes)
        // V4Forward's replay without the walk.
        std::shared_ptr<const StepScript> script;
    };
    std::map<int, std::vector<StepExec>> m_stepExecs; // by batch size, most recent first
    StepStats m_stepStats;
    uint64_t m_stepKey = 0;
    std::chrono::steady_clock::time_point m_stepBegin; // beginStep()
    uint64_t m_walk = 0;                               // hash of the step's walk so far
    uint64_t m_stagingGeneration = 0; // bumped when the staging chunks are made anew
    std::vector<std::pair<size_t, void *>> m_stepAllocations; // the recording's
    // Replay: the kept graph, the next of its allocations, the blocks handed out and not yet
    // released, and whether the walk asked for something the recording did not.
    bool m_replaying = false;
    StepExec *m_replay = nullptr;
    size_t m_replayNext = 0;
    // Blocks handed out and not yet released: a vector kept across steps (its capacity stays),
    // not a set - a replayed step makes ~50 allocations per layer, each a node allocation in
    // a set; few are live at once and releases are mostly last-in first-out.
    std::vector<void *> m_replayLive;
    bool m_replayDiverged = false;
    void walk(uint64_t a, uint64_t b = 0, uint64_t c = 0);
    // Emulation only (FATHOM_CUDA_VERIFY_REPLAY=1): a step that would be a replay is recorded
    // too (served the kept graph's blocks, as a replay is) and updated into the kept
    // instantiation, which must change no node: a launch argument the key misses fails the step.
    bool m_verifyReplay = false;
    bool m_verifying = false;
    // Device work of the step is skipped: a replay's walk (not one being verified).
    bool skipping() const { return m_replaying && !m_verifying; }
    // Every launch: hashed inside a step; true when it must be skipped (a replay's walk).
    bool skipLaunch(const char *what)
    {
        if (m_inStep)
            walk(reinterpret_cast<uintptr_t>(what));
        return skipping();
    }
    Result<void> endReplay(bool ok);
    // Upload, launch, read-back, wait and the read-backs' host copies of a decode step.
    Result<void> runStep(CUgraphExec_st *exec);

    // Arena: block sizes by pointer, free blocks by size.
    std::map<void *, size_t> m_live;
    BlockSet m_free;
    uint64_t m_liveBytes = 0, m_cachedBytes = 0, m_peakBytes = 0;

    // Device pointer tables of each MoE layer's routed experts (built by uploadModel): w1, w2,
    // w3 then their scales, [6][nExperts]; usable = every expert has the same shape and type and
    // 16-byte aligned weights (the GEMV's loads).
    struct ExpertTable
    {
        void *table = nullptr;
        bool usable = false;
    };
    std::map<const void *, ExpertTable> m_expertTables; // by &experts[0]
    // nodes2: a decode-sized moeRoute() groups its rows in the same launch
    // (moe_route_group_cuda); moeOnDevice() takes the grouping when it is for the same ids and
    // rows (else it groups them itself). Dropped at the next moeRoute() or when taken.
    struct RoutedGroup
    {
        const int32_t *ids = nullptr;
        int rows = 0, k = 0, nExperts = 0, slots = 0;
        Buffer<int32_t> offsets, active, srcRow, slotIndex;
    };
    RoutedGroup m_routedGroup;
    // The buffers of a decode-sized routing's grouping (moeRoute(), gateRoute()).
    Result<RoutedGroup> newRoutedGroup(const kernels::MoeRouteParams &p);
    // gateMoeOnDevice()'s gate: the gate GEMV's params and the device routing params.
    struct MoeGate
    {
        const LinearWeight *weight = nullptr;
        kernels::linear_params gate;
        kernels::MoeRouteParams route;
    };
    // gateRoute()'s gate and routing where its fused launch takes them (else nullopt), and that
    // launch on a grouping's buffers.
    std::optional<MoeGate> fusedGate(const LinearWeight &gate,
                                     const float *x,
                                     float *logits,
                                     const kernels::MoeRouteParams &p);
    Result<void> launchGateRoute(const MoeGate &g,
                                 int32_t *offsets,
                                 int32_t *active,
                                 int slots,
                                 int32_t *srcRow,
                                 int32_t *slotIndex);
    // moeOnDevice() with the gate (gateMoeOnDevice) or without it (nullptr); one name, so the
    // profile names both ops moeOnDevice. first: gateMoeOnDevice's (run in every case).
    Result<bool> moeOnDevice(const MoeDeviceJob &job,
                             const MoeGate *gate,
                             const MhcPostPreOp *first = nullptr);
    // mhcchain: a chain's mHC phase for `first` on the device's pointers where a chain of `rows`
    // rows may take it (the switches, the fused post + pre's counters, a token a row), else
    // nullopt; runFirst() runs it as its own op (mhcPostPreNorm) and clears it (nothing when
    // nullptr).
    std::optional<kernels::mhc_chain_prologue> chainPrologue(const MhcPostPreOp *first, int rows);
    Result<void> runFirst(const MhcPostPreOp *&first);
    // The job's expert table where moeOnDevice() has a path for the job, else nullptr (no side
    // effects).
    const ExpertTable *usableExpertTable(const MoeDeviceJob &job) const;
    Result<void> buildExpertTables(const V4Model &model);

    // Uploaded model: ranges sorted by host address.
    std::vector<Range> m_ranges;
    void *m_weights = nullptr;
    uint64_t m_weightBytes = 0;
    int m_vocab = 0;
};

} // namespace fathom::engine
