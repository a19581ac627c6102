// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "forward.h"

#include "kernels/formats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <utility>

namespace fathom::engine {

namespace {

using Vec = std::vector<float>;

Vec zeros(int64_t n)
{
    return Vec(static_cast<size_t>(n), 0.0f);
}

} // namespace

struct V4Forward::Batch
{
    struct Item
    {
        SequenceState *state = nullptr;
        BlockState *bs = nullptr;
        const int32_t *tokens = nullptr;
        int64_t start = 0; // position of the first token
        int count = 0;
        int row = 0; // first row in the batch
        int seqId = 0;
    };
    std::vector<Item> items;
    int rows = 0;
    std::vector<int32_t> positions; // [rows]
    std::vector<int32_t> tokens;    // [rows]
};

V4Forward::V4Forward(const V4Model &model, Executor &executor)
    : m_model(model)
    , m_exec(executor)
{}

V4Forward::Batch V4Forward::makeBatch(int block, const std::vector<ForwardItem> &items) const
{
    Batch b;
    for (size_t i = 0; i < items.size(); ++i) {
        const ForwardItem &it = items[i];
        Batch::Item bi;
        bi.state = it.state;
        bi.bs = &it.state->block(block);
        bi.tokens = it.tokens;
        bi.start = bi.bs->length;
        bi.count = it.count;
        bi.row = b.rows;
        bi.seqId = it.sequenceId;
        for (int t = 0; t < it.count; ++t) {
            b.positions.push_back(static_cast<int32_t>(bi.start + t));
            b.tokens.push_back(it.tokens ? it.tokens[t] : 0);
        }
        b.rows += it.count;
        b.items.push_back(bi);
    }
    return b;
}

// Taps every item's rows of a [rows, ...] tensor.
static void tapRows(Tap *tap,
                    const std::string &name,
                    const float *data,
                    int rowSize,
                    const std::vector<int64_t> &shape,
                    const std::vector<ForwardItem> &items)
{
    if (!tap)
        return;
    int row = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        for (int t = 0; t < items[i].count; ++t, ++row)
            tap->tensor(name,
                        static_cast<int>(i),
                        data + static_cast<int64_t>(row) * rowSize,
                        shape);
    }
}

// One hyper-connected sublayer (spec §3.2): mHC pre-mix of the streams, the sublayer's RMSNorm,
// the sublayer itself (`inner`, from normalised input u to output y) and the mHC post-mix.
// `kind` ("attn" / "ffn") names the golden taps; `outName` the tap of the mixed streams.
Result<void> V4Forward::hyperConnected(const HcWeights &hc,
                                       const std::vector<float> &norm,
                                       const std::string &prefix,
                                       const char *kind,
                                       const char *outName,
                                       const std::vector<ForwardItem> &items,
                                       int rows,
                                       const float *x,
                                       float *out,
                                       Tap *tap,
                                       const SublayerFn &inner)
{
    const ModelConfig &c = m_model.config();
    const int N = rows, n = c.hcMult;
    const int d = static_cast<int>(c.hiddenSize);
    const float eps = static_cast<float>(c.rmsNormEps);
    const std::string name = prefix + kind;
    Vec pre = zeros(N * n), post = zeros(N * n), comb = zeros(N * n * n), u = zeros(N * d);
    kernels::MhcPreParams hp;
    hp.x = x;
    hp.fn = hc.fn;
    hp.base = hc.base;
    hp.scale = hc.scale;
    hp.pre = pre.data();
    hp.post = post.data();
    hp.comb = comb.data();
    hp.u = u.data();
    hp.tokens = N;
    hp.n_hc = n;
    hp.d = d;
    hp.sinkhorn_iters = c.hcSinkhornIters;
    hp.norm_eps = eps;
    hp.hc_eps = static_cast<float>(c.hcEps);
    FATHOM_TRY(m_exec.mhcPre(hp));
    tapRows(tap, name + "_hc_pre", pre.data(), n, {n}, items);
    tapRows(tap, name + "_hc_post", post.data(), n, {n}, items);
    tapRows(tap, name + "_hc_comb", comb.data(), n * n, {n, n}, items);

    kernels::RmsNormParams np;
    np.x = u.data();
    np.weight = norm.data();
    np.y = u.data();
    np.rows = N;
    np.dim = d;
    np.eps = eps;
    FATHOM_TRY(m_exec.rmsNorm(np));
    tapRows(tap, name + "_norm_out", u.data(), d, {d}, items);

    Vec y = zeros(N * d);
    FATHOM_TRY(inner(u.data(), y.data()));

    kernels::MhcPostParams pp;
    pp.x = x;
    pp.y = y.data();
    pp.post = post.data();
    pp.comb = comb.data();
    pp.out = out;
    pp.tokens = N;
    pp.n_hc = n;
    pp.d = d;
    FATHOM_TRY(m_exec.mhcPost(pp));
    tapRows(tap, prefix + outName, out, n * d, {n, d}, items);
    return {};
}

