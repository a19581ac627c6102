// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  The tensors a V4 config implies (v4-model-spec.md §6.2 scaled to the config), their
  validation against a TensorStore, and ModelWeights: config + validated, mapped weights with
  typed lookups for the forward pass.

  expectedTensors(config) lists every name with dtype and shape, main layers then MTP blocks:
  embed/head/norm/hc_head_*, per block attn_norm/ffn_norm/hc_{attn,ffn}_{fn,base,scale},
  attn.{attn_sink, q_norm, kv_norm, wq_a, wq_b, wkv, wo_a, wo_b} (+ .scale when FP8),
  compressor (ratio != 0), indexer (ratio 4), ffn.gate.{weight, bias | tid2eid (hash layers)},
  ffn.experts.{e}.w{1,2,3} (+ .scale for FP4/FP8 experts), ffn.shared_experts.w{1,2,3},
  MTP extras e_proj/h_proj/enorm/hnorm/norm/hc_head_*.

  validateTensors() fails (Kind::Format) naming the shard file and the tensor on a missing tensor,
  a wrong dtype or shape, a tensor the config does not use (the reference refuses those too),
  or a hash-routing table (tid2eid) with an expert id outside [0, n_routed_experts).

  ModelWeights::load(): config.json -> TensorStore (progress: "reading config", "mapping
  weights", "validating", "converting") -> validate -> converts `*.attn.wo_a` from FP8 to BF16
  (the reference's convert.py does; the only copy made, and the FP8 original's pages are
  released from the resident set afterwards) -> ready. Every other tensor is a view into the
  read-only mapping, so resident memory grows only as the forward pass touches weights
  (tests/engine/tst_residentmemory: growth <= 1.1x weightBytes() + state and activations).
  Thread: immutable after load.
*/

#include "engine/api/backend.h"
#include "engine/core/error.h"
#include "engine/model/modelconfig.h"
#include "engine/model/safetensors.h"
#include "kernels/linear.h"

#include <memory>
#include <string>
#include <vector>

namespace fathom::engine {

struct TensorSpec
{
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
};

std::vector<TensorSpec> expectedTensors(const ModelConfig &config);
Result<void> validateTensors(const TensorStore &store, const ModelConfig &config);

// "layers.{i}." for main layers, "mtp.{j}." for i = numHiddenLayers + j.
std::string blockPrefix(const ModelConfig &config, int layer);

// A projection ready for kernels::linear_cpu: y [m, outFeatures] = x [m, inFeatures] * W^T.
struct LinearWeight
{
    const void *weight = nullptr;   // see kernels/linear.h for the layout per type
    const uint8_t *scale = nullptr; // FP8 / FP4 only
    kernels::linear_weight_type type = kernels::linear_weight_type::bf16;
    int outFeatures = 0;
    int inFeatures = 0;
    const TensorView *view = nullptr; // the .weight tensor

    bool valid() const { return weight != nullptr; }
    int64_t bytes() const { return kernels::linear_weight_bytes(type, outFeatures, inFeatures); }
    // Parameters with this weight filled in; the caller sets x, y, m and the act types.
    kernels::linear_params params() const;
};

class ModelWeights
{
public:
    // dir: the model folder (config.json, shards, optional index).
    static Result<std::unique_ptr<ModelWeights>> load(const std::string &dir,
                                                      const LoadProgressFn &progress = {});
    // For benchmarks of more layers than a disk or the RAM holds: the folder's L main layers
    // repeated to `layers` (> L): main layer l is the folder's layer l mod L, compress ratios
    // repeat with period L, the MTP blocks and the rest stay. Each repeat reads its own mapping
    // of the shards, so every layer's tensors have distinct host addresses (an executor's upload
    // makes distinct device copies) while the pages are shared (the page cache holds the folder
    // once). The folder may have no hash-routed layer (their tid2eid rows would not repeat).
    static Result<std::unique_ptr<ModelWeights>> loadRepeated(const std::string &dir,
                                                              int layers,
                                                              const LoadProgressFn &progress = {});
    // For tests: an already parsed config and opened store (validated and converted here).
    static Result<std::unique_ptr<ModelWeights>> fromStore(ModelConfig config,
                                                           std::unique_ptr<TensorStore> store,
                                                           const LoadProgressFn &progress = {});

    const ModelConfig &config() const { return m_config; }
    const TensorStore &store() const { return *m_store; }
    const std::string &directory() const { return m_dir; }

    const TensorView *find(const std::string &name) const { return m_store->find(name); }
    // A tensor of expectedTensors(config) (present after a successful load). For any other name
    // an empty view (data nullptr) is returned.
    const TensorView &tensor(const std::string &name) const;
    // "layers.0.attn.wq_a" -> its .weight (+ .scale). wo_a comes back as the converted BF16.
    // Invalid (weight nullptr) when the name is not a projection of this model.
    LinearWeight linear(const std::string &prefix) const;

    uint64_t weightBytes() const { return m_store->totalBytes(); }

private:
    ModelConfig m_config;
    std::unique_ptr<TensorStore> m_store;
    std::string m_dir;
};

} // namespace fathom::engine
