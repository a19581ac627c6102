// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "forward.h"

#include "kernels/formats.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <numeric>
#include <utility>

namespace fathom::engine {

namespace {

using Floats = Buffer<float>;
using Ints = Buffer<int32_t>;

// Zero-filled activations in the executor's memory (host memory on the CPU).
Result<Floats> floats(Executor &exec, int64_t n, const char *what)
{
    return Floats::make(exec, n, what);
}

// Host ints as the executor's ops read them: the host vector itself when the executor works in
// host memory (no copy), else an uploaded copy kept in `holder`.
Result<const int32_t *> opInts(Executor &exec,
                               const std::vector<int32_t> &host,
                               Ints &holder,
                               const char *what)
{
    if (exec.hostAddressable())
        return host.data();
    // Inside a recorded decode step the op reads the step's upload block in place (no copy).
    FATHOM_TRY_ASSIGN(const void *staged,
                      exec.stageInPlace(host.data(), host.size() * sizeof(int32_t)));
    if (staged)
        return static_cast<const int32_t *>(staged);
    FATHOM_TRY_ASSIGN(holder, Ints::make(exec, static_cast<int64_t>(host.size()), what));
    FATHOM_TRY(exec.copyFromHost(holder.data(), host.data(), holder.bytes()));
    return static_cast<const int32_t *>(holder.data());
}

// The row chain (kernels/row_chain.h) of `rope`'s rows: rope as given (forward), no norm, no
// hadamard, no quantisation yet.
kernels::RowChainParams ropeChain(const kernels::RopeParams &rope)
{
    kernels::RowChainParams p;
    p.x = rope.x;
    p.rows = rope.rows;
    p.dim = rope.row_stride;
    p.positions = rope.positions;
    p.freqs = rope.freqs;
    p.rope_offset = rope.offset;
    p.rope_dim = rope.rope_dim;
    p.rows_per_position = rope.rows_per_position;
    return p;
}

// Executor values the forward pass reads on the host: the same pointer when the executor works
// in host memory, else a copy read back into `holder`.
template<typename T>
Result<const T *> hostValues(Executor &exec, const T *data, int64_t n, std::vector<T> &holder)
{
    if (exec.hostAddressable())
        return data;
    holder.resize(static_cast<size_t>(n));
    FATHOM_TRY(exec.copyToHost(holder.data(), data, sizeof(T) * static_cast<size_t>(n)));
    return static_cast<const T *>(holder.data());
}

// What a decode step's launches depend on besides its uploaded data (Executor::beginStep):
// the model, the batch shape, per item and block which compressors close a window, and every state
// buffer's address, offset and capacity. 0 (no key) when an append would move a buffer
// (growth, copy-on-write) or when rows live in host memory.
uint64_t decodeStepKey(const V4Model &model,
                       const std::vector<ForwardItem> &items,
                       bool logits,
                       bool streams)
{
    uint64_t h = 1469598103934665603ull;
    auto mix = [&h](uint64_t v) {
        h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
        h *= 1099511628211ull;
    };
    const ModelConfig &c = model.config();
    mix(reinterpret_cast<uintptr_t>(&model)); // its weights' addresses are in the launches
    mix(items.size());
    mix((logits ? 2u : 0u) | (streams ? 1u : 0u));
    for (const ForwardItem &it : items) {
        if (it.count != 1)
            return 0;
        mix(it.logits ? 1u : 0u);
        for (int l = 0; l < c.numHiddenLayers; ++l) {
            const BlockState &b = it.state->block(l);
            const int m = b.ratio;
            // A closing step emits an entry (its pooling reads the rings at slots given as
            // data, the caches take it at an index given as data): keyed by the pattern, and
            // by whether the overlapped pooling has a previous window (the first entry has
            // none).
            const bool closes = m && (b.length + 1) % m == 0;
            mix(closes ? 1 + ((b.length + 1) / m > 1 ? 1 : 0) : 0);
            const RowHistory *appended[] = {&b.window,
                                            m ? &b.compKv : nullptr,
                                            m ? &b.compGate : nullptr,
                                            m == 4 ? &b.indexKv : nullptr,
                                            m == 4 ? &b.indexGate : nullptr,
                                            closes ? &b.entries : nullptr,
                                            closes && m == 4 ? &b.indexKeys : nullptr};
            for (const RowHistory *r : appended)
                if (r && !r->appendsInPlace(1))
                    return 0;
            for (const RowHistory *r : {&b.window,
                                        &b.entries,
                                        &b.compKv,
                                        &b.compGate,
                                        &b.indexKeys,
                                        &b.indexKv,
                                        &b.indexGate}) {
                if (r->rows() && !r->deviceData())
                    return 0;
                mix(reinterpret_cast<uintptr_t>(r->deviceData()));
                mix(static_cast<uint64_t>(r->capacity()));
                if (!r->ring()) {
                    mix(static_cast<uint64_t>(r->deviceOffset()));
                    mix(static_cast<uint64_t>(r->begin()));
                }
            }
        }
    }
    return h ? h : 1;
}

// ---- Step scripts --------------------------------------------------------------------------------
// A replayed decode step (its key matched a kept graph, Executor::beginStep) needs from the host
// only the bytes its graph copies from the upload block and the state bookkeeping the walk would
// do: nothing it launches depends on anything else. So while a step is recorded, every staged
// upload is tagged with a generator (a closed formula of the step's inputs - per item the token
// id and the block's length, the state's row counts and capacities, the model's hash-routing
// table - and its place in the upload block), and every state change with an action (rows
// appended to a history, the block's length); the script is kept with the graph. A replay with
// a script runs it in order (generators read the state as the walk had it at that point, the
// actions advance it) straight into the pinned upload block: O(items x layers) small writes,
// then one upload, one graph launch, one read-back. Any upload of the recording that no
// generator claimed (an op staging data this file does not know), or two pieces from one call,
// leaves the graph without a script: its replays walk, as before. Whether a script is right is
// what the verify mode checks (a verified replay evaluates it on copies of the states and runs
// the walk too: same bytes at the same places, same read-backs, same state bookkeeping).
} // namespace

enum class ScriptOp : uint8_t {
    Tokens,         // [items] token ids (embedding)
    Positions,      // [items] the block's length per item (RoPE, ape)
    RowIndex,       // [n] where a history's next rows go: ring slot or linear row (scatterRows)
    PoolSlots,      // [4] the closing window's and the previous window's first slots (kv, score)
    EntryPositions, // [closing items] first position of each new compressed entry's window
    Visible,        // [1] indexer keys the query sees: (position + 1) / ratio
    SparseStep,     // [2] position and window start (the CSA index builder)
    AttnRows,       // [n] a non-CSA layer's attention index row: window slots, entries, -1
    ForcedIds,      // [items, k] hash-routed experts of the token ids (zeros: score-routed)
    Const,          // recorded bytes (the head's row gather: the batch shape alone)
    Append,         // action: n rows appended to a history (RowHistory::advanceStored)
    Length,         // action: the block took the item's n tokens
    VisibleStep,    // [3] Visible, then SparseStep (idxchain: indexerSparseOnExecutor)
};

namespace {

namespace ScriptHist {
enum : int { Window, Entries, CompKv, CompGate, IndexKeys, IndexKv, IndexGate };
}

// Appends of one Executor::appendStateRows (V4Forward::fusedAppends): 4 items of a CSA block.
constexpr int kMaxFusedAppends = 20;

// ScriptHist numbers BlockState::histories() (anything else: the window, as before).
RowHistory &scriptHistory(BlockState &b, int which)
{
    const auto all = b.histories();
    return *all[which >= 0 && which < static_cast<int>(all.size()) ? which : ScriptHist::Window];
}

const char *scriptOpName(ScriptOp op)
{
    static const char *const names[] = {"tokens",
                                        "positions",
                                        "row index",
                                        "pool slots",
                                        "entry positions",
                                        "visible keys",
                                        "sparse_indices step",
                                        "attention index row",
                                        "forced expert ids",
                                        "recorded bytes",
                                        "append",
                                        "length",
                                        "visible keys + sparse_indices step"};
    return names[static_cast<int>(op)];
}

bool isGenerator(ScriptOp op)
{
    return op != ScriptOp::Append && op != ScriptOp::Length;
}

// The bookkeeping a step script must reproduce, per item and block: the length and every
// history's start, row count, buffer, offset and capacity.
void stateMarks(const std::vector<ForwardItem> &items, std::vector<int64_t> &out)
{
    out.clear();
    for (const ForwardItem &it : items) {
        for (int l = 0; l < it.state->blockCount(); ++l) {
            BlockState &b = it.state->block(l);
            out.push_back(b.length);
            for (int w = ScriptHist::Window; w <= ScriptHist::IndexGate; ++w) {
                const RowHistory &h = scriptHistory(b, w);
                out.push_back(h.begin());
                out.push_back(h.rows());
                out.push_back(h.deviceOffset());
                out.push_back(static_cast<int64_t>(reinterpret_cast<uintptr_t>(h.deviceData())));
                out.push_back(h.capacity());
            }
        }
    }
}

} // namespace

class StepScript
{
public:
    struct Step
    {
        ScriptOp op = ScriptOp::Const;
        uint8_t which = 0; // history (RowIndex, Append); 1 = indexer compressor (PoolSlots)
        int32_t item = -1; // -1: every item
        int32_t block = 0;
        int32_t n = 0;     // rows (RowIndex, Append, Length), ints (AttnRows)
        size_t piece = 0;  // recording: the upload's index among the step's pieces
        size_t offset = 0; // generators: place and size in the upload block
        size_t bytes = 0;
        size_t constAt = 0; // Const: in consts
    };
    struct Readback
    {
        size_t offset = 0, bytes = 0; // in the read-back block
        size_t hostOffset = 0;        // bytes into lastLogits or finalStreams
        bool streams = false;
    };
    const V4Model *model = nullptr;
    size_t items = 0;
    bool logits = false, streams = false;
    std::vector<Step> steps;
    std::vector<uint8_t> consts;
    std::vector<Readback> readbacks;
    size_t uploadBytes = 0, readbackBytes = 0;
};

struct StepScriptRecorder
{
    StepScript script;
    bool ok = true;
    size_t generators = 0;
};

namespace {

// Runs a script on the items' states: generators into `up` (the upload block), actions on the
// states, in the recording's order.
Result<void> runStepScript(const StepScript &s,
                           const V4Model &model,
                           const std::vector<ForwardItem> &items,
                           uint8_t *up)
{
    const ModelConfig &c = model.config();
    const int Wn = c.slidingWindow, K = c.numExpertsPerTok;
    const int nItems = static_cast<int>(items.size());
    for (const StepScript::Step &st : s.steps) {
        if (st.block < 0 || st.block >= c.totalLayers() || st.item >= nItems)
            return fail(Error::Kind::Internal, "step script: a step outside the batch");
        BlockState *b = st.item >= 0 ? &items[static_cast<size_t>(st.item)].state->block(st.block)
                                     : nullptr;
        int32_t *o = isGenerator(st.op) ? reinterpret_cast<int32_t *>(up + st.offset) : nullptr;
        size_t n = 0; // ints written
        switch (st.op) {
        case ScriptOp::Tokens:
            for (const ForwardItem &it : items)
                o[n++] = it.tokens[0];
            break;
        case ScriptOp::Positions:
            for (const ForwardItem &it : items)
                o[n++] = static_cast<int32_t>(it.state->block(st.block).length);
            break;
        case ScriptOp::RowIndex: {
            const RowHistory &h = scriptHistory(*b, st.which);
            if (!h.deviceData())
                return fail(Error::Kind::Internal, "step script: a history without device rows");
            for (int k = 0; k < st.n; ++k)
                o[n++] = static_cast<int32_t>(h.ring() ? (h.end() + k) & (h.capacity() - 1)
                                                       : h.deviceOffset() + h.rows() + k);
            break;
        }
        case ScriptOp::PoolSlots: {
            const int m = b->ratio;
            const int64_t pos = b->length, curStart = pos + 1 - m;
            const bool hasPrev = m == 4 && pos / m > 0;
            const RowHistory &kv = scriptHistory(*b,
                                                 st.which ? ScriptHist::IndexKv
                                                          : ScriptHist::CompKv);
            const RowHistory &g = scriptHistory(*b,
                                                st.which ? ScriptHist::IndexGate
                                                         : ScriptHist::CompGate);
            o[n++] = static_cast<int32_t>(kv.poolIndex(curStart, curStart));
            o[n++] = hasPrev ? static_cast<int32_t>(kv.poolIndex(curStart - m, curStart - m)) : 0;
            o[n++] = static_cast<int32_t>(g.poolIndex(curStart, curStart));
            o[n++] = hasPrev ? static_cast<int32_t>(g.poolIndex(curStart - m, curStart - m)) : 0;
            break;
        }
        case ScriptOp::EntryPositions:
            for (const ForwardItem &it : items) {
                const BlockState &ib = it.state->block(st.block);
                if (ib.ratio && (ib.length + 1) % ib.ratio == 0)
                    o[n++] = static_cast<int32_t>(ib.length / ib.ratio * ib.ratio);
            }
            break;
        case ScriptOp::Visible:
            o[n++] = static_cast<int32_t>((b->length + 1) / b->ratio);
            break;
        case ScriptOp::SparseStep:
            o[n++] = static_cast<int32_t>(b->length);
            o[n++] = static_cast<int32_t>(std::max<int64_t>(0, b->length - Wn + 1));
            break;
        case ScriptOp::VisibleStep:
            o[n++] = static_cast<int32_t>((b->length + 1) / b->ratio);
            o[n++] = static_cast<int32_t>(b->length);
            o[n++] = static_cast<int32_t>(std::max<int64_t>(0, b->length - Wn + 1));
            break;
        case ScriptOp::AttnRows: {
            const int m = b->ratio;
            const int64_t pos = b->length, wStart = std::max<int64_t>(0, pos - Wn + 1);
            const RowHistory &win = b->window;
            if (m == 4) // CSA rows come from the indexer's selections (built on the device)
                return fail(Error::Kind::Internal, "step script: a CSA index row on the host");
            std::fill(o, o + st.n, -1);
            const int nVis = m ? static_cast<int>((pos + 1) / m) : 0;
            if (pos - wStart + 1 + nVis > st.n)
                return fail(Error::Kind::Internal, "step script: an index row overflows");
            for (int64_t p = wStart; p <= pos; ++p)
                o[n++] = static_cast<int32_t>(win.poolIndex(p, wStart));
            const int nPool = static_cast<int>(win.poolSize(wStart, pos + 1));
            for (int e = 0; e < nVis; ++e)
                o[n++] = nPool + e;
            n = static_cast<size_t>(st.n);
            break;
        }
        case ScriptOp::ForcedIds: {
            const BlockWeights &bw = model.block(st.block);
            for (const ForwardItem &it : items) {
                if (bw.hashRouted)
                    std::copy_n(bw.tid2eid.data() + static_cast<int64_t>(it.tokens[0]) * K,
                                K,
                                o + n);
                else
                    std::fill(o + n, o + n + K, 0);
                n += static_cast<size_t>(K);
            }
            break;
        }
        case ScriptOp::Const:
            std::memcpy(o, s.consts.data() + st.constAt, st.bytes);
            n = st.bytes / sizeof(int32_t);
            break;
        case ScriptOp::Append:
            if (!scriptHistory(*b, st.which).advanceStored(st.n))
                return fail(Error::Kind::Internal,
                            "step script: rows appended outside their device buffer");
            break;
        case ScriptOp::Length:
            b->length += st.n;
            break;
        }
        if (o && n * sizeof(int32_t) != st.bytes)
            return fail(Error::Kind::Internal,
                        std::string("step script: ") + scriptOpName(st.op) + " of block "
                            + std::to_string(st.block) + " made " + std::to_string(n * 4)
                            + " bytes, its recording " + std::to_string(st.bytes));
    }
    return {};
}

} // namespace

size_t V4Forward::stagedUploads() const
{
    if (!m_rec)
        return 0;
    const StepPieces *p = m_exec.stepPieces();
    return p ? p->uploads.size() : 0;
}

void V4Forward::scriptGen(size_t before, int op, int item, int block, int which, int n)
{
    if (!m_rec || !m_rec->ok)
        return;
    const size_t now = stagedUploads();
    if (now == before)
        return; // nothing staged: nothing to generate
    if (now != before + 1) {
        m_rec->ok = false; // one generator per staged piece
        return;
    }
    scriptAction(op, item, block, which, n);
    m_rec->script.steps.back().piece = before;
    ++m_rec->generators;
}

void V4Forward::scriptConst(size_t before, const void *bytes, size_t size)
{
    if (!m_rec || !m_rec->ok)
        return;
    const size_t at = m_rec->script.consts.size();
    const size_t steps = m_rec->script.steps.size();
    scriptGen(before, static_cast<int>(ScriptOp::Const), -1, 0);
    if (m_rec->script.steps.size() == steps)
        return;
    m_rec->script.steps.back().constAt = at;
    const auto *b = static_cast<const uint8_t *>(bytes);
    m_rec->script.consts.insert(m_rec->script.consts.end(), b, b + size);
}

void V4Forward::scriptAction(int op, int item, int block, int which, int n)
{
    if (!m_rec)
        return;
    StepScript::Step st;
    st.op = static_cast<ScriptOp>(op);
    st.which = static_cast<uint8_t>(which);
    st.item = item;
    st.block = block;
    st.n = n;
    m_rec->script.steps.push_back(st);
}

Result<void> V4Forward::appendRows(
    RowHistory &h, const float *rows, int64_t count, int item, int block, int which)
{
    const size_t before = stagedUploads();
    FATHOM_TRY(h.appendStored(rows, count));
    if (m_rec && count > 0) {
        scriptGen(before,
                  static_cast<int>(ScriptOp::RowIndex),
                  item,
                  block,
                  which,
                  static_cast<int>(count));
        scriptAction(static_cast<int>(ScriptOp::Append), item, block, which, static_cast<int>(count));
    }
    return {};
}

Result<void> V4Forward::replayScript(const StepScript &script,
                                     const std::vector<ForwardItem> &items,
                                     float *lastLogits,
                                     std::vector<float> *finalStreams)
{
    const ModelConfig &c = m_model.config();
    if (finalStreams) {
        int64_t total = 0;
        for (const ForwardItem &it : items)
            total += it.count;
        finalStreams->resize(static_cast<size_t>(total * c.hcMult * c.hiddenSize));
    }
    m_scriptReadbacks.clear();
    for (const StepScript::Readback &b : script.readbacks) {
        auto *base = reinterpret_cast<uint8_t *>(b.streams ? finalStreams->data() : lastLogits);
        m_scriptReadbacks.push_back({b.offset, b.bytes, base + b.hostOffset});
    }
    FATHOM_TRY_ASSIGN(uint8_t * up,
                      m_exec.replayWithoutWalk(script.uploadBytes,
                                               script.readbackBytes,
                                               m_scriptReadbacks));
    return runStepScript(script, m_model, items, up);
}

struct V4Forward::Batch
{
    struct Item
    {
        SequenceState *state = nullptr;
        BlockState *bs = nullptr;
        const int32_t *tokens = nullptr;
        int64_t start = 0; // position of the first token
        int count = 0;
        int row = 0; // first row in the batch
        int seqId = 0;
    };
    std::vector<Item> items;
    int block = 0;
    int rows = 0;
    std::vector<int32_t> positions; // [rows]
    std::vector<int32_t> tokens;    // [rows]
};

V4Forward::V4Forward(const V4Model &model, Executor &executor)
    : m_model(model)
    , m_exec(executor)
{}

V4Forward::Batch V4Forward::makeBatch(int block, const std::vector<ForwardItem> &items) const
{
    Batch b;
    b.block = block;
    for (size_t i = 0; i < items.size(); ++i) {
        const ForwardItem &it = items[i];
        Batch::Item bi;
        bi.state = it.state;
        bi.bs = &it.state->block(block);
        bi.tokens = it.tokens;
        bi.start = bi.bs->length;
        bi.count = it.count;
        bi.row = b.rows;
        bi.seqId = it.sequenceId;
        for (int t = 0; t < it.count; ++t) {
            b.positions.push_back(static_cast<int32_t>(bi.start + t));
            b.tokens.push_back(it.tokens ? it.tokens[t] : 0);
        }
        b.rows += it.count;
        b.items.push_back(bi);
    }
    return b;
}

// Taps every item's rows of a [rows, ...] tensor in the executor's memory.
// The name (prefix + suffix) and shape are built only when there is a tap: a decode step
// without one (every replayed step) makes no strings or shape vectors here.
static void tapRows(Executor &exec,
                    Tap *tap,
                    const std::string &prefix,
                    const char *suffix,
                    const float *data,
                    int rowSize,
                    std::initializer_list<int64_t> dims,
                    const std::vector<ForwardItem> &items)
{
    if (!tap)
        return;
    const std::string name = prefix + suffix;
    const std::vector<int64_t> shape(dims);
    int64_t rows = 0;
    for (const ForwardItem &it : items)
        rows += it.count;
    std::vector<float> holder;
    auto host = hostValues(exec, data, rows * rowSize, holder);
    if (!host)
        return; // taps serve checks; a failed read-back shows there as a missing tensor
    data = *host;
    int row = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        for (int t = 0; t < items[i].count; ++t, ++row)
            tap->tensor(name,
                        static_cast<int>(i),
                        data + static_cast<int64_t>(row) * rowSize,
                        shape);
    }
}

