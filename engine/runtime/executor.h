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

  Memory: an Executor is a DeviceMemory (devicememory.h). Every activation buffer and every
  sequence-state row an op sees was allocated through it, so on a device executor they are
  device pointers. Model constants (weights, norm vectors, RoPE tables, tid2eid, ...) are passed
  as the V4Model's host pointers; a device executor maps them to its uploaded copies (including
  pointers inside a tensor, e.g. one output group of wo_a). Arguments named `host...` are host
  memory on every executor. The glue ops below (embedRows ... moeCombine) are what the forward
  pass used to do in host loops; their defaults here are those loops, exact, on host memory.

  Thread: one thread drives an executor at a time (the engine thread); ops may use a pool inside.
*/

#include "engine/core/error.h"
#include "engine/model/modelweights.h"
#include "engine/runtime/devicememory.h"
#include "kernels/compressor.h"
#include "kernels/indexer.h"
#include "kernels/mhc.h"
#include "kernels/moe.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/row_chain.h"
#include "kernels/sparse_attn.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fathom::engine {

enum class LinearOutput { Bf16, F32 };

struct ExpertWeights;

/** A MoE layer's shared + routed experts and their combine from routing decisions that stay in
    the executor's memory (ids, weights): Executor::moeOnDevice. */
struct MoeDeviceJob
{
    const ExpertWeights *experts = nullptr; // [nExperts] routed experts (V4Model)
    const ExpertWeights *shared = nullptr;
    int nExperts = 0;
    const float *x = nullptr;       // [rows, d] bf16-valued
    const int32_t *ids = nullptr;   // [rows, k]
    const float *weights = nullptr; // [rows, k] routing weights
    float *y = nullptr;             // [rows, d] bf16-valued: moeCombine's result
    int rows = 0, k = 0, d = 0, inter = 0;
    float limit = 0.0f;
};

/** One expert FFN application: y = w2(bf16(swiglu(w1 x, w3 x) · rowWeight)) for `rows` rows. */
struct ExpertJob
{
    const LinearWeight *w1 = nullptr, *w2 = nullptr, *w3 = nullptr;
    const float *x = nullptr;          // [rows, d] bf16-valued
    const float *rowWeights = nullptr; // [rows] routing weights, nullptr for the shared expert
    float *y = nullptr;                // [rows, d] bf16-valued
    int rows = 0;
};

/** One linear of a group over the same rows (Executor::linearGroup). */
struct LinearJob
{
    const LinearWeight *w = nullptr;
    float *y = nullptr; // [m, w->outFeatures], row stride ldy (0 = packed)
    LinearOutput out = LinearOutput::F32;
    int64_t ldy = 0;
    const float *x = nullptr; // its own input (same rows, width and stride), nullptr: the group's
    // idxchain: nonzero - then scaleRoundBf16(y, scaleRound) over the job's rows (the indexer's
    // head weights; LinearOutput::Bf16): a device folds it into the group's epilogue.
    float scaleRound = 0.0f;
};

/** One step of a chain of linear groups (Executor::linearChain): linearGroup(x, m, jobs, ldx), or
    with norm set normLinearGroup(*norm, jobs) (x and ldx unused). */
struct LinearChainStep
{
    const float *x = nullptr;
    int64_t ldx = 0;
    std::vector<LinearJob> jobs;
    const kernels::RmsNormParams *norm = nullptr;
};

/** mhcchain: an mHC post + pre (Executor::mhcPostPreNorm()'s arguments) handed to the op that
    first reads pre.u (linearChain, gateMoeOnDevice: their `first`), which runs it before anything
    else, in every case: a device may fold it into its launch (a cooperative chain's phase 0). */
struct MhcPostPreOp
{
    kernels::MhcPostParams post;
    kernels::MhcPreParams pre;
    const float *normWeight = nullptr;
    float eps = 0.0f;
};