Result<void> V4Forward::attentionSublayer(int block,
                                          const std::vector<ForwardItem> &items,
                                          const float *x,
                                          float *out,
                                          const ForwardOptions &options)
{
    const BlockWeights &bw = m_model.block(block);
    const Batch batch = makeBatch(block, items);
    return hyperConnected(bw.hcAttn,
                          bw.attnNorm,
                          bw.prefix,
                          "attn",
                          "attn_streams",
                          items,
                          batch.rows,
                          x,
                          out,
                          options.tap,
                          [&](const float *u, float *y) {
                              return attention(block, batch, u, y, options);
                          });
}

Result<void> V4Forward::ffnSublayer(int block,
                                    const std::vector<ForwardItem> &items,
                                    const float *x,
                                    float *out,
                                    const ForwardOptions &options)
{
    const ModelConfig &c = m_model.config();
    const BlockWeights &bw = m_model.block(block);
    Batch batch = makeBatch(block, items);
    // Called after the attention sublayer of the same tokens extended the block state.
    for (auto &it : batch.items)
        it.start -= it.count;
    for (size_t i = 0, r = 0; i < batch.items.size(); ++i)
        for (int t = 0; t < batch.items[i].count; ++t, ++r)
            batch.positions[r] = static_cast<int32_t>(batch.items[i].start + t);
    const int d = static_cast<int>(c.hiddenSize);
    return hyperConnected(bw.hcFfn,
                          bw.ffnNorm,
                          bw.prefix,
                          "ffn",
                          "out_streams",
                          items,
                          batch.rows,
                          x,
                          out,
                          options.tap,
                          [&](const float *u, float *y) -> Result<void> {
                              FATHOM_TRY(moe(block, batch, u, y, options));
                              tapRows(options.tap, bw.prefix + "ffn_out", y, d, {d}, items);
                              return {};
                          });
}

Result<void> V4Forward::runBlock(int block,
                                 const std::vector<ForwardItem> &items,
                                 const float *x,
                                 float *out,
                                 const ForwardOptions &options)
{
    const ModelConfig &c = m_model.config();
    int total = 0;
    for (const ForwardItem &it : items)
        total += it.count;
    Vec mid = zeros(static_cast<int64_t>(total) * c.hcMult * c.hiddenSize);
    FATHOM_TRY(attentionSublayer(block, items, x, mid.data(), options));
    return ffnSublayer(block, items, mid.data(), out, options);
}

Result<void> V4Forward::compressorUpdate(const BlockWeights &bw,
                                         const Batch &batch,
                                         const float *x,
                                         bool indexer,
                                         std::vector<int> &emittedPerItem)
{
    const ModelConfig &c = m_model.config();
    const int m = bw.ratio;
    const int cc = m == 4 ? 2 : 1;
    const int Dc = indexer ? c.indexHeadDim : c.headDim;
    const int W = cc * Dc;
    const int N = batch.rows;
    const int r = c.qkRopeHeadDim;
    Vec a = zeros(static_cast<int64_t>(N) * W), g = zeros(static_cast<int64_t>(N) * W);
    FATHOM_TRY(
        m_exec.linear(indexer ? bw.idxCompWkv : bw.compWkv, x, N, a.data(), LinearOutput::F32));
    FATHOM_TRY(
        m_exec.linear(indexer ? bw.idxCompWgate : bw.compWgate, x, N, g.data(), LinearOutput::F32));
    const float *ape = indexer ? bw.idxApe : bw.compApe;

    Vec entries;
    std::vector<int32_t> entryPos;
    emittedPerItem.assign(batch.items.size(), 0);
    for (size_t i = 0; i < batch.items.size(); ++i) {
        const auto &it = batch.items[i];
        RowHistory &kvH = indexer ? it.bs->indexKv : it.bs->compKv;
        RowHistory &gH = indexer ? it.bs->indexGate : it.bs->compGate;
        for (int t = 0; t < it.count; ++t) {
            const int64_t pos = it.start + t;
            const int64_t row = it.row + t;
            float *gr = g.data() + row * W;
            const float *ar = ape + (pos % m) * W;
            for (int e = 0; e < W; ++e)
                gr[e] = gr[e] + ar[e];
            if (kvH.end() != pos || gH.end() != pos)
                return fail(Error::Kind::Internal,
                            bw.prefix + " compressor state out of step at position "
                                + std::to_string(pos));
            kvH.append(a.data() + row * W, 1);
            gH.append(gr, 1);
            if ((pos + 1) % m != 0)
                continue;
            const int64_t s = pos / m;
            const int64_t curStart = pos + 1 - m;
            const bool hasPrev = cc == 2 && s > 0;
            if (!kvH.has(hasPrev ? curStart - m : curStart, pos + 1))
                return fail(Error::Kind::Internal,
                            bw.prefix + " compressor inputs missing for entry " + std::to_string(s));
            entries.resize(entries.size() + Dc);
            kernels::CompressorPoolParams pp;
            pp.prev_kv = hasPrev ? kvH.row(curStart - m) : nullptr;
            pp.prev_score = hasPrev ? gH.row(curStart - m) : nullptr;
            pp.kv = kvH.row(curStart);
            pp.score = gH.row(curStart);
            pp.out = entries.data() + entries.size() - Dc;
            pp.ratio = m;
            pp.dc = Dc;
            pp.overlap = cc == 2 ? kernels::CompressorOverlap::Overlapped
                                 : kernels::CompressorOverlap::None;
            FATHOM_TRY(m_exec.compressorPool(pp));
            entryPos.push_back(static_cast<int32_t>(s * m));
            ++emittedPerItem[i];
        }
    }
    const int nE = static_cast<int>(entryPos.size());
    if (nE == 0)
        return {};
    kernels::RmsNormParams np;
    np.x = entries.data();
    np.weight = indexer ? bw.idxCompNorm.data() : bw.compNorm.data();
    np.y = entries.data();
    np.rows = nE;
    np.dim = Dc;
    np.eps = static_cast<float>(c.rmsNormEps);
    FATHOM_TRY(m_exec.rmsNorm(np));
    kernels::RopeParams rp;
    rp.x = entries.data();
    rp.positions = entryPos.data();
    rp.freqs = m_model.ropeCompressed().data();
    rp.rows = nE;
    rp.row_stride = Dc;
    rp.offset = Dc - r;
    rp.rope_dim = r;
    FATHOM_TRY(m_exec.rope(rp));
    if (indexer) {
        FATHOM_TRY(m_exec.hadamard(entries.data(),
                                   nE,
                                   Dc,
                                   static_cast<float>(1.0 / std::sqrt(static_cast<double>(Dc)))));
        FATHOM_TRY(m_exec.fakeQuantE2m1(entries.data(), nE, Dc, Dc, 32));
    } else {
        FATHOM_TRY(m_exec.fakeQuantE4m3(entries.data(), nE, Dc, Dc - r, 64));
    }
    int k = 0;
    for (size_t i = 0; i < batch.items.size(); ++i) {
        RowHistory &dst = indexer ? batch.items[i].bs->indexKeys : batch.items[i].bs->entries;
        dst.append(entries.data() + static_cast<int64_t>(k) * Dc, emittedPerItem[i]);
        k += emittedPerItem[i];
    }
    return {};
}

