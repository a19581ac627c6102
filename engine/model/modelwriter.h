// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Writes random-weight DeepSeek V4 checkpoints in the official layout (config.json,
  model-0000N-of-0000M.safetensors shards + model.safetensors.index.json, tokenizer.json when
  given): benchmarks, the app's demo model, loader tests. `fathom-cli make-model` is a thin
  command over writeRandomModel().

  Weights follow testdata/README.md §1.2: projections N(0, 1/fan_in) (routed experts with
  per-expert gains 1..6, shared expert gain 4.5), norm weights 1 + N(0, 0.1^2), hc base/scale so
  Sinkhorn matrices are asymmetric, random distinct tid2eid rows; FP8 weights quantised with
  128x128 block scales 2^ceil(log2(amax/448)) and FP4 experts with 1x32 scales
  2^ceil(log2(amax/6)), both round-to-nearest-even (kernels/quant.h). The normal draws are
  counter-based (element i of a tensor is a function of (seed, tensor name, i): a smoothed
  48-coin binomial, see modelwriter.cpp), so the bytes are a pure function of (options, seed):
  the same for any thread count, compiler or instruction set (tst_modelfiles pins them).
  Tensors are generated in parallel inside (rows, 128x128 blocks) on `threads` threads.

  Presets: "tiny" (the topology of testdata tiny-quant), "small" (dim 1024, 8 layers, 32 experts
  of width 512, top-6: the benchmark model), "flash-slice" (V4-Flash layer dimensions, N
  layers). `layers` overrides num_hidden_layers (compress_ratios follow the preset's pattern).
  With a tokenizer.json the vocabulary size becomes the tokenizer's (largest id + 1) and
  bos/eos ids come from its added tokens.

  SafetensorsWriter streams tensors to disk one at a time (the header is written first from the
  planned shapes), so models far larger than memory can be written; a second thread writes one
  tensor while the next is generated (two buffers of the largest tensor's size).
*/

#include "engine/api/backend.h"
#include "engine/core/error.h"
#include "engine/model/modelconfig.h"
#include "engine/model/safetensors.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace fathom::engine {

class SafetensorsWriter
{
public:
    // Fills `out` (bytes = product(shape) * dtype size, already sized; its old contents are
    // left over from another tensor, so every byte must be written) with the tensor's data.
    using FillFn = std::function<void(std::vector<uint8_t> &out)>;

    void add(std::string name, DType dtype, std::vector<int64_t> shape, FillFn fill);
    uint64_t dataBytes() const;
    size_t count() const { return m_entries.size(); }
    std::vector<std::string> names() const;
    // Writes the file (tensors in the order added; header entries sorted by name).
    Result<void> write(const std::string &path,
                       const std::map<std::string, std::string> &metadata = {}) const;

private:
    struct Entry
    {
        std::string name;
        DType dtype;
        std::vector<int64_t> shape;
        FillFn fill;
    };
    std::vector<Entry> m_entries;
};

struct MakeModelOptions
{
    std::string outDir;
    std::string preset = "tiny"; // tiny | small | flash-slice
    int layers = 0;              // 0 = the preset's
    // The preset's layer index the model's first layer is cut from: its compress ratio and
    // whether it routes by hash follow that layer's (flash-slice from 3: an HCA then a CSA
    // layer with score routing, where layers 0-2 are sliding-window or hash-routed).
    int firstLayer = 0;
    uint64_t seed = 0;
    std::string tokenizerPath; // optional tokenizer.json to copy (sets the vocabulary)
    int shards = 0;            // 0 = automatic (>= 2: embed first, MTP last)
    int threads = 0;           // 0 = ThreadPool default (the bytes do not depend on it)
};

Result<ModelConfig> presetModelConfig(const std::string &preset, int layers = 0, int firstLayer = 0);
Result<void> writeRandomModel(const MakeModelOptions &options, const LoadProgressFn &progress = {});

} // namespace fathom::engine
