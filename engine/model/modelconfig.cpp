// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "modelconfig.h"

#include "mappedfile.h"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace fathom::engine {

namespace fs = std::filesystem;
using nlohmann::json;

LayerKind ModelConfig::layerKind(int layer) const
{
    const int m = compressRatio(layer);
    return m == 0 ? LayerKind::SlidingWindow : (m == 4 ? LayerKind::Csa : LayerKind::Hca);
}

WeightFormat ModelConfig::expertFormat() const
{
    if (expertDtype == "fp4")
        return WeightFormat::Fp4;
    if (expertDtype == "fp8")
        return WeightFormat::Fp8;
    return linearFormat();
}

namespace {

// Reads typed fields and remembers the first error, which names the file and the field.
class Reader
{
public:
    Reader(const json &j, const std::string &source)
        : m_j(j)
        , m_source(source)
    {}

    bool ok() const { return !m_error; }
    Error error() const { return *m_error; }

    void setError(const std::string &field, const std::string &what)
    {
        if (!m_error)
            m_error = Error(Error::Kind::Format, m_source + ": field '" + field + "' " + what);
    }

    const json *get(const char *field, bool required)
    {
        const auto it = m_j.find(field);
        if (it == m_j.end() || (required && it->is_null())) {
            if (required)
                setError(field, "is missing");
            return nullptr;
        }
        return &*it;
    }

    template<typename T>
    void integer(const char *field, T &out, bool required = true)
    {
        const json *v = get(field, required);
        if (!v || v->is_null())
            return;
        if (v->is_number_integer())
            out = static_cast<T>(v->get<int64_t>());
        else if (v->is_number_float()
                 && v->get<double>() == static_cast<double>(static_cast<int64_t>(v->get<double>())))
            out = static_cast<T>(v->get<double>());
        else
            setError(field, "must be an integer, not " + v->dump());
    }
    void number(const char *field, double &out, bool required = true)
    {
        const json *v = get(field, required);
        if (!v || v->is_null())
            return;
        if (v->is_number())
            out = v->get<double>();
        else
            setError(field, "must be a number, not " + v->dump());
    }
    void boolean(const char *field, bool &out, bool required = true)
    {
        const json *v = get(field, required);
        if (!v || v->is_null())
            return;
        if (v->is_boolean())
            out = v->get<bool>();
        else
            setError(field, "must be true or false, not " + v->dump());
    }
    void string(const char *field, std::string &out, bool required = true)
    {
        const json *v = get(field, required);
        if (!v || v->is_null())
            return;
        if (v->is_string())
            out = v->get<std::string>();
        else
            setError(field, "must be a string, not " + v->dump());
    }

private:
    const json &m_j;
    std::string m_source;
    std::optional<Error> m_error;
};

bool isPowerOfTwo(int v)
{
    return v > 0 && (v & (v - 1)) == 0;
}

} // namespace

