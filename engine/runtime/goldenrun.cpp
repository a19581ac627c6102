// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "goldenrun.h"

#include "engine/model/modelwriter.h"
#include "kernels/formats.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace fathom::engine {

Result<void> writeNamedTensors(const std::string &path, const std::vector<NamedTensor> &tensors)
{
    SafetensorsWriter w;
    for (const NamedTensor &t : tensors) {
        const NamedTensor *tp = &t;
        w.add(t.name, t.dtype, t.shape, [tp](std::vector<uint8_t> &out) {
            const void *src = tp->dtype == DType::I32 ? static_cast<const void *>(tp->i32.data())
                                                      : static_cast<const void *>(tp->f32.data());
            std::memcpy(out.data(), src, out.size());
        });
    }
    return w.write(path);
}

Result<std::vector<float>> goldenFloats(const SafetensorsFile &file, const std::string &name)
{
    const TensorView *v = file.find(name);
    if (!v)
        return fail(Error::Kind::Format, file.path() + ": tensor " + name + " is missing");
    std::vector<float> out(static_cast<size_t>(v->numel()));
    if (v->dtype == DType::F32)
        std::memcpy(out.data(), v->data, out.size() * sizeof(float));
    else if (v->dtype == DType::Bf16)
        for (size_t i = 0; i < out.size(); ++i)
            out[i] = kernels::bf16_to_f32(v->as<uint16_t>()[i]);
    else
        return fail(Error::Kind::Format, file.path() + ": tensor " + name + " is not F32/BF16");
    return out;
}

Result<std::vector<int32_t>> goldenInts(const SafetensorsFile &file, const std::string &name)
{
    const TensorView *v = file.find(name);
    if (!v)
        return fail(Error::Kind::Format, file.path() + ": tensor " + name + " is missing");
    std::vector<int32_t> out(static_cast<size_t>(v->numel()));
    if (v->dtype == DType::I32)
        std::memcpy(out.data(), v->data, out.size() * sizeof(int32_t));
    else if (v->dtype == DType::I64)
        for (size_t i = 0; i < out.size(); ++i)
            out[i] = static_cast<int32_t>(v->as<int64_t>()[i]);
    else
        return fail(Error::Kind::Format, file.path() + ": tensor " + name + " is not I32/I64");
    return out;
}

Result<GoldenRouting> GoldenRouting::load(const SafetensorsFile &expected, const ModelConfig &config)
{
    GoldenRouting g;
    auto loadTable = [&](const std::string &name, Table &t) -> Result<bool> {
        const TensorView *v = expected.find(name);
        if (!v)
            return false;
        if (v->rank() != 3)
            return fail(Error::Kind::Format, expected.path() + ": " + name + " is not [B, P, k]");
        FATHOM_TRY_ASSIGN(t.data, goldenInts(expected, name));
        t.rows = v->dim(0);
        t.positions = v->dim(1);
        t.width = v->dim(2);
        return true;
    };
    for (int i = 0; i < config.totalLayers(); ++i) {
        const std::string p = "routing." + blockPrefix(config, i);
        Table moe, idx;
        FATHOM_TRY_ASSIGN(const bool hasMoe, loadTable(p + "moe_expert_ids", moe));
        if (hasMoe)
            g.m_moe[i] = std::move(moe);
        FATHOM_TRY_ASSIGN(const bool hasIdx, loadTable(p + "indexer_topk", idx));
        if (hasIdx)
            g.m_indexer[i] = std::move(idx);
    }
    if (g.m_moe.empty())
        return fail(Error::Kind::Format, expected.path() + ": no routing.* tensors to replay");
    return g;
}

bool GoldenRouting::moeExperts(int block, int sequenceId, int64_t position, int32_t *ids, int k) const
{
    const auto it = m_moe.find(block);
    if (it == m_moe.end())
        return false;
    const Table &t = it->second;
    if (sequenceId < 0 || sequenceId >= t.rows || position < 0 || position >= t.positions
        || t.width != k)
        return false;
    std::memcpy(ids,
                t.data.data() + (sequenceId * t.positions + position) * t.width,
                sizeof(int32_t) * k);
    return true;
}

bool GoldenRouting::indexerTopk(int block, int sequenceId, int64_t position, int32_t *ids, int n) const
{
    const auto it = m_indexer.find(block);
    if (it == m_indexer.end())
        return false;
    const Table &t = it->second;
    if (sequenceId < 0 || sequenceId >= t.rows || position < 0 || position >= t.positions)
        return false;
    std::fill(ids, ids + n, -1);
    const int32_t *src = t.data.data() + (sequenceId * t.positions + position) * t.width;
    std::copy(src, src + std::min<int64_t>(n, t.width), ids);
    return true;
}