/** One staged piece of a graphed decode step (Executor::stepPieces). */
struct StepPiece
{
    size_t offset = 0; // in the step's upload or read-back block
    size_t bytes = 0;
    void *hostDst = nullptr; // read-backs: where the bytes go
};
struct StepPieces
{
    std::vector<StepPiece> uploads, readbacks;
    size_t uploadBytes = 0, readbackBytes = 0; // of the blocks, alignment included
    bool spilled = false;                      // a piece landed outside the first block
};
// A decode step's replay without the walk (V4Forward, forward.cpp); kept by the executor with
// the graph it was recorded with.
class StepScript;

class Executor : public DeviceMemory
{
public:
    ~Executor() override = default;

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
    /** linear() of every job on x [m, k] (row stride ldx; or the job's own x of that shape),
        bit for bit; a device may run them in one launch (decode). The default runs them one by
        one. */
    virtual Result<void> linearGroup(const float *x,
                                     int m,
                                     const std::vector<LinearJob> &jobs,
                                     int64_t ldx = 0)
    {
        for (const LinearJob &j : jobs) {
            FATHOM_TRY(linear(*j.w, j.x ? j.x : x, m, j.y, j.out, ldx, j.ldy));
            FATHOM_TRY(scaleRoundJob(j, m));
        }
        return {};
    }
    /** The job's scaleRound pass (none when 0): scaleRoundBf16 over its m rows. */
    Result<void> scaleRoundJob(const LinearJob &j, int m)
    {
        if (j.scaleRound == 0.0f)
            return {};
        const int64_t n = j.w->outFeatures;
        if (!j.ldy || j.ldy == n)
            return scaleRoundBf16(j.y, m * n, j.scaleRound);
        for (int r = 0; r < m; ++r)
            FATHOM_TRY(scaleRoundBf16(j.y + r * j.ldy, n, j.scaleRound));
        return {};
    }