// One hyper-connected sublayer (spec §3.2): mHC pre-mix of the streams, the sublayer's RMSNorm,
// the sublayer itself (`inner`, from normalised input u to output y) and the mHC post-mix.
// `kind` ("attn" / "ffn") names the golden taps; `outName` the tap of the mixed streams.
Result<void> V4Forward::hyperConnected(const HcWeights &hc,
                                       const std::vector<float> &norm,
                                       const std::string &prefix,
                                       const char *kind,
                                       const char *outName,
                                       const std::vector<ForwardItem> &items,
                                       int rows,
                                       const float *x,
                                       float *out,
                                       Tap *tap,
                                       const SublayerFn &inner)
{
    const ModelConfig &c = m_model.config();
    const int N = rows, n = c.hcMult;
    const int d = static_cast<int>(c.hiddenSize);
    const float eps = static_cast<float>(c.rmsNormEps);
    const std::string name = tap ? prefix + kind : std::string(); // taps only
    // The previous sublayer's post, when it writes this sublayer's input, runs with this pre.
    const bool fold = m_pendingPost.active && m_pendingPost.p.out == x && !tap;
    if (m_pendingPost.active && !fold)
        FATHOM_TRY(flushPost());
    FATHOM_TRY_ASSIGN(Floats pre, floats(m_exec, N * n, "mHC pre weights"));
    FATHOM_TRY_ASSIGN(Floats post, floats(m_exec, N * n, "mHC post weights"));
    FATHOM_TRY_ASSIGN(Floats comb, floats(m_exec, static_cast<int64_t>(N) * n * n, "mHC mixing"));
    FATHOM_TRY_ASSIGN(Floats u, floats(m_exec, static_cast<int64_t>(N) * d, "sublayer input"));
    kernels::MhcPreParams hp;
    hp.x = x;
    hp.fn = hc.fn;
    hp.base = hc.base;
    hp.scale = hc.scale;
    hp.pre = pre.data();
    hp.post = post.data();
    hp.comb = comb.data();
    hp.u = u.data();
    hp.tokens = N;
    hp.n_hc = n;
    hp.d = d;
    hp.sinkhorn_iters = c.hcSinkhornIters;
    hp.norm_eps = eps;
    hp.hc_eps = static_cast<float>(c.hcEps);
    // The pre and the sublayer's RMSNorm of u as one op (no tap reads u between them); folded
    // with the pending post, handed to the sublayer's first op that reads u (mhcchain), which
    // runs it before anything else.
    if (fold) {
        m_pendingPost.first = MhcPostPreOp{m_pendingPost.p, hp, norm.data(), eps};
        m_pendingPost.handed = true;
        m_pendingPost.active = false;
    } else {
        FATHOM_TRY(m_exec.mhcPreNorm(hp, norm.data(), eps));
    }
    tapRows(m_exec, tap, name, "_hc_pre", pre.data(), n, {n}, items);
    tapRows(m_exec, tap, name, "_hc_post", post.data(), n, {n}, items);
    tapRows(m_exec, tap, name, "_hc_comb", comb.data(), n * n, {n, n}, items);
    tapRows(m_exec, tap, name, "_norm_out", u.data(), d, {d}, items);

    FATHOM_TRY_ASSIGN(Floats y, floats(m_exec, static_cast<int64_t>(N) * d, "sublayer output"));
    FATHOM_TRY(inner(u.data(), y.data()));
    if (m_pendingPost.handed) // a sublayer path that read u without running the handed op first
        return fail(Error::Kind::Internal,
                    std::string("the mHC post + pre handed to the ") + kind
                        + " sublayer was not run");

    kernels::MhcPostParams pp;
    pp.x = x;
    pp.y = y.data();
    pp.post = post.data();
    pp.comb = comb.data();
    pp.out = out;
    pp.tokens = N;
    pp.n_hc = n;
    pp.d = d;
    if (m_deferPost && !tap) {
        m_pendingPost.y = std::move(y);
        m_pendingPost.post = std::move(post);
        m_pendingPost.comb = std::move(comb);
        m_pendingPost.p = pp;
        m_pendingPost.active = true;
        return {};
    }
    FATHOM_TRY(m_exec.mhcPost(pp));
    tapRows(m_exec, tap, prefix, outName, out, n * d, {n, d}, items);
    return {};
}

