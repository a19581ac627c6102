// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// Scheduler on the golden tiny checkpoint (token ids; the checkpoint has no tokenizer): batched
// (continuous) decoding gives every request the tokens it gets alone, and a hand-written loop of
// forward() + argmax is the independent reference for "alone"; stop on EOS (from the config), max
// tokens, the context limit, cancel between steps, the concurrency limit and its queue.

#include "engine/cpu/cpuexecutor.h"
#include "engine/model/modelweights.h"
#include "engine/runtime/forward.h"
#include "engine/runtime/scheduler.h"
#include "engine/runtime/v4model.h"
#include "testdata.h"

#include <QTest>

#include <map>
#include <random>

using namespace fathom::engine;

namespace {

struct Record
{
    std::vector<int32_t> tokens;
    std::vector<bool> stops;
    bool finished = false;
    FinishReason reason = FinishReason::Error;
    GenerationStats stats;
    std::string error;
};

class Collector final : public GenerationListener
{
public:
    void onToken(RequestId id, int32_t token, bool isStop) override
    {
        QVERIFY(!records[id].finished);
        records[id].tokens.push_back(token);
        records[id].stops.push_back(isStop);
    }
    void onFinished(RequestId id, FinishReason reason, const GenerationStats &stats) override
    {
        QVERIFY(!records[id].finished);
        records[id].finished = true;
        records[id].reason = reason;
        records[id].stats = stats;
    }
    void onError(RequestId id, const Error &error) override
    {
        records[id].finished = true;
        records[id].error = error.toString();
    }
    std::map<RequestId, Record> records;
};

std::vector<int32_t> randomPrompt(int length, uint32_t seed, int64_t vocab)
{
    std::mt19937 gen(seed);
    std::uniform_int_distribution<int32_t> d(2, static_cast<int32_t>(vocab - 1));
    std::vector<int32_t> p(static_cast<size_t>(length));
    for (int32_t &t : p)
        t = d(gen);
    return p;
}

TokenRequest request(RequestId id,
                     std::vector<int32_t> prompt,
                     int maxTokens,
                     std::vector<int32_t> stops = {-1},
                     float temperature = 0.0f,
                     uint64_t seed = 0)
{
    TokenRequest r;
    r.id = id;
    r.prompt = std::move(prompt);
    r.maxTokens = maxTokens;
    r.stopTokens = std::move(stops); // {-1}: never stops early (a random model may emit EOS)
    r.sampling.temperature = temperature;
    r.sampling.seed = seed;
    return r;
}

int runToEnd(Scheduler &s)
{
    int steps = 0;
    while (s.step()) {
        if (++steps > 10000)
            break;
    }
    return steps;
}

} // namespace

class tst_Scheduler : public QObject
{
    Q_OBJECT

    std::unique_ptr<ModelWeights> m_weights;
    std::unique_ptr<V4Model> m_model;
    std::unique_ptr<CpuExecutor> m_exec;
    std::unique_ptr<V4Forward> m_forward;
    std::vector<std::vector<int32_t>> m_prompts;

    bool ready()
    {
        if (m_forward)
            return true;
        return false;
    }

    // Each prompt alone, one forward() per token, greedy: the reference "alone" run.
    std::vector<int32_t> handLoop(const std::vector<int32_t> &prompt, int n)
    {
        const ModelConfig &c = m_model->config();
        SequenceState st(c, 0);
        std::vector<float> logits(static_cast<size_t>(c.vocabSize));
        std::vector<int32_t> out;
        ForwardItem it{&st, prompt.data(), static_cast<int>(prompt.size()), 0};
        if (!m_forward->forward({it}, logits.data()))
            return {};
        for (int i = 0; i < n; ++i) {
            const int32_t t = Sampler::argmax(logits.data(), c.vocabSize);
            out.push_back(t);
            if (i + 1 == n)
                break;
            ForwardItem d{&st, &out.back(), 1, 0};
            if (!m_forward->forward({d}, logits.data()))
                return {};
        }
        return out;
    }

private slots:
    void initTestCase()
    {
        FATHOM_TESTDATA_PATH(dir, "v4/tiny-bf16");
        auto w = ModelWeights::load(dir.toStdString());
        QVERIFY2(w, w ? "" : w.error().toString().c_str());
        m_weights = std::move(*w);
        auto m = V4Model::create(*m_weights);
        QVERIFY2(m, m ? "" : m.error().toString().c_str());
        m_model = std::move(*m);
        m_exec = std::make_unique<CpuExecutor>(2, true);
        m_forward = std::make_unique<V4Forward>(*m_model, *m_exec);
        const int64_t vocab = m_model->config().vocabSize;
        m_prompts = {randomPrompt(5, 1, vocab),
                     randomPrompt(23, 2, vocab),
                     randomPrompt(12, 3, vocab)};
    }