    /** ffnnodes: rmsNorm(np) then linearGroup(np.y, np.rows, jobs, np.y_stride) (the jobs read the
        normalised rows: none has its own x), bit for bit. A device may fold the norm into the
        linears' staging of x (decode), reading np.x and leaving np.y unwritten: callers read the
        normalised rows only through the jobs (a tap of them: rmsNorm + linearGroup). */
    virtual Result<void> normLinearGroup(const kernels::RmsNormParams &np,
                                         const std::vector<LinearJob> &jobs)
    {
        FATHOM_TRY(rmsNorm(np));
        return linearGroup(np.y, np.rows, jobs, np.y_stride);
    }
    /** The steps in order over m rows, each reading what the steps before it wrote, bit for bit
        as linearGroup() / normLinearGroup() of each in turn; a device may run them in one launch
        (decode: a cooperative GEMV chain). first (or nullptr): an mHC post + pre run before the
        steps (mhcPostPreNorm; a device may take it into the launch). The default runs them one
        by one. */
    virtual Result<void> linearChain(int m,
                                     const std::vector<LinearChainStep> &steps,
                                     const MhcPostPreOp *first = nullptr)
    {
        if (first)
            FATHOM_TRY(mhcPostPreNorm(first->post, first->pre, first->normWeight, first->eps));
        for (const LinearChainStep &s : steps)
            FATHOM_TRY(s.norm ? normLinearGroup(*s.norm, s.jobs)
                              : linearGroup(s.x, m, s.jobs, s.ldx));
        return {};
    }
    virtual Result<void> rmsNorm(const kernels::RmsNormParams &p) = 0;
    virtual Result<void> headRmsNormBf16(float *x, int rows, int dim, float eps) = 0;
    virtual Result<void> rope(const kernels::RopeParams &p) = 0;
    virtual Result<void> mhcPre(const kernels::MhcPreParams &p) = 0;
    virtual Result<void> mhcPost(const kernels::MhcPostParams &p) = 0;
    /** mhcPre() then rmsNorm() of its p.u in place (weight normWeight [d], eps): the sublayer's
        input, as one op (a device folds the norm into the pre's last launch). The default is
        the CPU twin: the two ops (the same bits). */
    virtual Result<void> mhcPreNorm(const kernels::MhcPreParams &p,
                                    const float *normWeight,
                                    float eps)
    {
        FATHOM_TRY(mhcPre(p));
        kernels::RmsNormParams np;
        np.x = p.u;
        np.weight = normWeight;
        np.y = p.u;
        np.rows = p.tokens;
        np.dim = p.d;
        np.eps = eps;
        return rmsNorm(np);
    }
    /** mhcPost(post) then mhcPreNorm(pre, normWeight, eps), pre.x == post.out: the post of one
        sublayer and the pre of the next as one op (a device: one launch, the post's values
        computed where the pre reads them). The default is the CPU twin: the two ops. */
    virtual Result<void> mhcPostPreNorm(const kernels::MhcPostParams &post,
                                        const kernels::MhcPreParams &pre,
                                        const float *normWeight,
                                        float eps)
    {
        FATHOM_TRY(mhcPost(post));
        return mhcPreNorm(pre, normWeight, eps);
    }
    virtual Result<void> mhcHead(const kernels::MhcHeadParams &p) = 0;
    virtual Result<void> compressorPool(const kernels::CompressorPoolParams &p) = 0;
    /** Optional, for a device executor (a replayable decode step): compressorPool() of one
        entry whose rows are in rings: p.kv / p.score / p.prev_kv / p.prev_score are the rings'
        bases and hostSlots[4] the first slots of the window and the previous window in the kv
        ring and in the score ring (uploaded as data, so the launch does not move with the
        position). false: not supported (the caller passes the rows themselves). */
    virtual Result<bool> compressorPoolSlots(const kernels::CompressorPoolParams &p,
                                             const int32_t *hostSlots)
    {
        (void) p;
        (void) hostSlots;
        return false;
    }
    /** Optional (prefillother): compressorPool() of `entries` consecutive windows in one op,
        kernels::compressor_pool_batched_cuda's layout (entry i reads p.kv / p.score + i * ratio
        rows and writes p.out + i * dc; overlapped, entry i > 0 takes window i - 1 as its
        previous one, entry 0 p.prev_kv / p.prev_score). false: not supported (the caller pools
        entry by entry). The same values as one compressorPool() an entry. */
    virtual Result<bool> compressorPoolEntries(const kernels::CompressorPoolParams &p, int entries)
    {
        (void) p;
        (void) entries;
        return false;
    }
    virtual Result<void> hadamard(float *x, int rows, int n, float scale) = 0;
    /** In place on [rows, row_stride] bf16-valued rows, dims [0, dims): quantise-dequantise
        through e4m3 (blocks of `block`, KV) or e2m1 (indexer). */
    virtual Result<void> fakeQuantE4m3(float *x, int rows, int rowStride, int dims, int block) = 0;
    virtual Result<void> fakeQuantE2m1(float *x, int rows, int rowStride, int dims, int block) = 0;
    /** The per-row chain of kernels/row_chain.h (norm, rope, hadamard, fake quantisation, in
        place, in that order) as one op, so a device can run it as one launch. The default is
        the CPU twin: the single ops above in the same order (the same bits). */
    virtual Result<void> rowChain(const kernels::RowChainParams &p)
    {
        if (p.norm == kernels::RowNorm::Rms) {
            kernels::RmsNormParams np;
            np.x = p.x;
            np.weight = p.norm_weight;
            np.y = p.x;
            np.rows = p.rows;
            np.dim = p.dim;
            np.eps = p.eps;
            FATHOM_TRY(rmsNorm(np));
        } else if (p.norm == kernels::RowNorm::HeadBf16) {
            FATHOM_TRY(headRmsNormBf16(p.x, p.rows, p.dim, p.eps));
        }
        if (p.positions) {
            kernels::RopeParams rp;
            rp.x = p.x;
            rp.positions = p.positions;
            rp.freqs = p.freqs;
            rp.rows = p.rows;
            rp.row_stride = p.dim;
            rp.offset = p.rope_offset;
            rp.rope_dim = p.rope_dim;
            rp.rows_per_position = p.rows_per_position;
            FATHOM_TRY(rope(rp));
        }
        if (p.hadamard_scale != 0.0f)
            FATHOM_TRY(hadamard(p.x, p.rows, p.dim, p.hadamard_scale));
        if (p.quant == kernels::RowQuant::E4m3)
            FATHOM_TRY(fakeQuantE4m3(p.x, p.rows, p.dim, p.quant_dims, p.quant_block));
        else if (p.quant == kernels::RowQuant::E2m1)
            FATHOM_TRY(fakeQuantE2m1(p.x, p.rows, p.dim, p.quant_dims, p.quant_block));
        return {};
    }
    virtual Result<void> indexerScores(const kernels::IndexerScoreParams &p) = 0;
    virtual Result<void> topk(const float *values, int n, int k, int32_t *outIdx) = 0;
    virtual Result<void> sparseAttention(const kernels::SparseAttnParams &p) = 0;
    virtual Result<void> moeRoute(const kernels::MoeRouteParams &p) = 0;
    /** gate: the MoE gate, linear(gate, x, p.tokens, logits, LinearOutput::F32) with
        p.logits == logits, then moeRoute(p), so a device can run both as one launch (decode).
        The default is the two ops. */
    virtual Result<void> gateRoute(const LinearWeight &gate,
                                   const float *x,
                                   float *logits,
                                   const kernels::MoeRouteParams &p)
    {
        FATHOM_TRY(linear(gate, x, p.tokens, logits, LinearOutput::F32));
        return moeRoute(p);
    }
    virtual Result<void> swiglu(const kernels::SwigluParams &p) = 0;

