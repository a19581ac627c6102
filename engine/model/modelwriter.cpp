// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "modelwriter.h"

#include "engine/core/threadpool.h"
#include "engine/model/mappedfile.h"
#include "engine/model/modelweights.h"
#include "kernels/formats.h"
#include "kernels/quant.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>

namespace fathom::engine {

namespace fs = std::filesystem;

// ---- SafetensorsWriter --------------------------------------------------------------------------

void SafetensorsWriter::add(std::string name, DType dtype, std::vector<int64_t> shape, FillFn fill)
{
    m_entries.push_back({std::move(name), dtype, std::move(shape), std::move(fill)});
}

static uint64_t entryBytes(DType dtype, const std::vector<int64_t> &shape)
{
    uint64_t n = dtypeSize(dtype);
    for (int64_t d : shape)
        n *= static_cast<uint64_t>(d);
    return n;
}

uint64_t SafetensorsWriter::dataBytes() const
{
    uint64_t total = 0;
    for (const Entry &e : m_entries)
        total += entryBytes(e.dtype, e.shape);
    return total;
}

std::vector<std::string> SafetensorsWriter::names() const
{
    std::vector<std::string> n;
    for (const Entry &e : m_entries)
        n.push_back(e.name);
    return n;
}

Result<void> SafetensorsWriter::write(const std::string &path,
                                      const std::map<std::string, std::string> &metadata) const
{
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const Entry &e : m_entries) {
        const uint64_t bytes = entryBytes(e.dtype, e.shape);
        header[e.name] = {{"dtype", dtypeName(e.dtype)},
                          {"shape", e.shape},
                          {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    while (text.size() % 8 != 0) // keeps the data area 8-byte aligned, as the reference writer does
        text.push_back(' ');
    std::FILE *f = std::fopen(path.c_str(), "wb");
    if (!f)
        return fail(Error::Kind::Io, "cannot create " + path + ": " + std::strerror(errno));
    bool ok = true;
    uint8_t len[8];
    for (int i = 0; i < 8; ++i)
        len[i] = static_cast<uint8_t>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xFF);
    ok = ok && std::fwrite(len, 1, 8, f) == 8;
    ok = ok && std::fwrite(text.data(), 1, text.size(), f) == text.size();
    std::vector<uint8_t> buffer;
    for (const Entry &e : m_entries) {
        if (!ok)
            break;
        buffer.assign(static_cast<size_t>(entryBytes(e.dtype, e.shape)), 0);
        if (e.fill)
            e.fill(buffer);
        ok = std::fwrite(buffer.data(), 1, buffer.size(), f) == buffer.size();
    }
    ok = (std::fclose(f) == 0) && ok;
    if (!ok)
        return fail(Error::Kind::Io, "cannot write " + path + ": " + std::strerror(errno));
    return {};
}

// ---- presets ------------------------------------------------------------------------------------

Result<ModelConfig> presetModelConfig(const std::string &preset, int layers, int firstLayer)
{
    ModelConfig c;
    c.architectures = {"DeepseekV4ForCausalLM"};
    c.sourcePath = "preset '" + preset + "'";
    c.ropeScaling = RopeScaling{};
    c.fp8Quantized = true;
    c.quantActivationScheme = "dynamic";
    c.expertDtype = "fp4";
    c.transformersVersion = "4.57.1";
    c.swigluLimit = 10.0;
    std::vector<int> pattern; // ratios of the main layers
    if (preset == "tiny") {
        // testdata tiny-quant's topology (max_position_embeddings larger, for demos).
        c.vocabSize = 512;
        c.hiddenSize = 256;
        c.numHiddenLayers = 4;
        c.numAttentionHeads = 2;
        c.headDim = 128;
        c.qkRopeHeadDim = 64;
        c.qLoraRank = 128;
        c.oGroups = 2;
        c.oLoraRank = 128;
        c.slidingWindow = 8;
        pattern = {0, 4, 16, 4};
        c.indexNHeads = 2;
        c.indexHeadDim = 128;
        c.indexTopk = 4;
        c.nRoutedExperts = 8;
        c.numExpertsPerTok = 2;
        c.moeIntermediateSize = 128;
        c.numHashLayers = 2;
        c.routedScalingFactor = 1.5;
        c.ropeScaling->factor = 4;
        c.ropeScaling->originalMaxPositionEmbeddings = 32;
        c.maxPositionEmbeddings = 4096;
    } else if (preset == "small") {
        // The benchmark model: V4 shapes with dim 1024, 8 layers, 32 experts x 512, top-6.
        c.vocabSize = 129280;
        c.hiddenSize = 1024;
        c.numHiddenLayers = 8;
        c.numAttentionHeads = 8;
        c.headDim = 512;
        c.qkRopeHeadDim = 64;
        c.qLoraRank = 512;
        c.oGroups = 2;
        c.oLoraRank = 512;
        c.slidingWindow = 128;
        pattern = {0, 0, 4, 128, 4, 128, 4, 128};
        c.indexNHeads = 16;
        c.indexHeadDim = 128;
        c.indexTopk = 512;
        c.nRoutedExperts = 32;
        c.numExpertsPerTok = 6;
        c.moeIntermediateSize = 512;
        c.numHashLayers = 3;
        c.routedScalingFactor = 1.5;
        c.ropeScaling->factor = 16;
        c.ropeScaling->originalMaxPositionEmbeddings = 65536;
        c.maxPositionEmbeddings = 65536;
    } else if (preset == "flash-slice") {
        // V4-Flash's layer dimensions (spec §1.1), N layers.
        c.vocabSize = 129280;
        c.hiddenSize = 4096;
        c.numHiddenLayers = 2;
        c.numAttentionHeads = 64;
        c.headDim = 512;
        c.qkRopeHeadDim = 64;
        c.qLoraRank = 1024;
        c.oGroups = 8;
        c.oLoraRank = 1024;
        c.slidingWindow = 128;
        pattern = {0, 0};
        for (int i = 2; i < 43; ++i)
            pattern.push_back(i % 2 == 0 ? 4 : 128);
        c.indexNHeads = 64;
        c.indexHeadDim = 128;
        c.indexTopk = 512;
        c.nRoutedExperts = 256;
        c.numExpertsPerTok = 6;
        c.moeIntermediateSize = 2048;
        c.numHashLayers = 3;
        c.routedScalingFactor = 1.5;
        c.ropeScaling->factor = 16;
        c.ropeScaling->originalMaxPositionEmbeddings = 65536;
        c.maxPositionEmbeddings = 1048576;
    } else {
        return fail(Error::Kind::InvalidArgument,
                    "unknown preset '" + preset + "' (tiny, small or flash-slice)");
    }
    if (layers > 0)
        c.numHiddenLayers = layers;
    if (firstLayer < 0)
        return fail(Error::Kind::InvalidArgument,
                    "first layer " + std::to_string(firstLayer) + " is negative");
    c.numNextnPredictLayers = 1;
    c.numHashLayers = std::clamp(c.numHashLayers - firstLayer, 0, c.numHiddenLayers);
    c.compressRatios.clear();
    for (int l = 0; l < c.numHiddenLayers; ++l) {
        // Longer stacks repeat the preset's CSA/HCA alternation after its leading entries.
        const int i = firstLayer + l;
        int m;
        if (i < static_cast<int>(pattern.size()))
            m = pattern[static_cast<size_t>(i)];
        else
            m = pattern[pattern.size() - 2 + static_cast<size_t>((i - pattern.size()) % 2)];
        c.compressRatios.push_back(m);
    }
    c.compressRatios.push_back(0); // MTP block: sliding window only
    FATHOM_TRY(validateModelConfig(c));
    return c;
}

// ---- random weights -----------------------------------------------------------------------------

namespace {

uint64_t splitmix(uint64_t &s)
{
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t hashName(const std::string &s, uint64_t seed)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (unsigned char ch : s)
        h = (h ^ ch) * 1099511628211ull;
    return h;
}

// Deterministic per (seed, tensor, row) so rows can be generated on several threads.
struct Rng
{
    uint64_t state;
    double uniform() { return (static_cast<double>(splitmix(state) >> 11) + 0.5) * 0x1p-53; }
    float normal()
    {
        const double u = uniform(), v = uniform();
        return static_cast<float>(std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v));
    }
};

class Generator
{
public:
    Generator(uint64_t seed, ThreadPool &pool)
        : m_seed(seed)
        , m_pool(pool)
    {}

    // rows x cols values: base + std * N(0,1), per row seeded.
    void normalRows(const std::string &name,
                    int64_t rows,
                    int64_t cols,
                    float mean,
                    float stddev,
                    const std::function<void(int64_t row, const float *values)> &sink)
    {
        const uint64_t base = hashName(name, m_seed);
        kernels::parallel_for(&m_pool, rows, 8, [&](int64_t r0, int64_t r1) {
            std::vector<float> row(static_cast<size_t>(cols));
            for (int64_t r = r0; r < r1; ++r) {
                Rng rng{base + static_cast<uint64_t>(r) * 0x9E3779B97F4A7C15ull};
                for (float &v : row)
                    v = mean + stddev * rng.normal();
                sink(r, row.data());
            }
        });
    }

    uint64_t seed() const { return m_seed; }
    ThreadPool &pool() { return m_pool; }

private:
    uint64_t m_seed;
    ThreadPool &m_pool;
};

SafetensorsWriter::FillFn fillBf16(
    Generator &g, std::string name, int64_t rows, int64_t cols, float mean, float sd)
{
    return [&g, name, rows, cols, mean, sd](std::vector<uint8_t> &out) {
        auto *dst = reinterpret_cast<uint16_t *>(out.data());
        g.normalRows(name, rows, cols, mean, sd, [&](int64_t r, const float *v) {
            kernels::f32_to_bf16_row(v, dst + r * cols, cols);
        });
    };
}

SafetensorsWriter::FillFn fillF32(
    Generator &g, std::string name, int64_t rows, int64_t cols, float mean, float sd)
{
    return [&g, name, rows, cols, mean, sd](std::vector<uint8_t> &out) {
        auto *dst = reinterpret_cast<float *>(out.data());
        g.normalRows(name, rows, cols, mean, sd, [&](int64_t r, const float *v) {
            std::memcpy(dst + r * cols, v, static_cast<size_t>(cols) * 4);
        });
    };
}

// A projection in `fmt` with std = gain / sqrt(cols); FP8 / FP4 quantised from f32 draws.
void addLinear(SafetensorsWriter &w,
               Generator &g,
               const std::string &name,
               int64_t rows,
               int64_t cols,
               WeightFormat fmt,
               float gain)
{
    const float sd = gain / std::sqrt(static_cast<float>(cols));
    if (fmt == WeightFormat::Bf16) {
        w.add(name + ".weight", DType::Bf16, {rows, cols}, fillBf16(g, name, rows, cols, 0.0f, sd));
        return;
    }
    // The weight and its scales come from the same draw; the scale tensor is written after the
    // weight, so the draw is cached between the two fills.
    auto cache = std::make_shared<std::vector<uint8_t>>();
    const auto quantize = [&g, name, rows, cols, sd, fmt](std::vector<uint8_t> &q,
                                                          std::vector<uint8_t> &s) {
        if (fmt == WeightFormat::Fp8) {
            // 128-row stripes keep memory small: draw, then quantise with 128x128 blocks.
            const int64_t kb = (cols + 127) / 128;
            s.assign(static_cast<size_t>(((rows + 127) / 128) * kb), 0);
            for (int64_t r0 = 0; r0 < rows; r0 += 128) {
                const int64_t nr = std::min<int64_t>(128, rows - r0);
                std::vector<float> stripe(static_cast<size_t>(nr * cols));
                const uint64_t base = hashName(name, g.seed());
                kernels::parallel_for(&g.pool(), nr, 8, [&](int64_t a, int64_t b) {
                    for (int64_t r = a; r < b; ++r) {
                        Rng rng{base + static_cast<uint64_t>(r0 + r) * 0x9E3779B97F4A7C15ull};
                        for (int64_t c = 0; c < cols; ++c)
                            stripe[static_cast<size_t>(r * cols + c)] = sd * rng.normal();
                    }
                });
                kernels::quantize_weight_e4m3(stripe.data(),
                                              nr,
                                              cols,
                                              q.data() + r0 * cols,
                                              s.data() + (r0 / 128) * kb);
            }
        } else {
            s.assign(static_cast<size_t>(rows * (cols / 32)), 0);
            g.normalRows(name, rows, cols, 0.0f, sd, [&](int64_t r, const float *v) {
                kernels::quantize_weight_e2m1(v,
                                              1,
                                              cols,
                                              q.data() + r * (cols / 2),
                                              s.data() + r * (cols / 32));
            });
        }
    };
    if (fmt == WeightFormat::Fp8) {
        w.add(name + ".weight",
              DType::F8E4M3,
              {rows, cols},
              [quantize, cache](std::vector<uint8_t> &out) { quantize(out, *cache); });
        w.add(name + ".scale",
              DType::F8E8M0,
              {(rows + 127) / 128, (cols + 127) / 128},
              [cache](std::vector<uint8_t> &out) {
                  std::copy(cache->begin(), cache->end(), out.begin());
                  cache->clear();
              });
    } else {
        w.add(name + ".weight",
              DType::I8,
              {rows, cols / 2},
              [quantize, cache](std::vector<uint8_t> &out) { quantize(out, *cache); });
        w.add(name + ".scale", DType::F8E8M0, {rows, cols / 32}, [cache](std::vector<uint8_t> &out) {
            std::copy(cache->begin(), cache->end(), out.begin());
            cache->clear();
        });
    }
}

void addBlock(SafetensorsWriter &w, Generator &g, const ModelConfig &c, int layer)
{
    const std::string p = blockPrefix(c, layer);
    const bool mtp = layer >= c.numHiddenLayers;
    const int m = c.compressRatio(layer);
    const int64_t d = c.hiddenSize, hc = c.hcMult, H = c.numAttentionHeads, D = c.headDim,
                  mix = (2 + hc) * hc;
    const WeightFormat lin = c.linearFormat(), exp = c.expertFormat();
    w.add(p + "attn_norm.weight", DType::Bf16, {d}, fillBf16(g, p + "attn_norm", 1, d, 1.0f, 0.1f));
    w.add(p + "ffn_norm.weight", DType::Bf16, {d}, fillBf16(g, p + "ffn_norm", 1, d, 1.0f, 0.1f));
    for (const std::string sub : {"attn", "ffn"}) {
        w.add(p + "hc_" + sub + "_fn",
              DType::F32,
              {mix, hc * d},
              fillF32(g, p + "hc_" + sub + "_fn", mix, hc * d, 0.0f, 1.0f / std::sqrt(float(hc * d))));
        w.add(p + "hc_" + sub + "_base",
              DType::F32,
              {mix},
              fillF32(g, p + "hc_" + sub + "_base", 1, mix, 0.0f, 0.5f));
        w.add(p + "hc_" + sub + "_scale",
              DType::F32,
              {3},
              fillF32(g, p + "hc_" + sub + "_scale", 1, 3, 1.0f, 0.25f));
    }
    w.add(p + "attn.attn_sink", DType::F32, {H}, fillF32(g, p + "attn.attn_sink", 1, H, 0.0f, 1.0f));
    w.add(p + "attn.q_norm.weight",
          DType::Bf16,
          {c.qLoraRank},
          fillBf16(g, p + "q_norm", 1, c.qLoraRank, 1.0f, 0.1f));
    w.add(p + "attn.kv_norm.weight",
          DType::Bf16,
          {D},
          fillBf16(g, p + "kv_norm", 1, D, 2.2f, 0.22f));
    addLinear(w, g, p + "attn.wq_a", c.qLoraRank, d, lin, 1.0f);
    addLinear(w, g, p + "attn.wq_b", H * D, c.qLoraRank, lin, 1.0f);
    addLinear(w, g, p + "attn.wkv", D, d, lin, 1.0f);
    addLinear(w, g, p + "attn.wo_a", int64_t(c.oGroups) * c.oLoraRank, H * D / c.oGroups, lin, 1.0f);
    addLinear(w, g, p + "attn.wo_b", d, int64_t(c.oGroups) * c.oLoraRank, lin, 1.0f);
    if (m != 0) {
        const int64_t cw = (m == 4 ? 2 : 1) * D;
        const float sd = 1.0f / std::sqrt(float(d));
        w.add(p + "attn.compressor.ape",
              DType::F32,
              {m, cw},
              fillF32(g, p + "compressor.ape", m, cw, 0.0f, 0.5f));
        w.add(p + "attn.compressor.wkv.weight",
              DType::Bf16,
              {cw, d},
              fillBf16(g, p + "compressor.wkv", cw, d, 0.0f, sd));
        w.add(p + "attn.compressor.wgate.weight",
              DType::Bf16,
              {cw, d},
              fillBf16(g, p + "compressor.wgate", cw, d, 0.0f, sd));
        w.add(p + "attn.compressor.norm.weight",
              DType::Bf16,
              {D},
              fillBf16(g, p + "compressor.norm", 1, D, 2.2f, 0.22f));
    }
    if (m == 4) {
        const int64_t ihd = c.indexHeadDim, ih = c.indexNHeads;
        const float sd = 1.0f / std::sqrt(float(d));
        addLinear(w, g, p + "attn.indexer.wq_b", ih * ihd, c.qLoraRank, lin, 1.0f);
        w.add(p + "attn.indexer.weights_proj.weight",
              DType::Bf16,
              {ih, d},
              fillBf16(g, p + "indexer.weights_proj", ih, d, 0.0f, sd));
        w.add(p + "attn.indexer.compressor.ape",
              DType::F32,
              {4, 2 * ihd},
              fillF32(g, p + "indexer.compressor.ape", 4, 2 * ihd, 0.0f, 0.5f));
        w.add(p + "attn.indexer.compressor.wkv.weight",
              DType::Bf16,
              {2 * ihd, d},
              fillBf16(g, p + "indexer.compressor.wkv", 2 * ihd, d, 0.0f, sd));
        w.add(p + "attn.indexer.compressor.wgate.weight",
              DType::Bf16,
              {2 * ihd, d},
              fillBf16(g, p + "indexer.compressor.wgate", 2 * ihd, d, 0.0f, sd));
        w.add(p + "attn.indexer.compressor.norm.weight",
              DType::Bf16,
              {ihd},
              fillBf16(g, p + "indexer.compressor.norm", 1, ihd, 1.0f, 0.1f));
    }
    w.add(p + "ffn.gate.weight",
          DType::Bf16,
          {c.nRoutedExperts, d},
          fillBf16(g, p + "ffn.gate", c.nRoutedExperts, d, 0.0f, 1.0f / std::sqrt(float(d))));
    if (!mtp && c.isHashLayer(layer)) {
        const int64_t V = c.vocabSize, k = c.numExpertsPerTok, E = c.nRoutedExperts;
        const uint64_t seed = hashName(p + "tid2eid", g.seed());
        w.add(p + "ffn.gate.tid2eid", DType::I64, {V, k}, [V, k, E, seed](std::vector<uint8_t> &out) {
            auto *ids = reinterpret_cast<int64_t *>(out.data());
            std::vector<int64_t> perm(static_cast<size_t>(E));
            for (int64_t t = 0; t < V; ++t) {
                Rng rng{seed + static_cast<uint64_t>(t) * 0x9E3779B97F4A7C15ull};
                std::iota(perm.begin(), perm.end(), 0);
                for (int64_t i = 0; i < k; ++i) { // partial Fisher-Yates: k distinct experts
                    const int64_t j = i + static_cast<int64_t>(rng.uniform() * double(E - i));
                    std::swap(perm[static_cast<size_t>(i)],
                              perm[static_cast<size_t>(std::min(j, E - 1))]);
                    ids[t * k + i] = perm[static_cast<size_t>(i)];
                }
            }
        });
    } else {
        w.add(p + "ffn.gate.bias",
              DType::F32,
              {c.nRoutedExperts},
              fillF32(g, p + "ffn.gate.bias", 1, c.nRoutedExperts, 0.0f, 0.1f));
    }
    for (int e = 0; e < c.nRoutedExperts; ++e) {
        const std::string ep = p + "ffn.experts." + std::to_string(e) + ".";
        Rng rng{hashName(ep, g.seed())};
        const float gain = 1.0f + 5.0f * static_cast<float>(rng.uniform()); // per-expert gain 1..6
        addLinear(w, g, ep + "w1", c.moeIntermediateSize, d, exp, gain);
        addLinear(w, g, ep + "w2", d, c.moeIntermediateSize, exp, 1.0f);
        addLinear(w, g, ep + "w3", c.moeIntermediateSize, d, exp, gain);
    }
    addLinear(w, g, p + "ffn.shared_experts.w1", c.moeIntermediateSize, d, lin, 4.5f);
    addLinear(w, g, p + "ffn.shared_experts.w2", d, c.moeIntermediateSize, lin, 1.0f);
    addLinear(w, g, p + "ffn.shared_experts.w3", c.moeIntermediateSize, d, lin, 4.5f);
    if (mtp) {
        addLinear(w, g, p + "e_proj", d, d, lin, 1.0f);
        addLinear(w, g, p + "h_proj", d, d, lin, 1.0f);
        w.add(p + "enorm.weight", DType::Bf16, {d}, fillBf16(g, p + "enorm", 1, d, 1.0f, 0.1f));
        w.add(p + "hnorm.weight", DType::Bf16, {d}, fillBf16(g, p + "hnorm", 1, d, 1.0f, 0.1f));
        w.add(p + "norm.weight", DType::Bf16, {d}, fillBf16(g, p + "norm", 1, d, 1.0f, 0.1f));
        w.add(p + "hc_head_fn",
              DType::F32,
              {hc, hc * d},
              fillF32(g, p + "hc_head_fn", hc, hc * d, 0.0f, 1.0f / std::sqrt(float(hc * d))));
        w.add(p + "hc_head_base",
              DType::F32,
              {hc},
              fillF32(g, p + "hc_head_base", 1, hc, 0.0f, 0.5f));
        w.add(p + "hc_head_scale",
              DType::F32,
              {1},
              fillF32(g, p + "hc_head_scale", 1, 1, 1.0f, 0.25f));
    }
}

Result<std::string> readFile(const std::string &path)
{
    FATHOM_TRY_ASSIGN(MappedFile f, MappedFile::open(path));
    return std::string(reinterpret_cast<const char *>(f.data()), f.size());
}

Result<void> writeText(const std::string &path, const std::string &text)
{
    std::ofstream out(utf8ToPath(path), std::ios::binary);
    out << text;
    out.close();
    if (!out)
        return fail(Error::Kind::Io, "cannot write " + path);
    return {};
}

// Vocabulary size (largest id + 1) and BOS/EOS ids of a tokenizer.json.
Result<void> applyTokenizer(const std::string &text, const std::string &path, ModelConfig &c)
{
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception &e) {
        return fail(Error::Kind::Format, path + ": malformed JSON: " + e.what());
    }
    int64_t maxId = -1;
    if (j.contains("model") && j["model"].contains("vocab") && j["model"]["vocab"].is_object())
        for (const auto &v : j["model"]["vocab"])
            if (v.is_number_integer())
                maxId = std::max<int64_t>(maxId, v.get<int64_t>());
    if (j.contains("added_tokens") && j["added_tokens"].is_array())
        for (const auto &t : j["added_tokens"]) {
            if (!t.contains("id") || !t["id"].is_number_integer())
                continue;
            const int64_t id = t["id"].get<int64_t>();
            maxId = std::max(maxId, id);
            const std::string content = t.value("content", "");
            if (content
                == "<\xEF\xBD\x9C"
                   "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>")
                c.bosTokenId = id;
            else if (content
                     == "<\xEF\xBD\x9C"
                        "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>")
                c.eosTokenId = id;
        }
    if (maxId < 0)
        return fail(Error::Kind::Format, path + ": no model.vocab or added_tokens with ids");
    c.vocabSize = maxId + 1;
    return {};
}

} // namespace