const MhcPostPreOp *V4Forward::handedFirst() const
{
    return m_pendingPost.handed ? &m_pendingPost.first : nullptr;
}

void V4Forward::tookFirst()
{
    if (m_pendingPost.handed)
        m_pendingPost = PendingPost{}; // its buffers go back after the op (stream order)
}

Result<void> V4Forward::runFirst()
{
    if (!m_pendingPost.handed)
        return {};
    const MhcPostPreOp &f = m_pendingPost.first;
    Result<void> r = m_exec.mhcPostPreNorm(f.post, f.pre, f.normWeight, f.eps);
    m_pendingPost = PendingPost{};
    return r;
}

Result<void> V4Forward::flushPost()
{
    if (!m_pendingPost.active)
        return {};
    Result<void> r = m_exec.mhcPost(m_pendingPost.p);
    m_pendingPost = PendingPost{};
    return r;
}

Result<void> V4Forward::attentionSublayer(int block,
                                          const std::vector<ForwardItem> &items,
                                          const float *x,
                                          float *out,
                                          const ForwardOptions &options)
{
    const BlockWeights &bw = m_model.block(block);
    FATHOM_TRY(useExecutorMemory(items));
    const Batch batch = makeBatch(block, items);
    return hyperConnected(bw.hcAttn,
                          bw.attnNorm,
                          bw.prefix,
                          "attn",
                          "attn_streams",
                          items,
                          batch.rows,
                          x,
                          out,
                          options.tap,
                          [&](const float *u, float *y) {
                              return attention(block, batch, u, y, options);
                          });
}

Result<void> V4Forward::ffnSublayer(int block,
                                    const std::vector<ForwardItem> &items,
                                    const float *x,
                                    float *out,
                                    const ForwardOptions &options)
{
    const ModelConfig &c = m_model.config();
    const BlockWeights &bw = m_model.block(block);
    Batch batch = makeBatch(block, items);
    // Called after the attention sublayer of the same tokens extended the block state.
    for (auto &it : batch.items)
        it.start -= it.count;
    for (size_t i = 0, r = 0; i < batch.items.size(); ++i)
        for (int t = 0; t < batch.items[i].count; ++t, ++r)
            batch.positions[r] = static_cast<int32_t>(batch.items[i].start + t);
    const int d = static_cast<int>(c.hiddenSize);
    return hyperConnected(bw.hcFfn,
                          bw.ffnNorm,
                          bw.prefix,
                          "ffn",
                          "out_streams",
                          items,
                          batch.rows,
                          x,
                          out,
                          options.tap,
                          [&](const float *u, float *y) -> Result<void> {
                              FATHOM_TRY(moe(block, batch, u, y, options));
                              tapRows(m_exec, options.tap, bw.prefix, "ffn_out", y, d, {d}, items);
                              return {};
                          });
}

Result<void> V4Forward::runBlock(int block,
                                 const std::vector<ForwardItem> &items,
                                 const float *x,
                                 float *out,
                                 const ForwardOptions &options)
{
    const ModelConfig &c = m_model.config();
    int total = 0;
    for (const ForwardItem &it : items)
        total += it.count;
    FATHOM_TRY_ASSIGN(Floats mid,
                      floats(m_exec,
                             static_cast<int64_t>(total) * c.hcMult * c.hiddenSize,
                             "attention streams"));
    FATHOM_TRY(attentionSublayer(block, items, x, mid.data(), options));
    FATHOM_TRY(ffnSublayer(block, items, mid.data(), out, options));
    // A deferred post reads mid: it lives until the post has run.
    if (m_pendingPost.active && m_pendingPost.p.x == mid.data())
        m_pendingPost.x = std::move(mid);
    return {};
}

Result<void> V4Forward::compressorUpdate(const BlockWeights &bw,
                                         const Batch &batch,
                                         const Floats &a,
                                         Floats &g,
                                         bool indexer,
                                         std::vector<int> &emittedPerItem,
                                         bool appended)
{
    const ModelConfig &c = m_model.config();
    const int m = bw.ratio;
    const int cc = m == 4 ? 2 : 1;
    const int Dc = indexer ? c.indexHeadDim : c.headDim;
    const int W = cc * Dc;
    const int N = batch.rows;
    const int r = c.qkRopeHeadDim;
    // Gate rows + the positional bias of their place in the window (ape); appended: done with
    // the appends (fusedAppends).
    if (!appended) {
        const size_t staged0 = stagedUploads();
        FATHOM_TRY(m_exec.addPeriodicRows(g.data(),
                                          indexer ? bw.idxApe : bw.compApe,
                                          batch.positions.data(),
                                          N,
                                          W,
                                          m));
        scriptGen(staged0, static_cast<int>(ScriptOp::Positions), -1, batch.block);
    }

    int nE = 0;
    emittedPerItem.assign(batch.items.size(), 0);
    for (size_t i = 0; i < batch.items.size(); ++i)
        for (int t = 0; t < batch.items[i].count; ++t)
            if ((batch.items[i].start + t + 1) % m == 0)
                ++emittedPerItem[i];
    for (int e : emittedPerItem)
        nE += e;
    Floats entries;
    if (nE) {
        FATHOM_TRY_ASSIGN(entries,
                          floats(m_exec, static_cast<int64_t>(nE) * Dc, "compressed entries"));
    }
    std::vector<int32_t> entryPos;
    for (size_t i = 0; i < batch.items.size(); ++i) {
        const auto &it = batch.items[i];
        RowHistory &kvH = indexer ? it.bs->indexKv : it.bs->compKv;
        RowHistory &gH = indexer ? it.bs->indexGate : it.bs->compGate;
        const int64_t end = it.start + (appended ? it.count : 0);
        if (kvH.end() != end || gH.end() != end)
            return fail(Error::Kind::Internal,
                        bw.prefix + " compressor state out of step at position "
                            + std::to_string(it.start));
        // All of the item's rows first: an entry reads only rows up to its own position.
        const int item = static_cast<int>(i);
        if (!appended) {
            FATHOM_TRY(appendRows(kvH,
                                  a.data() + static_cast<int64_t>(it.row) * W,
                                  it.count,
                                  item,
                                  batch.block,
                                  indexer ? ScriptHist::IndexKv : ScriptHist::CompKv));
            FATHOM_TRY(appendRows(gH,
                                  g.data() + static_cast<int64_t>(it.row) * W,
                                  it.count,
                                  item,
                                  batch.block,
                                  indexer ? ScriptHist::IndexGate : ScriptHist::CompGate));
        }
        // prefillother: an item closing two or more windows (a prefill, never a recorded decode
        // step) pools runs of entries whose window rows lie in order in the same rows as one
        // executor op (compressorPoolEntries: one launch instead of one, with an upload, an entry).
        bool runs = emittedPerItem[i] >= 2;
        for (int t = 0; t < it.count; ++t) {
            const int64_t pos = it.start + t;
            if ((pos + 1) % m != 0)
                continue;
            const int64_t s = pos / m;
            const int64_t curStart = pos + 1 - m;
            const bool hasPrev = cc == 2 && s > 0;
            if (!kvH.has(hasPrev ? curStart - m : curStart, pos + 1)
                || !kvH.contiguous(curStart, pos + 1) || !gH.contiguous(curStart, pos + 1)
                || (hasPrev
                    && (!kvH.contiguous(curStart - m, curStart)
                        || !gH.contiguous(curStart - m, curStart))))
                return fail(Error::Kind::Internal,
                            bw.prefix + " compressor inputs missing for entry " + std::to_string(s));
            kernels::CompressorPoolParams pp;
            pp.prev_kv = hasPrev ? kvH.row(curStart - m) : nullptr;
            pp.prev_score = hasPrev ? gH.row(curStart - m) : nullptr;
            pp.kv = kvH.row(curStart);
            pp.score = gH.row(curStart);
            pp.out = entries.data() + static_cast<int64_t>(entryPos.size()) * Dc;
            pp.ratio = m;
            pp.dc = Dc;
            pp.overlap = cc == 2 ? kernels::CompressorOverlap::Overlapped
                                 : kernels::CompressorOverlap::None;
            if (runs) {
                int n = 1; // entries of the run: windows [curStart, pos + 1 + (n - 1) * m)
                while (t + n * m < it.count && kvH.has(curStart, pos + 1 + n * m)
                       && kvH.contiguous(curStart, pos + 1 + n * m)
                       && gH.contiguous(curStart, pos + 1 + n * m))
                    ++n;
                if (n >= 2) {
                    FATHOM_TRY_ASSIGN(const bool done, m_exec.compressorPoolEntries(pp, n));
                    if (done) {
                        for (int k = 0; k < n; ++k)
                            entryPos.push_back(static_cast<int32_t>((s + k) * m));
                        t += (n - 1) * m;
                        continue;
                    }
                    runs = false; // not supported: entry by entry
                }
            }
            // Device rings: the rings' bases with the window's slots as data, so a decode step
            // closing a window launches the same whatever the position (a replayable graph).
            bool pooled = false;
            if (!m_exec.hostAddressable() && kvH.ring() && gH.ring() && kvH.deviceData()
                && gH.deviceData()) {
                kernels::CompressorPoolParams rp = pp;
                rp.kv = kvH.deviceData();
                rp.score = gH.deviceData();
                rp.prev_kv = hasPrev ? kvH.deviceData() : nullptr;
                rp.prev_score = hasPrev ? gH.deviceData() : nullptr;
                const int32_t slots[4]
                    = {static_cast<int32_t>(kvH.poolIndex(curStart, curStart)),
                       hasPrev ? static_cast<int32_t>(kvH.poolIndex(curStart - m, curStart - m)) : 0,
                       static_cast<int32_t>(gH.poolIndex(curStart, curStart)),
                       hasPrev ? static_cast<int32_t>(gH.poolIndex(curStart - m, curStart - m)) : 0};
                const size_t before = stagedUploads();
                FATHOM_TRY_ASSIGN(pooled, m_exec.compressorPoolSlots(rp, slots));
                scriptGen(before,
                          static_cast<int>(ScriptOp::PoolSlots),
                          item,
                          batch.block,
                          indexer ? 1 : 0);
            }
            if (!pooled)
                FATHOM_TRY(m_exec.compressorPool(pp));
            entryPos.push_back(static_cast<int32_t>(s * m));
        }
    }
    if (nE == 0)
        return {};
    Ints entryPosOnExec;
    const size_t stagedE = stagedUploads();
    FATHOM_TRY_ASSIGN(const int32_t *entryPositions,
                      opInts(m_exec, entryPos, entryPosOnExec, "compressed entry positions"));
    scriptGen(stagedE, static_cast<int>(ScriptOp::EntryPositions), -1, batch.block);
    // RMSNorm -> RoPE -> (hadamard -> e2m1 | e4m3 of the nope dims) as one op.
    kernels::RowChainParams ec;
    ec.x = entries.data();
    ec.rows = nE;
    ec.dim = Dc;
    ec.norm = kernels::RowNorm::Rms;
    ec.norm_weight = indexer ? bw.idxCompNorm.data() : bw.compNorm.data();
    ec.eps = static_cast<float>(c.rmsNormEps);
    ec.positions = entryPositions;
    ec.freqs = m_model.ropeCompressed().data();
    ec.rope_offset = Dc - r;
    ec.rope_dim = r;
    if (indexer) {
        ec.hadamard_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(Dc)));
        ec.quant = kernels::RowQuant::E2m1;
        ec.quant_dims = Dc;
        ec.quant_block = 32;
    } else {
        ec.quant = kernels::RowQuant::E4m3;
        ec.quant_dims = Dc - r;
        ec.quant_block = 64;
    }
    FATHOM_TRY(m_exec.rowChain(ec));
    int k = 0;
    for (size_t i = 0; i < batch.items.size(); ++i) {
        RowHistory &dst = indexer ? batch.items[i].bs->indexKeys : batch.items[i].bs->entries;
        FATHOM_TRY(appendRows(dst,
                              entries.data() + static_cast<int64_t>(k) * Dc,
                              emittedPerItem[i],
                              static_cast<int>(i),
                              batch.block,
                              indexer ? ScriptHist::IndexKeys : ScriptHist::Entries));
        k += emittedPerItem[i];
    }
    return {};
}