Result<ModelConfig> parseModelConfig(std::string_view text, const std::string &source)
{
    json j;
    try {
        j = json::parse(text.begin(), text.end());
    } catch (const json::exception &e) {
        return fail(Error::Kind::Format, source + ": malformed JSON: " + e.what());
    }
    if (!j.is_object())
        return fail(Error::Kind::Format, source + ": not a JSON object");

    ModelConfig c;
    c.sourcePath = source;
    Reader r(j, source);
    r.string("model_type", c.modelType);
    if (r.ok() && c.modelType != "deepseek_v4")
        return fail(Error::Kind::Unsupported,
                    source + ": field 'model_type' is '" + c.modelType
                        + "'; only DeepSeek V4 ('deepseek_v4') is supported");
    if (const json *a = r.get("architectures", false); a && !a->is_null()) {
        if (!a->is_array())
            r.setError("architectures", "must be a list of strings");
        else
            for (const json &s : *a)
                if (s.is_string())
                    c.architectures.push_back(s.get<std::string>());
    }
    r.integer("vocab_size", c.vocabSize);
    r.integer("hidden_size", c.hiddenSize);
    r.integer("num_hidden_layers", c.numHiddenLayers);
    r.integer("num_attention_heads", c.numAttentionHeads);
    r.integer("num_key_value_heads", c.numKeyValueHeads, false);
    r.integer("head_dim", c.headDim);
    r.integer("qk_rope_head_dim", c.qkRopeHeadDim);
    r.integer("q_lora_rank", c.qLoraRank);
    r.integer("o_groups", c.oGroups);
    r.integer("o_lora_rank", c.oLoraRank);
    r.integer("sliding_window", c.slidingWindow);
    if (const json *cr = r.get("compress_ratios", true)) {
        if (!cr->is_array())
            r.setError("compress_ratios", "must be a list of integers");
        else
            for (const json &v : *cr) {
                if (!v.is_number_integer()) {
                    r.setError("compress_ratios", "must be a list of integers, not " + cr->dump());
                    break;
                }
                c.compressRatios.push_back(v.get<int>());
            }
    }
    r.number("compress_rope_theta", c.compressRopeTheta);
    r.number("rope_theta", c.ropeTheta);
    if (const json *rs = r.get("rope_scaling", false); rs && !rs->is_null()) {
        if (!rs->is_object()) {
            r.setError("rope_scaling", "must be an object or null");
        } else {
            Reader sub(*rs, source + ": rope_scaling");
            RopeScaling s;
            if (rs->contains("type"))
                sub.string("type", s.type);
            else
                sub.string("rope_type", s.type);
            sub.number("factor", s.factor);
            sub.integer("original_max_position_embeddings", s.originalMaxPositionEmbeddings);
            sub.number("beta_fast", s.betaFast, false);
            sub.number("beta_slow", s.betaSlow, false);
            if (!sub.ok())
                return unexpected(sub.error());
            if (s.type != "yarn")
                return fail(Error::Kind::Unsupported,
                            source + ": field 'rope_scaling.type' is '" + s.type
                                + "'; only 'yarn' is supported");
            c.ropeScaling = s;
        }
    }
    r.integer("max_position_embeddings", c.maxPositionEmbeddings);
    r.integer("index_n_heads", c.indexNHeads);
    r.integer("index_head_dim", c.indexHeadDim);
    r.integer("index_topk", c.indexTopk);
    r.integer("n_routed_experts", c.nRoutedExperts);
    r.integer("n_shared_experts", c.nSharedExperts);
    r.integer("num_experts_per_tok", c.numExpertsPerTok);
    r.integer("moe_intermediate_size", c.moeIntermediateSize);
    r.integer("num_hash_layers", c.numHashLayers);
    r.string("scoring_func", c.scoringFuncName);
    r.string("topk_method", c.topkMethod, false);
    r.boolean("norm_topk_prob", c.normTopkProb, false);
    r.number("routed_scaling_factor", c.routedScalingFactor);
    r.number("swiglu_limit", c.swigluLimit, false);
    r.string("hidden_act", c.hiddenAct, false);
    r.integer("hc_mult", c.hcMult);
    r.integer("hc_sinkhorn_iters", c.hcSinkhornIters);
    r.number("hc_eps", c.hcEps, false);
    r.number("rms_norm_eps", c.rmsNormEps, false);
    r.integer("num_nextn_predict_layers", c.numNextnPredictLayers, false);
    r.boolean("tie_word_embeddings", c.tieWordEmbeddings, false);
    r.boolean("attention_bias", c.attentionBias, false);
    r.number("attention_dropout", c.attentionDropout, false);
    r.integer("bos_token_id", c.bosTokenId, false);
    r.integer("eos_token_id", c.eosTokenId, false);
    r.number("initializer_range", c.initializerRange, false);
    r.string("torch_dtype", c.torchDtype, false);
    r.boolean("use_cache", c.useCache, false);
    r.string("transformers_version", c.transformersVersion, false);
    if (const json *q = r.get("quantization_config", false); q && !q->is_null()) {
        if (!q->is_object())
            return fail(Error::Kind::Format,
                        source + ": field 'quantization_config' must be an object or null");
        Reader sub(*q, source + ": quantization_config");
        std::string method, fmt, scaleFmt;
        sub.string("quant_method", method);
        sub.string("fmt", fmt, false);
        sub.string("scale_fmt", scaleFmt, false);
        sub.string("activation_scheme", c.quantActivationScheme, false);
        if (!sub.ok())
            return unexpected(sub.error());
        if (method != "fp8" || (!fmt.empty() && fmt != "e4m3")
            || (!scaleFmt.empty() && scaleFmt != "ue8m0"))
            return fail(Error::Kind::Unsupported,
                        source + ": field 'quantization_config' (" + q->dump()
                            + ") is not FP8 e4m3 with ue8m0 scales");
        if (const auto wb = q->find("weight_block_size"); wb != q->end()) {
            if (!wb->is_array() || wb->size() != 2 || !(*wb)[0].is_number_integer()
                || !(*wb)[1].is_number_integer() || (*wb)[0].get<int>() != 128
                || (*wb)[1].get<int>() != 128)
                return fail(Error::Kind::Unsupported,
                            source + ": field 'quantization_config.weight_block_size' is "
                                + wb->dump() + "; only [128, 128] is supported");
        }
        c.fp8Quantized = true;
    }
    if (const json *e = r.get("expert_dtype", false); e && !e->is_null()) {
        if (!e->is_string())
            r.setError("expert_dtype", "must be a string or null");
        else
            c.expertDtype = e->get<std::string>();
    }
    if (!r.ok())
        return unexpected(r.error());
    c.scoringFunc = c.scoringFuncName == "softmax"   ? ScoringFunc::Softmax
                    : c.scoringFuncName == "sigmoid" ? ScoringFunc::Sigmoid
                                                     : ScoringFunc::SqrtSoftplus;
    FATHOM_TRY(validateModelConfig(c));
    return c;
}