    void aloneMatchesAHandWrittenLoop()
    {
        QVERIFY(ready());
        for (size_t i = 0; i < m_prompts.size(); ++i) {
            Scheduler s(*m_forward, m_model->config());
            Collector c;
            QVERIFY(s.submit(request(1, m_prompts[i], 9), c));
            runToEnd(s);
            QVERIFY(c.records[1].finished);
            QCOMPARE(c.records[1].reason, FinishReason::Length);
            QCOMPARE(c.records[1].tokens, handLoop(m_prompts[i], 9));
        }
    }

    void batchedGreedyEqualsAlone_data()
    {
        QTest::addColumn<int>("stepTokens");
        QTest::newRow("whole prompts") << 256;
        QTest::newRow("chunks of 4 mixed with decode") << 4;
        QTest::newRow("one token per step") << 1;
    }

    void batchedGreedyEqualsAlone()
    {
        QFETCH(int, stepTokens);
        QVERIFY(ready());
        std::vector<std::vector<int32_t>> alone;
        for (const auto &p : m_prompts) {
            Scheduler s(*m_forward, m_model->config());
            Collector c;
            QVERIFY(s.submit(request(7, p, 10), c));
            runToEnd(s);
            alone.push_back(c.records[7].tokens);
            QCOMPARE(alone.back().size(), size_t(10));
        }
        SchedulerOptions o;
        o.stepTokens = stepTokens;
        Scheduler s(*m_forward, m_model->config(), o);
        Collector c;
        // Different lengths and different max tokens: requests finish at different steps.
        for (size_t i = 0; i < m_prompts.size(); ++i)
            QVERIFY(s.submit(request(100 + i, m_prompts[i], 10 - 2 * int(i)), c));
        runToEnd(s);
        QVERIFY(s.counters().maxBatchItems >= 2); // they did share forward calls
        for (size_t i = 0; i < m_prompts.size(); ++i) {
            const Record &r = c.records[100 + i];
            QVERIFY(r.finished);
            QCOMPARE(r.reason, FinishReason::Length);
            const std::vector<int32_t> want(alone[i].begin(), alone[i].begin() + (10 - 2 * i));
            QCOMPARE(r.tokens, want);
        }
    }

    void seededSamplingIsIndependentOfTheBatch()
    {
        QVERIFY(ready());
        auto run = [&](bool together) {
            std::map<RequestId, std::vector<int32_t>> out;
            Collector c;
            if (together) {
                Scheduler s(*m_forward, m_model->config());
                for (size_t i = 0; i < m_prompts.size(); ++i)
                    if (!s.submit(request(i, m_prompts[i], 8, {-1}, 1.0f, 1000 + i), c))
                        return out;
                runToEnd(s);
            } else {
                for (size_t i = 0; i < m_prompts.size(); ++i) {
                    Scheduler s(*m_forward, m_model->config());
                    if (!s.submit(request(i, m_prompts[i], 8, {-1}, 1.0f, 1000 + i), c))
                        return out;
                    runToEnd(s);
                }
            }
            for (auto &[id, r] : c.records)
                out[id] = r.tokens;
            return out;
        };
        const auto a = run(false), b = run(true);
        QCOMPARE(a.size(), size_t(3));
        QVERIFY(a == b);
    }

    void stopsOnTheConfigsEos()
    {
        QVERIFY(ready());
        const std::vector<int32_t> free = handLoop(m_prompts[1], 8);
        // Pick a generated token that does not occur earlier and make it the EOS id.
        int at = -1;
        for (int i = 2; i < 8 && at < 0; ++i)
            if (std::find(free.begin(), free.begin() + i, free[i]) == free.begin() + i)
                at = i;
        if (at < 0)
            QSKIP("the greedy continuation repeats a single token; no distinct EOS candidate");
        ModelConfig config = m_model->config();
        config.eosTokenId = free[at];
        Scheduler s(*m_forward, config);
        Collector c;
        QVERIFY(s.submit(request(3, m_prompts[1], 50, {}), c)); // {}: EOS from the config
        runToEnd(s);
        const Record &r = c.records[3];
        QCOMPARE(r.reason, FinishReason::Stop);
        QCOMPARE(r.tokens, std::vector<int32_t>(free.begin(), free.begin() + at + 1));
        QVERIFY(r.stops.back());
        QCOMPARE(std::count(r.stops.begin(), r.stops.end(), true), 1);
        QCOMPARE(r.stats.completionTokens, at + 1);
        QCOMPARE(r.stats.promptTokens, int(m_prompts[1].size()));
    }

