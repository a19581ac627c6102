// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// Model files: config.json parsing, memory-mapped sharded safetensors with every header
// validated, the tensor inventory of a config, the load-time wo_a conversion, corrupt-file
// errors that name the file and the tensor / field, and the random checkpoint writer.

#include "engine/model/modelconfig.h"
#include "engine/model/modelweights.h"
#include "engine/model/modelwriter.h"
#include "engine/model/safetensors.h"
#include "kernels/formats.h"
#include "kernels/quant.h"
#include "testdata.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

using namespace fathom::engine;
using nlohmann::json;

namespace {

std::string toStd(const QString &s)
{
    return s.toStdString();
}

json readJson(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    const QByteArray b = f.readAll();
    return json::parse(b.constData(), b.constData() + b.size());
}

void writeJson(const QString &path, const json &j)
{
    QFile f(path);
    f.open(QIODevice::WriteOnly | QIODevice::Truncate);
    const std::string s = j.dump(2);
    f.write(s.data(), qint64(s.size()));
}

// The header and data area of a safetensors file, parsed independently of the engine.
struct RawSafetensors
{
    json header;
    QByteArray data;

    static RawSafetensors read(const QString &path)
    {
        QFile f(path);
        f.open(QIODevice::ReadOnly);
        const QByteArray all = f.readAll();
        uint64_t n = 0;
        std::memcpy(&n, all.constData(), 8);
        RawSafetensors r;
        r.header = json::parse(all.constData() + 8, all.constData() + 8 + n);
        r.data = all.mid(int(8 + n));
        return r;
    }
    void write(const QString &path) const
    {
        std::string h = header.dump();
        while (h.size() % 8)
            h.push_back(' ');
        const uint64_t n = h.size();
        QFile f(path);
        f.open(QIODevice::WriteOnly | QIODevice::Truncate);
        f.write(reinterpret_cast<const char *>(&n), 8);
        f.write(h.data(), qint64(h.size()));
        f.write(data);
    }
};

// A writable copy of a golden model folder.
bool copyModel(const QString &from, const QString &to)
{
    for (const QString &name : QDir(from).entryList(QDir::Files)) {
        if (name.startsWith(QLatin1String("expected")))
            continue;
        if (!QFile::copy(from + QLatin1Char('/') + name, to + QLatin1Char('/') + name))
            return false;
        QFile::setPermissions(to + QLatin1Char('/') + name, QFile::ReadOwner | QFile::WriteOwner);
    }
    return true;
}

} // namespace

class tst_ModelFiles : public QObject
{
    Q_OBJECT

private slots:
    void goldenCheckpoint_data();
    void goldenCheckpoint();
    void configMatchesReferenceArgs_data();
    void configMatchesReferenceArgs();
    void malformedConfig_data();
    void malformedConfig();
    void corruptSafetensors_data();
    void corruptSafetensors();
    void tid2eidOutOfRange();
    void missingFile();
    void writerTinyPreset();
    void loadRepeated();
    void writerThreadsAndSeeds();
    void writerReportsWriteErrors_data();
    void writerReportsWriteErrors();
    void writerTokenizerVocabulary();
    void presets();
};

void tst_ModelFiles::goldenCheckpoint_data()
{
    QTest::addColumn<QString>("model");
    QTest::newRow("tiny-bf16") << QStringLiteral("v4/tiny-bf16");
    QTest::newRow("tiny-quant") << QStringLiteral("v4/tiny-quant");
}

