// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  V4Forward: the DeepSeek V4 forward pass (spec §3-§5), written once against Executor.

  forward() appends tokens to any number of sequences at once (a batch of items of different
  lengths and positions: prefill chunks and decode steps mix freely) and returns the fp32 logits
  of each item's last token. Any chunking of a sequence gives the same result as one call (up to
  summation-order rounding): the causal rules of §3.5-§3.7 are applied per token.

  mtpForward() runs the MTP block (§3.11) on the main model's final pre-head streams of the same
  positions with the next token ids, on the MTP block's own state inside SequenceState.

  The sublayer entry points (attentionSublayer / ffnSublayer / headLogits / mtpInput) are what
  the layer-local golden check drives directly.

  Memory: forward() and mtpForward() take host memory (token ids, logits, finalStreams,
  mainStreams) on every executor. The pieces below take their streams (x, out, logits,
  mainStreams of mtpInput) in the executor's memory (executor.h: host memory on the CPU); every
  buffer in between is allocated through the executor, and sequence states are moved into its
  memory before their first use.

  RoutingOverride replays top-k decisions (MoE experts, indexer selections) by sequence id and
  position instead of computing them; Tap receives named intermediates (golden names) per item.

  Thread: a V4Forward is used by one thread at a time; the model is shared read-only.
*/

#include "engine/core/error.h"
#include "engine/runtime/executor.h"
#include "engine/runtime/sequencestate.h"
#include "engine/runtime/v4model.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace fathom::engine {

class RoutingOverride
{
public:
    virtual ~RoutingOverride() = default;
    // Fill `ids` (k entries, the reference's order) to force the experts of `block` at
    // `position` of sequence `sequenceId`; false = decide normally.
    virtual bool moeExperts(
        int block, int sequenceId, int64_t position, int32_t *ids, int k) const = 0;
    // Fill `ids` (up to n entries, -1 = none) to force the indexer selection; false = decide.
    virtual bool indexerTopk(
        int block, int sequenceId, int64_t position, int32_t *ids, int n) const = 0;
};

class Tap
{
public:
    virtual ~Tap() = default;
    // name: golden name without the batch dim, e.g. "layers.3.q"; shape excludes the batch dim.
    virtual void tensor(const std::string &name,
                        int item,
                        const float *data,
                        const std::vector<int64_t> &shape)
        = 0;
    virtual void ids(const std::string &name,
                     int item,
                     const int32_t *data,
                     const std::vector<int64_t> &shape)
        = 0;
};

// Records a decode step's step script while the step's graph is recorded (forward.cpp).
struct StepScriptRecorder;

struct ForwardItem
{
    SequenceState *state = nullptr;
    const int32_t *tokens = nullptr; // token ids appended at state->length()...
    int count = 0;
    int sequenceId = 0; // for RoutingOverride
    bool logits = true; // false: skip the head for this item (e.g. a mid-prompt chunk); its
                        // row of lastLogits is left untouched
};

struct ForwardOptions
{
    const RoutingOverride *routing = nullptr;
    Tap *tap = nullptr;
};

class V4Forward
{
public:
    V4Forward(const V4Model &model, Executor &executor);

    Executor &executor() const { return m_exec; }

    /** Decode steps replayed without the walk (a step script recorded with the kept graph,
        see forward.cpp), and the replays whose script was checked against the walk
        (Executor::verifyingStep). */
    struct ScriptStats
    {
        long long recorded = 0; // scripts kept with a recorded step graph
        long long replayed = 0; // steps replayed by their script alone
        long long verified = 0; // scripts equal to the walk of a verified replay
    };
    ScriptStats scriptStats() const { return m_scriptStats; }

    /** Appends every item's tokens. lastLogits: [items, vocab] fp32 (may be nullptr).
        finalStreams (may be nullptr): receives the last block's output streams of every token,
        [total tokens, n_hc, d] in item order (the MTP block's input). */
    Result<void> forward(const std::vector<ForwardItem> &items,
                         float *lastLogits,
                         const ForwardOptions &options = {},
                         std::vector<float> *finalStreams = nullptr);

    /** The MTP block over the same tokens: mainStreams [total, n_hc, d] are the main model's
        final streams of these positions, items[i].tokens the NEXT ids. Uses and extends the MTP
        block state (its length must equal the position of each item's first token).
        lastLogits: [items, vocab]. */
    Result<void> mtpForward(const std::vector<ForwardItem> &items,
                            const float *mainStreams,
                            float *lastLogits,
                            const ForwardOptions &options = {});