Result<LogitsResult> runLogits(V4Forward &forward,
                               const ModelConfig &config,
                               const LogitsRequest &request)
{
    const int B = static_cast<int>(request.prompt.size());
    if (B == 0)
        return fail(Error::Kind::InvalidArgument, "the prompt has no rows");
    const size_t S = request.prompt.front().size();
    for (const auto &row : request.prompt)
        if (row.size() != S || S == 0)
            return fail(Error::Kind::InvalidArgument,
                        "prompt rows must be non-empty and of equal length");
    if (!request.decode.empty() && static_cast<int>(request.decode.size()) != B)
        return fail(Error::Kind::InvalidArgument, "decode must have as many rows as the prompt");
    const size_t T = request.decode.empty() ? 0 : request.decode.front().size();
    for (const auto &row : request.decode)
        if (row.size() != T)
            return fail(Error::Kind::InvalidArgument, "decode rows must be of equal length");

    LogitsResult res;
    res.vocab = config.vocabSize;
    const int64_t V = config.vocabSize;
    std::vector<SequenceState> states(B, SequenceState(config, request.historyTokens));
    ForwardOptions opt;
    opt.routing = request.routing;
    opt.tap = request.tap;
    std::vector<float> logits(static_cast<size_t>(B * V));
    const size_t chunk = request.chunk > 0 ? static_cast<size_t>(request.chunk) : S;
    for (size_t p0 = 0; p0 < S; p0 += chunk) {
        const int n = static_cast<int>(std::min(chunk, S - p0));
        std::vector<ForwardItem> items;
        for (int b = 0; b < B; ++b)
            items.push_back({&states[b], request.prompt[b].data() + p0, n, b});
        FATHOM_TRY(forward.forward(items, logits.data(), opt));
    }
    res.prefillLast = logits;
    res.decode.resize(static_cast<size_t>(B) * T * V);
    for (size_t t = 0; t < T; ++t) {
        std::vector<ForwardItem> items;
        for (int b = 0; b < B; ++b)
            items.push_back({&states[b], request.decode[b].data() + t, 1, b});
        FATHOM_TRY(forward.forward(items, logits.data(), opt));
        for (int b = 0; b < B; ++b)
            std::memcpy(res.decode.data() + (static_cast<size_t>(b) * T + t) * V,
                        logits.data() + b * V,
                        sizeof(float) * V);
    }
    return res;
}

namespace {

// Collects tapped per-item tensors and stacks them along a batch dim.
class Collector final : public Tap
{
public:
    void tensor(const std::string &name,
                int item,
                const float *data,
                const std::vector<int64_t> &shape) override
    {
        Entry &e = m_entries[name];
        e.shape = shape;
        e.isInt = false;
        int64_t n = 1;
        for (int64_t s : shape)
            n *= s;
        e.items[item].f.assign(data, data + n);
    }
    void ids(const std::string &name,
             int item,
             const int32_t *data,
             const std::vector<int64_t> &shape) override
    {
        Entry &e = m_entries[name];
        e.shape = shape;
        e.isInt = true;
        int64_t n = 1;
        for (int64_t s : shape)
            n *= s;
        e.items[item].i.assign(data, data + n);
    }
    std::vector<NamedTensor> take(int batch)
    {
        std::vector<NamedTensor> out;
        for (auto &[name, e] : m_entries) {
            if (static_cast<int>(e.items.size()) != batch)
                continue;
            NamedTensor t;
            t.name = name;
            t.dtype = e.isInt ? DType::I32 : DType::F32;
            t.shape = {batch};
            t.shape.insert(t.shape.end(), e.shape.begin(), e.shape.end());
            bool uniform = true;
            for (auto &[idx, it] : e.items) {
                if ((e.isInt ? it.i.size() : it.f.size())
                    != (e.isInt ? e.items.begin()->second.i.size()
                                : e.items.begin()->second.f.size()))
                    uniform = false;
                t.f32.insert(t.f32.end(), it.f.begin(), it.f.end());
                t.i32.insert(t.i32.end(), it.i.begin(), it.i.end());
            }
            if (uniform)
                out.push_back(std::move(t));
        }
        m_entries.clear();
        return out;
    }

private:
    struct Item
    {
        std::vector<float> f;
        std::vector<int32_t> i;
    };
    struct Entry
    {
        std::vector<int64_t> shape;
        bool isInt = false;
        std::map<int, Item> items;
    };
    std::map<std::string, Entry> m_entries;
};

} // namespace