    void maxTokensAndContext()
    {
        QVERIFY(ready());
        {
            Scheduler s(*m_forward, m_model->config());
            Collector c;
            QVERIFY(s.submit(request(1, m_prompts[0], 1), c));
            QVERIFY(s.submit(request(2, m_prompts[0], 6), c));
            runToEnd(s);
            QCOMPARE(c.records[1].tokens.size(), size_t(1));
            QCOMPARE(c.records[2].tokens.size(), size_t(6));
            QCOMPARE(c.records[2].reason, FinishReason::Length);
            QVERIFY(c.records[2].stats.timeToFirstTokenMs > 0);
            QVERIFY(c.records[2].stats.decodeTokensPerSecond > 0);
            QVERIFY(c.records[2].stats.promptTokensPerSecond > 0);
        }
        {
            SchedulerOptions o;
            o.contextLength = static_cast<int64_t>(m_prompts[0].size()) + 3;
            Scheduler s(*m_forward, m_model->config(), o);
            Collector c;
            QVERIFY(s.submit(request(1, m_prompts[0], 100), c));
            runToEnd(s);
            // Positions prompt .. prompt+2 are fed; the 4th token has no room left.
            QCOMPARE(c.records[1].tokens.size(), size_t(4));
            QCOMPARE(c.records[1].reason, FinishReason::Length);
            // A prompt that fills the context is refused up front.
            QVERIFY(!s.submit(request(2, randomPrompt(int(o.contextLength), 9, 512), 5), c));
        }
    }

    void badRequestsAreRefused()
    {
        QVERIFY(ready());
        Scheduler s(*m_forward, m_model->config());
        Collector c;
        QVERIFY(!s.submit(request(1, {}, 5), c));
        QVERIFY(!s.submit(request(1, {3, 512}, 5), c));
        QVERIFY(s.submit(request(1, {3, 4}, 5), c));
        QVERIFY(!s.submit(request(1, {3, 4}, 5), c)); // duplicate id
        runToEnd(s);
    }

    void cancelBetweenSteps()
    {
        QVERIFY(ready());
        SchedulerOptions o;
        o.maxConcurrent = 2;
        Scheduler s(*m_forward, m_model->config(), o);
        Collector c;
        QVERIFY(s.submit(request(1, m_prompts[0], 50), c));
        QVERIFY(s.submit(request(2, m_prompts[2], 50), c));
        QVERIFY(s.submit(request(3, m_prompts[1], 50), c)); // queued: only two run
        QVERIFY(s.step());
        QCOMPARE(s.runningCount(), 2);
        QCOMPARE(s.queuedCount(), 1);
        QVERIFY(s.step());
        QVERIFY(s.step());
        const size_t before = c.records[1].tokens.size();
        QVERIFY(before >= 2);
        s.cancel(1);
        s.cancel(3);
        s.cancel(999); // unknown: ignored
        // Nothing is reported outside step().
        QVERIFY(!c.records[1].finished);
        QVERIFY(s.step());
        QVERIFY(c.records[1].finished);
        QCOMPARE(c.records[1].reason, FinishReason::Cancelled);
        QCOMPARE(c.records[1].tokens.size(), before); // no token after the cancel
        QCOMPARE(c.records[1].stats.completionTokens, int(before));
        QVERIFY(c.records[3].finished);
        QCOMPARE(c.records[3].reason, FinishReason::Cancelled);
        QVERIFY(c.records[3].tokens.empty());
        QCOMPARE(s.runningCount(), 1);
        runToEnd(s);
        QCOMPARE(c.records[2].reason, FinishReason::Length);
        QCOMPARE(c.records[2].tokens, handLoop(m_prompts[2], 50));
    }

    void concurrencyLimitQueues()
    {
        QVERIFY(ready());
        SchedulerOptions o;
        o.maxConcurrent = 1;
        Scheduler s(*m_forward, m_model->config(), o);
        Collector c;
        for (RequestId i = 0; i < 3; ++i)
            QVERIFY(s.submit(request(i, m_prompts[i], 4), c));
        runToEnd(s);
        QCOMPARE(s.counters().maxBatchItems, 1);
        for (RequestId i = 0; i < 3; ++i) {
            QCOMPARE(c.records[i].reason, FinishReason::Length);
            QCOMPARE(c.records[i].tokens, handLoop(m_prompts[i], 4));
        }
        // The later ones waited for the first: their time to first token includes the wait.
        QVERIFY(c.records[2].stats.timeToFirstTokenMs >= c.records[0].stats.timeToFirstTokenMs);
    }
};

QTEST_GUILESS_MAIN(tst_Scheduler)
#include "tst_scheduler.moc"
