// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// CpuBackend end to end on a random tiny V4 model written with the real DeepSeek tokenizer
// (FATHOM_TOKENIZER_JSON): load progress and cancel, the prompt text of spec §8, streamed text
// equal to the whole-sequence decode + parse of the same tokens, batching, cancel; and the golden
// tiny checkpoint (no tokenizer.json) refusing chat requests but running token requests.

#include "engine/api/backendfactory.h"
#include "engine/chat/encoding.h"
#include "engine/cpu/cpubackend.h"
#include "engine/model/modelwriter.h"
#include "testdata.h"

#include <QFileInfo>
#include <QTemporaryDir>
#include <QTest>

#include <map>

using namespace fathom::engine;

namespace {

struct Output
{
    std::string reasoning, content;
    int textCalls = 0;
    bool finished = false;
    FinishReason reason = FinishReason::Error;
    GenerationStats stats;
    std::string error;
};

class Sink final : public TokenSink
{
public:
    void onText(RequestId id, const std::string &r, const std::string &c) override
    {
        QVERIFY(!out[id].finished);
        out[id].reasoning += r;
        out[id].content += c;
        ++out[id].textCalls;
    }
    void onFinished(RequestId id, FinishReason reason, const GenerationStats &stats) override
    {
        out[id].finished = true;
        out[id].reason = reason;
        out[id].stats = stats;
    }
    void onError(RequestId id, const Error &error) override
    {
        out[id].finished = true;
        out[id].error = error.toString();
    }
    std::map<RequestId, Output> out;
};

class Tokens final : public GenerationListener
{
public:
    void onToken(RequestId, int32_t token, bool) override { tokens.push_back(token); }
    void onFinished(RequestId, FinishReason r, const GenerationStats &) override
    {
        finished = true;
        reason = r;
    }
    void onError(RequestId, const Error &) override { finished = true; }
    std::vector<int32_t> tokens;
    bool finished = false;
    FinishReason reason = FinishReason::Error;
};

GenerationRequest chatRequest(RequestId id,
                              const std::string &text,
                              chat::ThinkingMode mode,
                              int maxTokens)
{
    GenerationRequest r;
    r.id = id;
    chat::Message m;
    m.role = chat::Role::User;
    m.content = text;
    r.messages.push_back(m);
    r.thinkingMode = mode;
    r.maxTokens = maxTokens;
    r.sampling.temperature = 0.0f;
    return r;
}

void runAll(Backend &b)
{
    for (int i = 0; i < 10000 && b.step(); ++i) {
    }
}

} // namespace

class tst_CpuBackend : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    std::string m_model;