Result<void> V4Forward::attention(
    int block, const Batch &batch, const float *x, float *y, const ForwardOptions &options)
{
    const ModelConfig &c = m_model.config();
    const BlockWeights &bw = m_model.block(block);
    const int N = batch.rows;
    const int H = c.numAttentionHeads, D = c.headDim, r = c.qkRopeHeadDim, nope = D - r;
    const int QL = c.qLoraRank, Wn = c.slidingWindow, m = bw.ratio;
    const float eps = static_cast<float>(c.rmsNormEps);
    const std::vector<float> &freqs = m_model.ropeFor(bw);
    Tap *tap = options.tap;
    std::vector<ForwardItem> tapItems;
    for (const auto &it : batch.items)
        tapItems.push_back({it.state, it.tokens, it.count, it.seqId});

    // Query path (§3.4).
    Vec cq = zeros(static_cast<int64_t>(N) * QL);
    FATHOM_TRY(m_exec.linear(bw.wqA, x, N, cq.data(), LinearOutput::Bf16));
    kernels::RmsNormParams np;
    np.x = cq.data();
    np.weight = bw.qNorm.data();
    np.y = cq.data();
    np.rows = N;
    np.dim = QL;
    np.eps = eps;
    FATHOM_TRY(m_exec.rmsNorm(np));
    tapRows(tap, bw.prefix + "q_lora", cq.data(), QL, {QL}, tapItems);
    Vec q = zeros(static_cast<int64_t>(N) * H * D);
    FATHOM_TRY(m_exec.linear(bw.wqB, cq.data(), N, q.data(), LinearOutput::Bf16));
    FATHOM_TRY(m_exec.headRmsNormBf16(q.data(), N * H, D, eps));
    kernels::RopeParams rp;
    rp.x = q.data();
    rp.positions = batch.positions.data();
    rp.freqs = freqs.data();
    rp.rows = N * H;
    rp.row_stride = D;
    rp.offset = nope;
    rp.rope_dim = r;
    rp.rows_per_position = H;
    FATHOM_TRY(m_exec.rope(rp));
    tapRows(tap, bw.prefix + "q", q.data(), H * D, {H, D}, tapItems);

    // Key/value path.
    Vec kv = zeros(static_cast<int64_t>(N) * D);
    FATHOM_TRY(m_exec.linear(bw.wkv, x, N, kv.data(), LinearOutput::Bf16));
    np.x = kv.data();
    np.weight = bw.kvNorm.data();
    np.y = kv.data();
    np.dim = D;
    FATHOM_TRY(m_exec.rmsNorm(np));
    rp.x = kv.data();
    rp.rows = N;
    rp.rows_per_position = 1;
    FATHOM_TRY(m_exec.rope(rp));
    FATHOM_TRY(m_exec.fakeQuantE4m3(kv.data(), N, D, nope, 64));
    tapRows(tap, bw.prefix + "kv", kv.data(), D, {D}, tapItems);
    for (const auto &it : batch.items) {
        if (it.bs->window.end() != it.start)
            return fail(Error::Kind::Internal, bw.prefix + " window out of step");
        it.bs->window.append(kv.data() + static_cast<int64_t>(it.row) * D, it.count);
    }

    std::vector<int> emitted;
    if (m)
        FATHOM_TRY(compressorUpdate(bw, batch, x, false, emitted));

    // Lightning indexer (CSA): per token the selected compressed entries.
    const int topk = c.indexTopk;
    std::vector<int32_t> selected; // [N, topk], -1 padded
    if (m == 4) {
        FATHOM_TRY(compressorUpdate(bw, batch, x, true, emitted));
        const int HI = c.indexNHeads, DI = c.indexHeadDim;
        Vec qi = zeros(static_cast<int64_t>(N) * HI * DI);
        FATHOM_TRY(m_exec.linear(bw.idxWqB, cq.data(), N, qi.data(), LinearOutput::Bf16));
        kernels::RopeParams ip;
        ip.x = qi.data();
        ip.positions = batch.positions.data();
        ip.freqs = m_model.ropeCompressed().data();
        ip.rows = N * HI;
        ip.row_stride = DI;
        ip.offset = DI - r;
        ip.rope_dim = r;
        ip.rows_per_position = HI;
        FATHOM_TRY(m_exec.rope(ip));
        FATHOM_TRY(m_exec.hadamard(qi.data(),
                                   N * HI,
                                   DI,
                                   static_cast<float>(1.0 / std::sqrt(static_cast<double>(DI)))));
        FATHOM_TRY(m_exec.fakeQuantE2m1(qi.data(), N * HI, DI, DI, 32));
        Vec wi = zeros(static_cast<int64_t>(N) * HI);
        FATHOM_TRY(m_exec.linear(bw.idxWeights, x, N, wi.data(), LinearOutput::Bf16));
        const float wScale = static_cast<float>(std::pow(static_cast<double>(DI), -0.5)
                                                * std::pow(static_cast<double>(HI), -0.5));
        for (float &v : wi)
            v = kernels::round_bf16(v * wScale);

        selected.assign(static_cast<size_t>(N) * topk, -1);
        Vec scores;
        std::vector<int32_t> pick(topk);
        for (size_t i = 0; i < batch.items.size(); ++i) {
            const auto &it = batch.items[i];
            for (int t = 0; t < it.count; ++t) {
                const int64_t pos = it.start + t;
                const int64_t row = it.row + t;
                const int nVis = static_cast<int>((pos + 1) / m);
                const int k = std::min(topk, nVis);
                int32_t *sel = selected.data() + row * topk;
                if (options.routing
                    && options.routing->indexerTopk(block, it.seqId, pos, pick.data(), topk)) {
                    int j = 0;
                    for (int32_t s : pick)
                        if (s >= 0 && s < nVis && j < topk)
                            sel[j++] = s;
                    if (!tap)
                        continue;
                }
                if (nVis == 0)
                    continue;
                if (!it.bs->indexKeys.has(0, nVis))
                    return fail(Error::Kind::Internal, bw.prefix + " indexer keys missing");
                scores.assign(nVis, 0.0f);
                kernels::IndexerScoreParams sp;
                sp.q = qi.data() + row * HI * DI;
                sp.weights = wi.data() + row * HI;
                sp.keys = it.bs->indexKeys.row(0);
                sp.scores = scores.data();
                sp.n_heads = HI;
                sp.dim = DI;
                sp.n_keys = nVis;
                FATHOM_TRY(m_exec.indexerScores(sp));
                std::vector<int32_t> own(k);
                FATHOM_TRY(m_exec.topk(scores.data(), nVis, k, own.data()));
                if (tap) {
                    tap->tensor(bw.prefix + "indexer_scores",
                                static_cast<int>(i),
                                scores.data(),
                                {nVis});
                    tap->ids(bw.prefix + "indexer_topk", static_cast<int>(i), own.data(), {k});
                }
                if (sel[0] < 0)
                    std::copy(own.begin(), own.end(), sel);
            }
        }
    }

    // Sparse attention over window rows + compressed entries (§3.5, §3.8).
    Vec o = zeros(static_cast<int64_t>(N) * H * D);
    std::vector<int32_t> idx;
    for (const auto &it : batch.items) {
        const int64_t end = it.start + it.count;
        const int64_t wStart = std::max<int64_t>(0, it.start - Wn + 1);
        const int nWin = static_cast<int>(end - wStart);
        if (!it.bs->window.has(wStart, end))
            return fail(Error::Kind::Internal, bw.prefix + " window rows missing");
        const int nEnt = m ? static_cast<int>(it.bs->entries.end()) : 0;
        if (m && nEnt > 0 && it.bs->entries.begin() != 0)
            return fail(Error::Kind::Internal, bw.prefix + " compressed entries missing");
        const int nCmp = m == 0 ? 0 : (m == 4 ? topk : nEnt);
        const int nIdx = Wn + nCmp;
        idx.assign(static_cast<size_t>(it.count) * nIdx, -1);
        for (int t = 0; t < it.count; ++t) {
            const int64_t pos = it.start + t;
            int32_t *row = idx.data() + static_cast<int64_t>(t) * nIdx;
            int j = 0;
            for (int64_t p = std::max<int64_t>(0, pos - Wn + 1); p <= pos; ++p)
                row[j++] = static_cast<int32_t>(p - wStart);
            if (m == 4) {
                const int32_t *sel = selected.data() + (it.row + t) * static_cast<int64_t>(topk);
                for (int k = 0; k < topk; ++k)
                    if (sel[k] >= 0)
                        row[j++] = nWin + sel[k];
            } else if (m) {
                const int nVis = static_cast<int>((pos + 1) / m);
                for (int s = 0; s < nVis; ++s)
                    row[j++] = nWin + s;
            }
        }
        kernels::SparseAttnParams ap;
        ap.q = q.data() + static_cast<int64_t>(it.row) * H * D;
        ap.kv = it.bs->window.row(wStart);
        ap.n_kv = nWin;
        ap.kv_ext = nEnt ? it.bs->entries.row(0) : nullptr;
        ap.n_kv_ext = nEnt;
        ap.idx = idx.data();
        ap.sink = bw.attnSink;
        ap.out = o.data() + static_cast<int64_t>(it.row) * H * D;
        ap.n_q = it.count;
        ap.n_heads = H;
        ap.head_dim = D;
        ap.n_idx = nIdx;
        ap.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
        FATHOM_TRY(m_exec.sparseAttention(ap));
    }
    tapRows(tap, bw.prefix + "attn_core_out", o.data(), H * D, {H, D}, tapItems);
    rp.x = o.data();
    rp.rows = N * H;
    rp.rows_per_position = H;
    rp.direction = kernels::RopeDirection::Inverse;
    FATHOM_TRY(m_exec.rope(rp));
    tapRows(tap, bw.prefix + "attn_out_derotated", o.data(), H * D, {H, D}, tapItems);

    // Grouped low-rank output projection.
    const int G = c.oGroups, OL = c.oLoraRank, hpg = H / G;
    if (bw.woA.type != kernels::linear_weight_type::bf16)
        return fail(Error::Kind::Unsupported, bw.prefix + "attn.wo_a must be BF16 after loading");
    Vec rg = zeros(static_cast<int64_t>(N) * G * OL);
    for (int gi = 0; gi < G; ++gi) {
        LinearWeight sub = bw.woA;
        sub.weight = static_cast<const uint16_t *>(bw.woA.weight)
                     + static_cast<int64_t>(gi) * OL * hpg * D;
        sub.outFeatures = OL;
        sub.inFeatures = hpg * D;
        FATHOM_TRY(m_exec.linear(sub,
                                 o.data() + static_cast<int64_t>(gi) * hpg * D,
                                 N,
                                 rg.data() + static_cast<int64_t>(gi) * OL,
                                 LinearOutput::Bf16,
                                 static_cast<int64_t>(H) * D,
                                 static_cast<int64_t>(G) * OL));
    }
    FATHOM_TRY(m_exec.linear(bw.woB, rg.data(), N, y, LinearOutput::Bf16));
    tapRows(tap, bw.prefix + "attn_out", y, static_cast<int>(c.hiddenSize), {c.hiddenSize}, tapItems);

    for (size_t i = 0; i < batch.items.size(); ++i) {
        const auto &it = batch.items[i];
        it.bs->length = it.start + it.count;
        if (!tap)
            continue;
        const int64_t end = it.bs->length;
        const int64_t ws = std::max<int64_t>(0, end - Wn);
        tap->tensor(bw.prefix + "window_kv",
                    static_cast<int>(i),
                    it.bs->window.row(ws),
                    {end - ws, D});
        if (m && it.bs->entries.rows())
            tap->tensor(bw.prefix + "compressed_kv",
                        static_cast<int>(i),
                        it.bs->entries.row(0),
                        {it.bs->entries.rows(), D});
        if (m == 4 && it.bs->indexKeys.rows())
            tap->tensor(bw.prefix + "indexer_compressed_k",
                        static_cast<int>(i),
                        it.bs->indexKeys.row(0),
                        {it.bs->indexKeys.rows(), c.indexHeadDim});
    }
    return {};
}