Result<bool> V4Forward::fusedAppends(const BlockWeights &bw,
                                     const Batch &batch,
                                     const float *kv,
                                     float *compKv,
                                     float *compGate,
                                     float *idxKv,
                                     float *idxGate,
                                     const kernels::RowChainParams *chain,
                                     const Executor::ChainsWith *with)
{
    if (!m_exec.fusedStateAppends())
        return false;
    const ModelConfig &c = m_model.config();
    const int m = bw.ratio, D = c.headDim, DI = c.indexHeadDim, cc = m == 4 ? 2 : 1;
    struct Job
    {
        RowHistory *h;
        float *src;
        int width, which, item, first, count;
        const float *ape;
    };
    std::array<Job, kMaxFusedAppends> jobs;
    int n = 0;
    for (size_t i = 0; i < batch.items.size(); ++i) {
        const Batch::Item &it = batch.items[i];
        // A decode step's few rows (prefill keeps the old appends); one launch's segments.
        if (it.count > 4 || n + (m == 4 ? 5 : m ? 3 : 1) > kMaxFusedAppends)
            return false;
        const int item = static_cast<int>(i), r = it.row;
        // The window rows are read only (the old append does not change them either).
        jobs[n++] = {&it.bs->window,
                     const_cast<float *>(kv) + static_cast<int64_t>(r) * D,
                     D,
                     ScriptHist::Window,
                     item,
                     r,
                     it.count,
                     nullptr};
        if (m) {
            const int w = cc * D;
            float *a = compKv + static_cast<int64_t>(r) * w;
            float *g = compGate + static_cast<int64_t>(r) * w;
            jobs[n++] = {&it.bs->compKv, a, w, ScriptHist::CompKv, item, r, it.count, nullptr};
            jobs[n++] = {&it.bs->compGate, g, w, ScriptHist::CompGate, item, r, it.count, bw.compApe};
        }
        if (m == 4) {
            const int w = 2 * DI;
            float *a = idxKv + static_cast<int64_t>(r) * w;
            float *g = idxGate + static_cast<int64_t>(r) * w;
            jobs[n++] = {&it.bs->indexKv, a, w, ScriptHist::IndexKv, item, r, it.count, nullptr};
            jobs[n++]
                = {&it.bs->indexGate, g, w, ScriptHist::IndexGate, item, r, it.count, bw.idxApe};
        }
    }
    // Device rings in step only (the old appends report a history out of step).
    for (int k = 0; k < n; ++k) {
        const RowHistory &h = *jobs[k].h;
        const int64_t start = batch.items[static_cast<size_t>(jobs[k].item)].start;
        if (!h.deviceData() || !h.ring() || h.end() != start || h.width() != jobs[k].width)
            return false;
    }
    std::array<Executor::StateAppend, kMaxFusedAppends> appends;
    for (int k = 0; k < n; ++k) {
        RowHistory &h = *jobs[k].h;
        FATHOM_TRY_ASSIGN(void *dst, h.prepareAppend(jobs[k].count));
        Executor::StateAppend &a = appends[static_cast<size_t>(k)];
        a.dst = dst;
        a.ringRows = h.capacity();
        a.rows = h.packed() ? Executor::StateAppend::Rows::Packed
                 : h.bf16() ? Executor::StateAppend::Rows::Bf16
                            : Executor::StateAppend::Rows::F32;
        a.width = jobs[k].width;
        a.rope = h.packedRope();
        a.src = jobs[k].src;
        a.first = jobs[k].first;
        a.count = jobs[k].count;
        a.ape = jobs[k].ape;
        a.period = m ? m : 1;
    }
    const size_t before = stagedUploads();
    if (chain)
        FATHOM_TRY(m_exec.rowChainAppend(*chain,
                                         appends.data(),
                                         n,
                                         batch.positions.data(),
                                         batch.rows,
                                         with));
    else
        FATHOM_TRY(m_exec.appendStateRows(appends.data(), n, batch.positions.data(), batch.rows));
    scriptGen(before, static_cast<int>(ScriptOp::Positions), -1, batch.block);
    for (int k = 0; k < n; ++k) {
        const Job &j = jobs[k];
        if (!j.h->advanceStored(j.count))
            return fail(Error::Kind::Internal, bw.prefix + ": fused appends outside their rows");
        if (m_rec && j.count > 0)
            scriptAction(static_cast<int>(ScriptOp::Append), j.item, batch.block, j.which, j.count);
    }
    return true;
}