void tst_ModelFiles::goldenCheckpoint()
{
    QFETCH(QString, model);
    const QString dir = fathom::test::testdataPath(model);
    if (!QFileInfo::exists(dir)) {
        if (fathom::test::testdataRequired())
            QFAIL(qPrintable(QStringLiteral("golden data missing: ") + dir));
        QSKIP(qPrintable(QStringLiteral("SKIPPED LOUDLY: golden data not found at ") + dir));
    }
    const json index = readJson(dir + QStringLiteral("/model.safetensors.index.json"));
    QVERIFY(index.contains("weight_map"));

    // Store alone: every tensor of the index mapped, total bytes = the index's total_size.
    std::vector<LoadProgress> steps;
    auto store = TensorStore::open(toStd(dir), [&](const LoadProgress &p) {
        steps.push_back(p);
        return true;
    });
    QVERIFY2(store, store ? "" : store.error().message.c_str());
    QCOMPARE((*store)->tensors().size(), index["weight_map"].size());
    QCOMPARE((*store)->totalBytes(), index["metadata"]["total_size"].get<uint64_t>());
    QVERIFY(steps.size() >= 2);
    for (size_t i = 1; i < steps.size(); ++i)
        QVERIFY(steps[i].bytesDone >= steps[i - 1].bytesDone);
    QCOMPARE(steps.back().bytesDone, steps.back().bytesTotal);

    // Views point into the mapping: compare with an independent read of the shard.
    const std::string embedFile = index["weight_map"]["embed.weight"].get<std::string>();
    const RawSafetensors raw = RawSafetensors::read(dir + QLatin1Char('/')
                                                    + QString::fromStdString(embedFile));
    const auto off = raw.header["embed.weight"]["data_offsets"];
    const TensorView *embed = (*store)->find("embed.weight");
    QVERIFY(embed);
    QCOMPARE(embed->bytes, size_t(off[1].get<uint64_t>() - off[0].get<uint64_t>()));
    QVERIFY(std::memcmp(embed->data, raw.data.constData() + off[0].get<uint64_t>(), embed->bytes)
            == 0);

    // Full load: config, validation against the inventory, conversion.
    auto weights = ModelWeights::load(toStd(dir));
    QVERIFY2(weights, weights ? "" : weights.error().message.c_str());
    const ModelWeights &w = **weights;
    const ModelConfig &c = w.config();
    QCOMPARE(expectedTensors(c).size(), index["weight_map"].size());
    for (const TensorSpec &s : expectedTensors(c)) {
        const TensorView &v = w.tensor(s.name);
        QVERIFY2(v.data, s.name.c_str());
    }
    const bool quant = model.endsWith(QLatin1String("quant"));
    QCOMPARE(c.linearFormat(), quant ? WeightFormat::Fp8 : WeightFormat::Bf16);
    QCOMPARE(c.expertFormat(), quant ? WeightFormat::Fp4 : WeightFormat::Bf16);
    QCOMPARE(c.layerKind(0), LayerKind::SlidingWindow);
    QCOMPARE(c.layerKind(1), LayerKind::Csa);
    QCOMPARE(c.layerKind(2), LayerKind::Hca);
    QCOMPARE(c.layerKind(4), LayerKind::SlidingWindow); // MTP

    const LinearWeight wqa = w.linear("layers.1.attn.wq_a");
    QVERIFY(wqa.valid());
    QCOMPARE(wqa.outFeatures, c.qLoraRank);
    QCOMPARE(wqa.inFeatures, int(c.hiddenSize));
    QCOMPARE(wqa.type,
             quant ? fathom::kernels::linear_weight_type::fp8_e4m3
                   : fathom::kernels::linear_weight_type::bf16);
    const LinearWeight w1 = w.linear("layers.3.ffn.experts.5.w1");
    QVERIFY(w1.valid());
    QCOMPARE(w1.inFeatures, int(c.hiddenSize));
    QCOMPARE(w1.outFeatures, int(c.moeIntermediateSize));
    QCOMPARE(w1.type,
             quant ? fathom::kernels::linear_weight_type::fp4_e2m1
                   : fathom::kernels::linear_weight_type::bf16);
    QVERIFY(!w.linear("layers.9.attn.wq_a").valid());

    // wo_a is BF16 after loading; for FP8 checkpoints it equals the dequantised original.
    for (int layer = 0; layer < c.totalLayers(); ++layer) {
        const std::string name = blockPrefix(c, layer) + "attn.wo_a";
        const LinearWeight woa = w.linear(name);
        QCOMPARE(woa.type, fathom::kernels::linear_weight_type::bf16);
        QVERIFY(woa.scale == nullptr);
        if (!quant)
            continue;
        const TensorView *q = (*store)->find(name + ".weight");
        const TensorView *s = (*store)->find(name + ".scale");
        const int64_t n = q->dim(0), k = q->dim(1);
        const auto *bf = static_cast<const uint16_t *>(woa.weight);
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < k; ++j) {
                const float want
                    = fathom::kernels::e4m3_to_f32(q->as<uint8_t>()[i * k + j])
                      * std::ldexp(1.0f,
                                   int(s->as<uint8_t>()[(i / 128) * ((k + 127) / 128) + j / 128])
                                       - 127);
                if (fathom::kernels::bf16_to_f32(bf[i * k + j]) != want)
                    QFAIL(qPrintable(QStringLiteral("%1 [%2, %3]")
                                         .arg(QString::fromStdString(name))
                                         .arg(i)
                                         .arg(j)));
            }
    }
}

void tst_ModelFiles::configMatchesReferenceArgs_data()
{
    goldenCheckpoint_data();
}