Result<void> V4Forward::moe(
    int block, const Batch &batch, const float *x, float *y, const ForwardOptions &options)
{
    const ModelConfig &c = m_model.config();
    const BlockWeights &bw = m_model.block(block);
    const int N = batch.rows, E = c.nRoutedExperts, K = c.numExpertsPerTok;
    const int d = static_cast<int>(c.hiddenSize), I = static_cast<int>(c.moeIntermediateSize);
    Tap *tap = options.tap;

    Vec logits = zeros(static_cast<int64_t>(N) * E);
    FATHOM_TRY(m_exec.linear(bw.gate, x, N, logits.data(), LinearOutput::F32));
    std::vector<int32_t> ids(static_cast<size_t>(N) * K), forced(K);
    Vec weights = zeros(static_cast<int64_t>(N) * K), sel = zeros(static_cast<int64_t>(N) * E);
    for (const auto &it : batch.items) {
        for (int t = 0; t < it.count; ++t) {
            const int64_t row = it.row + t;
            const int64_t pos = it.start + t;
            kernels::MoeRouteParams mp;
            mp.logits = logits.data() + row * E;
            mp.bias = bw.gateBias;
            mp.select_scores = sel.data() + row * E;
            mp.ids = ids.data() + row * K;
            mp.weights = weights.data() + row * K;
            mp.tokens = 1;
            mp.n_experts = E;
            mp.topk = K;
            mp.route_scale = static_cast<float>(c.routedScalingFactor);
            if (options.routing
                && options.routing->moeExperts(block, it.seqId, pos, forced.data(), K)) {
                mp.forced_ids = forced.data();
            } else if (bw.hashRouted) {
                const int32_t tok = batch.tokens[row];
                if (tok < 0 || tok >= c.vocabSize)
                    return fail(Error::Kind::InvalidArgument,
                                "token id " + std::to_string(tok) + " outside the vocabulary");
                mp.forced_ids = bw.tid2eid.data() + static_cast<int64_t>(tok) * K;
            }
            FATHOM_TRY(m_exec.moeRoute(mp));
        }
    }
    if (tap) {
        std::vector<ForwardItem> tapItems;
        for (const auto &it : batch.items)
            tapItems.push_back({it.state, it.tokens, it.count, it.seqId});
        if (!bw.hashRouted)
            tapRows(tap, bw.prefix + "moe_select_scores", sel.data(), E, {E}, tapItems);
        tapRows(tap, bw.prefix + "moe_expert_weights", weights.data(), K, {K}, tapItems);
        int row = 0;
        for (size_t i = 0; i < tapItems.size(); ++i)
            for (int t = 0; t < tapItems[i].count; ++t, ++row)
                tap->ids(bw.prefix + "moe_expert_ids",
                         static_cast<int>(i),
                         ids.data() + static_cast<int64_t>(row) * K,
                         {K});
    }

    // Shared expert (no routing weight) and the routed experts, each over its gathered rows.
    Vec ys = zeros(static_cast<int64_t>(N) * d);
    Vec yr = zeros(static_cast<int64_t>(N) * K * d); // [row, slot, d]
    std::vector<ExpertJob> jobs;
    jobs.push_back({&bw.shared.w1, &bw.shared.w2, &bw.shared.w3, x, nullptr, ys.data(), N});
    std::vector<std::vector<int>> rowsOf(E), slotOf(E);
    for (int rI = 0; rI < N; ++rI)
        for (int j = 0; j < K; ++j) {
            const int e = ids[static_cast<size_t>(rI) * K + j];
            rowsOf[e].push_back(rI);
            slotOf[e].push_back(j);
        }
    std::vector<Vec> xe(E), we(E), ye(E);
    for (int e = 0; e < E; ++e) {
        const int ne = static_cast<int>(rowsOf[e].size());
        if (!ne)
            continue;
        xe[e].resize(static_cast<size_t>(ne) * d);
        we[e].resize(ne);
        ye[e].resize(static_cast<size_t>(ne) * d);
        for (int k = 0; k < ne; ++k) {
            std::memcpy(xe[e].data() + static_cast<int64_t>(k) * d,
                        x + static_cast<int64_t>(rowsOf[e][k]) * d,
                        sizeof(float) * d);
            we[e][k] = weights[static_cast<size_t>(rowsOf[e][k]) * K + slotOf[e][k]];
        }
        const ExpertWeights &ew = bw.experts[static_cast<size_t>(e)];
        jobs.push_back({&ew.w1, &ew.w2, &ew.w3, xe[e].data(), we[e].data(), ye[e].data(), ne});
    }
    FATHOM_TRY(m_exec.expertFfn(jobs, I, static_cast<float>(c.swigluLimit)));
    for (int e = 0; e < E; ++e)
        for (size_t k = 0; k < rowsOf[e].size(); ++k)
            std::memcpy(yr.data() + (static_cast<int64_t>(rowsOf[e][k]) * K + slotOf[e][k]) * d,
                        ye[e].data() + static_cast<int64_t>(k) * d,
                        sizeof(float) * d);
    // fp32 sum in the reference's order: routed experts by increasing id, then the shared one.
    std::vector<int> order(K);
    for (int rI = 0; rI < N; ++rI) {
        const int32_t *rid = ids.data() + static_cast<int64_t>(rI) * K;
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [rid](int a, int b) {
            return rid[a] < rid[b];
        });
        float *out = y + static_cast<int64_t>(rI) * d;
        for (int e = 0; e < d; ++e) {
            float acc = 0.0f;
            for (int j : order)
                acc += yr[(static_cast<int64_t>(rI) * K + j) * d + e];
            acc += ys[static_cast<int64_t>(rI) * d + e];
            out[e] = kernels::round_bf16(acc);
        }
    }
    return {};
}