Result<void> V4Forward::attention(
    int block, const Batch &batch, const float *x, float *y, const ForwardOptions &options)
{
    const ModelConfig &c = m_model.config();
    const BlockWeights &bw = m_model.block(block);
    const int N = batch.rows;
    const int H = c.numAttentionHeads, D = c.headDim, r = c.qkRopeHeadDim, nope = D - r;
    const int QL = c.qLoraRank, Wn = c.slidingWindow, m = bw.ratio;
    const float eps = static_cast<float>(c.rmsNormEps);
    const std::vector<float> &freqs = m_model.ropeFor(bw);
    Tap *tap = options.tap;
    std::vector<ForwardItem> tapItems; // taps only
    if (tap)
        for (const auto &it : batch.items)
            tapItems.push_back({it.state, it.tokens, it.count, it.seqId});

    Ints positionsOnExec;
    const size_t stagedP = stagedUploads();
    FATHOM_TRY_ASSIGN(const int32_t *positions,
                      opInts(m_exec, batch.positions, positionsOnExec, "token positions"));
    scriptGen(stagedP, static_cast<int>(ScriptOp::Positions), -1, block);

    // Every projection of x first, as one group (one launch in a decode step): the query and
    // key/value down-projections, the compressors' kv and gate rows, the indexer's head weights.
    FATHOM_TRY_ASSIGN(Floats cq, floats(m_exec, static_cast<int64_t>(N) * QL, "q_lora"));
    FATHOM_TRY_ASSIGN(Floats kv, floats(m_exec, static_cast<int64_t>(N) * D, "kv rows"));
    std::vector<LinearJob> xJobs = {{&bw.wqA, cq.data(), LinearOutput::Bf16},
                                    {&bw.wkv, kv.data(), LinearOutput::Bf16}};
    Floats compKv, compGate, idxKv, idxGate, wi;
    if (m) {
        const int64_t rows = static_cast<int64_t>(N) * (m == 4 ? 2 : 1) * D;
        FATHOM_TRY_ASSIGN(compKv, floats(m_exec, rows, "compressor kv"));
        FATHOM_TRY_ASSIGN(compGate, floats(m_exec, rows, "compressor gate"));
        xJobs.push_back({&bw.compWkv, compKv.data()});
        xJobs.push_back({&bw.compWgate, compGate.data()});
    }
    if (m == 4) {
        const int64_t rows = static_cast<int64_t>(N) * 2 * c.indexHeadDim;
        FATHOM_TRY_ASSIGN(idxKv, floats(m_exec, rows, "indexer compressor kv"));
        FATHOM_TRY_ASSIGN(idxGate, floats(m_exec, rows, "indexer compressor gate"));
        FATHOM_TRY_ASSIGN(wi,
                          floats(m_exec,
                                 static_cast<int64_t>(N) * c.indexNHeads,
                                 "indexer head weights"));
        xJobs.push_back({&bw.idxCompWkv, idxKv.data()});
        xJobs.push_back({&bw.idxCompWgate, idxGate.data()});
        // The head weights scaled by DI^-0.5 HI^-0.5 and rounded to bf16 (scaleRoundBf16) as
        // part of the job (idxchain: a device folds it into the group's epilogue).
        LinearJob wiJob{&bw.idxWeights, wi.data(), LinearOutput::Bf16};
        wiJob.scaleRound = static_cast<float>(std::pow(static_cast<double>(c.indexHeadDim), -0.5)
                                              * std::pow(static_cast<double>(c.indexNHeads), -0.5));
        xJobs.push_back(wiJob);
    }
    // (In a decode step without a tap, as one chain with the query path's group below.)
    if (tap)
        FATHOM_TRY(m_exec.linearGroup(x, N, xJobs));

    // Query path (§3.4).
    kernels::RmsNormParams np;
    np.x = cq.data();
    np.weight = bw.qNorm.data();
    np.y = cq.data();
    np.rows = N;
    np.dim = QL;
    np.eps = eps;
    // ffnnodes: with no tap of the normalised cq, the norm runs inside the group below
    // (normLinearGroup: a device folds it into the GEMVs' staging of cq).
    if (tap) {
        FATHOM_TRY(m_exec.rmsNorm(np));
        tapRows(m_exec, tap, bw.prefix, "q_lora", cq.data(), QL, {QL}, tapItems);
    }
    // The queries and (CSA) the indexer's queries from cq, as one group.
    FATHOM_TRY_ASSIGN(Floats q, floats(m_exec, static_cast<int64_t>(N) * H * D, "queries"));
    std::vector<LinearJob> cqJobs = {{&bw.wqB, q.data(), LinearOutput::Bf16}};
    Floats qi;
    if (m == 4) {
        FATHOM_TRY_ASSIGN(qi,
                          floats(m_exec,
                                 static_cast<int64_t>(N) * c.indexNHeads * c.indexHeadDim,
                                 "indexer queries"));
        cqJobs.push_back({&bw.idxWqB, qi.data(), LinearOutput::Bf16});
    }
    if (tap) {
        FATHOM_TRY(m_exec.linearGroup(cq.data(), N, cqJobs));
    } else {
        // x's projections, then the normalised cq's: a device may run both as one launch.
        std::vector<LinearChainStep> qSteps(2);
        qSteps[0].x = x;
        qSteps[0].jobs = std::move(xJobs);
        qSteps[1].jobs = std::move(cqJobs);
        qSteps[1].norm = &np;
        FATHOM_TRY(m_exec.linearChain(N, qSteps, handedFirst()));
        tookFirst();
    }
    kernels::RopeParams rp;
    rp.x = q.data();
    rp.positions = positions;
    rp.freqs = freqs.data();
    rp.rows = N * H;
    rp.row_stride = D;
    rp.offset = nope;
    rp.rope_dim = r;
    rp.rows_per_position = H;
    // Head norm -> RoPE as one op (Executor::rowChain: one launch on a device).
    kernels::RowChainParams qc = ropeChain(rp);
    qc.norm = kernels::RowNorm::HeadBf16;
    qc.eps = eps;
    // rowchains (session 16): a decode step without taps or replayed routing runs the queries'
    // chain and (CSA) the indexer queries' chain with the kv chain and the block's appends
    // (Executor::rowChainAppend's `with`: one launch on a device). They only read the cq
    // group's rows (q, qi), the positions and the frequencies, so their order does not matter.
    const bool chainsWith = !tap && !options.routing && batch.items.size() <= 4;
    if (!chainsWith)
        FATHOM_TRY(m_exec.rowChain(qc));
    tapRows(m_exec, tap, bw.prefix, "q", q.data(), H * D, {H, D}, tapItems);

    // Key/value path.
    // RMSNorm -> RoPE -> e4m3 of the nope dims as one op.
    rp.x = kv.data();
    rp.rows = N;
    rp.rows_per_position = 1;
    kernels::RowChainParams kc = ropeChain(rp);
    kc.norm = kernels::RowNorm::Rms;
    kc.norm_weight = bw.kvNorm.data();
    kc.eps = eps;
    kc.quant = kernels::RowQuant::E4m3;
    kc.quant_dims = nope;
    kc.quant_block = 64;
    // The indexer queries' chain (CSA): RoPE -> hadamard -> e2m1 as one op.
    kernels::RowChainParams ic;
    if (m == 4) {
        const int HI = c.indexNHeads, DI = c.indexHeadDim;
        kernels::RopeParams ip;
        ip.x = qi.data();
        ip.positions = positions;
        ip.freqs = m_model.ropeCompressed().data();
        ip.rows = N * HI;
        ip.row_stride = DI;
        ip.offset = DI - r;
        ip.rope_dim = r;
        ip.rows_per_position = HI;
        ic = ropeChain(ip);
        ic.hadamard_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(DI)));
        ic.quant = kernels::RowQuant::E2m1;
        ic.quant_dims = DI;
        ic.quant_block = 32;
    }
    Executor::ChainsWith with;
    with.chains[with.count++] = &qc;
    if (m == 4)
        with.chains[with.count++] = &ic;
    // Asked for in L2 by that launch (a device's): the attention output's weights, which the
    // latency-bound launches up to the attention (~4-6 of them) leave DRAM idle for.
    with.prefetch[0] = &bw.woA;
    with.prefetch[1] = &bw.woB;
    // The block's appends with the kv chain as one op where the executor has it (fusedAppends),
    // else the chain, then the appends one by one.
    FATHOM_TRY_ASSIGN(const bool appended,
                      fusedAppends(bw,
                                   batch,
                                   kv.data(),
                                   compKv.data(),
                                   compGate.data(),
                                   idxKv.data(),
                                   idxGate.data(),
                                   &kc,
                                   chainsWith ? &with : nullptr));
    // The chains `with` ran with the kv chain (appended): none of them again below.
    const bool chainsRan = chainsWith && appended;
    if (chainsWith && !appended)
        FATHOM_TRY(m_exec.rowChain(qc));
    if (!appended)
        FATHOM_TRY(m_exec.rowChain(kc));
    tapRows(m_exec, tap, bw.prefix, "kv", kv.data(), D, {D}, tapItems);
    for (size_t i = 0; !appended && i < batch.items.size(); ++i) {
        const auto &it = batch.items[i];
        if (it.bs->window.end() != it.start)
            return fail(Error::Kind::Internal, bw.prefix + " window out of step");
        FATHOM_TRY(appendRows(it.bs->window,
                              kv.data() + static_cast<int64_t>(it.row) * D,
                              it.count,
                              static_cast<int>(i),
                              block,
                              ScriptHist::Window));
    }

    std::vector<int> emitted;
    if (m)
        FATHOM_TRY(compressorUpdate(bw, batch, compKv, compGate, false, emitted, appended));

    // Lightning indexer (CSA): per token the selected compressed entries.
    const int topk = c.indexTopk;
    std::vector<int32_t> selected; // [N, topk], -1 padded
    Ints selOnExec;                // the same in executor memory (indexerSelectOnExecutor)
    bool selectedOnExec = false;
    // A CSA item's attention index rows in executor memory [count, Wn + topk] (idxchain: a
    // decode item's built with its selection, indexerSparseOnExecutor; else by
    // sparseIndicesOnExecutor below).
    std::vector<Ints> idxRows(batch.items.size());
    std::vector<char> idxBuilt(batch.items.size(), 0);
    if (m == 4) {
        FATHOM_TRY(compressorUpdate(bw, batch, idxKv, idxGate, true, emitted, appended));
        const int HI = c.indexNHeads, DI = c.indexHeadDim;
        if (!chainsRan)
            FATHOM_TRY(m_exec.rowChain(ic));
        // wi was scaled and rounded by the x group (LinearJob::scaleRound).

        selected.assign(static_cast<size_t>(N) * topk, -1);
        // One score row and one top-k row, reused by every token (sized for the last one).
        int maxVis = 0;
        for (const auto &it : batch.items)
            maxVis = std::max(maxVis, static_cast<int>((it.start + it.count) / m));
        Floats scores;
        Ints ownOnExec;
        // Only the per-token path below (taps, replayed routing) uses them; a decode step's
        // allocations then do not depend on its position (a replayed step graph reuses the
        // recording's blocks).
        if (maxVis && (tap || options.routing)) {
            FATHOM_TRY_ASSIGN(scores, floats(m_exec, maxVis, "indexer scores"));
            FATHOM_TRY_ASSIGN(ownOnExec, Ints::make(m_exec, topk, "indexer selection"));
        }
        std::vector<float> scoresHolder;
        std::vector<int32_t> ownHolder;
        std::vector<int32_t> pick(topk);
        for (size_t i = 0; i < batch.items.size(); ++i) {
            const auto &it = batch.items[i];
            if (!tap && !options.routing && it.count > 0) {
                // Every token of the item in one call (a device executor then reads the
                // selections back once per item instead of once per token).
                const int lastVis = static_cast<int>((it.start + it.count) / m);
                if (lastVis > 0 && !it.bs->indexKeys.has(0, lastVis))
                    return fail(Error::Kind::Internal, bw.prefix + " indexer keys missing");
                std::vector<int32_t> visible(static_cast<size_t>(it.count));
                for (int t = 0; t < it.count; ++t)
                    visible[t] = static_cast<int32_t>((it.start + t + 1) / m);
                kernels::IndexerScoreParams sp;
                sp.q = qi.data() + static_cast<int64_t>(it.row) * HI * DI;
                sp.weights = wi.data() + static_cast<int64_t>(it.row) * HI;
                sp.keys = lastVis > 0 ? it.bs->indexKeys.row(0) : nullptr;
                sp.keys_bf16 = lastVis > 0 ? it.bs->indexKeys.rowBf16(0) : nullptr;     // bf16state
                sp.keys_packed = lastVis > 0 ? it.bs->indexKeys.rowPacked(0) : nullptr; // packedkv
                sp.n_heads = HI;
                sp.dim = DI;
                sp.n_keys = lastVis;
                if (!m_exec.hostAddressable()) {
                    // A device executor may keep the selections (no read-back).
                    if (!selOnExec.data()) {
                        FATHOM_TRY_ASSIGN(selOnExec,
                                          Ints::make(m_exec,
                                                     static_cast<int64_t>(N) * topk,
                                                     "indexer selections"));
                    }
                    // Keys in executor memory: the cache's whole capacity, each row limited by
                    // its visible count, so the launch stays the same as entries are added.
                    kernels::IndexerScoreParams kp = sp;
                    if (it.bs->indexKeys.memory()) {
                        kp.keys = it.bs->indexKeys.row(0);
                        kp.keys_bf16 = it.bs->indexKeys.rowBf16(0);
                        kp.keys_packed = it.bs->indexKeys.rowPacked(0);
                        kp.n_keys = static_cast<int>(it.bs->indexKeys.capacity());
                    }
                    int32_t *itemSel = selOnExec.data() + static_cast<int64_t>(it.row) * topk;
                    // idxchain: a decode item's index row from the selection's own launches.
                    const RowHistory &win = it.bs->window;
                    const int64_t wStart = std::max<int64_t>(0, it.start - Wn + 1);
                    if (it.count == 1 && win.has(wStart, it.start + it.count)) {
                        Executor::SparseIndexJob job;
                        job.nIdx = Wn + topk;
                        FATHOM_TRY_ASSIGN(idxRows[i],
                                          Ints::make(m_exec,
                                                     static_cast<int64_t>(it.count) * job.nIdx,
                                                     "attention indices"));
                        job.out = idxRows[i].data();
                        job.start = it.start;
                        job.windowStart = wStart;
                        job.window = Wn;
                        job.nWin = static_cast<int>(win.poolSize(wStart, it.start + it.count));
                        job.ringRows = win.ring() && win.memory() ? job.nWin : 0;
                        const size_t stagedVS = stagedUploads();
                        FATHOM_TRY_ASSIGN(const bool fused,
                                          m_exec.indexerSparseOnExecutor(kp,
                                                                         it.count,
                                                                         visible.data(),
                                                                         topk,
                                                                         itemSel,
                                                                         job));
                        if (fused) {
                            scriptGen(stagedVS,
                                      static_cast<int>(ScriptOp::VisibleStep),
                                      static_cast<int>(i),
                                      block);
                            selectedOnExec = true;
                            idxBuilt[i] = 1;
                            continue;
                        }
                    }
                    const size_t stagedV = stagedUploads();
                    FATHOM_TRY_ASSIGN(const bool kept,
                                      m_exec.indexerSelectOnExecutor(kp,
                                                                     it.count,
                                                                     visible.data(),
                                                                     topk,
                                                                     selOnExec.data()
                                                                         + static_cast<int64_t>(
                                                                               it.row)
                                                                               * topk));
                    if (kept) {
                        scriptGen(stagedV,
                                  static_cast<int>(ScriptOp::Visible),
                                  static_cast<int>(i),
                                  block);
                        selectedOnExec = true;
                        continue;
                    }
                }
                FATHOM_TRY(
                    m_exec.indexerSelect(sp,
                                         it.count,
                                         visible.data(),
                                         topk,
                                         selected.data() + static_cast<int64_t>(it.row) * topk));
                continue;
            }
            for (int t = 0; t < it.count; ++t) {
                const int64_t pos = it.start + t;
                const int64_t row = it.row + t;
                const int nVis = static_cast<int>((pos + 1) / m);
                const int k = std::min(topk, nVis);
                int32_t *sel = selected.data() + row * topk;
                if (options.routing
                    && options.routing->indexerTopk(block, it.seqId, pos, pick.data(), topk)) {
                    int j = 0;
                    for (int32_t s : pick)
                        if (s >= 0 && s < nVis && j < topk)
                            sel[j++] = s;
                    if (!tap)
                        continue;
                }
                if (nVis == 0)
                    continue;
                if (!it.bs->indexKeys.has(0, nVis))
                    return fail(Error::Kind::Internal, bw.prefix + " indexer keys missing");
                kernels::IndexerScoreParams sp;
                sp.q = qi.data() + row * HI * DI;
                sp.weights = wi.data() + row * HI;
                sp.keys = it.bs->indexKeys.row(0);
                sp.keys_bf16 = it.bs->indexKeys.rowBf16(0);
                sp.keys_packed = it.bs->indexKeys.rowPacked(0);
                sp.scores = scores.data();
                sp.n_heads = HI;
                sp.dim = DI;
                sp.n_keys = nVis;
                FATHOM_TRY(m_exec.indexerScores(sp));
                FATHOM_TRY(m_exec.topk(scores.data(), nVis, k, ownOnExec.data()));
                // The selection builds the attention indices on the host.
                FATHOM_TRY_ASSIGN(const int32_t *own,
                                  hostValues<int32_t>(m_exec, ownOnExec.data(), k, ownHolder));
                if (tap) {
                    FATHOM_TRY_ASSIGN(const float *hostScores,
                                      hostValues<float>(m_exec, scores.data(), nVis, scoresHolder));
                    tap->tensor(bw.prefix + "indexer_scores",
                                static_cast<int>(i),
                                hostScores,
                                {nVis});
                    tap->ids(bw.prefix + "indexer_topk", static_cast<int>(i), own, {k});
                }
                if (sel[0] < 0)
                    std::copy(own, own + k, sel);
            }
        }
    }

    // Sparse attention over window rows + compressed entries (§3.5, §3.8).
    FATHOM_TRY_ASSIGN(Floats o, floats(m_exec, static_cast<int64_t>(N) * H * D, "attention output"));
    std::vector<int32_t> &idx = m_attentionIndices;
    for (size_t i = 0; i < batch.items.size(); ++i) {
        const auto &it = batch.items[i];
        const int64_t end = it.start + it.count;
        const int64_t wStart = std::max<int64_t>(0, it.start - Wn + 1);
        if (!it.bs->window.has(wStart, end))
            return fail(Error::Kind::Internal, bw.prefix + " window rows missing");
        const int nEnt = m ? static_cast<int>(it.bs->entries.end()) : 0;
        if (m && nEnt > 0 && it.bs->entries.begin() != 0)
            return fail(Error::Kind::Internal, bw.prefix + " compressed entries missing");
        // Entries in executor memory are read over the cache's capacity (indices reach only the
        // visible ones; other layers' rows end in -1), so the launches stay the same as entries
        // are added (a replayable decode-step graph). -1 columns at the end leave the
        // attention's blocks, and so its bits, unchanged.
        const bool extPool = m && it.bs->entries.memory();
        const int nExt = extPool ? static_cast<int>(it.bs->entries.capacity()) : nEnt;
        const int nCmp = m == 0 ? 0 : (m == 4 ? topk : nExt);
        const int nIdx = Wn + nCmp;
        // The window rows as a gather pool (a device ring: the whole ring at a fixed address,
        // rows by slot; else the rows [wStart, end) themselves); compressed entries follow it.
        const RowHistory &win = it.bs->window;
        const int nPool = static_cast<int>(win.poolSize(wStart, end));
        const int64_t ring = win.ring() && win.memory() ? nPool : 0;
        Ints &idxOnExec = idxRows[i];
        const int32_t *idxForOp = nullptr;
        if (selectedOnExec && idxBuilt[i]) {
            idxForOp = idxOnExec.data(); // with the selection (indexerSparseOnExecutor)
        } else if (selectedOnExec) {
            if (!idxOnExec.data()) {
                FATHOM_TRY_ASSIGN(idxOnExec,
                                  Ints::make(m_exec,
                                             static_cast<int64_t>(it.count) * nIdx,
                                             "attention indices"));
            }
            const size_t stagedS = stagedUploads();
            FATHOM_TRY_ASSIGN(const bool built,
                              m_exec.sparseIndicesOnExecutor(idxOnExec.data(),
                                                             it.count,
                                                             nIdx,
                                                             it.start,
                                                             wStart,
                                                             Wn,
                                                             nPool,
                                                             m,
                                                             selOnExec.data()
                                                                 + static_cast<int64_t>(it.row)
                                                                       * topk,
                                                             topk,
                                                             ring));
            if (!built)
                return fail(Error::Kind::Internal,
                            bw.prefix
                                + " indexer selections kept on the executor without an "
                                  "index builder");
            scriptGen(stagedS, static_cast<int>(ScriptOp::SparseStep), static_cast<int>(i), block);
            idxForOp = idxOnExec.data();
        }
        idx.assign(selectedOnExec ? 0 : static_cast<size_t>(it.count) * nIdx, -1);
        for (int t = 0; t < it.count && !selectedOnExec; ++t) {
            const int64_t pos = it.start + t;
            int32_t *row = idx.data() + static_cast<int64_t>(t) * nIdx;
            int j = 0;
            for (int64_t p = std::max<int64_t>(0, pos - Wn + 1); p <= pos; ++p)
                row[j++] = static_cast<int32_t>(win.poolIndex(p, wStart));
            if (m == 4) {
                const int32_t *sel = selected.data() + (it.row + t) * static_cast<int64_t>(topk);
                for (int k = 0; k < topk; ++k)
                    if (sel[k] >= 0)
                        row[j++] = nPool + sel[k];
            } else if (m) {
                const int nVis = static_cast<int>((pos + 1) / m);
                for (int s = 0; s < nVis; ++s)
                    row[j++] = nPool + s;
            }
        }
        if (!selectedOnExec) {
            const size_t stagedI = stagedUploads();
            FATHOM_TRY_ASSIGN(idxForOp, opInts(m_exec, idx, idxOnExec, "attention indices"));
            scriptGen(stagedI,
                      static_cast<int>(ScriptOp::AttnRows),
                      static_cast<int>(i),
                      block,
                      0,
                      it.count * nIdx);
        }
        kernels::SparseAttnParams ap;
        ap.q = q.data() + static_cast<int64_t>(it.row) * H * D;
        ap.kv = win.poolBase(wStart);
        ap.kv_bf16 = win.poolBaseBf16(wStart); // bf16state: device rows in bf16 (else nullptr)
        ap.n_kv = nPool;
        ap.kv_ext = extPool || nEnt ? it.bs->entries.row(0) : nullptr;
        ap.kv_ext_bf16 = extPool || nEnt ? it.bs->entries.rowBf16(0) : nullptr;
        ap.kv_packed = win.poolBasePacked(wStart); // packedkv: packed device rows (else nullptr)
        ap.kv_ext_packed = extPool || nEnt ? it.bs->entries.rowPacked(0) : nullptr;
        ap.kv_rope = c.qkRopeHeadDim;
        ap.n_kv_ext = nExt;
        ap.idx = idxForOp;
        ap.sink = bw.attnSink;
        ap.out = o.data() + static_cast<int64_t>(it.row) * H * D;
        ap.n_q = it.count;
        ap.n_heads = H;
        ap.head_dim = D;
        ap.n_idx = nIdx;
        ap.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
        // The output's inverse RoPE in the attention op (one launch on a device); a tap keeps
        // the separate rope below ("attn_core_out" is the output before it).
        if (!tap) {
            ap.out_rope_positions = positions + it.row;
            ap.out_rope_freqs = freqs.data();
            ap.out_rope_dim = r;
        }
        FATHOM_TRY(m_exec.sparseAttention(ap));
    }
    tapRows(m_exec, tap, bw.prefix, "attn_core_out", o.data(), H * D, {H, D}, tapItems);
    if (tap) {
        rp.x = o.data();
        rp.rows = N * H;
        rp.rows_per_position = H;
        rp.direction = kernels::RopeDirection::Inverse;
        FATHOM_TRY(m_exec.rope(rp));
    }
    tapRows(m_exec, tap, bw.prefix, "attn_out_derotated", o.data(), H * D, {H, D}, tapItems);

    // Grouped low-rank output projection.
    const int G = c.oGroups, OL = c.oLoraRank, hpg = H / G;
    if (bw.woA.type != kernels::linear_weight_type::bf16)
        return fail(Error::Kind::Unsupported, bw.prefix + "attn.wo_a must be BF16 after loading");
    FATHOM_TRY_ASSIGN(Floats rg,
                      floats(m_exec, static_cast<int64_t>(N) * G * OL, "grouped output lora"));
    // Group gi: its heads' columns of o times its block of wo_a, as one group of linears over
    // the same rows (one launch in a decode step).
    std::vector<LinearWeight> subs(G, bw.woA);
    std::vector<LinearJob> groups(G);
    for (int gi = 0; gi < G; ++gi) {
        subs[gi].weight = static_cast<const uint16_t *>(bw.woA.weight)
                          + static_cast<int64_t>(gi) * OL * hpg * D;
        subs[gi].outFeatures = OL;
        subs[gi].inFeatures = hpg * D;
        groups[gi] = {&subs[gi],
                      rg.data() + static_cast<int64_t>(gi) * OL,
                      LinearOutput::Bf16,
                      static_cast<int64_t>(G) * OL,
                      o.data() + static_cast<int64_t>(gi) * hpg * D};
    }
    // Then wo_b on the groups' rows; a device may run both as one launch (linearChain).
    std::vector<LinearChainStep> woSteps(2);
    woSteps[0].x = o.data();
    woSteps[0].ldx = static_cast<int64_t>(H) * D;
    woSteps[0].jobs = std::move(groups);
    woSteps[1].x = rg.data();
    woSteps[1].jobs = {{&bw.woB, y, LinearOutput::Bf16}};
    FATHOM_TRY(m_exec.linearChain(N, woSteps));
    tapRows(m_exec,
            tap,
            bw.prefix,
            "attn_out",
            y,
            static_cast<int>(c.hiddenSize),
            {c.hiddenSize},
            tapItems);

    for (size_t i = 0; i < batch.items.size(); ++i) {
        const auto &it = batch.items[i];
        it.bs->length = it.start + it.count;
        if (m_rec)
            scriptAction(static_cast<int>(ScriptOp::Length), static_cast<int>(i), block, 0, it.count);
        if (!tap)
            continue;
        const int64_t end = it.bs->length;
        const int64_t ws = std::max<int64_t>(0, end - Wn);
        std::vector<float> holder(static_cast<size_t>((end - ws) * D));
        FATHOM_TRY(it.bs->window.rowsToHost(ws, end, holder.data())); // a device ring may wrap
        tap->tensor(bw.prefix + "window_kv", static_cast<int>(i), holder.data(), {end - ws, D});
        // Caches through rowsToHost: device rows may be bf16 (widened back to fp32).
        if (m && it.bs->entries.rows()) {
            const RowHistory &h = it.bs->entries;
            holder.resize(static_cast<size_t>(h.rows() * D));
            FATHOM_TRY(h.rowsToHost(h.begin(), h.end(), holder.data()));
            tap->tensor(bw.prefix + "compressed_kv",
                        static_cast<int>(i),
                        holder.data(),
                        {h.rows(), D});
        }
        if (m == 4 && it.bs->indexKeys.rows()) {
            const RowHistory &h = it.bs->indexKeys;
            holder.resize(static_cast<size_t>(h.rows() * c.indexHeadDim));
            FATHOM_TRY(h.rowsToHost(h.begin(), h.end(), holder.data()));
            tap->tensor(bw.prefix + "indexer_compressed_k",
                        static_cast<int>(i),
                        holder.data(),
                        {h.rows(), c.indexHeadDim});
        }
    }
    return {};
}

