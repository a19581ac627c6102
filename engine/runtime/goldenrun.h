// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  Runs against the golden data of ../shared/testdata (README §1.3, §2), shared by
  `fathom-cli logits` / `fathom-cli layer-check` and tests/golden:

  - NamedTensor / writeNamedTensors: F32 or I32 results written as a safetensors file.
  - GoldenRouting: a RoutingOverride replaying `routing.layers.{i}.moe_expert_ids`,
    `routing.layers.{i}.indexer_topk` and `routing.mtp.0.moe_expert_ids` of an expected.safetensors
    by batch row (sequence id) and position.
  - runLogits: prompt rows fed from position 0 (whole, or in chunks of `chunk` tokens), then one
    decode token per step; prefill_last_logits [B, V] and decode_logits [B, T, V].
  - runLayerCheck: the layer-local check (README §2): every block alone at the golden step from
    the golden inputs and KV state, the FFN sublayer from the golden attn_streams, the head from
    the golden last out_streams, the MTP input and block and head; values under golden names.
*/

#include "engine/core/error.h"
#include "engine/model/safetensors.h"
#include "engine/runtime/forward.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fathom::engine {

struct NamedTensor
{
    std::string name;
    DType dtype = DType::F32; // F32 or I32
    std::vector<int64_t> shape;
    std::vector<float> f32;
    std::vector<int32_t> i32;
};

Result<void> writeNamedTensors(const std::string &path, const std::vector<NamedTensor> &tensors);

// Golden tensor as floats (F32 / BF16) or ints (I32 / I64); Format error naming it if absent.
Result<std::vector<float>> goldenFloats(const SafetensorsFile &file, const std::string &name);
Result<std::vector<int32_t>> goldenInts(const SafetensorsFile &file, const std::string &name);

class GoldenRouting final : public RoutingOverride
{
public:
    static Result<GoldenRouting> load(const SafetensorsFile &expected, const ModelConfig &config);

    bool moeExperts(int block, int sequenceId, int64_t position, int32_t *ids, int k) const override;
    bool indexerTopk(int block, int sequenceId, int64_t position, int32_t *ids, int n) const override;

private:
    struct Table
    {
        std::vector<int32_t> data; // [B, P, w]
        int64_t rows = 0, positions = 0, width = 0;
    };
    std::map<int, Table> m_moe, m_indexer; // by block index
};

struct LogitsRequest
{
    std::vector<std::vector<int32_t>> prompt; // [B][S]
    std::vector<std::vector<int32_t>> decode; // [B][T] (may be empty)
    int chunk = 0;                            // 0 = whole prompt in one call
    const RoutingOverride *routing = nullptr;
    Tap *tap = nullptr; // every forward call's intermediates (ForwardOptions::tap)
    int64_t historyTokens = 1024;
};

struct LogitsResult
{
    int64_t vocab = 0;
    std::vector<float> prefillLast; // [B, V]
    std::vector<float> decode;      // [B, T, V]
};

Result<LogitsResult> runLogits(V4Forward &forward,
                               const ModelConfig &config,
                               const LogitsRequest &request);

Result<std::vector<NamedTensor>> runLayerCheck(V4Forward &forward,
                                               const ModelConfig &config,
                                               const SafetensorsFile &expected);

} // namespace fathom::engine