Result<void> validateModelConfig(const ModelConfig &c)
{
    const std::string &src = c.sourcePath;
    const auto bad = [&](const std::string &field, const std::string &what) {
        return fail(Error::Kind::Format, src + ": field '" + field + "' " + what);
    };
    const auto positive = [&](const char *field, int64_t v) -> Result<void> {
        if (v <= 0)
            return bad(field, "must be positive, not " + std::to_string(v));
        return {};
    };
    FATHOM_TRY(positive("vocab_size", c.vocabSize));
    FATHOM_TRY(positive("hidden_size", c.hiddenSize));
    FATHOM_TRY(positive("num_hidden_layers", c.numHiddenLayers));
    FATHOM_TRY(positive("num_attention_heads", c.numAttentionHeads));
    FATHOM_TRY(positive("head_dim", c.headDim));
    FATHOM_TRY(positive("qk_rope_head_dim", c.qkRopeHeadDim));
    FATHOM_TRY(positive("q_lora_rank", c.qLoraRank));
    FATHOM_TRY(positive("o_groups", c.oGroups));
    FATHOM_TRY(positive("o_lora_rank", c.oLoraRank));
    FATHOM_TRY(positive("sliding_window", c.slidingWindow));
    FATHOM_TRY(positive("max_position_embeddings", c.maxPositionEmbeddings));
    FATHOM_TRY(positive("n_routed_experts", c.nRoutedExperts));
    FATHOM_TRY(positive("num_experts_per_tok", c.numExpertsPerTok));
    FATHOM_TRY(positive("moe_intermediate_size", c.moeIntermediateSize));
    FATHOM_TRY(positive("hc_mult", c.hcMult));
    FATHOM_TRY(positive("hc_sinkhorn_iters", c.hcSinkhornIters));
    if (c.numKeyValueHeads != 1)
        return bad("num_key_value_heads",
                   "must be 1 (V4 has one shared K=V head), not "
                       + std::to_string(c.numKeyValueHeads));
    if (c.nSharedExperts != 1)
        return bad("n_shared_experts", "must be 1, not " + std::to_string(c.nSharedExperts));
    if (c.qkRopeHeadDim % 2 != 0)
        return bad("qk_rope_head_dim",
                   "must be even (RoPE pairs), not " + std::to_string(c.qkRopeHeadDim));
    if (c.headDim <= c.qkRopeHeadDim || (c.headDim - c.qkRopeHeadDim) % 64 != 0)
        return bad("head_dim",
                   "minus qk_rope_head_dim must be a positive multiple of 64 (KV FP8 blocks); got "
                       + std::to_string(c.headDim) + " - " + std::to_string(c.qkRopeHeadDim));
    if (c.numAttentionHeads % c.oGroups != 0)
        return bad("o_groups",
                   std::to_string(c.oGroups) + " does not divide num_attention_heads "
                       + std::to_string(c.numAttentionHeads));
    if (c.numExpertsPerTok > c.nRoutedExperts)
        return bad("num_experts_per_tok",
                   std::to_string(c.numExpertsPerTok) + " exceeds n_routed_experts "
                       + std::to_string(c.nRoutedExperts));
    if (c.numHashLayers < 0 || c.numHashLayers > c.numHiddenLayers)
        return bad("num_hash_layers",
                   std::to_string(c.numHashLayers) + " is outside 0.."
                       + std::to_string(c.numHiddenLayers));
    if (c.numNextnPredictLayers < 0)
        return bad("num_nextn_predict_layers", "must not be negative");
    if (static_cast<int>(c.compressRatios.size()) < c.totalLayers())
        return bad("compress_ratios",
                   "has " + std::to_string(c.compressRatios.size())
                       + " entries; num_hidden_layers + num_nextn_predict_layers = "
                       + std::to_string(c.totalLayers()) + " are needed");
    bool anyCsa = false;
    for (size_t i = 0; i < c.compressRatios.size(); ++i) {
        const int m = c.compressRatios[i];
        if (m != 0 && m < 4)
            return bad("compress_ratios",
                       "entry " + std::to_string(i) + " is " + std::to_string(m)
                           + "; V4 uses 0 (window), 4 (CSA) or > 4 (HCA)");
        if (m == 4 && static_cast<int>(i) < c.totalLayers())
            anyCsa = true;
    }
    if (anyCsa) {
        FATHOM_TRY(positive("index_n_heads", c.indexNHeads));
        FATHOM_TRY(positive("index_topk", c.indexTopk));
        if (!isPowerOfTwo(c.indexHeadDim) || c.indexHeadDim < c.qkRopeHeadDim
            || c.indexHeadDim % 32 != 0)
            return bad("index_head_dim",
                       "must be a power of two, >= qk_rope_head_dim and a multiple of 32; got "
                           + std::to_string(c.indexHeadDim));
    }
    if (c.scoringFuncName != "sqrtsoftplus" && c.scoringFuncName != "softmax"
        && c.scoringFuncName != "sigmoid")
        return bad("scoring_func",
                   "is '" + c.scoringFuncName + "'; expected sqrtsoftplus, softmax or sigmoid");
    if (c.topkMethod != "noaux_tc")
        return bad("topk_method", "is '" + c.topkMethod + "'; V4 uses noaux_tc");
    if (c.hiddenAct != "silu")
        return bad("hidden_act", "is '" + c.hiddenAct + "'; V4 uses silu");
    if (!c.expertDtype.empty() && c.expertDtype != "fp4" && c.expertDtype != "fp8")
        return bad("expert_dtype", "is '" + c.expertDtype + "'; expected null, \"fp4\" or \"fp8\"");
    if (c.expertFormat() == WeightFormat::Fp4
        && (c.hiddenSize % 32 != 0 || c.moeIntermediateSize % 32 != 0))
        return bad("moe_intermediate_size",
                   "and hidden_size must be multiples of 32 for FP4 experts");
    if (c.rmsNormEps <= 0 || c.hcEps < 0)
        return bad("rms_norm_eps", "must be positive");
    if (c.ropeScaling
        && (c.ropeScaling->factor <= 0 || c.ropeScaling->originalMaxPositionEmbeddings <= 0))
        return bad("rope_scaling", "needs a positive factor and original_max_position_embeddings");
    return {};
}