    // ---- pieces (layer-local check) -----------------------------------------------------------
    // Streams X [total, n_hc, d] of the items' tokens at their states' block lengths; the block
    // state is extended by the tokens.
    Result<void> attentionSublayer(int block,
                                   const std::vector<ForwardItem> &items,
                                   const float *x,
                                   float *out,
                                   const ForwardOptions &options);
    Result<void> ffnSublayer(int block,
                             const std::vector<ForwardItem> &items,
                             const float *x,
                             float *out,
                             const ForwardOptions &options);
    // Both sublayers of one block (prefill layer-local check).
    Result<void> runBlock(int block,
                          const std::vector<ForwardItem> &items,
                          const float *x,
                          float *out,
                          const ForwardOptions &options);
    // hc_head + norm + head for `rows` stream rows; mtpBlock < 0: the main head.
    Result<void> headLogits(
        const float *streams, int rows, float *logits, int mtpBlock = -1, Tap *tap = nullptr);
    // MTP block input streams [rows, n_hc, d] from main streams and next ids.
    Result<void> mtpInput(int block,
                          const float *mainStreams,
                          const int32_t *nextIds,
                          int rows,
                          float *out,
                          Tap *tap = nullptr);

private:
    struct Batch;
    using SublayerFn = std::function<Result<void>(const float *u, float *y)>;
    Result<void> hyperConnected(const HcWeights &hc,
                                const std::vector<float> &norm,
                                const std::string &prefix,
                                const char *kind,
                                const char *outName,
                                const std::vector<ForwardItem> &items,
                                int rows,
                                const float *x,
                                float *out,
                                Tap *tap,
                                const SublayerFn &inner);
    Batch makeBatch(int block, const std::vector<ForwardItem> &items) const;
    Result<void> useExecutorMemory(const std::vector<ForwardItem> &items);
    Result<void> lastTokenLogits(const std::vector<ForwardItem> &items,
                                 const float *streams,
                                 float *lastLogits,
                                 int mtpBlock);
    Result<void> attention(
        int block, const Batch &batch, const float *x, float *y, const ForwardOptions &options);
    // a / g: the compressor's kv and gate projections of the attention input [rows, cc·Dc]
    // (attention() computes them with the other linears of that input); g is updated in place.
    Result<void> compressorUpdate(const BlockWeights &bw,
                                  const Batch &batch,
                                  const Buffer<float> &a,
                                  Buffer<float> &g,
                                  bool indexer,
                                  std::vector<int> &emittedPerItem,
                                  bool appended = false);
    // appends (session 10): a decode step's window, compressor kv and gate (+ ape) rows of the
    // block as one Executor::appendStateRows, with the kv rows' chain (Executor::rowChainAppend)
    // when `chain` is given (then run too); false (nothing done, the chain not run either) where
    // the old appends run (an executor without it, a prefill, a host or linear history).
    // compressorUpdate(appended) then pools only. with (rowchains, chain given): chains run
    // with the kv chain (Executor::rowChainAppend), run too where it returns true.
    Result<bool> fusedAppends(const BlockWeights &bw,
                              const Batch &batch,
                              const float *kv,
                              float *compKv,
                              float *compGate,
                              float *idxKv,
                              float *idxGate,
                              const kernels::RowChainParams *chain = nullptr,
                              const Executor::ChainsWith *with = nullptr);
    Result<void> moe(
        int block, const Batch &batch, const float *x, float *y, const ForwardOptions &options);

    const V4Model &m_model;
    Executor &m_exec;
    // The attention's host index rows, kept between calls: at a prefill's size a fresh vector per
    // layer is a fresh mapping, paid in page faults every time.
    std::vector<int32_t> m_attentionIndices;
    // Replay without the walk (forward.cpp, "Step scripts"): the recorder while a decode step's
    // graph is recorded under a key, else nullptr; the read-back places of a scripted replay.
    StepScriptRecorder *m_rec = nullptr;
    std::vector<StepPiece> m_scriptReadbacks;
    Result<void> appendRows(
        RowHistory &h, const float *rows, int64_t count, int item, int block, int which);
    size_t stagedUploads() const;
    void scriptGen(size_t before, int op, int item, int block, int which = 0, int n = 0);
    void scriptConst(size_t before, const void *bytes, size_t size);
    void scriptAction(int op, int item, int block, int which, int n);
    Result<void> replayScript(const StepScript &script,
                              const std::vector<ForwardItem> &items,
                              float *lastLogits,
                              std::vector<float> *finalStreams);
    ScriptStats m_scriptStats;
    // nodes2: the mHC post of the last sublayer run, kept for the next sublayer's pre (one op,
    // Executor::mhcPostPreNorm) while m_deferPost is set: forward()'s and mtpForward()'s layer
    // loops, which flush it before anything else reads the streams (the sublayer entry points
    // called on their own post at once). It holds the post's inputs until it runs.
    struct PendingPost
    {
        Buffer<float> y, post, comb;
        Buffer<float> x; // the streams it reads, when their owner (runBlock's mid) returns first
        kernels::MhcPostParams p;
        bool active = false;
        // mhcchain: folded with the next sublayer's pre into `first`, handed to that sublayer's
        // first op that reads u (linearChain / gateMoeOnDevice, which run it before anything
        // else: a device as its chain's first phase); the buffers above are held until then.
        MhcPostPreOp first;
        bool handed = false;
    };
    PendingPost m_pendingPost;
    // mhcchain: the handed post + pre for the op about to be issued (nullptr: none), and after
    // that op its buffers' release (tookFirst); runFirst() runs it as its own op instead.
    const MhcPostPreOp *handedFirst() const;
    void tookFirst();
    Result<void> runFirst();
    bool m_deferPost = false;
    Result<void> flushPost();
    // Deferral on for one layer loop; off again (pending dropped on an error) when it ends.
    struct DeferPosts
    {
        explicit DeferPosts(V4Forward &f)
            : m_f(f)
        {
            m_f.m_deferPost = true;
        }
        ~DeferPosts()
        {
            m_f.m_deferPost = false;
            m_f.m_pendingPost = PendingPost{};
        }
        V4Forward &m_f;
    };
};

} // namespace fathom::engine