Result<void> V4Forward::moe(
    int block, const Batch &batch, const float *x, float *y, const ForwardOptions &options)
{
    const ModelConfig &c = m_model.config();
    const BlockWeights &bw = m_model.block(block);
    const int N = batch.rows, E = c.nRoutedExperts, K = c.numExpertsPerTok;
    const int d = static_cast<int>(c.hiddenSize), I = static_cast<int>(c.moeIntermediateSize);
    Tap *tap = options.tap;

    FATHOM_TRY_ASSIGN(Floats logits, floats(m_exec, static_cast<int64_t>(N) * E, "gate logits"));
    FATHOM_TRY_ASSIGN(Ints ids, Ints::make(m_exec, static_cast<int64_t>(N) * K, "expert ids"));
    FATHOM_TRY_ASSIGN(Floats weights,
                      floats(m_exec, static_cast<int64_t>(N) * K, "routing weights"));
    FATHOM_TRY_ASSIGN(Floats sel, floats(m_exec, static_cast<int64_t>(N) * E, "selection scores"));

    // Forced experts per row (replayed decisions, hash layers); runs of rows that are all forced
    // or all free are routed in one call each (the op is row by row).
    std::vector<int32_t> forced(static_cast<size_t>(N) * K, 0);
    std::vector<uint8_t> isForced(static_cast<size_t>(N), 0);
    for (const auto &it : batch.items) {
        for (int t = 0; t < it.count; ++t) {
            const int64_t row = it.row + t;
            int32_t *f = forced.data() + row * K;
            if (options.routing
                && options.routing->moeExperts(block, it.seqId, it.start + t, f, K)) {
                isForced[row] = 1;
            } else if (bw.hashRouted) {
                const int32_t tok = batch.tokens[row];
                if (tok < 0 || tok >= c.vocabSize)
                    return fail(Error::Kind::InvalidArgument,
                                "token id " + std::to_string(tok) + " outside the vocabulary");
                std::copy_n(bw.tid2eid.data() + static_cast<int64_t>(tok) * K, K, f);
                isForced[row] = 1;
            }
        }
    }
    // The expert part of the layer as one executor op (moeOnDevice / gateMoeOnDevice).
    auto moeJob = [&] {
        MoeDeviceJob job;
        job.experts = bw.experts.data();
        job.shared = &bw.shared;
        job.nExperts = static_cast<int>(bw.experts.size());
        job.x = x;
        job.ids = ids.data();
        job.weights = weights.data();
        job.y = y;
        job.rows = N;
        job.k = K;
        job.d = d;
        job.inter = I;
        job.limit = static_cast<float>(c.swigluLimit);
        return job;
    };
    // gate: rows that are all forced or all free (one routing call) and no taps: the gate and the
    // routing as one executor op (a device runs them as one launch at decode); else the gate
    // here, in its old place among the executor's ops, and the routing run by run.
    const bool gateRoute = N > 0 && !tap
                           && std::all_of(isForced.begin(), isForced.end(), [&](uint8_t f) {
                                  return f == isForced[0];
                              });
    if (!gateRoute) {
        FATHOM_TRY(runFirst()); // mhcchain: x is the handed op's u
        FATHOM_TRY(m_exec.linear(bw.gate, x, N, logits.data(), LinearOutput::F32));
    }
    Ints forcedOnExec;
    const size_t stagedF = stagedUploads();
    FATHOM_TRY_ASSIGN(const int32_t *forcedForOp,
                      opInts(m_exec, forced, forcedOnExec, "forced expert ids"));
    scriptGen(stagedF, static_cast<int>(ScriptOp::ForcedIds), -1, block);
    for (int r0 = 0; r0 < N;) {
        int r1 = r0 + 1;
        while (r1 < N && isForced[r1] == isForced[r0])
            ++r1;
        kernels::MoeRouteParams mp;
        mp.logits = logits.data() + static_cast<int64_t>(r0) * E;
        mp.bias = bw.gateBias;
        mp.select_scores = sel.data() + static_cast<int64_t>(r0) * E;
        mp.ids = ids.data() + static_cast<int64_t>(r0) * K;
        mp.weights = weights.data() + static_cast<int64_t>(r0) * K;
        mp.forced_ids = isForced[r0] ? forcedForOp + static_cast<int64_t>(r0) * K : nullptr;
        mp.tokens = r1 - r0;
        mp.n_experts = E;
        mp.topk = K;
        mp.route_scale = static_cast<float>(c.routedScalingFactor);
        if (gateRoute) { // one run: r0 == 0, r1 == N
            // moechain: the gate, the routing and the experts as one executor op where it has
            // one (gateRoute: no tap).
            FATHOM_TRY_ASSIGN(const bool done,
                              m_exec.gateMoeOnDevice(bw.gate,
                                                     x,
                                                     logits.data(),
                                                     mp,
                                                     moeJob(),
                                                     handedFirst()));
            tookFirst(); // run in every case
            if (done)
                return {};
            FATHOM_TRY(m_exec.gateRoute(bw.gate, x, logits.data(), mp));
        } else {
            FATHOM_TRY(m_exec.moeRoute(mp));
        }
        r0 = r1;
    }
    // A device executor may group the rows by expert itself (no read-back of the ids).
    if (!tap) {
        FATHOM_TRY_ASSIGN(const bool done, m_exec.moeOnDevice(moeJob()));
        if (done)
            return {};
    }
    // Rows are grouped by expert on the host.
    std::vector<int32_t> idsHolder;
    FATHOM_TRY_ASSIGN(const int32_t *hostIds,
                      hostValues<int32_t>(m_exec, ids.data(), ids.size(), idsHolder));
    if (tap) {
        std::vector<ForwardItem> tapItems;
        for (const auto &it : batch.items)
            tapItems.push_back({it.state, it.tokens, it.count, it.seqId});
        if (!bw.hashRouted)
            tapRows(m_exec, tap, bw.prefix, "moe_select_scores", sel.data(), E, {E}, tapItems);
        tapRows(m_exec, tap, bw.prefix, "moe_expert_weights", weights.data(), K, {K}, tapItems);
        int row = 0;
        for (size_t i = 0; i < tapItems.size(); ++i)
            for (int t = 0; t < tapItems[i].count; ++t, ++row)
                tap->ids(bw.prefix + "moe_expert_ids",
                         static_cast<int>(i),
                         hostIds + static_cast<int64_t>(row) * K,
                         {K});
    }

    // Shared expert (no routing weight) and the routed experts, each over its gathered rows:
    // the (row, slot) pairs sorted by expert, rows of x and routing weights gathered in that
    // order, expert outputs scattered back to [row, slot, d].
    FATHOM_TRY_ASSIGN(Floats ys, floats(m_exec, static_cast<int64_t>(N) * d, "shared expert out"));
    std::vector<ExpertJob> jobs;
    jobs.push_back({&bw.shared.w1, &bw.shared.w2, &bw.shared.w3, x, nullptr, ys.data(), N});
    std::vector<int> firstOf(E + 1, 0);
    for (int64_t i = 0; i < static_cast<int64_t>(N) * K; ++i)
        ++firstOf[hostIds[i] + 1];
    for (int e = 0; e < E; ++e)
        firstOf[e + 1] += firstOf[e];
    const int NK = N * K;
    std::vector<int32_t> srcRow(NK), slotIndex(NK); // slotIndex = row * K + slot
    {
        std::vector<int> fill(firstOf.begin(), firstOf.end() - 1);
        for (int rI = 0; rI < N; ++rI)
            for (int j = 0; j < K; ++j) {
                const int e = hostIds[static_cast<size_t>(rI) * K + j];
                const int at = fill[e]++;
                srcRow[at] = rI;
                slotIndex[at] = rI * K + j;
            }
    }
    FATHOM_TRY_ASSIGN(Floats xe, floats(m_exec, static_cast<int64_t>(NK) * d, "expert inputs"));
    FATHOM_TRY_ASSIGN(Floats we, floats(m_exec, NK, "expert row weights"));
    FATHOM_TRY_ASSIGN(Floats ye, floats(m_exec, static_cast<int64_t>(NK) * d, "expert outputs"));
    FATHOM_TRY(m_exec.gatherRows(xe.data(), x, srcRow.data(), NK, d));
    FATHOM_TRY(m_exec.gatherRows(we.data(), weights.data(), slotIndex.data(), NK, 1));
    for (int e = 0; e < E; ++e) {
        const int ne = firstOf[e + 1] - firstOf[e];
        if (!ne)
            continue;
        const int64_t at = firstOf[e];
        const ExpertWeights &ew = bw.experts[static_cast<size_t>(e)];
        jobs.push_back(
            {&ew.w1, &ew.w2, &ew.w3, xe.data() + at * d, we.data() + at, ye.data() + at * d, ne});
    }
    FATHOM_TRY(m_exec.expertFfn(jobs, I, static_cast<float>(c.swigluLimit)));
    FATHOM_TRY_ASSIGN(Floats yr,
                      floats(m_exec, static_cast<int64_t>(NK) * d, "routed outputs by slot"));
    FATHOM_TRY(m_exec.scatterRows(yr.data(), ye.data(), slotIndex.data(), NK, d));
    // fp32 sum in the reference's order: routed experts by increasing id, then the shared one.
    return m_exec.moeCombine(y, yr.data(), ys.data(), hostIds, N, K, d);
}