Result<void> V4Forward::headLogits(
    const float *streams, int rows, float *logits, int mtpBlock, Tap *tap)
{
    const ModelConfig &c = m_model.config();
    const int d = static_cast<int>(c.hiddenSize);
    const bool mtp = mtpBlock >= 0;
    const HcWeights &hw = mtp ? m_model.block(mtpBlock).hcHead : m_model.hcHead();
    const std::vector<float> &norm = mtp ? m_model.block(mtpBlock).norm : m_model.norm();
    const std::string prefix = mtp ? m_model.block(mtpBlock).prefix : std::string();
    Vec u = zeros(static_cast<int64_t>(rows) * d);
    kernels::MhcHeadParams hp;
    hp.x = streams;
    hp.fn = hw.fn;
    hp.base = hw.base;
    hp.scale = hw.scale;
    hp.u = u.data();
    hp.tokens = rows;
    hp.n_hc = c.hcMult;
    hp.d = d;
    hp.norm_eps = static_cast<float>(c.rmsNormEps);
    hp.hc_eps = static_cast<float>(c.hcEps);
    FATHOM_TRY(m_exec.mhcHead(hp));
    if (tap)
        for (int i = 0; i < rows; ++i)
            tap->tensor(prefix + "hc_head_out", i, u.data() + static_cast<int64_t>(i) * d, {d});
    kernels::RmsNormParams np;
    np.x = u.data();
    np.weight = norm.data();
    np.y = u.data();
    np.rows = rows;
    np.dim = d;
    np.eps = static_cast<float>(c.rmsNormEps);
    FATHOM_TRY(m_exec.rmsNorm(np));
    if (tap)
        for (int i = 0; i < rows; ++i)
            tap->tensor(prefix + "final_norm_out", i, u.data() + static_cast<int64_t>(i) * d, {d});
    return m_exec.linear(m_model.head(), u.data(), rows, logits, LinearOutput::F32);
}