private slots:
    void initTestCase()
    {
        const QString tok = QString::fromUtf8(FATHOM_TOKENIZER_JSON);
        if (tok.isEmpty() || !QFileInfo::exists(tok)) {
            if (fathom::test::testdataRequired())
                QFAIL("FATHOM_TOKENIZER_JSON is not set (scripts/fetch-test-deps.sh)");
            QSKIP("SKIPPED LOUDLY: FATHOM_TOKENIZER_JSON not set (scripts/fetch-test-deps.sh)");
        }
        QVERIFY(m_dir.isValid());
        MakeModelOptions o;
        o.outDir = m_dir.filePath(QStringLiteral("model")).toStdString();
        o.preset = "tiny";
        o.seed = 17;
        o.tokenizerPath = tok.toStdString();
        auto r = writeRandomModel(o);
        QVERIFY2(r, r ? "" : r.error().toString().c_str());
        m_model = o.outDir;
    }

    void loadReportsProgressAndCancels()
    {
        CpuBackend b;
        int calls = 0;
        auto cancelled = b.load({m_model, "", 0, {}}, [&](const LoadProgress &) {
            ++calls;
            return false;
        });
        QVERIFY(!cancelled);
        QCOMPARE(cancelled.error().kind, Error::Kind::Cancelled);
        QCOMPARE(calls, 1);
        QVERIFY(!b.isLoaded());

        std::vector<LoadProgress> seen;
        auto ok = b.load({m_model, "", 0, {}}, [&](const LoadProgress &p) {
            seen.push_back(p);
            return true;
        });
        QVERIFY2(ok, ok ? "" : ok.error().toString().c_str());
        QVERIFY(b.isLoaded());
        QVERIFY(seen.size() >= 3);
        QVERIFY(seen.back().bytesTotal > 0);
        QCOMPARE(seen.back().bytesDone, seen.back().bytesTotal);
        const BackendInfo info = b.info();
        QCOMPARE(info.kind, BackendKind::Cpu);
        QVERIFY(info.description.rfind("CPU (", 0) == 0);
        QVERIFY(info.capabilities.tokenizer);
        QVERIFY(info.capabilities.concurrentRequests);
    }

    void promptFollowsTheV4Format()
    {
        CpuBackend b;
        QVERIFY(b.load({m_model, "", 0, {}}, {}));
        // Spec §8 worked example "no system" (chat mode), and its thinking-mode twin.
        const std::string bos = std::string(chat::kBos);
        const std::string user = "<\xEF\xBD\x9CUser\xEF\xBD\x9C>";
        const std::string assistant = "<\xEF\xBD\x9C"
                                      "Assistant\xEF\xBD\x9C>";
        auto chatPrompt = b.encodePrompt(chatRequest(1, "Hi", chat::ThinkingMode::Chat, 4));
        QVERIFY(chatPrompt);
        QCOMPARE(b.tokenizer()->decode(*chatPrompt), bos + user + "Hi" + assistant + "</think>");
        auto thinkPrompt = b.encodePrompt(chatRequest(1, "Hi", chat::ThinkingMode::Thinking, 4));
        QVERIFY(thinkPrompt);
        QCOMPARE(b.tokenizer()->decode(*thinkPrompt), bos + user + "Hi" + assistant + "<think>");
        // BOS is one token, not its text spelled out.
        QCOMPARE(chatPrompt->front(), int32_t(b.weights()->config().bosTokenId));
    }

    void streamedTextEqualsWholeDecode_data()
    {
        QTest::addColumn<int>("mode");
        QTest::newRow("chat") << int(chat::ThinkingMode::Chat);
        QTest::newRow("thinking") << int(chat::ThinkingMode::Thinking);
    }

    void streamedTextEqualsWholeDecode()
    {
        QFETCH(int, mode);
        const auto m = static_cast<chat::ThinkingMode>(mode);
        CpuBackend b;
        QVERIFY(b.load({m_model, "", 0, {}}, {}));
        const GenerationRequest req = chatRequest(5, "Write a haiku about the sea.", m, 24);

        // The same request at token level: the ids the model produces.
        auto prompt = b.encodePrompt(req);
        QVERIFY(prompt);
        Tokens t;
        TokenRequest tr;
        tr.id = 99;
        tr.prompt = *prompt;
        tr.maxTokens = 24;
        tr.sampling.temperature = 0.0f;
        QVERIFY(b.submitTokens(tr, t));
        runAll(b);
        QVERIFY(t.finished);

        Sink sink;
        QVERIFY(b.submit(req, sink));
        runAll(b);
        const Output &o = sink.out[5];
        QVERIFY(o.finished);
        QVERIFY(o.error.empty());
        QVERIFY(o.textCalls > 1); // it streamed
        QCOMPARE(o.stats.promptTokens, int(prompt->size()));
        QCOMPARE(o.stats.completionTokens, int(t.tokens.size()));
        if (t.reason == FinishReason::Length)
            QCOMPARE(o.reason, FinishReason::Length);

        // Independent path: the whole sequence decoded at once (special tokens kept) and parsed
        // by the non-incremental parser.
        const std::string whole = b.tokenizer()->decode(t.tokens);
        auto parsed = chat::parseCompletion(whole, m);
        if (parsed) {
            QCOMPARE(o.reasoning, parsed->reasoningContent);
            QCOMPARE(o.content, parsed->content);
        } else {
            // Random tokens may break the tool-call grammar; the text still all arrives.
            QCOMPARE(o.reasoning + o.content, whole);
        }
        if (m == chat::ThinkingMode::Chat)
            QVERIFY(o.reasoning.empty());
    }

    void requestsShareStepsAndCancel()
    {
        CpuBackend b;
        QVERIFY(b.load({m_model, "", 0, {}}, {}));
        auto alone = [&](RequestId id, const std::string &text) {
            Sink s;
            if (!b.submit(chatRequest(id, text, chat::ThinkingMode::Chat, 12), s))
                return std::string("<submit failed>");
            runAll(b);
            return s.out[id].content;
        };
        const std::string a = alone(1, "One"), c = alone(2, "A longer second question here?");

        Sink s;
        QVERIFY(b.submit(chatRequest(1, "One", chat::ThinkingMode::Chat, 12), s));
        QVERIFY(
            b.submit(chatRequest(2, "A longer second question here?", chat::ThinkingMode::Chat, 12),
                     s));
        QVERIFY(b.submit(chatRequest(3, "To be cancelled", chat::ThinkingMode::Chat, 100), s));
        QVERIFY(!b.submit(chatRequest(3, "duplicate", chat::ThinkingMode::Chat, 100), s));
        QVERIFY(b.step());
        QVERIFY(b.step());
        b.cancel(3);
        runAll(b);
        QCOMPARE(s.out[1].content, a);
        QCOMPARE(s.out[2].content, c);
        QCOMPARE(s.out[3].reason, FinishReason::Cancelled);
        QVERIFY(s.out[3].stats.completionTokens < 100);
        QVERIFY(b.scheduler()->counters().maxBatchItems >= 3);
    }

    void goldenCheckpointWithoutTokenizer()
    {
        FATHOM_TESTDATA_PATH(dir, "v4/tiny-bf16");
        std::unique_ptr<Backend> b = createCpuBackend(2);
        QVERIFY(b->load({dir.toStdString(), "", 0, {}}, {}));
        QVERIFY(!b->info().capabilities.tokenizer);
        Sink s;
        auto r = b->submit(chatRequest(1, "Hi", chat::ThinkingMode::Chat, 4), s);
        QVERIFY(!r);
        QCOMPARE(r.error().kind, Error::Kind::Unavailable);
        auto *cpu = static_cast<CpuBackend *>(b.get());
        Tokens t;
        TokenRequest tr;
        tr.id = 2;
        tr.prompt = {0, 10, 20, 30};
        tr.maxTokens = 3;
        tr.stopTokens = {-1};
        QVERIFY(cpu->submitTokens(tr, t));
        runAll(*b);
        QCOMPARE(t.tokens.size(), size_t(3));
        QCOMPARE(t.reason, FinishReason::Length);
    }
};

QTEST_GUILESS_MAIN(tst_CpuBackend)
#include "tst_cpubackend.moc"
