// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  V4Model: the loaded weights arranged per block for the forward pass, plus what is derived once
  (fp32 copies of the bf16 norm weights, int32 tid2eid tables, both RoPE frequency tables).
  Projections stay views into the mapped checkpoint (ModelWeights). Thread: immutable after
  create(); shared by any number of forward passes.
*/

#include "engine/core/error.h"
#include "engine/model/modelweights.h"

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace fathom::engine {

struct HcWeights
{
    const float *fn = nullptr;    // [(2 + n_hc) n_hc, n_hc d] (head: [n_hc, n_hc d])
    const float *base = nullptr;  // [(2 + n_hc) n_hc] (head: [n_hc])
    const float *scale = nullptr; // [3] (head: [1])
};

struct ExpertWeights
{
    LinearWeight w1, w2, w3;
};

struct BlockWeights
{
    int index = 0;
    std::string prefix; // "layers.3." / "mtp.0."
    int ratio = 0;
    bool hashRouted = false;
    bool isMtp = false;

    HcWeights hcAttn, hcFfn;
    std::vector<float> attnNorm, ffnNorm, qNorm, kvNorm;
    const float *attnSink = nullptr;
    LinearWeight wqA, wqB, wkv, woA, woB;

    // compressor (ratio != 0)
    LinearWeight compWkv, compWgate;
    const float *compApe = nullptr; // [ratio, c * head_dim]
    std::vector<float> compNorm;
    // indexer (ratio == 4)
    LinearWeight idxWqB, idxWeights, idxCompWkv, idxCompWgate;
    const float *idxApe = nullptr; // [4, 2 * index_head_dim]
    std::vector<float> idxCompNorm;

    // MoE
    LinearWeight gate;
    const float *gateBias = nullptr; // score-routed blocks
    std::vector<int32_t> tid2eid;    // hash blocks: [vocab, k]
    std::vector<ExpertWeights> experts;
    ExpertWeights shared;

    // MTP extras
    LinearWeight eProj, hProj;
    std::vector<float> enorm, hnorm, norm;
    HcWeights hcHead;
};

class V4Model
{
public:
    static Result<std::unique_ptr<V4Model>> create(const ModelWeights &weights);

    const ModelConfig &config() const { return m_weights->config(); }
    const ModelWeights &weights() const { return *m_weights; }
    const BlockWeights &block(int i) const { return m_blocks.at(static_cast<size_t>(i)); }
    int blockCount() const { return static_cast<int>(m_blocks.size()); }

    const uint16_t *embed() const { return m_embed; } // [vocab, d] bf16
    const LinearWeight &head() const { return m_head; }
    const std::vector<float> &norm() const { return m_norm; }
    const HcWeights &hcHead() const { return m_hcHead; }
    // [rope_dim / 2]: θ = rope_theta without YaRN (sliding-window blocks, MTP) and
    // θ = compress_rope_theta with YaRN (compressed blocks, their compressors and indexers).
    const std::vector<float> &ropePlain() const { return m_ropePlain; }
    const std::vector<float> &ropeCompressed() const { return m_ropeCompressed; }
    const std::vector<float> &ropeFor(const BlockWeights &b) const
    {
        return b.ratio ? m_ropeCompressed : m_ropePlain;
    }

private:
    const ModelWeights *m_weights = nullptr;
    std::vector<BlockWeights> m_blocks;
    const uint16_t *m_embed = nullptr;
    LinearWeight m_head;
    std::vector<float> m_norm;
    HcWeights m_hcHead;
    std::vector<float> m_ropePlain, m_ropeCompressed;
};

} // namespace fathom::engine