    /** Every expert of a MoE layer in one call (w1, w3, clamped SwiGLU, w2), so a backend can
        schedule them together. The default runs them one by one through linear() / swiglu(). */
    virtual Result<void> expertFfn(const std::vector<ExpertJob> &jobs, int inter, float limit);

    /** Lightning-indexer selection for `rows` consecutive query tokens of one sequence: query r
        (p.q + r·n_heads·dim, p.weights + r·n_heads) scores keys [0, hostVisible[r]) of p.keys
        (p.n_keys = the largest hostVisible; p.scores unused) and keeps the top
        min(k, hostVisible[r]) in topk() order. hostOut [rows, k] (host memory) gets them, -1
        in the remaining slots. The default runs indexerScores() + topk() token by token. */
    virtual Result<void> indexerSelect(const kernels::IndexerScoreParams &p,
                                       int rows,
                                       const int32_t *hostVisible,
                                       int k,
                                       int32_t *hostOut);

    /** Optional: the whole expert part of a MoE layer (grouping by expert, shared and routed
        FFNs, combine) without reading the routing back, so a device's decode step has no host
        round trip there. Returns false where the executor has no such path for this job (the
        default); the forward pass then reads the ids back and groups on the host. */
    virtual Result<bool> moeOnDevice(const MoeDeviceJob &) { return false; }
    /** Optional (moechain): gateRoute(gate, x, logits, p) followed by moeOnDevice(job) as one
        op (p routes job's rows into job.ids / job.weights), so a device can run the gate, the
        routing and the experts as one launch at decode. first (or nullptr): an mHC post + pre
        whose u is x, run before anything else in every case (mhcPostPreNorm; a device may take it
        into the launch). Returns false, having done nothing else, where the executor has no such
        path (the default); the forward pass then calls the two. */
    virtual Result<bool> gateMoeOnDevice(const LinearWeight &gate,
                                         const float *x,
                                         float *logits,
                                         const kernels::MoeRouteParams &p,
                                         const MoeDeviceJob &job,
                                         const MhcPostPreOp *first = nullptr)
    {
        (void) gate;
        (void) x;
        (void) logits;
        (void) p;
        (void) job;
        if (first)
            FATHOM_TRY(mhcPostPreNorm(first->post, first->pre, first->normWeight, first->eps));
        return false;
    }