namespace {

// Host floats as the executor's ops read them: the vector itself on a host executor, else a
// device copy in `holder` (uploaded unless it is an output).
Result<float *> execFloats(Executor &exec,
                           std::vector<float> &host,
                           Buffer<float> &holder,
                           const char *what,
                           bool upload = true)
{
    if (exec.hostAddressable())
        return host.data();
    FATHOM_TRY_ASSIGN(holder, Buffer<float>::make(exec, static_cast<int64_t>(host.size()), what));
    if (upload)
        FATHOM_TRY(exec.copyFromHost(holder.data(), host.data(), holder.bytes()));
    return holder.data();
}

Result<void> backToHost(Executor &exec, std::vector<float> &host, const Buffer<float> &holder)
{
    if (exec.hostAddressable())
        return {};
    return exec.copyToHost(host.data(), holder.data(), holder.bytes());
}

} // namespace

Result<std::vector<NamedTensor>> runLayerCheck(V4Forward &forward,
                                               const ModelConfig &config,
                                               const SafetensorsFile &expected)
{
    Executor &exec = forward.executor();
    const TensorView *promptView = expected.find("prompt_tokens");
    if (!promptView || promptView->rank() != 2)
        return fail(Error::Kind::Format, expected.path() + ": prompt_tokens [B, S] is missing");
    const int B = static_cast<int>(promptView->dim(0));
    const int64_t S = promptView->dim(1);
    FATHOM_TRY_ASSIGN(const std::vector<int32_t> dec, goldenInts(expected, "decode_tokens"));
    const int64_t T = static_cast<int64_t>(dec.size()) / B;
    if (T < 2)
        return fail(Error::Kind::Format, expected.path() + ": decode_tokens needs 2 steps");
    const int d = static_cast<int>(config.hiddenSize), n = config.hcMult;
    const int D = config.headDim, Wn = config.slidingWindow, L = config.numHiddenLayers;
    std::vector<int32_t> dec0(B), dec1(B);
    for (int b = 0; b < B; ++b) {
        dec0[b] = dec[b * T];
        dec1[b] = dec[b * T + 1];
    }

    Collector tap;
    ForwardOptions opt;
    opt.tap = &tap;
    std::vector<NamedTensor> results;
    for (int blk = 0; blk < config.totalLayers(); ++blk) {
        const std::string prefix = blockPrefix(config, blk);
        const bool mtp = blk >= L;
        if (mtp && blk > L)
            break; // the golden data taps mtp.0 only
        // Input streams.
        std::vector<float> x;
        if (blk == 0) {
            FATHOM_TRY_ASSIGN(const std::vector<float> e, goldenFloats(expected, "embed_out"));
            x.resize(static_cast<size_t>(B) * n * d);
            for (int b = 0; b < B; ++b)
                for (int s = 0; s < n; ++s)
                    std::copy(e.begin() + b * d,
                              e.begin() + (b + 1) * d,
                              x.begin() + (b * n + s) * d);
        } else if (mtp) {
            FATHOM_TRY_ASSIGN(x, goldenFloats(expected, prefix + "in_streams"));
        } else {
            FATHOM_TRY_ASSIGN(x,
                              goldenFloats(expected, blockPrefix(config, blk - 1) + "out_streams"));
        }
        // KV state at the golden step: window rows before S, compressed entries, index keys.
        std::vector<SequenceState> states(B, SequenceState(config));
        FATHOM_TRY_ASSIGN(const std::vector<float> win,
                          goldenFloats(expected, prefix + "window_kv"));
        const int64_t winRows = static_cast<int64_t>(win.size()) / (B * D);
        std::vector<float> cmp, ikey;
        int64_t nCmp = 0, nKey = 0;
        const int ratio = config.compressRatio(blk);
        if (ratio) {
            FATHOM_TRY_ASSIGN(cmp, goldenFloats(expected, prefix + "compressed_kv"));
            nCmp = static_cast<int64_t>(cmp.size()) / (B * D);
        }
        if (ratio == 4) {
            FATHOM_TRY_ASSIGN(ikey, goldenFloats(expected, prefix + "indexer_compressed_k"));
            nKey = static_cast<int64_t>(ikey.size()) / (B * config.indexHeadDim);
        }
        for (int b = 0; b < B; ++b) {
            BlockState &bs = states[b].block(blk);
            bs.length = S;
            // window_kv holds positions S-winRows+1 .. S; the row of S is recomputed.
            bs.window.reset(S - winRows + 1);
            bs.window.append(win.data() + static_cast<int64_t>(b) * winRows * D, winRows - 1);
            bs.entries.reset(0);
            if (nCmp)
                bs.entries.append(cmp.data() + static_cast<int64_t>(b) * nCmp * D, nCmp);
            bs.indexKeys.reset(0);
            if (nKey)
                bs.indexKeys.append(ikey.data()
                                        + static_cast<int64_t>(b) * nKey * config.indexHeadDim,
                                    nKey);
            // No entry closes at the golden step, so the compressor inputs before S are unused.
            bs.compKv.reset(S);
            bs.compGate.reset(S);
            bs.indexKv.reset(S);
            bs.indexGate.reset(S);
        }
        (void) Wn;
        std::vector<ForwardItem> items;
        for (int b = 0; b < B; ++b)
            items.push_back({&states[b], &dec0[b], 1, b});
        std::vector<float> mid(x.size()), out(x.size());
        Buffer<float> xb, midb, outb, attnb;
        FATHOM_TRY_ASSIGN(float *xp, execFloats(exec, x, xb, "golden input streams"));
        FATHOM_TRY_ASSIGN(float *midp, execFloats(exec, mid, midb, "attention streams", false));
        FATHOM_TRY_ASSIGN(float *outp, execFloats(exec, out, outb, "block output", false));
        FATHOM_TRY(forward.attentionSublayer(blk, items, xp, midp, opt));
        FATHOM_TRY_ASSIGN(std::vector<float> attnStreams,
                          goldenFloats(expected, prefix + "attn_streams"));
        FATHOM_TRY_ASSIGN(float *attnp,
                          execFloats(exec, attnStreams, attnb, "golden attention streams"));
        FATHOM_TRY(forward.ffnSublayer(blk, items, attnp, outp, opt));
        for (NamedTensor &t : tap.take(B))
            results.push_back(std::move(t));
    }

    // Head from the golden last out_streams.
    FATHOM_TRY_ASSIGN(std::vector<float> last,
                      goldenFloats(expected, blockPrefix(config, L - 1) + "out_streams"));
    NamedTensor head{"head_logits", DType::F32, {B, config.vocabSize}, {}, {}};
    head.f32.resize(static_cast<size_t>(B * config.vocabSize));
    Buffer<float> lastb, headb;
    FATHOM_TRY_ASSIGN(float *lastp, execFloats(exec, last, lastb, "golden last streams"));
    FATHOM_TRY_ASSIGN(float *headp, execFloats(exec, head.f32, headb, "head logits", false));
    FATHOM_TRY(forward.headLogits(lastp, B, headp, -1, &tap));
    FATHOM_TRY(backToHost(exec, head.f32, headb));
    for (NamedTensor &t : tap.take(B))
        results.push_back(std::move(t));
    results.push_back(std::move(head));

    if (config.numNextnPredictLayers > 0 && expected.find("mtp.0.out_streams")) {
        std::vector<float> in(last.size());
        Buffer<float> inb, mtpb, mlb;
        FATHOM_TRY_ASSIGN(float *inp, execFloats(exec, in, inb, "MTP input streams", false));
        FATHOM_TRY(forward.mtpInput(L, lastp, dec1.data(), B, inp, &tap));
        FATHOM_TRY_ASSIGN(std::vector<float> mtpOut, goldenFloats(expected, "mtp.0.out_streams"));
        NamedTensor ml{"mtp.0.logits", DType::F32, {B, config.vocabSize}, {}, {}};
        ml.f32.resize(static_cast<size_t>(B * config.vocabSize));
        FATHOM_TRY_ASSIGN(float *mtpp, execFloats(exec, mtpOut, mtpb, "golden MTP streams"));
        FATHOM_TRY_ASSIGN(float *mlp, execFloats(exec, ml.f32, mlb, "MTP logits", false));
        FATHOM_TRY(forward.headLogits(mtpp, B, mlp, L, &tap));
        FATHOM_TRY(backToHost(exec, ml.f32, mlb));
        for (NamedTensor &t : tap.take(B))
            results.push_back(std::move(t));
        results.push_back(std::move(ml));
    }
    return results;
}

} // namespace fathom::engine