void tst_ModelFiles::configMatchesReferenceArgs()
{
    // The reference's own ModelArgs (reference_model_args.json) are an independent statement of
    // the same configuration under the reference's names (spec §1.2).
    QFETCH(QString, model);
    const QString dir = fathom::test::testdataPath(model);
    if (!QFileInfo::exists(dir))
        QSKIP("SKIPPED LOUDLY: golden data not found");
    auto cfg = loadModelConfig(toStd(dir));
    QVERIFY2(cfg, cfg ? "" : cfg.error().message.c_str());
    const ModelConfig &c = *cfg;
    const json a = readJson(dir + QStringLiteral("/reference_model_args.json"));
    QCOMPARE(c.vocabSize, a["vocab_size"].get<int64_t>());
    QCOMPARE(c.hiddenSize, a["dim"].get<int64_t>());
    QCOMPARE(c.numHiddenLayers, a["n_layers"].get<int>());
    QCOMPARE(c.numNextnPredictLayers, a["n_mtp_layers"].get<int>());
    QCOMPARE(c.numHashLayers, a["n_hash_layers"].get<int>());
    QCOMPARE(c.numAttentionHeads, a["n_heads"].get<int>());
    QCOMPARE(c.headDim, a["head_dim"].get<int>());
    QCOMPARE(c.qkRopeHeadDim, a["rope_head_dim"].get<int>());
    QCOMPARE(c.qLoraRank, a["q_lora_rank"].get<int>());
    QCOMPARE(c.oGroups, a["o_groups"].get<int>());
    QCOMPARE(c.oLoraRank, a["o_lora_rank"].get<int>());
    QCOMPARE(c.slidingWindow, a["window_size"].get<int>());
    QCOMPARE(c.compressRatios, a["compress_ratios"].get<std::vector<int>>());
    QCOMPARE(c.indexNHeads, a["index_n_heads"].get<int>());
    QCOMPARE(c.indexHeadDim, a["index_head_dim"].get<int>());
    QCOMPARE(c.indexTopk, a["index_topk"].get<int>());
    QCOMPARE(c.nRoutedExperts, a["n_routed_experts"].get<int>());
    QCOMPARE(c.numExpertsPerTok, a["n_activated_experts"].get<int>());
    QCOMPARE(c.nSharedExperts, a["n_shared_experts"].get<int>());
    QCOMPARE(c.moeIntermediateSize, a["moe_inter_dim"].get<int64_t>());
    QCOMPARE(c.scoringFuncName, a["score_func"].get<std::string>());
    QCOMPARE(c.routedScalingFactor, a["route_scale"].get<double>());
    QCOMPARE(c.swigluLimit, a["swiglu_limit"].get<double>());
    QCOMPARE(c.hcMult, a["hc_mult"].get<int>());
    QCOMPARE(c.hcSinkhornIters, a["hc_sinkhorn_iters"].get<int>());
    QCOMPARE(c.hcEps, a["hc_eps"].get<double>());
    QCOMPARE(c.rmsNormEps, a["norm_eps"].get<double>());
    QCOMPARE(c.ropeTheta, a["rope_theta"].get<double>());
    QCOMPARE(c.compressRopeTheta, a["compress_rope_theta"].get<double>());
    QVERIFY(c.ropeScaling.has_value());
    QCOMPARE(c.ropeScaling->originalMaxPositionEmbeddings, a["original_seq_len"].get<int64_t>());
    QCOMPARE(c.ropeScaling->factor, a["rope_factor"].get<double>());
    QCOMPARE(c.ropeScaling->betaFast, a["beta_fast"].get<double>());
    QCOMPARE(c.ropeScaling->betaSlow, a["beta_slow"].get<double>());
    QCOMPARE(c.maxPositionEmbeddings, a["max_seq_len"].get<int64_t>());
    QCOMPARE(c.fp8Quantized, a["dtype"].get<std::string>() == "fp8");
    QCOMPARE(c.expertDtype,
             a["expert_dtype"].is_null() ? std::string() : a["expert_dtype"].get<std::string>());
}

void tst_ModelFiles::malformedConfig_data()
{
    QTest::addColumn<QString>("edit");     // key=json value, key=<delete>, or <garbage>
    QTest::addColumn<QString>("mentions"); // the field the message must name
    QTest::newRow("not json") << "<garbage>"
                              << "malformed JSON";
    QTest::newRow("model_type") << "model_type=\"llama\""
                                << "model_type";
    QTest::newRow("missing hidden_size") << "hidden_size=<delete>"
                                         << "hidden_size";
    QTest::newRow("missing compress_ratios") << "compress_ratios=<delete>"
                                             << "compress_ratios";
    QTest::newRow("string heads") << "num_attention_heads=\"two\""
                                  << "num_attention_heads";
    QTest::newRow("o_groups") << "o_groups=3"
                              << "o_groups";
    QTest::newRow("short ratios") << "compress_ratios=[0,4,16]"
                                  << "compress_ratios";
    QTest::newRow("ratio 2") << "compress_ratios=[0,2,16,4,0]"
                             << "compress_ratios";
    QTest::newRow("head_dim") << "head_dim=100"
                              << "head_dim";
    QTest::newRow("topk > experts") << "num_experts_per_tok=9"
                                    << "num_experts_per_tok";
    QTest::newRow("hash layers") << "num_hash_layers=7"
                                 << "num_hash_layers";
    QTest::newRow("kv heads") << "num_key_value_heads=2"
                              << "num_key_value_heads";
    QTest::newRow("scoring") << "scoring_func=\"softmax2\""
                             << "scoring_func";
    QTest::newRow("quant") << "quantization_config={\"quant_method\":\"fp8\",\"fmt\":\"e5m2\"}"
                           << "quantization_config";
    QTest::newRow("block")
        << "quantization_config={\"quant_method\":\"fp8\",\"weight_block_size\":[64,64]}"
        << "weight_block_size";
    QTest::newRow("expert_dtype") << "expert_dtype=\"int4\""
                                  << "expert_dtype";
    QTest::newRow("rope")
        << "rope_scaling={\"type\":\"linear\",\"factor\":2,\"original_max_position_embeddings\":4}"
        << "rope_scaling";
    QTest::newRow("index_head_dim") << "index_head_dim=96"
                                    << "index_head_dim";
}

void tst_ModelFiles::malformedConfig()
{
    QFETCH(QString, edit);
    QFETCH(QString, mentions);
    const QString golden = fathom::test::testdataPath(QStringLiteral("v4/tiny-quant/config.json"));
    if (!QFileInfo::exists(golden))
        QSKIP("SKIPPED LOUDLY: golden data not found");
    QTemporaryDir tmp;
    const QString path = tmp.filePath(QStringLiteral("config.json"));
    if (edit == QLatin1String("<garbage>")) {
        QFile f(path);
        f.open(QIODevice::WriteOnly);
        f.write("{\"model_type\": \"deepseek_v4\", ");
    } else {
        json j = readJson(golden);
        const int eq = edit.indexOf(u'=');
        const std::string key = edit.left(eq).toStdString();
        const QString value = edit.mid(eq + 1);
        if (value == QLatin1String("<delete>"))
            j.erase(key);
        else
            j[key] = json::parse(value.toStdString());
        writeJson(path, j);
    }
    auto cfg = loadModelConfig(toStd(tmp.path()));
    QVERIFY(!cfg);
    const QString msg = QString::fromStdString(cfg.error().message);
    QVERIFY2(msg.contains(mentions), qPrintable(msg));
    QVERIFY2(msg.contains(path), qPrintable(msg)); // names the file
}