Result<void> V4Forward::mtpInput(
    int block, const float *mainStreams, const int32_t *nextIds, int rows, float *out, Tap *tap)
{
    const ModelConfig &c = m_model.config();
    const BlockWeights &bw = m_model.block(block);
    const int d = static_cast<int>(c.hiddenSize), n = c.hcMult;
    const float eps = static_cast<float>(c.rmsNormEps);
    Vec e = zeros(static_cast<int64_t>(rows) * d);
    for (int i = 0; i < rows; ++i) {
        if (nextIds[i] < 0 || nextIds[i] >= c.vocabSize)
            return fail(Error::Kind::InvalidArgument,
                        "token id " + std::to_string(nextIds[i]) + " outside the vocabulary");
        const uint16_t *src = m_model.embed() + static_cast<int64_t>(nextIds[i]) * d;
        for (int k = 0; k < d; ++k)
            e[static_cast<size_t>(i) * d + k] = kernels::bf16_to_f32(src[k]);
    }
    kernels::RmsNormParams np;
    np.x = e.data();
    np.weight = bw.enorm.data();
    np.y = e.data();
    np.rows = rows;
    np.dim = d;
    np.eps = eps;
    FATHOM_TRY(m_exec.rmsNorm(np));
    Vec h = zeros(static_cast<int64_t>(rows) * n * d);
    np.x = mainStreams;
    np.weight = bw.hnorm.data();
    np.y = h.data();
    np.rows = rows * n;
    FATHOM_TRY(m_exec.rmsNorm(np));
    Vec ep = zeros(static_cast<int64_t>(rows) * d), hp = zeros(static_cast<int64_t>(rows) * n * d);
    FATHOM_TRY(m_exec.linear(bw.eProj, e.data(), rows, ep.data(), LinearOutput::Bf16));
    FATHOM_TRY(m_exec.linear(bw.hProj, h.data(), rows * n, hp.data(), LinearOutput::Bf16));
    for (int i = 0; i < rows; ++i)
        for (int s = 0; s < n; ++s)
            for (int k = 0; k < d; ++k) {
                const int64_t o = (static_cast<int64_t>(i) * n + s) * d + k;
                out[o] = kernels::round_bf16(ep[static_cast<size_t>(i) * d + k] + hp[o]);
            }
    if (tap) {
        for (int i = 0; i < rows; ++i) {
            tap->tensor(bw.prefix + "enorm_out", i, e.data() + static_cast<int64_t>(i) * d, {d});
            tap->tensor(bw.prefix + "hnorm_out",
                        i,
                        h.data() + static_cast<int64_t>(i) * n * d,
                        {n, d});
            tap->tensor(bw.prefix + "e_proj_out", i, ep.data() + static_cast<int64_t>(i) * d, {d});
            tap->tensor(bw.prefix + "h_proj_out",
                        i,
                        hp.data() + static_cast<int64_t>(i) * n * d,
                        {n, d});
            tap->tensor(bw.prefix + "in_streams", i, out + static_cast<int64_t>(i) * n * d, {n, d});
        }
    }
    return {};
}

