// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "v4model.h"

#include "kernels/formats.h"
#include "kernels/rope.h"

namespace fathom::engine {

namespace {

struct Loader
{
    const ModelWeights &w;
    std::string error;

    const TensorView *get(const std::string &name, DType dtype)
    {
        const TensorView *v = w.find(name);
        if (!v || !v->data) {
            if (error.empty())
                error = "tensor " + name + " is missing";
            return nullptr;
        }
        if (v->dtype != dtype) {
            if (error.empty())
                error = "tensor " + name + " in " + v->file + " has dtype " + dtypeName(v->dtype)
                        + ", expected " + dtypeName(dtype);
            return nullptr;
        }
        return v;
    }
    const float *f32(const std::string &name)
    {
        const TensorView *v = get(name, DType::F32);
        return v ? v->as<float>() : nullptr;
    }
    std::vector<float> bf16Vector(const std::string &name)
    {
        const TensorView *v = get(name, DType::Bf16);
        std::vector<float> out;
        if (!v)
            return out;
        out.resize(static_cast<size_t>(v->numel()));
        for (size_t i = 0; i < out.size(); ++i)
            out[i] = kernels::bf16_to_f32(v->as<uint16_t>()[i]);
        return out;
    }
    LinearWeight linear(const std::string &prefix)
    {
        LinearWeight lw = w.linear(prefix);
        if (!lw.valid() && error.empty())
            error = "projection " + prefix + " is missing";
        return lw;
    }
    HcWeights hc(const std::string &p)
    {
        return {f32(p + "_fn"), f32(p + "_base"), f32(p + "_scale")};
    }
};

} // namespace

Result<std::unique_ptr<V4Model>> V4Model::create(const ModelWeights &weights)
{
    auto m = std::make_unique<V4Model>();
    m->m_weights = &weights;
    const ModelConfig &c = weights.config();
    Loader ld{weights, {}};

    const TensorView *embed = ld.get("embed.weight", DType::Bf16);
    m->m_embed = embed ? embed->as<uint16_t>() : nullptr;
    m->m_head = ld.linear("head");
    m->m_norm = ld.bf16Vector("norm.weight");
    m->m_hcHead = ld.hc("hc_head");

    for (int i = 0; i < c.totalLayers(); ++i) {
        BlockWeights b;
        b.index = i;
        b.prefix = blockPrefix(c, i);
        b.ratio = c.compressRatio(i);
        b.isMtp = i >= c.numHiddenLayers;
        b.hashRouted = !b.isMtp && c.isHashLayer(i);
        const std::string &p = b.prefix;
        b.hcAttn = ld.hc(p + "hc_attn");
        b.hcFfn = ld.hc(p + "hc_ffn");
        b.attnNorm = ld.bf16Vector(p + "attn_norm.weight");
        b.ffnNorm = ld.bf16Vector(p + "ffn_norm.weight");
        b.qNorm = ld.bf16Vector(p + "attn.q_norm.weight");
        b.kvNorm = ld.bf16Vector(p + "attn.kv_norm.weight");
        b.attnSink = ld.f32(p + "attn.attn_sink");
        b.wqA = ld.linear(p + "attn.wq_a");
        b.wqB = ld.linear(p + "attn.wq_b");
        b.wkv = ld.linear(p + "attn.wkv");
        b.woA = ld.linear(p + "attn.wo_a");
        b.woB = ld.linear(p + "attn.wo_b");
        if (b.ratio) {
            b.compWkv = ld.linear(p + "attn.compressor.wkv");
            b.compWgate = ld.linear(p + "attn.compressor.wgate");
            b.compApe = ld.f32(p + "attn.compressor.ape");
            b.compNorm = ld.bf16Vector(p + "attn.compressor.norm.weight");
        }
        if (b.ratio == 4) {
            b.idxWqB = ld.linear(p + "attn.indexer.wq_b");
            b.idxWeights = ld.linear(p + "attn.indexer.weights_proj");
            b.idxCompWkv = ld.linear(p + "attn.indexer.compressor.wkv");
            b.idxCompWgate = ld.linear(p + "attn.indexer.compressor.wgate");
            b.idxApe = ld.f32(p + "attn.indexer.compressor.ape");
            b.idxCompNorm = ld.bf16Vector(p + "attn.indexer.compressor.norm.weight");
        }
        b.gate = ld.linear(p + "ffn.gate");
        if (b.hashRouted) {
            const TensorView *t = ld.get(p + "ffn.gate.tid2eid", DType::I64);
            if (t) {
                b.tid2eid.resize(static_cast<size_t>(t->numel()));
                for (size_t k = 0; k < b.tid2eid.size(); ++k)
                    b.tid2eid[k] = static_cast<int32_t>(t->as<int64_t>()[k]);
            }
        } else {
            b.gateBias = ld.f32(p + "ffn.gate.bias");
        }
        for (int e = 0; e < c.nRoutedExperts; ++e) {
            const std::string ep = p + "ffn.experts." + std::to_string(e) + ".";
            b.experts.push_back({ld.linear(ep + "w1"), ld.linear(ep + "w2"), ld.linear(ep + "w3")});
        }
        b.shared = {ld.linear(p + "ffn.shared_experts.w1"),
                    ld.linear(p + "ffn.shared_experts.w2"),
                    ld.linear(p + "ffn.shared_experts.w3")};
        if (b.isMtp) {
            b.eProj = ld.linear(p + "e_proj");
            b.hProj = ld.linear(p + "h_proj");
            b.enorm = ld.bf16Vector(p + "enorm.weight");
            b.hnorm = ld.bf16Vector(p + "hnorm.weight");
            b.norm = ld.bf16Vector(p + "norm.weight");
            b.hcHead = ld.hc(p + "hc_head");
        }
        m->m_blocks.push_back(std::move(b));
    }
    if (!ld.error.empty())
        return fail(Error::Kind::Format, weights.directory() + ": " + ld.error);

    const int r = c.qkRopeHeadDim;
    m->m_ropePlain.resize(r / 2);
    m->m_ropeCompressed.resize(r / 2);
    kernels::RopeFreqParams fp;
    fp.rope_dim = r;
    fp.base = c.ropeTheta;
    if (!kernels::rope_freqs_cpu(fp, m->m_ropePlain.data()).ok())
        return fail(Error::Kind::InvalidArgument, "bad qk_rope_head_dim");
    fp.base = c.compressRopeTheta;
    if (c.ropeScaling && c.ropeScaling->factor > 1.0) {
        fp.yarn_factor = c.ropeScaling->factor;
        fp.original_seq_len = static_cast<double>(c.ropeScaling->originalMaxPositionEmbeddings);
        fp.beta_fast = c.ropeScaling->betaFast;
        fp.beta_slow = c.ropeScaling->betaSlow;
    }
    if (!kernels::rope_freqs_cpu(fp, m->m_ropeCompressed.data()).ok())
        return fail(Error::Kind::InvalidArgument, "bad qk_rope_head_dim");
    return m;
}

} // namespace fathom::engine