void tst_ModelFiles::corruptSafetensors_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("mentions"); // besides the file name
    QTest::newRow("truncated") << "truncated"
                               << "mtp.0.";
    QTest::newRow("header length") << "header length"
                                   << "header length";
    QTest::newRow("offset beyond file") << "offset beyond"
                                        << "mtp.0.norm.weight";
    QTest::newRow("overlap") << "overlap"
                             << "overlaps";
    QTest::newRow("size mismatch") << "size mismatch"
                                   << "mtp.0.norm.weight";
    QTest::newRow("wrong shape") << "wrong shape"
                                 << "mtp.0.e_proj.weight";
    QTest::newRow("wrong dtype") << "wrong dtype"
                                 << "mtp.0.norm.weight";
    QTest::newRow("missing tensor") << "missing tensor"
                                    << "mtp.0.norm.weight";
    QTest::newRow("index lists absent tensor") << "absent"
                                               << "mtp.0.norm.weight";
    QTest::newRow("unexpected tensor") << "unexpected"
                                       << "mtp.0.extra";
    QTest::newRow("unknown dtype") << "unknown dtype"
                                   << "mtp.0.norm.weight";
}

void tst_ModelFiles::corruptSafetensors()
{
    QFETCH(QString, kind);
    QFETCH(QString, mentions);
    const QString golden = fathom::test::testdataPath(QStringLiteral("v4/tiny-bf16"));
    if (!QFileInfo::exists(golden))
        QSKIP("SKIPPED LOUDLY: golden data not found");
    QTemporaryDir tmp;
    QVERIFY(copyModel(golden, tmp.path()));
    const QString shard = tmp.filePath(QStringLiteral("model-00003-of-00003.safetensors"));
    const QString indexPath = tmp.filePath(QStringLiteral("model.safetensors.index.json"));
    RawSafetensors raw = RawSafetensors::read(shard);
    json index = readJson(indexPath);
    auto &h = raw.header;
    if (kind == QLatin1String("truncated")) {
        QFile f(shard);
        QVERIFY(f.resize(f.size() - 100));
    } else if (kind == QLatin1String("header length")) {
        QFile f(shard);
        f.open(QIODevice::ReadWrite);
        const uint64_t huge = uint64_t(1) << 40;
        f.write(reinterpret_cast<const char *>(&huge), 8);
    } else {
        if (kind == QLatin1String("offset beyond")) {
            const uint64_t size = uint64_t(raw.data.size());
            h["mtp.0.norm.weight"]["data_offsets"] = {size, size + 128};
        } else if (kind == QLatin1String("overlap")) {
            // Same size as mtp.0.enorm.weight: point it at enorm's bytes.
            h["mtp.0.norm.weight"]["data_offsets"] = h["mtp.0.enorm.weight"]["data_offsets"];
        } else if (kind == QLatin1String("size mismatch")) {
            h["mtp.0.norm.weight"]["shape"] = {65};
        } else if (kind == QLatin1String("wrong shape")) {
            h["mtp.0.e_proj.weight"]["shape"] = {32, 128}; // same bytes, wrong for the config
        } else if (kind == QLatin1String("wrong dtype")) {
            h["mtp.0.norm.weight"]["dtype"] = "F16"; // same size, not what V4 stores
        } else if (kind == QLatin1String("missing tensor")) {
            h.erase("mtp.0.norm.weight");
            index["weight_map"].erase("mtp.0.norm.weight");
        } else if (kind == QLatin1String("absent")) {
            h.erase("mtp.0.norm.weight");
        } else if (kind == QLatin1String("unexpected")) {
            // An empty tensor (no bytes, so no overlap) that the config does not know.
            h["mtp.0.extra"] = {{"dtype", "BF16"}, {"shape", {0}}, {"data_offsets", {0, 0}}};
            index["weight_map"]["mtp.0.extra"] = "model-00003-of-00003.safetensors";
        } else if (kind == QLatin1String("unknown dtype")) {
            h["mtp.0.norm.weight"]["dtype"] = "X9";
        }
        raw.write(shard);
        writeJson(indexPath, index);
    }
    auto weights = ModelWeights::load(toStd(tmp.path()));
    QVERIFY(!weights);
    const QString msg = QString::fromStdString(weights.error().message);
    if (kind == QLatin1String("missing tensor"))
        QVERIFY2(msg.contains(tmp.path()), qPrintable(msg)); // the model folder
    else
        QVERIFY2(msg.contains(shard), qPrintable(msg));
    QVERIFY2(msg.contains(mentions), qPrintable(msg));
}