Result<void> V4Forward::lastTokenLogits(const std::vector<ForwardItem> &items,
                                        const float *streams,
                                        float *lastLogits,
                                        int mtpBlock)
{
    const ModelConfig &c = m_model.config();
    const int64_t rowSize = static_cast<int64_t>(c.hcMult) * c.hiddenSize;
    const int64_t V = c.vocabSize;
    Vec last;
    std::vector<size_t> which;
    int64_t r0 = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        r0 += items[i].count;
        if (!items[i].count || !items[i].logits)
            continue;
        last.insert(last.end(), streams + (r0 - 1) * rowSize, streams + r0 * rowSize);
        which.push_back(i);
    }
    if (which.empty())
        return {};
    Vec logits = zeros(static_cast<int64_t>(which.size()) * V);
    FATHOM_TRY(headLogits(last.data(), static_cast<int>(which.size()), logits.data(), mtpBlock));
    for (size_t k = 0; k < which.size(); ++k)
        std::memcpy(lastLogits + which[k] * V, logits.data() + k * V, sizeof(float) * V);
    return {};
}

Result<void> V4Forward::forward(const std::vector<ForwardItem> &items,
                                float *lastLogits,
                                const ForwardOptions &options,
                                std::vector<float> *finalStreams)
{
    const ModelConfig &c = m_model.config();
    const int d = static_cast<int>(c.hiddenSize), n = c.hcMult;
    int total = 0;
    for (const ForwardItem &it : items) {
        if (!it.state || it.count < 0 || (it.count && !it.tokens))
            return fail(Error::Kind::InvalidArgument, "forward: bad batch item");
        if (it.state->blockCount() != c.totalLayers())
            return fail(Error::Kind::InvalidArgument, "forward: state made for another model");
        total += it.count;
    }
    Vec x = zeros(static_cast<int64_t>(total) * n * d), x2 = x;
    int row = 0;
    for (const ForwardItem &it : items) {
        for (int t = 0; t < it.count; ++t, ++row) {
            const int32_t tok = it.tokens[t];
            if (tok < 0 || tok >= c.vocabSize)
                return fail(Error::Kind::InvalidArgument,
                            "token id " + std::to_string(tok) + " outside the vocabulary");
            const uint16_t *src = m_model.embed() + static_cast<int64_t>(tok) * d;
            for (int s = 0; s < n; ++s)
                for (int k = 0; k < d; ++k)
                    x[(static_cast<int64_t>(row) * n + s) * d + k] = kernels::bf16_to_f32(src[k]);
        }
    }
    for (int l = 0; l < c.numHiddenLayers; ++l) {
        FATHOM_TRY(runBlock(l, items, x.data(), x2.data(), options));
        std::swap(x, x2);
    }
    if (finalStreams)
        *finalStreams = x;
    if (lastLogits)
        FATHOM_TRY(lastTokenLogits(items, x.data(), lastLogits, -1));
    for (const ForwardItem &it : items)
        it.state->trim();
    return {};
}

