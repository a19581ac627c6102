// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// SequenceState truncation to ANY earlier position (issue 6), on the golden tiny models: after
// truncate(p) the next logits must equal, bit for bit (CPU exact mode), those of a fresh state
// that was only ever fed the first p tokens in one prefill. Positions near 0, mid-sequence,
// inside and beyond the old 1024-position history, on and between checkpoints, with and without
// history; save / restore of truncated states; the MTP block; the refusal without a forward
// pass; and the scheduler's prefix reuse (regenerate / edit) that uses it.
#include "engine/cpu/cpuexecutor.h"
#include "engine/model/modelweights.h"
#include "engine/runtime/forward.h"
#include "engine/runtime/scheduler.h"
#include "engine/runtime/sequencestate.h"
#include "engine/runtime/v4model.h"
#include "testdata.h"

#include <QTest>

#include <map>
#include <memory>
#include <random>

using namespace fathom::engine;

namespace {

std::vector<int32_t> randomTokens(int n, uint32_t seed, int64_t vocab)
{
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int32_t> d(0, static_cast<int32_t>(vocab - 1));
    std::vector<int32_t> t(static_cast<size_t>(n));
    for (int32_t &x : t)
        x = d(rng);
    return t;
}

struct Loaded
{
    std::unique_ptr<ModelWeights> weights;
    std::unique_ptr<V4Model> model;
    std::unique_ptr<CpuExecutor> exec;
    std::unique_ptr<V4Forward> forward;
};

struct Collector final : GenerationListener
{
    std::map<RequestId, std::vector<int32_t>> tokens;
    std::map<RequestId, GenerationStats> stats;
    void onToken(RequestId id, int32_t token, bool) override { tokens[id].push_back(token); }
    void onFinished(RequestId id, FinishReason, const GenerationStats &s) override
    {
        stats[id] = s;
    }
    void onError(RequestId, const Error &e) override { QFAIL(e.toString().c_str()); }
};

} // namespace

class tst_SequenceState : public QObject
{
    Q_OBJECT

    std::map<QString, Loaded> m_models;

    Loaded *load(const QString &variant)
    {
        auto it = m_models.find(variant);
        if (it != m_models.end())
            return &it->second;
        const QString dir = fathom::test::testdataPath(QStringLiteral("v4/") + variant);
        auto w = ModelWeights::load(dir.toStdString());
        if (!w)
            return nullptr;
        Loaded l;
        l.weights = std::move(*w);
        auto m = V4Model::create(*l.weights);
        if (!m)
            return nullptr;
        l.model = std::move(*m);
        l.exec = std::make_unique<CpuExecutor>(2, true);
        l.forward = std::make_unique<V4Forward>(*l.model, *l.exec);
        return &m_models.emplace(variant, std::move(l)).first->second;
    }

    // Logits after feeding `next` (a chunk of 3, then one decode token) to a copy of `s`.
    static std::vector<float> follow(V4Forward &fwd,
                                     SequenceState s,
                                     const std::vector<int32_t> &next,
                                     int64_t vocab)
    {
        std::vector<float> out(static_cast<size_t>(2 * vocab));
        if (!fwd.forward({{&s, next.data(), 3, 0}}, out.data()))
            return {};
        if (!fwd.forward({{&s, next.data() + 3, 1, 0}}, out.data() + vocab))
            return {};
        return out;
    }

    // A fresh state fed tokens[0, p) in one prefill.
    static SequenceState freshPrefix(V4Forward &fwd,
                                     const ModelConfig &c,
                                     const std::vector<int32_t> &tokens,
                                     int64_t p)
    {
        SequenceState f(c);
        if (p > 0 && !fwd.forward({{&f, tokens.data(), static_cast<int>(p), 0}}, nullptr))
            return SequenceState();
        return f;
    }

private slots:
    void truncateAnywhere_data()
    {
        QTest::addColumn<QString>("variant");
        QTest::addColumn<int>("history");
        QTest::addColumn<int>("interval");
        QTest::newRow("bf16 history 1024, every 256") << QStringLiteral("tiny-bf16") << 1024 << 256;
        QTest::newRow("bf16 no history, every 200") << QStringLiteral("tiny-bf16") << 0 << 200;
        QTest::newRow("quant history 1024, every 256")
            << QStringLiteral("tiny-quant") << 1024 << 256;
        QTest::newRow("quant no history, requested only") << QStringLiteral("tiny-quant") << 0 << 0;
    }