void tst_ModelFiles::tid2eidOutOfRange()
{
    const QString golden = fathom::test::testdataPath(QStringLiteral("v4/tiny-bf16"));
    if (!QFileInfo::exists(golden))
        QSKIP("SKIPPED LOUDLY: golden data not found");
    QTemporaryDir tmp;
    QVERIFY(copyModel(golden, tmp.path()));
    const QString shard = tmp.filePath(QStringLiteral("model-00001-of-00003.safetensors"));
    RawSafetensors raw = RawSafetensors::read(shard);
    const uint64_t begin = raw.header["layers.1.ffn.gate.tid2eid"]["data_offsets"][0].get<uint64_t>();
    const int64_t bad = 8;                                         // n_routed_experts is 8
    std::memcpy(raw.data.data() + begin + 7 * 2 * 8 + 8, &bad, 8); // row 7, second id
    raw.write(shard);
    auto weights = ModelWeights::load(toStd(tmp.path()));
    QVERIFY(!weights);
    const QString msg = QString::fromStdString(weights.error().message);
    QVERIFY2(msg.contains(shard) && msg.contains(QLatin1String("layers.1.ffn.gate.tid2eid"))
                 && msg.contains(QLatin1String("row 7")),
             qPrintable(msg));
}

void tst_ModelFiles::missingFile()
{
    auto f = SafetensorsFile::open("/nonexistent/x.safetensors");
    QVERIFY(!f);
    QCOMPARE(f.error().kind, Error::Kind::Io);
    QVERIFY(QString::fromStdString(f.error().message)
                .contains(QLatin1String("/nonexistent/x.safetensors")));
    auto c = loadModelConfig("/nonexistent/model");
    QVERIFY(!c);
    QVERIFY(QString::fromStdString(c.error().message).contains(QLatin1String("config.json")));
}

void tst_ModelFiles::writerTinyPreset()
{
    QTemporaryDir a, b, c2;
    MakeModelOptions o;
    o.preset = "tiny";
    o.seed = 1;
    o.outDir = toStd(a.path());
    auto r = writeRandomModel(o);
    QVERIFY2(r, r ? "" : r.error().message.c_str());
    auto weights = ModelWeights::load(o.outDir);
    QVERIFY2(weights, weights ? "" : weights.error().message.c_str());
    const ModelConfig &cfg = (*weights)->config();
    QCOMPARE(cfg.hiddenSize, int64_t(256));
    QCOMPARE(cfg.expertFormat(), WeightFormat::Fp4);

    // The official key set: the same keys as the golden (official-layout) config.json.
    const QString golden = fathom::test::testdataPath(QStringLiteral("v4/tiny-quant/config.json"));
    if (QFileInfo::exists(golden)) {
        const json g = readJson(golden), m = readJson(a.filePath(QStringLiteral("config.json")));
        for (auto it = g.begin(); it != g.end(); ++it) {
            QVERIFY2(m.contains(it.key()), it.key().c_str());
            if (it.key() != "max_position_embeddings")
                QVERIFY2(m[it.key()] == *it, it.key().c_str());
        }
        QCOMPARE(m.size(), g.size());
    }

    // Quantisation rule (testdata/README.md §1.2): the largest code of every FP8 block is in
    // (224, 448] before rounding (so [224, 448] after it), of every FP4 row block in (3, 6]
    // (so [3, 6] after rounding).
    const ModelWeights &w = **weights;
    for (const TensorView *v : w.store().tensors()) {
        if (v->dtype == DType::F8E4M3) {
            const int64_t n = v->dim(0), k = v->dim(1);
            for (int64_t bi = 0; bi < (n + 127) / 128; ++bi)
                for (int64_t bj = 0; bj < (k + 127) / 128; ++bj) {
                    float mx = 0;
                    for (int64_t i = bi * 128; i < std::min(n, bi * 128 + 128); ++i)
                        for (int64_t j = bj * 128; j < std::min(k, bj * 128 + 128); ++j)
                            mx = std::max(mx,
                                          std::fabs(fathom::kernels::e4m3_to_f32(
                                              v->as<uint8_t>()[i * k + j])));
                    QVERIFY2(mx >= 224.0f && mx <= 448.0f, v->name.c_str());
                }
        } else if (v->dtype == DType::I8) {
            const int64_t n = v->dim(0), kb = v->dim(1) * 2 / 32;
            for (int64_t i = 0; i < n; ++i)
                for (int64_t b = 0; b < kb; ++b) {
                    float mx = 0;
                    for (int j = 0; j < 32; ++j)
                        mx = std::max(mx,
                                      std::fabs(fathom::kernels::e2m1_to_f32(
                                          fathom::kernels::e2m1_unpack(v->as<uint8_t>()
                                                                           + i * v->dim(1),
                                                                       b * 32 + j))));
                    QVERIFY2(mx >= 3.0f && mx <= 6.0f, v->name.c_str());
                }
        }
    }
    // Distinct experts per tid2eid row.
    const TensorView &tid = w.tensor("layers.0.ffn.gate.tid2eid");
    for (int64_t t = 0; t < tid.dim(0); ++t) {
        const int64_t *row = tid.as<int64_t>() + t * tid.dim(1);
        QVERIFY(row[0] != row[1] && row[0] >= 0 && row[0] < 8 && row[1] >= 0 && row[1] < 8);
    }

    // Deterministic per seed.
    o.outDir = toStd(b.path());
    QVERIFY(writeRandomModel(o));
    o.outDir = toStd(c2.path());
    o.seed = 2;
    QVERIFY(writeRandomModel(o));
    for (const QString &name : QDir(a.path()).entryList({QStringLiteral("*.safetensors")})) {
        QFile fa(a.filePath(name)), fb(b.filePath(name)), fc(c2.filePath(name));
        QVERIFY(fa.open(QIODevice::ReadOnly) && fb.open(QIODevice::ReadOnly)
                && fc.open(QIODevice::ReadOnly));
        const QByteArray da = fa.readAll();
        QVERIFY(da == fb.readAll());
        QVERIFY(da != fc.readAll());
    }
}

