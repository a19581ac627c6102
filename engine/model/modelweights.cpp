// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "modelweights.h"

#include "engine/core/threadpool.h"
#include "kernels/quant.h"

#include <filesystem>
#include <set>

namespace fathom::engine {

namespace {

void addLinear(std::vector<TensorSpec> &out,
               const std::string &name,
               int64_t rows,
               int64_t cols,
               WeightFormat fmt)
{
    switch (fmt) {
    case WeightFormat::Bf16:
        out.push_back({name + ".weight", DType::Bf16, {rows, cols}});
        break;
    case WeightFormat::Fp8:
        out.push_back({name + ".weight", DType::F8E4M3, {rows, cols}});
        out.push_back({name + ".scale", DType::F8E8M0, {(rows + 127) / 128, (cols + 127) / 128}});
        break;
    case WeightFormat::Fp4:
        out.push_back({name + ".weight", DType::I8, {rows, cols / 2}});
        out.push_back({name + ".scale", DType::F8E8M0, {rows, cols / 32}});
        break;
    }
}

std::string shapeText(const std::vector<int64_t> &shape)
{
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

} // namespace

std::string blockPrefix(const ModelConfig &config, int layer)
{
    if (layer < config.numHiddenLayers)
        return "layers." + std::to_string(layer) + ".";
    return "mtp." + std::to_string(layer - config.numHiddenLayers) + ".";
}

std::vector<TensorSpec> expectedTensors(const ModelConfig &c)
{
    std::vector<TensorSpec> t;
    const int64_t d = c.hiddenSize, V = c.vocabSize, hc = c.hcMult, H = c.numAttentionHeads,
                  D = c.headDim;
    const int64_t mix = (2 + hc) * hc;
    const WeightFormat lin = c.linearFormat(), exp = c.expertFormat();
    t.push_back({"embed.weight", DType::Bf16, {V, d}});
    t.push_back({"head.weight", DType::Bf16, {V, d}});
    t.push_back({"norm.weight", DType::Bf16, {d}});
    t.push_back({"hc_head_fn", DType::F32, {hc, hc * d}});
    t.push_back({"hc_head_base", DType::F32, {hc}});
    t.push_back({"hc_head_scale", DType::F32, {1}});
    for (int layer = 0; layer < c.totalLayers(); ++layer) {
        const std::string p = blockPrefix(c, layer);
        const bool mtp = layer >= c.numHiddenLayers;
        const int m = c.compressRatio(layer);
        t.push_back({p + "attn_norm.weight", DType::Bf16, {d}});
        t.push_back({p + "ffn_norm.weight", DType::Bf16, {d}});
        for (const char *sub : {"attn", "ffn"}) {
            t.push_back({p + "hc_" + sub + "_fn", DType::F32, {mix, hc * d}});
            t.push_back({p + "hc_" + sub + "_base", DType::F32, {mix}});
            t.push_back({p + "hc_" + sub + "_scale", DType::F32, {3}});
        }
        t.push_back({p + "attn.attn_sink", DType::F32, {H}});
        t.push_back({p + "attn.q_norm.weight", DType::Bf16, {c.qLoraRank}});
        t.push_back({p + "attn.kv_norm.weight", DType::Bf16, {D}});
        addLinear(t, p + "attn.wq_a", c.qLoraRank, d, lin);
        addLinear(t, p + "attn.wq_b", H * D, c.qLoraRank, lin);
        addLinear(t, p + "attn.wkv", D, d, lin);
        addLinear(t, p + "attn.wo_a", int64_t(c.oGroups) * c.oLoraRank, H * D / c.oGroups, lin);
        addLinear(t, p + "attn.wo_b", d, int64_t(c.oGroups) * c.oLoraRank, lin);
        if (m != 0) {
            const int64_t cw = (m == 4 ? 2 : 1) * D;
            t.push_back({p + "attn.compressor.ape", DType::F32, {m, cw}});
            t.push_back({p + "attn.compressor.wkv.weight", DType::Bf16, {cw, d}});
            t.push_back({p + "attn.compressor.wgate.weight", DType::Bf16, {cw, d}});
            t.push_back({p + "attn.compressor.norm.weight", DType::Bf16, {D}});
        }
        if (m == 4) {
            const int64_t ihd = c.indexHeadDim;
            addLinear(t, p + "attn.indexer.wq_b", int64_t(c.indexNHeads) * ihd, c.qLoraRank, lin);
            t.push_back({p + "attn.indexer.weights_proj.weight", DType::Bf16, {c.indexNHeads, d}});
            t.push_back({p + "attn.indexer.compressor.ape", DType::F32, {4, 2 * ihd}});
            t.push_back({p + "attn.indexer.compressor.wkv.weight", DType::Bf16, {2 * ihd, d}});
            t.push_back({p + "attn.indexer.compressor.wgate.weight", DType::Bf16, {2 * ihd, d}});
            t.push_back({p + "attn.indexer.compressor.norm.weight", DType::Bf16, {ihd}});
        }
        t.push_back({p + "ffn.gate.weight", DType::Bf16, {c.nRoutedExperts, d}});
        if (!mtp && c.isHashLayer(layer))
            t.push_back({p + "ffn.gate.tid2eid", DType::I64, {V, c.numExpertsPerTok}});
        else
            t.push_back({p + "ffn.gate.bias", DType::F32, {c.nRoutedExperts}});
        for (int e = 0; e < c.nRoutedExperts; ++e) {
            const std::string ep = p + "ffn.experts." + std::to_string(e) + ".";
            addLinear(t, ep + "w1", c.moeIntermediateSize, d, exp);
            addLinear(t, ep + "w2", d, c.moeIntermediateSize, exp);
            addLinear(t, ep + "w3", c.moeIntermediateSize, d, exp);
        }
        addLinear(t, p + "ffn.shared_experts.w1", c.moeIntermediateSize, d, lin);
        addLinear(t, p + "ffn.shared_experts.w2", d, c.moeIntermediateSize, lin);
        addLinear(t, p + "ffn.shared_experts.w3", c.moeIntermediateSize, d, lin);
        if (mtp) {
            addLinear(t, p + "e_proj", d, d, lin);
            addLinear(t, p + "h_proj", d, d, lin);
            t.push_back({p + "enorm.weight", DType::Bf16, {d}});
            t.push_back({p + "hnorm.weight", DType::Bf16, {d}});
            t.push_back({p + "norm.weight", DType::Bf16, {d}});
            t.push_back({p + "hc_head_fn", DType::F32, {hc, hc * d}});
            t.push_back({p + "hc_head_base", DType::F32, {hc}});
            t.push_back({p + "hc_head_scale", DType::F32, {1}});
        }
    }
    return t;
}

Result<void> validateTensors(const TensorStore &store, const ModelConfig &config)
{
    const std::vector<TensorSpec> specs = expectedTensors(config);
    std::set<std::string_view> expected;
    std::string where = store.files().empty()
                            ? std::string("the model")
                            : pathToUtf8(utf8ToPath(store.files().front()->path()).parent_path());
    for (const TensorSpec &s : specs) {
        expected.insert(s.name);
        const TensorView *v = store.find(s.name);
        if (!v)
            return fail(Error::Kind::Format,
                        where + ": tensor '" + s.name + "' (" + dtypeName(s.dtype) + " "
                            + shapeText(s.shape) + ") required by " + config.sourcePath
                            + " is missing");
        if (v->dtype != s.dtype)
            return fail(Error::Kind::Format,
                        v->file + ": tensor '" + s.name + "' is " + dtypeName(v->dtype)
                            + ", expected " + dtypeName(s.dtype) + " for this config");
        if (v->shape != s.shape)
            return fail(Error::Kind::Format,
                        v->file + ": tensor '" + s.name + "' has shape " + v->shapeString()
                            + ", expected " + shapeText(s.shape) + " for this config ("
                            + config.sourcePath + ")");
    }
    // Hash-routing tables index the experts directly: an id out of range would read out of
    // bounds in the forward pass, so check them here (6 MB per hash layer for V4-Flash).
    for (int layer = 0; layer < config.numHashLayers; ++layer) {
        const TensorView *v = store.find(blockPrefix(config, layer) + "ffn.gate.tid2eid");
        const int64_t *ids = v->as<int64_t>();
        for (int64_t i = 0; i < v->numel(); ++i) {
            if (ids[i] < 0 || ids[i] >= config.nRoutedExperts)
                return fail(Error::Kind::Format,
                            v->file + ": tensor '" + v->name + "' holds expert id "
                                + std::to_string(ids[i]) + " at row " + std::to_string(i / v->dim(1))
                                + "; n_routed_experts is " + std::to_string(config.nRoutedExperts));
        }
    }
    for (const TensorView *v : store.tensors()) {
        if (!expected.count(v->name))
            return fail(Error::Kind::Format,
                        v->file + ": tensor '" + v->name
                            + "' is not part of the model described by " + config.sourcePath);
    }
    return {};
}

kernels::linear_params LinearWeight::params() const
{
    kernels::linear_params p;
    p.w = weight;
    p.w_scale = scale;
    p.w_type = type;
    p.n = outFeatures;
    p.k = inFeatures;
    return p;
}

Result<std::unique_ptr<ModelWeights>> ModelWeights::load(const std::string &dir,
                                                         const LoadProgressFn &progress)
{
    if (progress && !progress(LoadProgress{0, 0, "reading config"}))
        return fail(Error::Kind::Cancelled, "loading cancelled");
    FATHOM_TRY_ASSIGN(ModelConfig config, loadModelConfig(dir));
    FATHOM_TRY_ASSIGN(auto store, TensorStore::open(dir, progress));
    FATHOM_TRY_ASSIGN(auto weights, fromStore(std::move(config), std::move(store), progress));
    weights->m_dir = dir;
    return weights;
}

Result<std::unique_ptr<ModelWeights>> ModelWeights::loadRepeated(const std::string &dir,
                                                                 int layers,
                                                                 const LoadProgressFn &progress)
{
    FATHOM_TRY_ASSIGN(ModelConfig config, loadModelConfig(dir));
    const int period = config.numHiddenLayers;
    if (layers <= period)
        return fail(Error::Kind::InvalidArgument,
                    dir + ": repeating its " + std::to_string(period) + " layers to "
                        + std::to_string(layers) + " layers: the count must be larger");
    if (config.numHashLayers > 0)
        return fail(Error::Kind::InvalidArgument,
                    dir + ": its first " + std::to_string(config.numHashLayers)
                        + " layers route by hash; only score-routed layers repeat");
    FATHOM_TRY_ASSIGN(auto store, TensorStore::open(dir, progress));
    ModelConfig repeated = config;
    repeated.numHiddenLayers = layers;
    repeated.compressRatios.clear();
    for (int l = 0; l < layers; ++l)
        repeated.compressRatios.push_back(config.compressRatio(l % period));
    for (int j = 0; j < config.numNextnPredictLayers; ++j)
        repeated.compressRatios.push_back(config.compressRatio(period + j));
    for (int first = period; first < layers; first += period) {
        // A mapping of its own for this repeat's layers [first, first + period).
        FATHOM_TRY_ASSIGN(auto copy, TensorStore::open(dir));
        std::vector<TensorView> views;
        for (const TensorView *v : copy->tensors()) {
            for (int l = 0; l < period && first + l < layers; ++l) {
                const std::string from = blockPrefix(config, l);
                if (v->name.compare(0, from.size(), from) != 0)
                    continue;
                TensorView alias = *v;
                alias.name = blockPrefix(repeated, first + l) + v->name.substr(from.size());
                alias.file = v->file + " (" + v->name + ", repeated)";
                views.push_back(std::move(alias));
            }
        }
        store->addViews(std::move(views), std::move(copy));
    }
    repeated.sourcePath = config.sourcePath + " (its " + std::to_string(period)
                          + " layers repeated to " + std::to_string(layers) + ")";
    FATHOM_TRY_ASSIGN(auto weights, fromStore(std::move(repeated), std::move(store), progress));
    weights->m_dir = dir;
    return weights;
}

Result<std::unique_ptr<ModelWeights>> ModelWeights::fromStore(ModelConfig config,
                                                              std::unique_ptr<TensorStore> store,
                                                              const LoadProgressFn &progress)
{
    const uint64_t total = store->totalBytes();
    if (progress && !progress(LoadProgress{total, total, "validating"}))
        return fail(Error::Kind::Cancelled, "loading cancelled");
    FATHOM_TRY(validateTensors(*store, config));
    if (config.linearFormat() == WeightFormat::Fp8) {
        // The reference runs wo_a as a bf16 einsum on the dequantised weight (convert.py).
        std::vector<std::pair<TensorView, std::vector<uint8_t>>> converted;
        // The load's own pool (as CudaExecutor::uploadModel's): loads may run on any thread and
        // at once, and a ThreadPool has one driving thread at a time; its start and join cost
        // a few milliseconds at most against the conversion's seconds.
        ThreadPool pool;
        for (int layer = 0; layer < config.totalLayers(); ++layer) {
            const std::string name = blockPrefix(config, layer) + "attn.wo_a";
            const TensorView *w = store->find(name + ".weight");
            const TensorView *s = store->find(name + ".scale");
            const int64_t n = w->dim(0), k = w->dim(1);
            std::vector<uint8_t> bytes(static_cast<size_t>(n * k * 2));
            // By 128-row blocks (a block of scales each) on the load's threads.
            const int64_t kb = (k + 127) / 128;
            kernels::parallel_for(&pool, (n + 127) / 128, 1, [&](int64_t b0, int64_t b1) {
                const int64_t r0 = b0 * 128, r1 = std::min(n, b1 * 128);
                kernels::dequantize_weight_e4m3_bf16(w->as<uint8_t>() + r0 * k,
                                                     s->as<uint8_t>() + b0 * kb,
                                                     r1 - r0,
                                                     k,
                                                     reinterpret_cast<uint16_t *>(bytes.data())
                                                         + r0 * k);
            });
            TensorView v;
            v.name = name + ".weight";
            v.dtype = DType::Bf16;
            v.shape = {n, k};
            v.file = w->file + " (dequantised to BF16)";
            // The FP8 original is not read again: drop its pages from the resident set, so the
            // model costs the converted copy only (issue 6: resident <= 1.1x weights used).
            for (const auto &file : store->files()) {
                const MappedFile &map = file->mapping();
                const auto *p = static_cast<const uint8_t *>(w->data);
                if (map.data() && p >= map.data() && p + w->bytes <= map.data() + map.size())
                    map.release(static_cast<size_t>(p - map.data()), w->bytes);
            }
            converted.emplace_back(std::move(v), std::move(bytes));
            if (progress && !progress(LoadProgress{total, total, "converting"}))
                return fail(Error::Kind::Cancelled, "loading cancelled");
        }
        store->addOwned(std::move(converted));
    }
    auto weights = std::unique_ptr<ModelWeights>(new ModelWeights);
    weights->m_config = std::move(config);
    weights->m_store = std::move(store);
    return weights;
}

const TensorView &ModelWeights::tensor(const std::string &name) const
{
    static const TensorView empty;
    const TensorView *v = m_store->find(name);
    return v ? *v : empty;
}

LinearWeight ModelWeights::linear(const std::string &prefix) const
{
    LinearWeight lw;
    const TensorView *w = m_store->find(prefix + ".weight");
    if (!w || w->rank() != 2)
        return lw;
    lw.view = w;
    lw.weight = w->data;
    lw.outFeatures = static_cast<int>(w->dim(0));
    lw.inFeatures = static_cast<int>(w->dim(1));
    switch (w->dtype) {
    case DType::Bf16:
        lw.type = kernels::linear_weight_type::bf16;
        break;
    case DType::F32:
        lw.type = kernels::linear_weight_type::f32;
        break;
    case DType::F8E4M3:
        lw.type = kernels::linear_weight_type::fp8_e4m3;
        break;
    case DType::I8:
        lw.type = kernels::linear_weight_type::fp4_e2m1;
        lw.inFeatures *= 2;
        break;
    default:
        return LinearWeight{};
    }
    if (lw.type == kernels::linear_weight_type::fp8_e4m3
        || lw.type == kernels::linear_weight_type::fp4_e2m1) {
        const TensorView *s = m_store->find(prefix + ".scale");
        if (!s)
            return LinearWeight{};
        lw.scale = s->as<uint8_t>();
    }
    return lw;
}

} // namespace fathom::engine