Result<ModelConfig> loadModelConfig(const std::string &path)
{
    std::error_code ec;
    fs::path p = utf8ToPath(path);
    if (fs::is_directory(p, ec) || p.extension() != ".json")
        p /= "config.json";
    const std::string file = pathToUtf8(p);
    FATHOM_TRY_ASSIGN(MappedFile mapped, MappedFile::open(file));
    const std::string_view text(reinterpret_cast<const char *>(mapped.data()), mapped.size());
    return parseModelConfig(text, file);
}

std::string modelConfigToJson(const ModelConfig &c)
{
    json j = json::object();
    j["architectures"] = c.architectures.empty() ? std::vector<std::string>{"DeepseekV4ForCausalLM"}
                                                 : c.architectures;
    j["attention_bias"] = c.attentionBias;
    j["attention_dropout"] = c.attentionDropout;
    j["bos_token_id"] = c.bosTokenId;
    j["eos_token_id"] = c.eosTokenId;
    j["expert_dtype"] = c.expertDtype.empty() ? json(nullptr) : json(c.expertDtype);
    j["hc_eps"] = c.hcEps;
    j["hc_mult"] = c.hcMult;
    j["hc_sinkhorn_iters"] = c.hcSinkhornIters;
    j["head_dim"] = c.headDim;
    j["hidden_act"] = c.hiddenAct;
    j["hidden_size"] = c.hiddenSize;
    j["index_head_dim"] = c.indexHeadDim;
    j["index_n_heads"] = c.indexNHeads;
    j["index_topk"] = c.indexTopk;
    j["initializer_range"] = c.initializerRange;
    j["max_position_embeddings"] = c.maxPositionEmbeddings;
    j["model_type"] = c.modelType;
    j["moe_intermediate_size"] = c.moeIntermediateSize;
    j["n_routed_experts"] = c.nRoutedExperts;
    j["n_shared_experts"] = c.nSharedExperts;
    j["norm_topk_prob"] = c.normTopkProb;
    j["num_attention_heads"] = c.numAttentionHeads;
    j["num_experts_per_tok"] = c.numExpertsPerTok;
    j["num_hidden_layers"] = c.numHiddenLayers;
    j["num_hash_layers"] = c.numHashLayers;
    j["num_key_value_heads"] = c.numKeyValueHeads;
    j["num_nextn_predict_layers"] = c.numNextnPredictLayers;
    j["o_groups"] = c.oGroups;
    j["o_lora_rank"] = c.oLoraRank;
    j["q_lora_rank"] = c.qLoraRank;
    j["qk_rope_head_dim"] = c.qkRopeHeadDim;
    if (c.fp8Quantized)
        j["quantization_config"] = {{"activation_scheme",
                                     c.quantActivationScheme.empty() ? "dynamic"
                                                                     : c.quantActivationScheme},
                                    {"fmt", "e4m3"},
                                    {"quant_method", "fp8"},
                                    {"scale_fmt", "ue8m0"},
                                    {"weight_block_size", {c.weightBlockRows, c.weightBlockCols}}};
    else
        j["quantization_config"] = nullptr;
    j["rms_norm_eps"] = c.rmsNormEps;
    if (c.ropeScaling)
        j["rope_scaling"] = {{"beta_fast", c.ropeScaling->betaFast},
                             {"beta_slow", c.ropeScaling->betaSlow},
                             {"factor", c.ropeScaling->factor},
                             {"original_max_position_embeddings",
                              c.ropeScaling->originalMaxPositionEmbeddings},
                             {"type", c.ropeScaling->type}};
    else
        j["rope_scaling"] = nullptr;
    j["rope_theta"] = c.ropeTheta;
    j["routed_scaling_factor"] = c.routedScalingFactor;
    j["scoring_func"] = c.scoringFuncName;
    j["sliding_window"] = c.slidingWindow;
    j["swiglu_limit"] = c.swigluLimit;
    j["tie_word_embeddings"] = c.tieWordEmbeddings;
    j["topk_method"] = c.topkMethod;
    j["torch_dtype"] = c.torchDtype;
    j["transformers_version"] = c.transformersVersion.empty() ? "4.57.1" : c.transformersVersion;
    j["use_cache"] = c.useCache;
    j["vocab_size"] = c.vocabSize;
    j["compress_rope_theta"] = c.compressRopeTheta;
    j["compress_ratios"] = c.compressRatios;
    return j.dump(2) + "\n";
}

} // namespace fathom::engine