    /** Optional, for a device executor: indexerSelect() with the selections left in executor
        memory (`out` [rows, k], -1 padded; p.n_keys may exceed the largest visible count - the
        forward pass passes the key cache's capacity - and keys past a row's count are never
        selected), and the sparse-attention index rows built there from
        them (sparseIndicesOnExecutor: rows of queries at positions start.., window rows from
        windowStart - or, with ringRows > 0 (a power of two), position mod ringRows: the slots of
        a ring (RowHistory) - then ratio 4's selections sel [rows, topk] offset by nWin, the
        size of the window pool), so a CSA layer needs no read-back. Both return false where
        unsupported (the default); the forward pass then uses indexerSelect() and builds the
        index rows on the host. */
    virtual Result<bool> indexerSelectOnExecutor(
        const kernels::IndexerScoreParams &, int, const int32_t *, int, int32_t *)
    {
        return false;
    }
    virtual Result<bool> sparseIndicesOnExecutor(
        int32_t *, int, int, int64_t, int64_t, int, int, int, const int32_t *, int, int64_t)
    {
        return false;
    }
    /** idxchain, optional: indexerSelectOnExecutor(p, rows, hostVisible, k, sel) and then
        sparseIndicesOnExecutor(job.out, rows, job.nIdx, job.start, job.windowStart, job.window,
        job.nWin, 4, sel, k, job.ringRows), the same bits in both buffers, with one upload
        ([rows] visible counts, start, windowStart) and fewer launches (a device writes the
        index rows from its top-k launch). False where unsupported (the default): nothing was
        run and the caller runs the two. */
    struct SparseIndexJob
    {
        int32_t *out = nullptr; // [rows, nIdx]
        int64_t start = 0, windowStart = 0, ringRows = 0;
        int nIdx = 0, window = 0, nWin = 0;
    };
    virtual Result<bool> indexerSparseOnExecutor(const kernels::IndexerScoreParams &,
                                                 int,
                                                 const int32_t *,
                                                 int,
                                                 int32_t *,
                                                 const SparseIndexJob &)
    {
        return false;
    }

    /** Optional, for a device executor: a decode step (`rows` single-token items, no taps, no
        replayed routing) recorded and launched as one graph. beginStep() returns true when the
        executor records the step; until endStep(), copyFromHost() is staged (one upload before
        the graph) and copyToHost() deferred: its destination is written by endStep(), so the
        step must not read back values it uses. endStep(ok) launches the recording and completes
        the read-backs (ok), or drops it (!ok, after an error). Default: no graph.
        `shapeKey` (0: none) identifies what the step's launches depend on besides its uploaded
        data (batch shape, the state buffers' addresses and capacities; V4Forward gives 0 for a
        step that closes a compressor window or moves a state buffer): an executor may then
        replay the graph it kept for that key instead of recording the step - with the step
        script kept with that graph (keepStepScript below) V4Forward then fills the upload block
        without walking, else the forward walk runs (its uploads, the state's bookkeeping) but
        launches nothing. */
    virtual Result<bool> beginStep(int rows, uint64_t shapeKey)
    {
        (void) rows;
        (void) shapeKey;
        return false;
    }
    virtual Result<void> endStep(bool ok)
    {
        (void) ok;
        return {};
    }

    /** Optional, for a device executor inside a recorded decode step: stages `bytes` of host
        data like copyFromHost() (one piece of the step's upload) but gives no buffer of its
        own: returns the device address the step's launches may read the bytes at (valid until
        endStep(); no copy node). nullptr outside such a step (the default): the caller copies
        into a buffer of its own. */
    virtual Result<const void *> stageInPlace(const void *hostSrc, size_t bytes)
    {
        (void) hostSrc;
        (void) bytes;
        return static_cast<const void *>(nullptr);
    }