    void truncateAnywhere()
    {
        QFETCH(QString, variant);
        QFETCH(int, history);
        QFETCH(int, interval);
        FATHOM_TESTDATA_PATH(dir, "v4");
        Loaded *l = load(variant);
        QVERIFY(l);
        const ModelConfig &c = l->model->config();
        const int64_t V = c.vocabSize;
        const int L = 1400; // > 1024 + window: positions beyond the old history limit exist
        const std::vector<int32_t> tokens = randomTokens(L + 8, 42, V);

        // Prefill in uneven chunks, so checkpoints are taken inside chunks too.
        SequenceState s(c, history, interval);
        s.requestCheckpoint(777); // e.g. the end of a prompt
        for (int done = 0; done < L;) {
            const int n = std::min(L - done, 301);
            QVERIFY(l->forward->forward({{&s, tokens.data() + done, n, 0}}, nullptr));
            done += n;
        }
        QCOMPARE(s.length(), int64_t(L));
        QCOMPARE(s.tokens().size(), size_t(L));
        QVERIFY(s.checkpointBytes() > 0);

        const std::vector<int64_t> positions = {0,
                                                1,
                                                5,
                                                37,
                                                200,
                                                256,
                                                300,
                                                650,
                                                776,
                                                777,
                                                1000,
                                                L - 1024 - 9,
                                                L - 1024,
                                                L - 700,
                                                L - 9,
                                                L - 1,
                                                L};
        for (int64_t p : positions) {
            const QByteArray what = QByteArray("position ") + QByteArray::number(qint64(p));
            // Without a forward pass: only reachable positions, and a refusal changes nothing.
            SequenceState plain = s;
            const int64_t reach = s.reachableWithoutCompute(p);
            QVERIFY2(reach <= p, what);
            const auto r = plain.truncate(p);
            QVERIFY2(bool(r) == (reach == p), what);
            if (!r) {
                QCOMPARE(r.error().kind, Error::Kind::Unsupported);
                QVERIFY2(plain == s, what);
            }
            if (history == 1024 && p >= L - 1024)
                QVERIFY2(reach == p, what); // inside the history: no compute
            if (p == 777 || (interval && p % interval == 0))
                QVERIFY2(reach == p, what); // on a checkpoint: no compute

            SequenceState t = s;
            const auto rt = t.truncate(p, l->forward.get());
            QVERIFY2(rt, rt ? what : (what + ": " + rt.error().toString().c_str()));
            QCOMPARE(t.length(), p);
            QCOMPARE(t.tokens().size(), size_t(p));
            const std::vector<int32_t> next(tokens.begin() + p, tokens.begin() + p + 4);
            const std::vector<float> got = follow(*l->forward, t, next, V);
            const std::vector<float> want = follow(*l->forward,
                                                   freshPrefix(*l->forward, c, tokens, p),
                                                   next,
                                                   V);
            QVERIFY2(!got.empty() && got == want, what + " (logits differ from a fresh prefill)");

            // A truncated state saves and restores bit-exactly and continues identically.
            if (p == 650 || p == L - 700) {
                const std::vector<uint8_t> bytes = t.save();
                auto back = SequenceState::restore(bytes, c);
                QVERIFY2(back, back ? "" : back.error().toString().c_str());
                QVERIFY(*back == t);
                QCOMPARE(back->save(), bytes);
                QVERIFY(follow(*l->forward, *back, next, V) == want);
                // ... and can itself be truncated deeper through its restored checkpoints.
                QVERIFY(back->truncate(5, l->forward.get()));
                const std::vector<int32_t> n5(tokens.begin() + 5, tokens.begin() + 9);
                QVERIFY(follow(*l->forward, *back, n5, V)
                        == follow(*l->forward, freshPrefix(*l->forward, c, tokens, 5), n5, V));
            }
        }
        // Truncating discards the checkpoints past the position; growing again re-takes them.
        SequenceState t = s;
        QVERIFY(t.truncate(300, l->forward.get()));
        QVERIFY(t.checkpointBytes() < s.checkpointBytes());
        QVERIFY(l->forward->forward({{&t, tokens.data() + 300, L - 300, 0}}, nullptr));
        if (interval)
            QCOMPARE(t.reachableWithoutCompute(2 * interval), int64_t(2 * interval));
    }