Result<void> V4Forward::headLogits(
    const float *streams, int rows, float *logits, int mtpBlock, Tap *tap)
{
    const ModelConfig &c = m_model.config();
    const int d = static_cast<int>(c.hiddenSize);
    const bool mtp = mtpBlock >= 0;
    const HcWeights &hw = mtp ? m_model.block(mtpBlock).hcHead : m_model.hcHead();
    const std::vector<float> &norm = mtp ? m_model.block(mtpBlock).norm : m_model.norm();
    const std::string prefix = mtp ? m_model.block(mtpBlock).prefix : std::string();
    FATHOM_TRY_ASSIGN(Floats u, floats(m_exec, static_cast<int64_t>(rows) * d, "head input"));
    kernels::MhcHeadParams hp;
    hp.x = streams;
    hp.fn = hw.fn;
    hp.base = hw.base;
    hp.scale = hw.scale;
    hp.u = u.data();
    hp.tokens = rows;
    hp.n_hc = c.hcMult;
    hp.d = d;
    hp.norm_eps = static_cast<float>(c.rmsNormEps);
    hp.hc_eps = static_cast<float>(c.hcEps);
    FATHOM_TRY(m_exec.mhcHead(hp));
    std::vector<float> holder;
    if (tap) {
        FATHOM_TRY_ASSIGN(const float *hu, hostValues<float>(m_exec, u.data(), u.size(), holder));
        for (int i = 0; i < rows; ++i)
            tap->tensor(prefix + "hc_head_out", i, hu + static_cast<int64_t>(i) * d, {d});
    }
    kernels::RmsNormParams np;
    np.x = u.data();
    np.weight = norm.data();
    np.y = u.data();
    np.rows = rows;
    np.dim = d;
    np.eps = static_cast<float>(c.rmsNormEps);
    if (!tap) // ffnnodes: the norm in the head's launch (normLinearGroup)
        return m_exec.normLinearGroup(np, {{&m_model.head(), logits, LinearOutput::F32}});
    FATHOM_TRY(m_exec.rmsNorm(np));
    if (tap) {
        FATHOM_TRY_ASSIGN(const float *hu, hostValues<float>(m_exec, u.data(), u.size(), holder));
        for (int i = 0; i < rows; ++i)
            tap->tensor(prefix + "final_norm_out", i, hu + static_cast<int64_t>(i) * d, {d});
    }
    return m_exec.linear(m_model.head(), u.data(), rows, logits, LinearOutput::F32);
}

Result<void> V4Forward::mtpInput(
    int block, const float *mainStreams, const int32_t *nextIds, int rows, float *out, Tap *tap)
{
    const ModelConfig &c = m_model.config();
    const BlockWeights &bw = m_model.block(block);
    const int d = static_cast<int>(c.hiddenSize), n = c.hcMult;
    const float eps = static_cast<float>(c.rmsNormEps);
    for (int i = 0; i < rows; ++i)
        if (nextIds[i] < 0 || nextIds[i] >= c.vocabSize)
            return fail(Error::Kind::InvalidArgument,
                        "token id " + std::to_string(nextIds[i]) + " outside the vocabulary");
    FATHOM_TRY_ASSIGN(Floats e, floats(m_exec, static_cast<int64_t>(rows) * d, "MTP embeddings"));
    FATHOM_TRY(m_exec.embedRows(m_model.embed(), nextIds, rows, d, 1, e.data()));
    kernels::RmsNormParams np;
    np.x = e.data();
    np.weight = bw.enorm.data();
    np.y = e.data();
    np.rows = rows;
    np.dim = d;
    np.eps = eps;
    FATHOM_TRY(m_exec.rmsNorm(np));
    FATHOM_TRY_ASSIGN(Floats h,
                      floats(m_exec, static_cast<int64_t>(rows) * n * d, "MTP normed streams"));
    np.x = mainStreams;
    np.weight = bw.hnorm.data();
    np.y = h.data();
    np.rows = rows * n;
    FATHOM_TRY(m_exec.rmsNorm(np));
    FATHOM_TRY_ASSIGN(Floats ep, floats(m_exec, static_cast<int64_t>(rows) * d, "MTP e_proj"));
    FATHOM_TRY_ASSIGN(Floats hp, floats(m_exec, static_cast<int64_t>(rows) * n * d, "MTP h_proj"));
    FATHOM_TRY(m_exec.linear(bw.eProj, e.data(), rows, ep.data(), LinearOutput::Bf16));
    FATHOM_TRY(m_exec.linear(bw.hProj, h.data(), rows * n, hp.data(), LinearOutput::Bf16));
    FATHOM_TRY(m_exec.addBroadcastRoundBf16(out, ep.data(), hp.data(), rows, n, d));
    if (tap) {
        std::vector<float> he, hh, hep, hhp, hout;
        FATHOM_TRY_ASSIGN(const float *pe, hostValues<float>(m_exec, e.data(), e.size(), he));
        FATHOM_TRY_ASSIGN(const float *ph, hostValues<float>(m_exec, h.data(), h.size(), hh));
        FATHOM_TRY_ASSIGN(const float *pep, hostValues<float>(m_exec, ep.data(), ep.size(), hep));
        FATHOM_TRY_ASSIGN(const float *php, hostValues<float>(m_exec, hp.data(), hp.size(), hhp));
        FATHOM_TRY_ASSIGN(const float *pout,
                          hostValues<float>(m_exec,
                                            static_cast<const float *>(out),
                                            static_cast<int64_t>(rows) * n * d,
                                            hout));
        for (int i = 0; i < rows; ++i) {
            tap->tensor(bw.prefix + "enorm_out", i, pe + static_cast<int64_t>(i) * d, {d});
            tap->tensor(bw.prefix + "hnorm_out", i, ph + static_cast<int64_t>(i) * n * d, {n, d});
            tap->tensor(bw.prefix + "e_proj_out", i, pep + static_cast<int64_t>(i) * d, {d});
            tap->tensor(bw.prefix + "h_proj_out", i, php + static_cast<int64_t>(i) * n * d, {n, d});
            tap->tensor(bw.prefix + "in_streams", i, pout + static_cast<int64_t>(i) * n * d, {n, d});
        }
    }
    return {};
}

Result<void> V4Forward::useExecutorMemory(const std::vector<ForwardItem> &items)
{
    if (m_exec.hostAddressable())
        return {};
    for (const ForwardItem &it : items)
        if (it.state)
            FATHOM_TRY(it.state->useMemory(&m_exec));
    return {};
}

Result<void> V4Forward::lastTokenLogits(const std::vector<ForwardItem> &items,
                                        const float *streams,
                                        float *lastLogits,
                                        int mtpBlock)
{
    const ModelConfig &c = m_model.config();
    const int64_t rowSize = static_cast<int64_t>(c.hcMult) * c.hiddenSize;
    const int64_t V = c.vocabSize;
    std::vector<size_t> which;
    std::vector<int32_t> lastRow;
    int64_t r0 = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        r0 += items[i].count;
        if (!items[i].count || !items[i].logits)
            continue;
        lastRow.push_back(static_cast<int32_t>(r0 - 1));
        which.push_back(i);
    }
    if (which.empty())
        return {};
    const int rows = static_cast<int>(which.size());
    // A decode step (every item one row, every item wants logits): the last rows are the rows
    // themselves, in order; the head reads the streams where they are (no gather node, no
    // upload; the same values). Which case it is follows from the batch shape (the replay key).
    bool identity = true;
    for (int k = 0; k < rows; ++k)
        identity = identity && lastRow[static_cast<size_t>(k)] == k;
    Floats last;
    const float *headIn = streams;
    if (!identity) {
        FATHOM_TRY_ASSIGN(last, floats(m_exec, rows * rowSize, "last-token streams"));
        const size_t stagedR = stagedUploads();
        FATHOM_TRY(
            m_exec.gatherRows(last.data(), streams, lastRow.data(), rows, static_cast<int>(rowSize)));
        // Which rows: the batch shape alone (the replay key), so recorded bytes serve.
        scriptConst(stagedR, lastRow.data(), lastRow.size() * sizeof(int32_t));
        headIn = last.data();
    }
    FATHOM_TRY_ASSIGN(Floats logits, floats(m_exec, rows * V, "logits"));
    FATHOM_TRY(headLogits(headIn, rows, logits.data(), mtpBlock));
    for (size_t k = 0; k < which.size(); ++k)
        FATHOM_TRY(
            m_exec.copyToHost(lastLogits + which[k] * V, logits.data() + k * V, sizeof(float) * V));
    return {};
}