    // ---- replay without the walk (V4Forward's step script; docs/perf/cuda.md, session 7) -------
    /** After beginStep() returned true: whether the step replays a kept graph (the walk would
        launch nothing) rather than recording one. */
    virtual bool stepReplays() const { return false; }
    /** The pieces the present step has staged so far, in order (uploads: place in the step's
        upload block and size; read-backs: place in the read-back block, size, host
        destination), and the bytes each block uses. nullptr without step graphs. */
    virtual const StepPieces *stepPieces() const { return nullptr; }
    /** The upload block's host bytes of the present step (what its walk staged). */
    virtual const uint8_t *stepUploadHost() const { return nullptr; }
    /** During a recording: the script to keep with the graph endStep() keeps (dropped when that
        graph is not replayable). After beginStep() chose a replay: the script kept with its
        graph, or nullptr (the caller walks). Opaque to the executor. */
    virtual void keepStepScript(std::shared_ptr<const StepScript> script) { (void) script; }
    virtual const StepScript *stepScript() const { return nullptr; }
    /** Whether the present replay is being verified (the walk must run; emulation builds with
        FATHOM_CUDA_VERIFY_REPLAY=1): the caller then checks its script against the walk. */
    virtual bool verifyingStep() const { return false; }
    /** A replay without the walk: the step's upload block (uploadBytes, the recording's layout)
        for the caller to fill, read-backs into the given host places; endStep(true) then
        uploads, launches the kept graph and reads back. Fails where the step is no such replay. */
    virtual Result<uint8_t *> replayWithoutWalk(size_t uploadBytes,
                                                size_t readbackBytes,
                                                const std::vector<StepPiece> &readbacks)
    {
        (void) uploadBytes;
        (void) readbackBytes;
        (void) readbacks;
        return fail(Error::Kind::Unsupported, std::string(name()) + ": no decode-step replay");
    }