// ModelWeights::loadRepeated (bench_cuda's many-layer slice): a 2-layer folder cut from tiny's
// layer 2 (ratios 16, 4; no hash layer) repeated to 5 layers.
void tst_ModelFiles::loadRepeated()
{
    QTemporaryDir dir;
    MakeModelOptions o;
    o.preset = "tiny";
    o.layers = 2;
    o.firstLayer = 2;
    o.seed = 3;
    o.outDir = toStd(dir.path());
    auto written = writeRandomModel(o);
    QVERIFY2(written, written ? "" : written.error().message.c_str());
    auto base = ModelWeights::load(o.outDir);
    QVERIFY2(base, base ? "" : base.error().message.c_str());
    auto rep = ModelWeights::loadRepeated(o.outDir, 5);
    QVERIFY2(rep, rep ? "" : rep.error().message.c_str());
    const ModelConfig &c = (*rep)->config();
    QCOMPARE(c.numHiddenLayers, 5);
    QCOMPARE(c.numNextnPredictLayers, 1);
    QCOMPARE(c.compressRatios, (std::vector<int>{16, 4, 16, 4, 16, 0}));
    QCOMPARE(c.numHashLayers, 0);
    // Every tensor of the 5-layer model: the folder's bytes (layer l from layer l mod 2), at an
    // address no other tensor of the model has (distinct device copies on upload).
    std::set<const void *> seen;
    for (const TensorSpec &t : expectedTensors(c)) {
        std::string from = t.name;
        if (from.rfind("layers.", 0) == 0) {
            const size_t dot = from.find('.', 7);
            const int l = std::stoi(from.substr(7, dot - 7));
            from = "layers." + std::to_string(l % 2) + from.substr(dot);
        }
        const TensorView &a = (*rep)->tensor(t.name), &b = (*base)->tensor(from);
        QVERIFY2(a.data && b.data, t.name.c_str());
        QCOMPARE(a.bytes, b.bytes);
        QVERIFY2(std::memcmp(a.data, b.data, a.bytes) == 0, t.name.c_str());
        QVERIFY2(seen.insert(a.data).second, t.name.c_str());
    }
    QCOMPARE(seen.size(), expectedTensors(c).size());
    // The projections as the forward pass reads them (wo_a converted per layer).
    const LinearWeight wo3 = (*rep)->linear("layers.3.attn.wo_a");
    const LinearWeight wo1 = (*base)->linear("layers.1.attn.wo_a");
    QVERIFY(wo3.valid() && wo3.weight != wo1.weight);
    QVERIFY(std::memcmp(wo3.weight, wo1.weight, static_cast<size_t>(wo1.bytes())) == 0);

    // Refused: not more layers than the folder has; a folder with hash-routed layers.
    auto same = ModelWeights::loadRepeated(o.outDir, 2);
    QVERIFY(!same);
    QVERIFY2(same.error().message.find("must be larger") != std::string::npos,
             same.error().message.c_str());
    QTemporaryDir hashed;
    o.firstLayer = 0;
    o.outDir = toStd(hashed.path());
    QVERIFY(writeRandomModel(o));
    auto h = ModelWeights::loadRepeated(o.outDir, 4);
    QVERIFY(!h);
    QVERIFY2(h.error().message.find("route by hash") != std::string::npos,
             h.error().message.c_str());
}

namespace {

// The writer's normal draw as its comment in modelwriter.cpp defines it, written again here
// from that definition (not called): element i of the stream of `name` under `seed` is
// mean + sd * z with z = t * 2^-17 / sqrt(145 / 12), t = 2^17 (B - 24.5) + 2 U + 1, B the bit
// count of the top 48 bits and U the low 16 bits of splitmix64's finaliser of
// key + i * golden, key the FNV-1a of the name from the offset basis xor the seed; sd / (2^17
// sqrt(145 / 12)) rounded once to a float, then one float multiply (mean 0) or one fma.
float referenceDraw(const std::string &name, uint64_t seed, uint64_t i, float mean, float sd)
{
    uint64_t key = 1469598103934665603ull ^ seed;
    for (unsigned char ch : name)
        key = (key ^ ch) * 1099511628211ull;
    uint64_t z = key + i * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const int64_t t = (int64_t(std::popcount(z >> 16)) - 24) * 131072 + 2 * int64_t(z & 0xFFFFu) + 1
                      - 65536;
    const float k = static_cast<float>(double(sd) / (131072.0 * std::sqrt(145.0 / 12.0)));
    return mean == 0.0f ? static_cast<float>(t) * k : std::fma(static_cast<float>(t), k, mean);
}

} // namespace