Result<void> V4Forward::mtpForward(const std::vector<ForwardItem> &items,
                                   const float *mainStreams,
                                   float *lastLogits,
                                   const ForwardOptions &options)
{
    const ModelConfig &c = m_model.config();
    if (c.numNextnPredictLayers < 1)
        return fail(Error::Kind::Unsupported, "this model has no MTP block");
    const int block = c.numHiddenLayers;
    const int d = static_cast<int>(c.hiddenSize), n = c.hcMult;
    int total = 0;
    std::vector<int32_t> next;
    for (const ForwardItem &it : items) {
        total += it.count;
        next.insert(next.end(), it.tokens, it.tokens + it.count);
    }
    Vec x = zeros(static_cast<int64_t>(total) * n * d), y = x;
    FATHOM_TRY(mtpInput(block, mainStreams, next.data(), total, x.data()));
    FATHOM_TRY(runBlock(block, items, x.data(), y.data(), options));
    if (lastLogits)
        FATHOM_TRY(lastTokenLogits(items, y.data(), lastLogits, block));
    for (const ForwardItem &it : items)
        it.state->trim();
    return {};
}

} // namespace fathom::engine

namespace fathom::engine {

Result<void> Executor::expertFfn(const std::vector<ExpertJob> &jobs, int inter, float limit)
{
    std::vector<float> g, u;
    for (const ExpertJob &j : jobs) {
        if (j.rows == 0)
            continue;
        g.resize(static_cast<size_t>(j.rows) * inter);
        u.resize(static_cast<size_t>(j.rows) * inter);
        FATHOM_TRY(linear(*j.w1, j.x, j.rows, g.data(), LinearOutput::Bf16));
        FATHOM_TRY(linear(*j.w3, j.x, j.rows, u.data(), LinearOutput::Bf16));
        kernels::SwigluParams sw;
        sw.gate = g.data();
        sw.up = u.data();
        sw.row_weights = j.rowWeights;
        sw.out = g.data();
        sw.rows = j.rows;
        sw.inter = inter;
        sw.limit = limit;
        FATHOM_TRY(swiglu(sw));
        FATHOM_TRY(linear(*j.w2, g.data(), j.rows, j.y, LinearOutput::Bf16));
    }
    return {};
}

} // namespace fathom::engine
