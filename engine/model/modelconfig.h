// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  ModelConfig: the HF config.json of DeepSeek V4-Flash / V4-Pro (v4-model-spec.md §1.1, every
  field) plus the derived per-layer facts the forward pass needs. The names of the golden data's
  reference_model_args.json (the reference's ModelArgs, §1.2) are given next to each field.

  loadModelConfig() rejects, with a message naming the file and the field:
  - an unknown model_type (only "deepseek_v4"), a missing required field or one of the wrong JSON
    type;
  - inconsistent values: compress_ratios shorter than num_hidden_layers + num_nextn_predict_layers
    or with a ratio other than 0, 4 or > 4; heads not divisible by o_groups; head_dim not
    > qk_rope_head_dim or (head_dim - qk_rope_head_dim) not a multiple of 64 (KV fake-quant
    blocks); odd qk_rope_head_dim; index_head_dim not a power of two >= qk_rope_head_dim and a
    multiple of 32; num_experts_per_tok > n_routed_experts; num_hash_layers > num_hidden_layers;
    num_key_value_heads != 1; n_shared_experts != 1; hc_mult < 1; unknown scoring_func,
    topk_method, hidden_act or rope_scaling.type; a quantization_config other than
    {fp8, e4m3, ue8m0, [128, 128]}; expert_dtype other than null / "fp4" / "fp8"; for FP4
    experts hidden_size and moe_intermediate_size must be multiples of 32.
  Optional fields fall back to the official defaults (rms_norm_eps 1e-6, hc_eps 1e-6, ...).
*/

#include "engine/core/error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fathom::engine {

// Storage of the non-expert projections (wq_a, wq_b, wkv, wo_a, wo_b, shared experts, indexer
// wq_b, e_proj/h_proj) and of the routed experts.
enum class WeightFormat { Bf16, Fp8, Fp4 };
enum class ScoringFunc { SqrtSoftplus, Softmax, Sigmoid };
// Attention kind of a layer, from compress_ratios (§1.3).
enum class LayerKind { SlidingWindow, Csa, Hca };

struct RopeScaling
{
    std::string type = "yarn";                 // only "yarn" (or absent: no scaling)
    double factor = 1.0;                       // rope_factor
    int64_t originalMaxPositionEmbeddings = 0; // original_seq_len
    double betaFast = 32.0;                    // beta_fast
    double betaSlow = 1.0;                     // beta_slow
};

struct ModelConfig
{
    std::string sourcePath; // the config.json it came from (for messages)

    std::vector<std::string> architectures; // ["DeepseekV4ForCausalLM"]
    std::string modelType = "deepseek_v4";
    int64_t vocabSize = 0;                  // vocab_size
    int64_t hiddenSize = 0;                 // dim
    int numHiddenLayers = 0;                // n_layers (MTP not counted)
    int numAttentionHeads = 0;              // n_heads
    int numKeyValueHeads = 1;               // always 1 (K = V, one shared head)
    int headDim = 0;                        // head_dim (512)
    int qkRopeHeadDim = 0;                  // rope_head_dim (64): the LAST dims of each head
    int qLoraRank = 0;                      // q_lora_rank
    int oGroups = 0;                        // o_groups
    int oLoraRank = 0;                      // o_lora_rank
    int slidingWindow = 0;                  // window_size
    std::vector<int> compressRatios;        // compress_ratios, >= numHiddenLayers + MTP entries
    double compressRopeTheta = 160000.0;    // compress_rope_theta
    double ropeTheta = 10000.0;             // rope_theta
    std::optional<RopeScaling> ropeScaling; // rope_scaling (YaRN, compressed layers only)
    int64_t maxPositionEmbeddings = 0;      // max_position_embeddings (golden data: max_seq_len)
    int indexNHeads = 0;                    // index_n_heads
    int indexHeadDim = 0;                   // index_head_dim
    int indexTopk = 0;                      // index_topk
    int nRoutedExperts = 0;                 // n_routed_experts
    int nSharedExperts = 1;                 // n_shared_experts
    int numExpertsPerTok = 0;               // n_activated_experts
    int64_t moeIntermediateSize = 0;        // moe_inter_dim
    int numHashLayers = 0;                  // n_hash_layers
    std::string scoringFuncName = "sqrtsoftplus"; // score_func
    ScoringFunc scoringFunc = ScoringFunc::SqrtSoftplus;
    std::string topkMethod = "noaux_tc";
    bool normTopkProb = true;
    double routedScalingFactor = 1.0; // route_scale
    double swigluLimit = 0.0;         // swiglu_limit (0 = no clamp)
    std::string hiddenAct = "silu";
    int hcMult = 4;                // hc_mult
    int hcSinkhornIters = 20;      // hc_sinkhorn_iters
    double hcEps = 1e-6;           // hc_eps
    double rmsNormEps = 1e-6;      // norm_eps
    int numNextnPredictLayers = 0; // n_mtp_layers
    bool tieWordEmbeddings = false;
    bool attentionBias = false;
    double attentionDropout = 0.0;
    int64_t bosTokenId = 0;
    int64_t eosTokenId = 1;
    double initializerRange = 0.02;
    std::string torchDtype = "bfloat16";
    bool useCache = true;
    std::string transformersVersion;

    // quantization_config: present = FP8 e4m3 non-expert projections with 128x128 ue8m0 block
    // scales (dtype "fp8"); null/absent = everything bf16 (dtype "bf16").
    bool fp8Quantized = false;
    int weightBlockRows = 128, weightBlockCols = 128;
    std::string quantActivationScheme; // "dynamic"
    // expert_dtype: "" (null) = experts stored like the other projections; "fp4"; "fp8".
    std::string expertDtype;

    // ---- derived -------------------------------------------------------------------------------
    int nopeHeadDim() const { return headDim - qkRopeHeadDim; }
    int totalLayers() const { return numHiddenLayers + numNextnPredictLayers; }
    // ratio of main layer i (0 <= i < numHiddenLayers) or of MTP block j at i = numHiddenLayers + j
    int compressRatio(int layer) const { return compressRatios.at(static_cast<size_t>(layer)); }
    LayerKind layerKind(int layer) const;
    bool isHashLayer(int layer) const { return layer < numHashLayers; } // MTP blocks never
    WeightFormat linearFormat() const
    {
        return fp8Quantized ? WeightFormat::Fp8 : WeightFormat::Bf16;
    }
    WeightFormat expertFormat() const;
    int headsPerGroup() const { return numAttentionHeads / oGroups; }
};

// path: a config.json file or a model folder containing one.
Result<ModelConfig> loadModelConfig(const std::string &path);
// The same from JSON text; `source` names it in messages.
Result<ModelConfig> parseModelConfig(std::string_view json, const std::string &source);
// Re-checks the consistency rules above (make-model uses it before writing).
Result<void> validateModelConfig(const ModelConfig &config);
// config.json text in the official key set (pretty-printed, stable key order).
std::string modelConfigToJson(const ModelConfig &config);

} // namespace fathom::engine