// The writer's bytes are a pure function of (options, seed): the same with 1, 2 and 5 threads
// (the tensors are split over the pool in chunks of rows / 128x128 blocks, so a generator that
// drew per chunk or per thread would differ), different per seed in every random tensor, and
// equal to the draw's definition (referenceDraw: a compiler, libm or instruction set path that
// changed a value would show here).
void tst_ModelFiles::writerThreadsAndSeeds()
{
    QTemporaryDir tmp;
    MakeModelOptions o;
    o.preset = "tiny";
    o.seed = 5;
    const auto write = [&](const char *dir, int threads, uint64_t seed) {
        o.outDir = toStd(tmp.filePath(QLatin1String(dir)));
        o.threads = threads;
        o.seed = seed;
        const auto r = writeRandomModel(o);
        return r ? QString() : QString::fromStdString(r.error().message);
    };
    QCOMPARE(write("t1", 1, 5), QString());
    QCOMPARE(write("t2", 2, 5), QString());
    QCOMPARE(write("t5", 5, 5), QString());
    QCOMPARE(write("s6", 3, 6), QString());
    const QDir t1(tmp.filePath(QStringLiteral("t1")));
    const QStringList files = t1.entryList(QDir::Files);
    QVERIFY(files.contains(QStringLiteral("config.json")));
    QCOMPARE(t1.entryList({QStringLiteral("*.safetensors")}, QDir::Files).size(), 3);
    for (const char *other : {"t2", "t5"}) {
        const QDir d(tmp.filePath(QLatin1String(other)));
        QCOMPARE(d.entryList(QDir::Files), files);
        for (const QString &name : files) {
            QFile a(t1.filePath(name)), b(d.filePath(name));
            QVERIFY(a.open(QIODevice::ReadOnly) && b.open(QIODevice::ReadOnly));
            QVERIFY2(a.readAll() == b.readAll(), qPrintable(other + QLatin1Char('/') + name));
        }
    }

    auto w1 = ModelWeights::load(toStd(t1.path()));
    auto w6 = ModelWeights::load(toStd(tmp.filePath(QStringLiteral("s6"))));
    QVERIFY(w1 && w6);
    int compared = 0;
    for (const TensorView *v : (*w1)->store().tensors()) {
        const TensorView &u = (*w6)->tensor(v->name);
        QCOMPARE(u.bytes, v->bytes);
        // e8m0 scales of a few 128x128 blocks can coincide; every draw differs.
        if (v->dtype == DType::F8E8M0 && v->bytes < 64)
            continue;
        QVERIFY2(std::memcmp(u.data, v->data, v->bytes) != 0, v->name.c_str());
        ++compared;
    }
    QVERIFY(compared > 100);

    // The draws are N(0, 1) to the eye (embed: 131072 values, sd 1) and rows are independent:
    // no row repeats another shifted by one element (the generator before session 13 drew row
    // r + 2 as row r shifted by one: sequential streams seeded at consecutive counters).
    const TensorView &embed = (*w1)->tensor("embed.weight");
    const int64_t rows = embed.dim(0), cols = embed.dim(1);
    double s1 = 0, s2 = 0, s4 = 0;
    int64_t shifted = 0;
    const uint16_t *e = embed.as<uint16_t>();
    for (int64_t i = 0; i < rows * cols; ++i) {
        const double x = fathom::kernels::bf16_to_f32(e[i]);
        s1 += x;
        s2 += x * x;
        s4 += x * x * x * x;
    }
    for (int64_t r = 0; r + 2 < rows; ++r)
        for (int64_t c = 0; c + 1 < cols; ++c)
            shifted += e[(r + 2) * cols + c] == e[r * cols + c + 1];
    QVERIFY2(shifted < (rows - 2) * (cols - 1) / 50, qPrintable(QString::number(shifted)));
    const double n = double(rows * cols), mean = s1 / n, var = s2 / n - mean * mean;
    QVERIFY2(std::fabs(mean) < 0.02 && std::fabs(var - 1.0) < 0.03
                 && std::fabs(s4 / n / (var * var) - 3.0) < 0.15,
             qPrintable(QStringLiteral("mean %1 var %2 kurtosis %3")
                            .arg(mean)
                            .arg(var)
                            .arg(s4 / n / (var * var))));

    // Every value of three tensors against the definition of the draw (whatever draw path -
    // portable, POPCNT, AVX-512 - this machine took): bf16 with mean 0 (embed), bf16 with a
    // mean (a norm: the fma), f32 (the head's mHC matrix).
    struct Drawn
    {
        const char *tensor, *stream;
        float mean, sd;
    };
    const int64_t d = embed.dim(1);
    const int64_t hc = (*w1)->tensor("hc_head_fn").dim(0);
    const Drawn drawn[] = {
        {"embed.weight", "embed", 0.0f, 1.0f},
        {"layers.0.attn_norm.weight", "layers.0.attn_norm", 1.0f, 0.1f},
        {"hc_head_fn", "hc_head_fn", 0.0f, 1.0f / std::sqrt(float(hc * d))},
    };
    for (const Drawn &t : drawn) {
        const TensorView &v = (*w1)->tensor(t.tensor);
        const int64_t n = v.dtype == DType::Bf16 ? int64_t(v.bytes / 2) : int64_t(v.bytes / 4);
        int64_t bad = 0;
        for (int64_t i = 0; i < n; ++i) {
            const float want = referenceDraw(t.stream, 5, uint64_t(i), t.mean, t.sd);
            if (v.dtype == DType::Bf16)
                bad += v.as<uint16_t>()[i] != fathom::kernels::f32_to_bf16(want);
            else
                bad += std::memcmp(&v.as<float>()[i], &want, 4) != 0;
        }
        QVERIFY2(bad == 0,
                 qPrintable(QStringLiteral("%1: %2 of %3 values differ from the draw")
                                .arg(QLatin1String(t.tensor))
                                .arg(bad)
                                .arg(n)));
    }
}