Result<void> V4Forward::forward(const std::vector<ForwardItem> &items,
                                float *lastLogits,
                                const ForwardOptions &options,
                                std::vector<float> *finalStreams)
{
    const ModelConfig &c = m_model.config();
    const int d = static_cast<int>(c.hiddenSize), n = c.hcMult;
    int total = 0;
    for (const ForwardItem &it : items) {
        if (!it.state || it.count < 0 || (it.count && !it.tokens))
            return fail(Error::Kind::InvalidArgument, "forward: bad batch item");
        if (it.state->blockCount() != c.totalLayers())
            return fail(Error::Kind::InvalidArgument, "forward: state made for another model");
        total += it.count;
    }
    std::vector<int32_t> tokens;
    tokens.reserve(static_cast<size_t>(total));
    for (const ForwardItem &it : items) {
        for (int t = 0; t < it.count; ++t) {
            const int32_t tok = it.tokens[t];
            if (tok < 0 || tok >= c.vocabSize)
                return fail(Error::Kind::InvalidArgument,
                            "token id " + std::to_string(tok) + " outside the vocabulary");
            tokens.push_back(tok);
        }
    }
    FATHOM_TRY(useExecutorMemory(items));
    // A decode step may run as one device graph (Executor::beginStep): nothing below reads back
    // a value it uses (logits and final streams are read after the step).
    bool decode = !options.tap && !options.routing && total > 0;
    for (const ForwardItem &it : items)
        decode = decode && it.count == 1;
    bool graphed = false;
    uint64_t key = 0;
    if (decode) {
        key = m_exec.hostAddressable()
                  ? 0
                  : decodeStepKey(m_model, items, lastLogits != nullptr, finalStreams != nullptr);
        FATHOM_TRY_ASSIGN(graphed, m_exec.beginStep(total, key));
    }
    // A replay of a kept graph recorded with a script: the script instead of the walk (or, in a
    // verified replay, both, compared).
    const StepScript *script = nullptr;
    if (graphed && key && m_exec.stepReplays()) {
        script = m_exec.stepScript();
        if (script
            && (script->model != &m_model || script->items != items.size()
                || script->logits != (lastLogits != nullptr)
                || script->streams != (finalStreams != nullptr)))
            script = nullptr;
    }
    const bool verifying = script && m_exec.verifyingStep();
    if (script && !verifying) {
        Result<void> ran = replayScript(*script, items, lastLogits, finalStreams);
        Result<void> launched = m_exec.endStep(static_cast<bool>(ran));
        if (ran && !launched)
            ran = std::move(launched);
        FATHOM_TRY(std::move(ran));
        ++m_scriptStats.replayed;
        for (const ForwardItem &it : items)
            it.state->commit(it.tokens, it.count);
        return {};
    }
    // Verified replay: the script on copies of the states first (their shared rows must be gone
    // before the walk appends, or it would copy on write), the walk after, compared below.
    std::vector<uint8_t> scriptBytes;
    std::vector<int64_t> scriptMarks, walkMarks;
    std::string scriptError;
    if (verifying) {
        std::vector<SequenceState> copies;
        copies.reserve(items.size());
        std::vector<ForwardItem> copied = items;
        for (size_t i = 0; i < items.size(); ++i) {
            copies.push_back(*items[i].state);
            copied[i].state = &copies.back();
        }
        scriptBytes.assign(script->uploadBytes, 0);
        if (auto r = runStepScript(*script, m_model, copied, scriptBytes.data()); !r)
            scriptError = r.error().message;
        stateMarks(copied, scriptMarks);
    }
    // A recorded step (under a key) records its script as it walks.
    StepScriptRecorder recorder;
    if (graphed && key && !m_exec.stepReplays()) {
        recorder.script.model = &m_model;
        recorder.script.items = items.size();
        recorder.script.logits = lastLogits != nullptr;
        recorder.script.streams = finalStreams != nullptr;
        m_rec = &recorder;
    }
    const int64_t streamFloats = static_cast<int64_t>(total) * n * d;
    auto body = [&]() -> Result<void> {
        FATHOM_TRY_ASSIGN(Floats x, floats(m_exec, streamFloats, "residual streams"));
        FATHOM_TRY_ASSIGN(Floats x2, floats(m_exec, streamFloats, "residual streams"));
        const size_t staged0 = stagedUploads();
        FATHOM_TRY(m_exec.embedRows(m_model.embed(), tokens.data(), total, d, n, x.data()));
        scriptGen(staged0, static_cast<int>(ScriptOp::Tokens), -1, 0);
        {
            // Each sublayer's mHC post runs with the next one's pre (one op); the last is
            // flushed before the streams are read.
            DeferPosts defer(*this);
            for (int l = 0; l < c.numHiddenLayers; ++l) {
                FATHOM_TRY(runBlock(l, items, x.data(), x2.data(), options));
                x.swap(x2);
            }
            FATHOM_TRY(flushPost());
        }
        if (finalStreams) {
            finalStreams->resize(static_cast<size_t>(streamFloats));
            FATHOM_TRY(m_exec.copyToHost(finalStreams->data(), x.data(), x.bytes()));
        }
        if (lastLogits)
            FATHOM_TRY(lastTokenLogits(items, x.data(), lastLogits, -1));
        return {};
    };
    Result<void> ran = body();
    const bool recorded = m_rec != nullptr;
    m_rec = nullptr;
    if (ran && recorded) {
        // Every upload claimed by exactly one generator, every read-back into the caller's
        // logits or final streams: else no script (the graph's replays walk).
        StepScript &sc = recorder.script;
        const StepPieces *p = m_exec.stepPieces();
        bool ok = recorder.ok && p && !p->spilled && recorder.generators == p->uploads.size();
        for (StepScript::Step &st : sc.steps) {
            if (!ok || !isGenerator(st.op))
                continue;
            st.offset = p->uploads[st.piece].offset;
            st.bytes = p->uploads[st.piece].bytes;
            ok = st.bytes % sizeof(int32_t) == 0 && st.offset % sizeof(int32_t) == 0;
        }
        const auto *logitsAt = reinterpret_cast<const uint8_t *>(lastLogits);
        const size_t logitsBytes = items.size() * static_cast<size_t>(c.vocabSize) * sizeof(float);
        const auto *streamsAt = finalStreams
                                    ? reinterpret_cast<const uint8_t *>(finalStreams->data())
                                    : nullptr;
        const size_t streamsBytes = finalStreams ? finalStreams->size() * sizeof(float) : 0;
        for (size_t i = 0; ok && i < p->readbacks.size(); ++i) {
            const StepPiece &b = p->readbacks[i];
            const auto *dst = static_cast<const uint8_t *>(b.hostDst);
            StepScript::Readback rb;
            rb.offset = b.offset;
            rb.bytes = b.bytes;
            if (logitsAt && dst >= logitsAt && dst + b.bytes <= logitsAt + logitsBytes) {
                rb.hostOffset = static_cast<size_t>(dst - logitsAt);
            } else if (streamsAt && dst >= streamsAt && dst + b.bytes <= streamsAt + streamsBytes) {
                rb.hostOffset = static_cast<size_t>(dst - streamsAt);
                rb.streams = true;
            } else {
                ok = false;
            }
            sc.readbacks.push_back(rb);
        }
        if (ok) {
            sc.uploadBytes = p->uploadBytes;
            sc.readbackBytes = p->readbackBytes;
            m_exec.keepStepScript(std::make_shared<const StepScript>(std::move(sc)));
            ++m_scriptStats.recorded;
        }
    }
    if (ran && verifying) {
        // The script must have staged what the walk staged, where it staged it, read back into
        // the same places, and left the states as the walk did.
        const StepPieces *p = m_exec.stepPieces();
        const uint8_t *host = m_exec.stepUploadHost();
        std::string why = scriptError;
        size_t g = 0;
        for (const StepScript::Step &st : script->steps) {
            if (!why.empty() || !isGenerator(st.op))
                continue;
            if (!p || !host || g >= p->uploads.size() || p->uploads[g].offset != st.offset
                || p->uploads[g].bytes != st.bytes)
                why = std::string("upload ") + std::to_string(g) + " (" + scriptOpName(st.op)
                      + ", block " + std::to_string(st.block) + ") is not where the walk staged";
            else if (std::memcmp(host + st.offset, scriptBytes.data() + st.offset, st.bytes) != 0)
                why = std::string("upload ") + std::to_string(g) + " (" + scriptOpName(st.op)
                      + ", item " + std::to_string(st.item) + ", block " + std::to_string(st.block)
                      + ") differs from the walk's bytes";
            ++g;
        }
        if (why.empty() && (!p || g != p->uploads.size() || p->uploadBytes != script->uploadBytes))
            why = "the walk staged " + std::to_string(p ? p->uploads.size() : 0)
                  + " uploads, the script " + std::to_string(g);
        if (why.empty()) {
            bool same = p->readbacks.size() == script->readbacks.size()
                        && p->readbackBytes == script->readbackBytes;
            for (size_t i = 0; same && i < script->readbacks.size(); ++i) {
                const StepScript::Readback &b = script->readbacks[i];
                auto *base = reinterpret_cast<uint8_t *>(b.streams ? finalStreams->data()
                                                                   : lastLogits);
                same = p->readbacks[i].offset == b.offset && p->readbacks[i].bytes == b.bytes
                       && p->readbacks[i].hostDst == base + b.hostOffset;
            }
            if (!same)
                why = "the read-backs differ from the walk's";
        }
        if (why.empty()) {
            stateMarks(items, walkMarks);
            if (walkMarks != scriptMarks)
                why = "the state bookkeeping (lengths, rows, buffers) differs from the walk's";
        }
        if (why.empty())
            ++m_scriptStats.verified;
        else
            ran = fail(Error::Kind::Internal,
                       "a replayed decode step's script differs from its walk: " + why);
    }
    if (graphed) {
        Result<void> launched = m_exec.endStep(static_cast<bool>(ran));
        if (ran && !launched)
            ran = std::move(launched);
    }
    FATHOM_TRY(std::move(ran));
    for (const ForwardItem &it : items)
        it.state->commit(it.tokens, it.count); // ids (for truncate), checkpoints, trim
    return {};
}

Result<void> V4Forward::mtpForward(const std::vector<ForwardItem> &items,
                                   const float *mainStreams,
                                   float *lastLogits,
                                   const ForwardOptions &options)
{
    const ModelConfig &c = m_model.config();
    if (c.numNextnPredictLayers < 1)
        return fail(Error::Kind::Unsupported, "this model has no MTP block");
    const int block = c.numHiddenLayers;
    const int d = static_cast<int>(c.hiddenSize), n = c.hcMult;
    int total = 0;
    std::vector<int32_t> next;
    for (const ForwardItem &it : items) {
        total += it.count;
        next.insert(next.end(), it.tokens, it.tokens + it.count);
    }
    FATHOM_TRY(useExecutorMemory(items));
    const int64_t streamFloats = static_cast<int64_t>(total) * n * d;
    // mainStreams is host memory (forward()'s finalStreams).
    Floats mainOnExec;
    if (!m_exec.hostAddressable()) {
        FATHOM_TRY_ASSIGN(mainOnExec, floats(m_exec, streamFloats, "MTP main streams"));
        FATHOM_TRY(m_exec.copyFromHost(mainOnExec.data(), mainStreams, mainOnExec.bytes()));
        mainStreams = mainOnExec.data();
    }
    FATHOM_TRY_ASSIGN(Floats x, floats(m_exec, streamFloats, "MTP streams"));
    FATHOM_TRY_ASSIGN(Floats y, floats(m_exec, streamFloats, "MTP streams"));
    FATHOM_TRY(mtpInput(block, mainStreams, next.data(), total, x.data()));
    {
        DeferPosts defer(*this); // the attention's post with the FFN's pre
        FATHOM_TRY(runBlock(block, items, x.data(), y.data(), options));
        FATHOM_TRY(flushPost());
    }
    if (lastLogits)
        FATHOM_TRY(lastTokenLogits(items, y.data(), lastLogits, block));
    for (const ForwardItem &it : items)
        it.state->commit(it.tokens, it.count, true);
    return {};
}

} // namespace fathom::engine