    void mtpBlock()
    {
        // The MTP block's state is rewound with the main layers: the MTP logits after a deep
        // truncation equal those of a sequence that only saw the prefix (main + MTP).
        FATHOM_TESTDATA_PATH(dir, "v4");
        Loaded *l = load(QStringLiteral("tiny-bf16"));
        QVERIFY(l);
        const ModelConfig &c = l->model->config();
        const int64_t V = c.vocabSize;
        const int L = 300;
        const std::vector<int32_t> tokens = randomTokens(L + 4, 7, V);
        auto feed = [&](SequenceState &st, int from, int n) {
            std::vector<float> streams, logits(static_cast<size_t>(V));
            if (!l->forward->forward({{&st, tokens.data() + from, n, 0}}, nullptr, {}, &streams))
                return std::vector<float>();
            if (!l->forward->mtpForward({{&st, tokens.data() + from + 1, n, 0}},
                                        streams.data(),
                                        logits.data()))
                return std::vector<float>();
            return logits;
        };
        SequenceState s(c, 16, 64);
        QVERIFY(!feed(s, 0, 150).empty());
        QVERIFY(!feed(s, 150, L - 150).empty());
        QCOMPARE(s.mtpTokens().size(), size_t(L));
        for (int p : {1, 64, 100, 250}) {
            SequenceState t = s;
            const bool direct = t.reachableWithoutCompute(p) == p;
            QCOMPARE(direct, p % 64 == 0); // checkpoints every 64; history only 16
            if (!direct) {
                QVERIFY(!t.truncate(p));
                QVERIFY(t == s);
            }
            QVERIFY(t.truncate(p, l->forward.get()));
            QCOMPARE(t.block(c.numHiddenLayers).length, int64_t(p));
            SequenceState f(c);
            QVERIFY(!feed(f, 0, p).empty());
            const std::vector<float> a = feed(t, p, 2), b = feed(f, p, 2);
            QVERIFY2(!a.empty() && a == b, QByteArray::number(p));
        }
    }

    void schedulerReusesPrefixes()
    {
        // Regenerate (same prompt) and edit (prompt changed in the middle) reuse the kept state:
        // same tokens as a scheduler without reuse, prompt tokens reported as cached.
        FATHOM_TESTDATA_PATH(dir, "v4");
        Loaded *l = load(QStringLiteral("tiny-quant"));
        QVERIFY(l);
        const ModelConfig &c = l->model->config();
        std::vector<int32_t> prompt = randomTokens(90, 3, c.vocabSize);
        std::vector<int32_t> edited = prompt;
        edited.resize(70);
        for (int32_t t : randomTokens(15, 4, c.vocabSize))
            edited.push_back(t);

        auto run = [&](Scheduler &s, Collector &col, RequestId id, const std::vector<int32_t> &p) {
            TokenRequest r;
            r.id = id;
            r.prompt = p;
            r.sampling.temperature = 0;
            r.maxTokens = 6;
            r.stopTokens = {-1};
            if (!s.submit(r, col))
                return false;
            while (s.step()) {
            }
            return true;
        };
        SchedulerOptions plain;
        plain.stepTokens = 32;
        SchedulerOptions reuse = plain;
        reuse.keptStates = 2;
        reuse.checkpointInterval = 64;
        Scheduler a(*l->forward, c, plain), b(*l->forward, c, reuse);
        Collector ca, cb;
        QVERIFY(run(a, ca, 1, prompt) && run(a, ca, 2, prompt) && run(a, ca, 3, edited));
        QVERIFY(run(b, cb, 1, prompt) && run(b, cb, 2, prompt) && run(b, cb, 3, edited));
        QCOMPARE(cb.tokens[1], ca.tokens[1]);
        QCOMPARE(cb.tokens[2], ca.tokens[2]);
        QCOMPARE(cb.tokens[3], ca.tokens[3]);
        QCOMPARE(ca.stats[2].cachedPromptTokens, 0);
        QCOMPARE(cb.stats[1].cachedPromptTokens, 0);
        // Regenerate: everything but the last prompt token (its logits are needed) comes from
        // the checkpoint the scheduler marked at the end of the prompt.
        QCOMPARE(cb.stats[2].cachedPromptTokens, int(prompt.size()) - 1);
        // Edit at 70: the nearest checkpoint at or below it (interval 64).
        QCOMPARE(cb.stats[3].cachedPromptTokens, 64);
        QVERIFY(b.counters().prefillTokens < a.counters().prefillTokens);

        // The byte allowance: one byte keeps nothing (the regenerate prefills everything again),
        // a large one keeps the state as the count alone does.
        SchedulerOptions tight = reuse, roomy = reuse;
        tight.keptStateBytes = 1;
        roomy.keptStateBytes = int64_t(1) << 40;
        Scheduler t(*l->forward, c, tight), r(*l->forward, c, roomy);
        Collector ct, cr;
        QVERIFY(run(t, ct, 1, prompt) && run(t, ct, 2, prompt));
        QVERIFY(run(r, cr, 1, prompt) && run(r, cr, 2, prompt));
        QCOMPARE(ct.stats[2].cachedPromptTokens, 0);
        QCOMPARE(cr.stats[2].cachedPromptTokens, int(prompt.size()) - 1);
        QCOMPARE(ct.tokens[2], ca.tokens[2]);
        QCOMPARE(cr.tokens[2], ca.tokens[2]);
    }
};

QTEST_GUILESS_MAIN(tst_SequenceState)
#include "tst_sequencestate.moc"