// A failed write on the writing thread (tensors >= 1 MiB) or in line comes back as an Io error
// with the path (/dev/full: every write fails with ENOSPC).
void tst_ModelFiles::writerReportsWriteErrors_data()
{
    QTest::addColumn<qlonglong>("floats");
    QTest::newRow("in line") << qlonglong(16);
    QTest::newRow("writing thread") << (qlonglong(1) << 20);
}

void tst_ModelFiles::writerReportsWriteErrors()
{
    QFETCH(qlonglong, floats);
    if (!QFileInfo::exists(QStringLiteral("/dev/full")))
        QSKIP("no /dev/full on this system");
    SafetensorsWriter w;
    int fills = 0;
    for (int i = 0; i < 3; ++i)
        w.add("t" + std::to_string(i), DType::F32, {floats}, [&fills](std::vector<uint8_t> &out) {
            std::fill(out.begin(), out.end(), uint8_t(1));
            ++fills;
        });
    const auto r = w.write("/dev/full");
    QVERIFY(!r);
    QCOMPARE(r.error().kind, Error::Kind::Io);
    QVERIFY2(QString::fromStdString(r.error().message).contains(QLatin1String("/dev/full")),
             r.error().message.c_str());
    QVERIFY(fills >= 1);
}

void tst_ModelFiles::writerTokenizerVocabulary()
{
    QTemporaryDir tmp;
    const QString tok = tmp.filePath(QStringLiteral("in-tokenizer.json"));
    json t;
    t["model"]["type"] = "BPE";
    for (int i = 0; i < 700; ++i)
        t["model"]["vocab"]["t" + std::to_string(i)] = i;
    t["added_tokens"] = json::array({{{"id", 998},
                                      {"content",
                                       "<\xEF\xBD\x9C"
                                       "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"},
                                      {"special", true}},
                                     {{"id", 999},
                                      {"content",
                                       "<\xEF\xBD\x9C"
                                       "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"},
                                      {"special", true}}});
    writeJson(tok, t);
    MakeModelOptions o;
    o.preset = "tiny";
    o.outDir = toStd(tmp.filePath(QStringLiteral("m")));
    o.tokenizerPath = toStd(tok);
    QVERIFY(writeRandomModel(o));
    auto cfg = loadModelConfig(o.outDir);
    QVERIFY(cfg);
    QCOMPARE(cfg->vocabSize, int64_t(1000));
    QCOMPARE(cfg->bosTokenId, int64_t(998));
    QCOMPARE(cfg->eosTokenId, int64_t(999));
    QFile a(tok), b(tmp.filePath(QStringLiteral("m/tokenizer.json")));
    QVERIFY(a.open(QIODevice::ReadOnly) && b.open(QIODevice::ReadOnly));
    QCOMPARE(a.readAll(), b.readAll());
    auto weights = ModelWeights::load(o.outDir);
    QVERIFY(weights);
    QCOMPARE((*weights)->tensor("embed.weight").dim(0), int64_t(1000));
}

void tst_ModelFiles::presets()
{
    auto small = presetModelConfig("small");
    QVERIFY(small);
    QCOMPARE(small->hiddenSize, int64_t(1024));
    QCOMPARE(small->numHiddenLayers, 8);
    QCOMPARE(small->nRoutedExperts, 32);
    QCOMPARE(small->moeIntermediateSize, int64_t(512));
    QCOMPARE(small->numExpertsPerTok, 6);
    QCOMPARE(small->vocabSize, int64_t(129280));
    auto flash = presetModelConfig("flash-slice", 5);
    QVERIFY(flash);
    QCOMPARE(flash->hiddenSize, int64_t(4096));
    QCOMPARE(flash->numHiddenLayers, 5);
    QCOMPARE(flash->compressRatios, (std::vector<int>{0, 0, 4, 128, 4, 0}));
    QCOMPARE(flash->nRoutedExperts, 256);
    QCOMPARE(flash->numHashLayers, 3);
    // Cut from layer 3 (the benchmark's slice): an HCA then a CSA layer, no hash routing.
    auto deep = presetModelConfig("flash-slice", 2, 3);
    QVERIFY(deep);
    QCOMPARE(deep->compressRatios, (std::vector<int>{128, 4, 0}));
    QCOMPARE(deep->numHashLayers, 0);
    auto fromHash = presetModelConfig("flash-slice", 3, 2);
    QVERIFY(fromHash);
    QCOMPARE(fromHash->compressRatios, (std::vector<int>{4, 128, 4, 0}));
    QCOMPARE(fromHash->numHashLayers, 1);
    QVERIFY(!presetModelConfig("flash-slice", 2, -1));
    auto longSmall = presetModelConfig("small", 11);
    QVERIFY(longSmall);
    QCOMPARE(longSmall->compressRatios,
             (std::vector<int>{0, 0, 4, 128, 4, 128, 4, 128, 4, 128, 4, 0}));
    QVERIFY(!presetModelConfig("huge"));
}

QTEST_GUILESS_MAIN(tst_ModelFiles)
#include "tst_modelfiles.moc"