Result<void> writeRandomModel(const MakeModelOptions &o, const LoadProgressFn &progress)
{
    FATHOM_TRY_ASSIGN(ModelConfig c, presetModelConfig(o.preset, o.layers, o.firstLayer));
    std::string tokenizerText;
    if (!o.tokenizerPath.empty()) {
        FATHOM_TRY_ASSIGN(tokenizerText, readFile(o.tokenizerPath));
        FATHOM_TRY(applyTokenizer(tokenizerText, o.tokenizerPath, c));
    }
    std::error_code ec;
    fs::create_directories(utf8ToPath(o.outDir), ec);
    if (ec)
        return fail(Error::Kind::Io, "cannot create " + o.outDir + ": " + ec.message());
    const auto out = [&](const std::string &name) {
        return pathToUtf8(utf8ToPath(o.outDir) / name);
    };

    ThreadPool pool;
    Generator g(o.seed, pool);
    // Shards as the golden data: embed + first half of the layers; the rest + head; MTP.
    std::vector<SafetensorsWriter> shards(o.shards == 1 ? 1 : 3);
    SafetensorsWriter &first = shards[0];
    SafetensorsWriter &second = shards.size() == 1 ? shards[0] : shards[1];
    SafetensorsWriter &third = shards.size() == 1 ? shards[0] : shards[2];
    const int64_t d = c.hiddenSize, V = c.vocabSize, hc = c.hcMult;
    first.add("embed.weight", DType::Bf16, {V, d}, fillBf16(g, "embed", V, d, 0.0f, 1.0f));
    for (int l = 0; l < c.numHiddenLayers; ++l)
        addBlock(l < (c.numHiddenLayers + 1) / 2 ? first : second, g, c, l);
    second.add("norm.weight", DType::Bf16, {d}, fillBf16(g, "norm", 1, d, 1.0f, 0.1f));
    second.add("hc_head_fn",
               DType::F32,
               {hc, hc * d},
               fillF32(g, "hc_head_fn", hc, hc * d, 0.0f, 1.0f / std::sqrt(float(hc * d))));
    second.add("hc_head_base", DType::F32, {hc}, fillF32(g, "hc_head_base", 1, hc, 0.0f, 0.5f));
    second.add("hc_head_scale", DType::F32, {1}, fillF32(g, "hc_head_scale", 1, 1, 1.0f, 0.25f));
    second.add("head.weight",
               DType::Bf16,
               {V, d},
               fillBf16(g, "head", V, d, 0.0f, 1.0f / std::sqrt(float(d))));
    for (int l = c.numHiddenLayers; l < c.totalLayers(); ++l)
        addBlock(third, g, c, l);

    FATHOM_TRY(writeText(out("config.json"), modelConfigToJson(c)));
    uint64_t total = 0, done = 0;
    for (const auto &s : shards)
        total += s.dataBytes();
    nlohmann::json index;
    index["metadata"] = {{"total_size", total}};
    index["weight_map"] = nlohmann::json::object();
    for (size_t i = 0; i < shards.size(); ++i) {
        char name[64];
        if (shards.size() == 1)
            std::snprintf(name, sizeof(name), "model.safetensors");
        else
            std::snprintf(name,
                          sizeof(name),
                          "model-%05zu-of-%05zu.safetensors",
                          i + 1,
                          shards.size());
        if (progress && !progress(LoadProgress{done, total, std::string("writing ") + name}))
            return fail(Error::Kind::Cancelled, "cancelled");
        FATHOM_TRY(shards[i].write(out(name), {{"format", "pt"}}));
        done += shards[i].dataBytes();
        for (const std::string &n : shards[i].names())
            index["weight_map"][n] = name;
    }
    if (shards.size() > 1)
        FATHOM_TRY(writeText(out("model.safetensors.index.json"), index.dump(2) + "\n"));
    if (!tokenizerText.empty())
        FATHOM_TRY(writeText(out("tokenizer.json"), tokenizerText));
    if (progress)
        progress(LoadProgress{total, total, "done"});
    return {};
}

} // namespace fathom::engine