    // ---- glue (exact data movement and elementwise steps of the forward pass) ------------------
    /** out [rows, copies, d] = bf16 table rows of hostIds, repeated `copies` times. */
    virtual Result<void> embedRows(
        const uint16_t *table, const int32_t *hostIds, int rows, int d, int copies, float *out);
    /** x [rows, width] += table [hostPositions[r] % period] (fp32). */
    virtual Result<void> addPeriodicRows(
        float *x, const float *table, const int32_t *hostPositions, int rows, int width, int period);
    /** x[i] = bf16(x[i] * scale) for n values. */
    virtual Result<void> scaleRoundBf16(float *x, int64_t n, float scale);
    /** dst [n, width] row k = src row hostRows[k]. */
    virtual Result<void> gatherRows(
        float *dst, const float *src, const int32_t *hostRows, int n, int width);
    /** dst row hostRows[k] = src [n, width] row k. */
    virtual Result<void> scatterRows(
        float *dst, const float *src, const int32_t *hostRows, int n, int width);
    /** Whether sequence-state rows that are bf16-exact by construction (window rows, compressed
        entries, index keys) are stored as bf16 in this executor's memory (RowHistory); its
        sparseAttention and indexer ops then read them through the params' *_bf16 pointers.
        Default: no (fp32 rows, the CPU engine's layout). */
    virtual bool bf16StateRows() const { return false; }
    /** scatterRows into bf16 rows: dst (bf16 bits) row hostRows[k] = bf16(src row k), rounded
        to nearest even (the values are bf16-exact: a rounding is a bug upstream, which a device
        executor may count). */
    virtual Result<void> scatterRowsBf16(
        uint16_t *dst, const float *src, const int32_t *hostRows, int n, int width);
    /** Whether those rows are stored in the packed §5.2 layout instead (kernels/kv_packed.h:
        e4m3 + bf16 RoPE + E8M0 entries, e2m1 + E8M0 index keys; session 8). Its sparseAttention
        and indexer ops then read them through the params' *_packed pointers. Default: no. */
    virtual bool packedStateRows() const { return false; }
    /** scatterRows into packed rows: dst row hostRows[k] (packed_row_bytes(width, rope) bytes
        a row; rope < 0: index keys) = src row k packed (kernels::pack_state_row; the values are
        exact in that layout: a rounding is a bug upstream, which a device executor may count). */
    virtual Result<void> scatterRowsPacked(
        uint8_t *dst, const float *src, const int32_t *hostRows, int n, int width, int rope);
    /** One append of appendStateRows: count rows of src [count, width] into the ring dst
        (ringRows capacity, a power of two) at slots hostPositions[first + t] mod ringRows, stored as
        fp32 (scatterRows), bf16 (scatterRowsBf16) or packed with `rope` (scatterRowsPacked). ape
        (fp32 rows only, may be nullptr): addPeriodicRows(src, ape, hostPositions + first,
        count, width, period) first (src keeps the sum). */
    struct StateAppend
    {
        enum class Rows { F32, Bf16, Packed };
        void *dst = nullptr;
        int64_t ringRows = 0; // the ring's capacity (not "slots": a Qt keyword in the app)
        Rows rows = Rows::F32;
        int width = 0;
        int rope = 0;
        float *src = nullptr;
        int first = 0;
        int count = 0;
        const float *ape = nullptr;
        int period = 1;
    };
    /** Whether appendStateRows is worth calling (one launch instead of one per append; session
        10: the CUDA executor unless FATHOM_CUDA_FUSED_APPENDS=0). Default: no. */
    virtual bool fusedStateAppends() const { return false; }
    /** The appends of a decode step's block (window, compressor kv and gate rows) as one op.
        Default: exactly the old sequence, per append addPeriodicRows (ape) then the scatter. */
    virtual Result<void> appendStateRows(const StateAppend *appends,
                                         int n,
                                         const int32_t *hostPositions,
                                         int positions);
    /** rowchains (session 16): chains to run with rowChainAppend's, their rows independent of
        its chain's, its appends' and each other's (a decode step's queries and the CSA indexer's
        queries), and linears a device may ask its L2 for meanwhile (immutable weights, e.g. the
        block's wo_a and wo_b; nullptr: none). */
    struct ChainsWith
    {
        const kernels::RowChainParams *chains[2] = {};
        int count = 0;
        const LinearWeight *prefetch[2] = {};
    };
    /** rowChain(chain) then appendStateRows(appends ...) as one op (the kv rows' chain and the
        block's appends, the window's rows among the chain's results: a device stores them from
        the chain's launch); with (may be nullptr): its chains too, in the same op where a device
        can. Default: rowChain of with's chains one by one, then exactly those two. */
    virtual Result<void> rowChainAppend(const kernels::RowChainParams &chain,
                                        const StateAppend *appends,
                                        int n,
                                        const int32_t *hostPositions,
                                        int positions,
                                        const ChainsWith *with = nullptr)
    {
        for (int k = 0; with && k < with->count; ++k)
            FATHOM_TRY(rowChain(*with->chains[k]));
        FATHOM_TRY(rowChain(chain));
        return appendStateRows(appends, n, hostPositions, positions);
    }
    /** y [rows, d] = bf16(fp32 sum of routed [rows, k, d] by increasing expert id (hostIds
        [rows, k], the reference's order), then + shared [rows, d]). */
    virtual Result<void> moeCombine(float *y,
                                    const float *routed,
                                    const float *shared,
                                    const int32_t *hostIds,
                                    int rows,
                                    int k,
                                    int d);
    /** out [rows, n, d] = bf16(a [rows, d] + b [rows, n, d]) (a broadcast over n). */
    virtual Result<void> addBroadcastRoundBf16(
        float *out, const float *a, const float *b, int rows, int n, int d);

protected:
    // The arithmetic of embedRows, addPeriodicRows and moeCombine on rows [r0, r1) of host
    // memory: the defaults above run them over every row, a host executor over chunks of rows
    // on its threads, so both give the same bits by construction.
    static void embedRowRange(const uint16_t *table,
                              const int32_t *hostIds,
                              int64_t r0,
                              int64_t r1,
                              int d,
                              int copies,
                              float *out);
    static void addPeriodicRowRange(float *x,
                                    const float *table,
                                    const int32_t *hostPositions,
                                    int64_t r0,
                                    int64_t r1,
                                    int width,
                                    int period);
    static void moeCombineRowRange(float *y,
                                   const float *routed,
                                   const float *shared,
                                   const int32_t *hostIds,
                                   int64_t r0,
                                   int64_t r1,
                                   int k,
                                   int d);
};

} // namespace fathom::engine
