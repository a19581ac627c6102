// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "testserver.h"

#include "engine/core/log.h"
#include "engine/remote/remotebackend.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMutex>
#include <QSslCertificate>
#include <QSslKey>
#include <QSslSocket>
#include <QTest>

#include <optional>
#include <random>

#ifdef Q_OS_LINUX
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

using namespace fathom::engine;
using namespace fathom::engine::remote;
using fathom::test::TestServer;

namespace {

const char kApiKey[] = "sk-test-9f8e7d6c5b4a39281706";

struct RecordingSink : TokenSink
{
    std::string reasoning;
    std::string content;
    int textCalls = 0;
    bool finished = false;
    FinishReason reason = FinishReason::Error;
    GenerationStats stats;
    std::optional<Error> error;
    std::vector<chat::ToolCall> toolCalls;
    std::function<void()> onFirstText;

    void onText(RequestId, const std::string &r, const std::string &c) override
    {
        reasoning += r;
        content += c;
        if (textCalls++ == 0 && onFirstText)
            onFirstText();
    }
    void onToolCalls(RequestId, const std::vector<chat::ToolCall> &calls) override
    {
        toolCalls = calls;
    }
    void onFinished(RequestId, FinishReason r, const GenerationStats &s) override
    {
        finished = true;
        reason = r;
        stats = s;
    }
    void onError(RequestId, const Error &e) override { error = e; }
    bool ended() const { return finished || error.has_value(); }
};

// Every engine log line of the whole run, to prove the API key never reaches the log.
QMutex g_logMutex;
QStringList g_log;
void captureLog(LogLevel, std::string_view component, std::string_view message)
{
    QMutexLocker lock(&g_logMutex);
    g_log.append(QString::fromUtf8(component.data(), qsizetype(component.size()))
                 + QLatin1String(": ")
                 + QString::fromUtf8(message.data(), qsizetype(message.size())));
}

QByteArray readData(const char *name)
{
    QFile f(QStringLiteral(FATHOM_SOURCE_DIR "/tests/remote/data/") + QLatin1String(name));
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot open test data %s", name);
    return f.readAll();
}

// Splits bytes into pieces of random size (seeded), so events and UTF-8 sequences straddle
// network writes.
QList<QByteArray> randomPieces(const QByteArray &bytes, unsigned seed, int maxPiece = 40)
{
    std::mt19937 rng(seed);
    QList<QByteArray> pieces;
    int i = 0;
    while (i < bytes.size()) {
        const int n = std::uniform_int_distribution<int>(1, maxPiece)(rng);
        pieces.append(bytes.mid(i, n));
        i += n;
    }
    return pieces;
}

QByteArray modelsJson()
{
    return R"({"object":"list","data":[{"id":"deepseek-v4-flash","object":"model","owned_by":"deepseek","max_model_len":1048576},{"id":"deepseek-v4-pro","object":"model","owned_by":"deepseek"}]})";
}

// Answers /v1/models and hands /v1/chat/completions to `chat`.
TestServer::Handler router(std::function<TestServer::Script(const TestServer::Request &)> chat)
{
    return [chat](const TestServer::Request &r) -> TestServer::Script {
        if (r.path == "/v1/models")
            return TestServer::json(200, modelsJson());
        if (r.path == "/v1/chat/completions")
            return chat(r);
        return TestServer::json(404, R"({"error":{"message":"unknown path","type":"not_found"}})");
    };
}

RemoteConfig configFor(const TestServer &server)
{
    RemoteConfig c;
    c.name = "test server";
    c.baseUrl = server.baseUrl().toStdString();
    c.apiKey = kApiKey;
    c.useEnvironmentProxy = false; // loopback only, whatever the environment says
    c.connectTimeoutMs = 2000;
    c.retryDelayMs = 20;
    c.idleTimeoutSeconds = 10;
    c.modelsTimeoutMs = 5000;
    c.stepWaitMs = 5;
    return c;
}

chat::Message message(chat::Role role, std::string content, std::string reasoning = {})
{
    chat::Message m;
    m.role = role;
    m.content = std::move(content);
    m.reasoningContent = std::move(reasoning);
    return m;
}

GenerationRequest simpleRequest(RequestId id = 1)
{
    GenerationRequest r;
    r.id = id;
    r.messages.push_back(message(chat::Role::System, "You are terse."));
    r.messages.push_back(message(chat::Role::User, "What is 17 × 23?"));
    r.model = "deepseek-v4-flash";
    r.maxTokens = 256;
    r.sampling.temperature = 0.6f;
    r.sampling.topP = 0.95f;
    return r;
}

// Steps the backend until `done` or the time limit (bounded: tests never hang).
template<typename Pred>
bool drive(RemoteBackend &backend, Pred done, int timeoutMs = 10000)
{
    QElapsedTimer timer;
    timer.start();
    while (!done() && timer.elapsed() < timeoutMs)
        backend.step();
    return done();
}

bool waitFor(const std::function<bool()> &done, int timeoutMs = 5000)
{
    QElapsedTimer timer;
    timer.start();
    while (!done() && timer.elapsed() < timeoutMs)
        QThread::msleep(5);
    return done();
}

QJsonObject bodyOf(const TestServer::Request &r)
{
    return QJsonDocument::fromJson(r.body).object();
}

} // namespace

class tst_RemoteBackend : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase();
    void loadListsModels();
    void loadRejectsUnknownModel();
    void loadReportsUnauthorized();
    void streamsDeepSeekFormat_data();
    void streamsDeepSeekFormat();
    void streamsVllmFormat();
    void streamsToolCallDeltas();
    void streamCutMidEvent();
    void serverClosesMidAnswer();
    void errorObjectInsideStream();
    void cancelMidStreamClosesConnection();
    void httpErrors_data();
    void httpErrors();
    void nonStreamingAnswer();
    void concurrentRequests();
    void retriesRefusedConnection();
    void neverResendsAfterRequestWasSent();
    void connectTimeoutIsRetried();
    void genericDialectBody();
    void secretsAreScrubbed();
    void endpointUrls();
    void tlsWithExtraCaBundle();
    void tlsUnknownCaIsRefused();
};

void tst_RemoteBackend::initTestCase()
{
    // Loopback only: an inherited proxy must not capture our test traffic.
    for (const char *v :
         {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"})
        qunsetenv(v);
    setLogSink(&captureLog);
}

void tst_RemoteBackend::cleanupTestCase()
{
    setLogSink(nullptr);
    QMutexLocker lock(&g_logMutex);
    QVERIFY(!g_log.isEmpty());        // the failures above were logged...
    for (const QString &line : g_log) // ...and never with the key
        QVERIFY2(!line.contains(QLatin1String(kApiKey)), qPrintable(line));
}

void tst_RemoteBackend::loadListsModels()
{
    TestServer server;
    QVERIFY(server.listen());
    server.setHandler(router([](const TestServer::Request &) { return TestServer::Script{}; }));
    RemoteBackend backend(configFor(server));
    int progressCalls = 0;
    auto loaded = backend.load(ModelSpec{{}, "deepseek-v4-pro", 0, {}}, [&](const LoadProgress &) {
        ++progressCalls;
        return true;
    });
    QVERIFY2(loaded, loaded ? "" : loaded.error().toString().c_str());
    QCOMPARE(backend.models().size(), std::size_t(2));
    QCOMPARE(backend.models()[0].id, std::string("deepseek-v4-flash"));
    QCOMPARE(backend.models()[0].contextLength, 1048576);
    QCOMPARE(backend.models()[1].id, std::string("deepseek-v4-pro"));
    QVERIFY(progressCalls > 0);
    const auto requests = server.requests();
    QCOMPARE(requests.size(), 1);
    QCOMPARE(requests[0].method, QByteArray("GET"));
    QCOMPARE(requests[0].headers.value("authorization"), QByteArray("Bearer ") + kApiKey);
    const BackendInfo info = backend.info();
    QCOMPARE(info.kind, BackendKind::Remote);
    QVERIFY(!info.capabilities.tokenizer);
    QVERIFY(!info.capabilities.kvSnapshots);
    QVERIFY(info.description.find(kApiKey) == std::string::npos);
}

void tst_RemoteBackend::loadRejectsUnknownModel()
{
    TestServer server;
    QVERIFY(server.listen());
    server.setHandler(router([](const TestServer::Request &) { return TestServer::Script{}; }));
    RemoteBackend backend(configFor(server));
    auto loaded = backend.load(ModelSpec{{}, "gpt-5", 0, {}}, {});
    QVERIFY(!loaded);
    QCOMPARE(loaded.error().kind, Error::Kind::InvalidArgument);
    QVERIFY(loaded.error().message.find("gpt-5") != std::string::npos);
    QVERIFY(loaded.error().message.find("deepseek-v4-flash") != std::string::npos);
    // "auto" is not a model id the server has to list.
    QVERIFY(backend.load(ModelSpec{{}, "auto", 0, {}}, {}));
}

void tst_RemoteBackend::loadReportsUnauthorized()
{
    TestServer server;
    QVERIFY(server.listen());
    server.setHandler([](const TestServer::Request &r) {
        // Like some real servers, echo the key back in the error.
        return TestServer::json(
            401,
            R"({"error":{"message":"Authentication Fails, Your api key: )"
                + r.headers.value("authorization").mid(7)
                + R"( is invalid","type":"authentication_error","param":null,"code":"invalid_request_error"}})");
    });
    RemoteBackend backend(configFor(server));
    auto loaded = backend.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {});
    QVERIFY(!loaded);
    const std::string text = loaded.error().toString();
    QVERIFY2(text.find("401") != std::string::npos, text.c_str());
    QVERIFY2(text.find("Authentication Fails") != std::string::npos, text.c_str());
    QVERIFY2(text.find(kApiKey) == std::string::npos, text.c_str());
    QVERIFY2(text.find("***") != std::string::npos, text.c_str());
}

void tst_RemoteBackend::streamsDeepSeekFormat_data()
{
    QTest::addColumn<bool>("crlf");
    QTest::addColumn<uint>("seed");
    QTest::addColumn<int>("maxPiece");
    QTest::newRow("lf, small pieces") << false << 1u << 7;
    QTest::newRow("lf, larger pieces") << false << 2u << 300;
    QTest::newRow("crlf, small pieces") << true << 3u << 5;
    QTest::newRow("crlf, one byte") << true << 4u << 1;
}

void tst_RemoteBackend::streamsDeepSeekFormat()
{
    QFETCH(bool, crlf);
    QFETCH(uint, seed);
    QFETCH(int, maxPiece);
    QByteArray stream = readData("deepseek_v4_thinking.sse");
    if (crlf)
        stream.replace("\n", "\r\n");
    TestServer server;
    QVERIFY(server.listen());
    server.setHandler(router([&](const TestServer::Request &) {
        return TestServer::sse(randomPieces(stream, seed, maxPiece), 0);
    }));
    RemoteConfig config = configFor(server);
    config.dialect = RemoteDialect::DeepSeekApi;
    RemoteBackend backend(config);
    QVERIFY(backend.load(ModelSpec{{}, "deepseek-v4-pro", 0, {}}, {}));

    GenerationRequest request = simpleRequest(7);
    request.model = "deepseek-v4-pro";
    request.thinkingMode = chat::ThinkingMode::Thinking;
    request.reasoningEffort = chat::ReasoningEffort::Max;
    RecordingSink sink;
    QVERIFY(backend.submit(request, sink));
    QVERIFY(drive(backend, [&] { return sink.ended(); }));
    QVERIFY2(!sink.error, sink.error ? sink.error->toString().c_str() : "");
    QCOMPARE(sink.reasoning,
             std::string("The user asks for 17 × 23. 17 × 20 = 340, 17 × 3 = 51, so 391."));
    QCOMPARE(sink.content, std::string("17 × 23 = **391** — café 好"));
    QCOMPARE(sink.reason, FinishReason::Stop);
    QCOMPARE(sink.stats.promptTokens, 31);
    QCOMPARE(sink.stats.completionTokens, 42);
    QCOMPARE(sink.stats.cachedPromptTokens, 16); // DeepSeek's prompt_cache_hit_tokens
    QCOMPARE(sink.stats.model, std::string("deepseek-v4-pro"));
    QVERIFY(sink.stats.timeToFirstTokenMs > 0);
    QVERIFY(!drive(
                backend, [] { return false; }, 50)
            && !backend.step()); // nothing left

    // What went over the wire.
    const auto requests = server.requests();
    QCOMPARE(requests.size(), 2);
    const TestServer::Request &chatRequest = requests[1];
    QCOMPARE(chatRequest.method, QByteArray("POST"));
    QCOMPARE(chatRequest.path, QByteArray("/v1/chat/completions"));
    QCOMPARE(chatRequest.headers.value("authorization"), QByteArray("Bearer ") + kApiKey);
    QVERIFY(chatRequest.headers.value("content-type").startsWith("application/json"));
    const QJsonObject body = bodyOf(chatRequest);
    QCOMPARE(body.value("model").toString(), QStringLiteral("deepseek-v4-pro"));
    QCOMPARE(body.value("stream").toBool(), true);
    QCOMPARE(body.value("stream_options").toObject().value("include_usage").toBool(), true);
    QCOMPARE(body.value("thinking").toObject().value("type").toString(), QStringLiteral("enabled"));
    QCOMPARE(body.value("reasoning_effort").toString(), QStringLiteral("max"));
    QCOMPARE(body.value("max_tokens").toInt(), 256);
    QVERIFY(qAbs(body.value("temperature").toDouble() - 0.6) < 1e-9); // sent as 0.6, not 0.60000002
    QVERIFY(qAbs(body.value("top_p").toDouble() - 0.95) < 1e-9);
    const QJsonArray messages = body.value("messages").toArray();
    QCOMPARE(messages.size(), 2);
    QCOMPARE(messages[0].toObject().value("role").toString(), QStringLiteral("system"));
    QCOMPARE(messages[0].toObject().value("content").toString(), QStringLiteral("You are terse."));
    QCOMPARE(messages[1].toObject().value("role").toString(), QStringLiteral("user"));
    QCOMPARE(messages[1].toObject().value("content").toString(),
             QString::fromUtf8("What is 17 × 23?"));
}

void tst_RemoteBackend::streamsVllmFormat()
{
    // vLLM: usage in its own chunk with empty choices, finish_reason "length", a keep-alive
    // comment and CRLF line ends, with pauses between writes.
    QByteArray stream = readData("vllm_reasoning.sse");
    stream
        .replace("\n\ndata: "
                 "{\"id\":\"chatcmpl-5d3b2a10c0d94f8e\",\"object\":\"chat.completion.chunk\","
                 "\"created\":1777000100,\"model\":\"deepseek-ai/"
                 "DeepSeek-V4-Flash\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}",
                 "\n\n: ping\n\ndata: "
                 "{\"id\":\"chatcmpl-5d3b2a10c0d94f8e\",\"object\":\"chat.completion.chunk\","
                 "\"created\":1777000100,\"model\":\"deepseek-ai/"
                 "DeepSeek-V4-Flash\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}");
    QVERIFY(stream.contains(": ping"));
    TestServer server;
    QVERIFY(server.listen());
    server.setHandler(router([&](const TestServer::Request &) {
        return TestServer::sse(randomPieces(stream, 11, 64), 3);
    }));
    RemoteBackend backend(configFor(server));
    QVERIFY(backend.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {}));
    GenerationRequest request = simpleRequest(3);
    request.thinkingMode = chat::ThinkingMode::Thinking;
    RecordingSink sink;
    QVERIFY(backend.submit(request, sink));
    QVERIFY(drive(backend, [&] { return sink.ended(); }));
    QVERIFY2(!sink.error, sink.error ? sink.error->toString().c_str() : "");
    QCOMPARE(sink.reasoning, std::string("Greeting; answer\nbriefly."));
    QCOMPARE(sink.content, std::string("Hello! How can I help?"));
    QCOMPARE(sink.reason, FinishReason::Length);
    QCOMPARE(sink.stats.promptTokens, 12);
    QCOMPARE(sink.stats.completionTokens, 9);
    QCOMPARE(sink.stats.cachedPromptTokens, 8);
    // The answer records the model the server says produced it, not the id that was asked for.
    QCOMPARE(sink.stats.model, std::string("deepseek-ai/DeepSeek-V4-Flash"));
    QVERIFY(sink.textCalls >= 2); // streamed, not delivered in one piece at the end
}

void tst_RemoteBackend::streamsToolCallDeltas()
{
    const QByteArray stream = readData("vllm_tool_calls.sse");
    TestServer server;
    QVERIFY(server.listen());
    server.setHandler(router(
        [&](const TestServer::Request &) { return TestServer::sse(randomPieces(stream, 5, 50)); }));
    RemoteBackend backend(configFor(server));
    QVERIFY(backend.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {}));
    GenerationRequest request = simpleRequest(4);
    request.messages[0].toolsJson
        = R"([{"name":"get_time","description":"Current time","parameters":{"type":"object","properties":{"tz":{"type":"string"}}}}])";
    RecordingSink sink;
    QVERIFY(backend.submit(request, sink));
    QVERIFY(drive(backend, [&] { return sink.ended(); }));
    QVERIFY(!sink.error);
    QCOMPARE(sink.reasoning, std::string("Need the time in two zones.")); // newer vLLM's "reasoning"
    QCOMPARE(sink.reason, FinishReason::ToolCalls);
    QCOMPARE(sink.toolCalls.size(), std::size_t(2));
    QCOMPARE(sink.toolCalls[0].id, std::string("call_a1"));
    QCOMPARE(sink.toolCalls[0].name, std::string("get_time"));
    QCOMPARE(sink.toolCalls[0].argumentsJson, std::string(R"({"tz": "UTC"})"));
    QCOMPARE(sink.toolCalls[1].id, std::string("call_b2"));
    QCOMPARE(sink.toolCalls[1].argumentsJson, std::string(R"({"tz": "Asia/Tokyo"})"));
    const QJsonArray tools = bodyOf(server.requests().last()).value("tools").toArray();
    QCOMPARE(tools.size(), 1);
    QCOMPARE(tools[0].toObject().value("type").toString(), QStringLiteral("function"));
    QCOMPARE(tools[0].toObject().value("function").toObject().value("name").toString(),
             QStringLiteral("get_time"));
}

void tst_RemoteBackend::streamCutMidEvent()
{
    // The server ends the response properly, but in the middle of an event.
    const QByteArray stream = readData("vllm_cut_mid_event.sse");
    TestServer server;
    QVERIFY(server.listen());
    server.setHandler(router(
        [&](const TestServer::Request &) { return TestServer::sse(randomPieces(stream, 9, 30)); }));
    RemoteBackend backend(configFor(server));
    QVERIFY(backend.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {}));
    RecordingSink sink;
    QVERIFY(backend.submit(simpleRequest(), sink));
    QVERIFY(drive(backend, [&] { return sink.ended(); }));
    QVERIFY(!sink.finished);
    QVERIFY(sink.error);
    QCOMPARE(sink.error->kind, Error::Kind::Network);
    QVERIFY2(sink.error->message.find("mid-event") != std::string::npos,
             sink.error->message.c_str());
    QVERIFY2(sink.error->message.find("partial answer is kept") != std::string::npos,
             sink.error->message.c_str());
    // Everything before the cut was delivered.
    QCOMPARE(sink.reasoning, std::string("Greeting; answer\nbriefly."));
    QCOMPARE(sink.content, std::string("Hello"));
}

void tst_RemoteBackend::serverClosesMidAnswer()
{
    const QByteArray stream = readData("vllm_reasoning.sse");
    const int cut = stream.indexOf("! How can I help?");
    QVERIFY(cut > 0);
    TestServer server;
    QVERIFY(server.listen());
    server.setHandler(router([&](const TestServer::Request &) {
        TestServer::Script s{
            {TestServer::Step::Write, TestServer::head(200, "text/event-stream"), 0}};
        for (const QByteArray &p : randomPieces(stream.left(cut), 21, 100))
            s.append({TestServer::Step::Write, TestServer::chunk(p), 2});
        s.append(
            {TestServer::Step::Abort, {}, 20}); // no terminating chunk: the connection just dies
        return s;
    }));
    RemoteBackend backend(configFor(server));
    QVERIFY(backend.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {}));
    RecordingSink sink;
    QVERIFY(backend.submit(simpleRequest(), sink));
    QVERIFY(drive(backend, [&] { return sink.ended(); }));
    QVERIFY(!sink.finished);
    QVERIFY(sink.error);
    QCOMPARE(sink.error->kind, Error::Kind::Network);
    QVERIFY2(sink.error->message.find("partial answer is kept") != std::string::npos,
             sink.error->message.c_str());
    QCOMPARE(sink.reasoning, std::string("Greeting; answer\nbriefly."));
    QCOMPARE(sink.content, std::string("Hello"));
    QVERIFY(sink.error->message.find(kApiKey) == std::string::npos);
}

void tst_RemoteBackend::errorObjectInsideStream()
{
    const QByteArray stream = "data: "
                              "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Partial\"},"
                              "\"finish_reason\":null}]}\n\n"
                              "data: {\"object\":\"error\",\"message\":\"The engine ran out of KV "
                              "cache blocks\",\"type\":\"InternalServerError\",\"code\":500}\n\n"
                              "data: [DONE]\n\n";
    TestServer server;
    QVERIFY(server.listen());
    server.setHandler(
        router([&](const TestServer::Request &) { return TestServer::sse({stream}); }));
    RemoteBackend backend(configFor(server));
    QVERIFY(backend.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {}));
    RecordingSink sink;
    QVERIFY(backend.submit(simpleRequest(), sink));
    QVERIFY(drive(backend, [&] { return sink.ended(); }));
    QVERIFY(sink.error);
    QVERIFY2(sink.error->message.find("ran out of KV cache") != std::string::npos,
             sink.error->message.c_str());
    QCOMPARE(sink.content, std::string("Partial"));
}

void tst_RemoteBackend::cancelMidStreamClosesConnection()
{
    TestServer server;
    QVERIFY(server.listen());
    server.setHandler(router([](const TestServer::Request &) {
        TestServer::Script s{
            {TestServer::Step::Write, TestServer::head(200, "text/event-stream"), 0}};
        s.append(
            {TestServer::Step::Write,
             TestServer::chunk(
                 "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Once upon\"}}]}\n\n"),
             0});
        // Then a slow trickle of keep-alives for ~10 s: only the client can end this early.
        for (int i = 0; i < 200; ++i)
            s.append({TestServer::Step::Write, TestServer::chunk(": keep-alive\n\n"), 50});
        return s;
    }));
    RemoteBackend backend(configFor(server));
    QVERIFY(backend.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {}));
    RecordingSink sink;
    // Cancel from inside the sink, as a UI "stop" reaching the engine between two texts would.
    sink.onFirstText = [&] { backend.cancel(1); };
    QElapsedTimer timer;
    timer.start();
    QVERIFY(backend.submit(simpleRequest(1), sink));
    QVERIFY(drive(
        backend, [&] { return sink.ended(); }, 5000));
    QVERIFY(sink.finished);
    QCOMPARE(sink.reason, FinishReason::Cancelled);
    QVERIFY(!sink.error);
    QCOMPARE(sink.content, std::string("Once upon"));
    QVERIFY(timer.elapsed() < 3000);
    QVERIFY(!backend.step());
    // The server sees the connection go away long before its script would have ended.
    QVERIFY(waitFor([&] { return server.clientAborts() == 1; }, 3000));
}

void tst_RemoteBackend::httpErrors_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QByteArray>("headers");
    QTest::addColumn<QStringList>("mustContain");
    QTest::addColumn<int>("kind");

    QTest::newRow("401 OpenAI style, key echoed")
        << 401
        << QByteArray(
               R"({"error":{"message":"Incorrect API key provided: KEY. You can find your API key at https://example.invalid","type":"invalid_request_error","param":null,"code":"invalid_api_key"}})")
        << QByteArray()
        << QStringList{"401", "check the API key", "Incorrect API key provided: ***"}
        << int(Error::Kind::Network);
    QTest::newRow("429 with Retry-After")
        << 429
        << QByteArray(
               R"({"error":{"message":"Rate limit reached for requests","type":"rate_limit_error"}})")
        << QByteArray("Retry-After: 7\r\n")
        << QStringList{"429", "Rate limit reached", "retry after 7 s"} << int(Error::Kind::Network);
    QTest::newRow("500 vLLM style")
        << 500
        << QByteArray(
               R"({"object":"error","message":"EngineCore encountered an issue","type":"InternalServerError","param":null,"code":500})")
        << QByteArray()
        << QStringList{"500", "EngineCore encountered an issue", "InternalServerError"}
        << int(Error::Kind::Network);
    QTest::newRow("400 FastAPI detail")
        << 400 << QByteArray(R"({"detail":"max_tokens must be at most 8192"})") << QByteArray()
        << QStringList{"400", "max_tokens must be at most 8192"}
        << int(Error::Kind::InvalidArgument);
    QTest::newRow("502 plain text from a proxy")
        << 502 << QByteArray("<html><body>Bad gateway</body></html>") << QByteArray()
        << QStringList{"502", "Bad gateway"} << int(Error::Kind::Network);
}

void tst_RemoteBackend::httpErrors()
{
    QFETCH(int, status);
    QFETCH(QByteArray, body);
    QFETCH(QByteArray, headers);
    QFETCH(QStringList, mustContain);
    QFETCH(int, kind);
    TestServer server;
    QVERIFY(server.listen());
    server.setHandler(router([&](const TestServer::Request &r) {
        QByteArray b = body;
        b.replace("KEY", r.headers.value("authorization").mid(7));
        const QByteArray type = b.startsWith('<') ? "text/html" : "application/json";
        return TestServer::Script{
            {TestServer::Step::Write, TestServer::head(status, type, headers, b.size()) + b, 0}};
    }));
    RemoteBackend backend(configFor(server));
    QVERIFY(backend.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {}));
    RecordingSink sink;
    QVERIFY(backend.submit(simpleRequest(), sink));
    QVERIFY(drive(backend, [&] { return sink.ended(); }));
    QVERIFY(!sink.finished);
    QVERIFY(sink.error);
    const QString text = QString::fromStdString(sink.error->toString());
    for (const QString &needle : mustContain)
        QVERIFY2(text.contains(needle), qPrintable(text));
    QVERIFY2(!text.contains(QLatin1String(kApiKey)), qPrintable(text));
    QCOMPARE(int(sink.error->kind), kind);
    QCOMPARE(server.requests().size(), 2); // models + one chat request: HTTP errors are not retried
}

void tst_RemoteBackend::nonStreamingAnswer()
{
    // A server that ignores stream: true and answers with a whole chat.completion.
    TestServer server;
    QVERIFY(server.listen());
    server.setHandler(router([](const TestServer::Request &) {
        return TestServer::json(
            200,
            R"({"id":"c1","object":"chat.completion","model":"deepseek-v4-flash","choices":[{"index":0,"message":{"role":"assistant","content":"Paris.","reasoning_content":"Capital of France."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}})");
    }));
    RemoteBackend backend(configFor(server));
    QVERIFY(backend.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {}));
    RecordingSink sink;
    QVERIFY(backend.submit(simpleRequest(), sink));
    QVERIFY(drive(backend, [&] { return sink.ended(); }));
    QVERIFY(!sink.error);
    QCOMPARE(sink.content, std::string("Paris."));
    QCOMPARE(sink.reasoning, std::string("Capital of France."));
    QCOMPARE(sink.stats.completionTokens, 4);
}

void tst_RemoteBackend::concurrentRequests()
{
    TestServer server;
    QVERIFY(server.listen());
    server.setHandler(router([](const TestServer::Request &r) {
        const QString question
            = bodyOf(r).value("messages").toArray().last().toObject().value("content").toString();
        QList<QByteArray> pieces;
        for (int i = 0; i < 5; ++i)
            pieces.append("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\""
                          + question.toUtf8() + QByteArray::number(i) + "\"}}]}\n\n");
        pieces.append(
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: "
            "[DONE]\n\n");
        return TestServer::sse(pieces, 10);
    }));
    RemoteBackend backend(configFor(server));
    QVERIFY(backend.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {}));
    std::vector<RecordingSink> sinks(4);
    for (int i = 0; i < 4; ++i) {
        GenerationRequest r = simpleRequest(100 + i);
        r.messages.back().content = "q" + std::to_string(i) + "-";
        QVERIFY(backend.submit(r, sinks[i]));
    }
    // The same id twice is refused while the first runs.
    RecordingSink extra;
    QVERIFY(!backend.submit(simpleRequest(100), extra));
    QElapsedTimer timer;
    timer.start();
    QVERIFY(drive(backend, [&] {
        return std::all_of(sinks.begin(), sinks.end(), [](const RecordingSink &s) {
            return s.ended();
        });
    }));
    for (int i = 0; i < 4; ++i) {
        const std::string p = "q" + std::to_string(i) + "-";
        QVERIFY(!sinks[i].error);
        QCOMPARE(sinks[i].content, p + "0" + p + "1" + p + "2" + p + "3" + p + "4");
    }
    // Four 60 ms streams in parallel, not one after another.
    QVERIFY2(timer.elapsed() < 1000, qPrintable(QString::number(timer.elapsed())));
}

void tst_RemoteBackend::retriesRefusedConnection()
{
    // Find a free port, then leave it closed: the first attempts are refused (nothing was sent),
    // and the server comes up while the backend is waiting to try again.
    TestServer server;
    QVERIFY(server.listen());
    const quint16 port = server.port();
    server.setHandler(router([](const TestServer::Request &) {
        return TestServer::sse({"data: "
                                "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"up\"},"
                                "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"});
    }));
    RemoteConfig config = configFor(server);
    config.connectRetries = 8;
    config.retryDelayMs = 40; // 40, 80, 160, ... ms
    RemoteBackend backend(config);
    QVERIFY(backend.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {}));
    server.close();
    RecordingSink sink;
    QVERIFY(backend.submit(simpleRequest(), sink));
    QElapsedTimer timer;
    timer.start();
    server.listenLater(port, 150);
    QVERIFY(drive(backend, [&] { return sink.ended(); }));
    QVERIFY(timer.elapsed() >= 140); // it did wait for the server rather than fail at once
    QVERIFY2(!sink.error, sink.error ? sink.error->toString().c_str() : "");
    QCOMPARE(sink.content, std::string("up"));
    const auto requests = server.requests();
    QCOMPARE(requests.size(), 2); // /v1/models and exactly one chat request

    // With no retries left the error says how often it tried.
    server.close();
    config.connectRetries = 1;
    config.retryDelayMs = 10;
    RemoteBackend second(config);
    QVERIFY(second.load(ModelSpec{{}, "auto", 0, {}}, {}).error().kind == Error::Kind::Network);
}

void tst_RemoteBackend::neverResendsAfterRequestWasSent()
{
    // The server reads the whole request, then drops the connection without a word: it may have
    // acted on it, so the request must not be sent again.
    TestServer server;
    QVERIFY(server.listen());
    server.setHandler(router([](const TestServer::Request &) {
        return TestServer::Script{{TestServer::Step::Abort, {}, 10}};
    }));
    RemoteConfig config = configFor(server);
    config.connectRetries = 5;
    RemoteBackend backend(config);
    QVERIFY(backend.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {}));
    RecordingSink sink;
    QVERIFY(backend.submit(simpleRequest(), sink));
    QVERIFY(drive(backend, [&] { return sink.ended(); }));
    QVERIFY(sink.error);
    QCOMPARE(sink.error->kind, Error::Kind::Network);
    QThread::msleep(200); // room for a (wrong) retry to arrive
    backend.step();
    QCOMPARE(server.requests().size(), 2); // models + one chat request, never two
}

void tst_RemoteBackend::connectTimeoutIsRetried()
{
#ifndef Q_OS_LINUX
    QSKIP("needs Linux listen-backlog behaviour to make a loopback connect time out");
#else
    // A listening socket whose accept queue is full drops further SYNs on Linux, so connecting
    // to it times out: a connection set-up failure, safely retried.
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    QVERIFY(listener >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    QVERIFY(::bind(listener, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    QVERIFY(::getsockname(listener, reinterpret_cast<sockaddr *>(&addr), &len) == 0);
    QVERIFY(::listen(listener, 0) == 0);
    std::vector<int> fillers;
    auto cleanup = qScopeGuard([&] {
        for (int fd : fillers)
            ::close(fd);
        ::close(listener);
    });
    // Fill the queue, then check that one more connect really hangs.
    bool hangs = false;
    for (int i = 0; i < 8 && !hangs; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        ::fcntl(fd, F_SETFL, O_NONBLOCK);
        fillers.push_back(fd);
        ::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
        pollfd p{fd, POLLOUT, 0};
        hangs = ::poll(&p, 1, 200) == 0;
    }
    if (!hangs)
        QSKIP("this kernel completes loopback connects beyond the backlog");

    RemoteConfig config;
    config.baseUrl = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    config.apiKey = kApiKey;
    config.useEnvironmentProxy = false;
    config.connectTimeoutMs = 150;
    config.connectRetries = 2;
    config.retryDelayMs = 10;
    config.modelsTimeoutMs = 2000;
    RemoteBackend backend(config);
    QElapsedTimer timer;
    timer.start();
    auto loaded = backend.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {});
    QVERIFY(!loaded);
    QCOMPARE(loaded.error().kind, Error::Kind::Network);
    QVERIFY2(timer.elapsed() >= 3 * 150, qPrintable(QString::number(timer.elapsed()))); // 3 attempts
    const QString message = QString::fromStdString(loaded.error().message);
    QVERIFY2(message.contains(QLatin1String("timed out"), Qt::CaseInsensitive)
                 || message.contains(QLatin1String("timeout"), Qt::CaseInsensitive),
             qPrintable(message));
    QVERIFY2(message.contains(QLatin1String("after 3 attempt")), qPrintable(message));
    QVERIFY(loaded.error().toString().find(kApiKey) == std::string::npos);
#endif
}

void tst_RemoteBackend::genericDialectBody()
{
    RemoteConfig config;
    config.baseUrl = "http://gpu01:8000/v1";
    RemoteBackend backend(config);
    QCOMPARE(backend.effectiveDialect(), RemoteDialect::Generic);
    GenerationRequest r = simpleRequest();
    r.messages.push_back(message(chat::Role::Assistant, "391", "17*23"));
    r.messages.push_back(message(chat::Role::User, "And 18 × 23?"));
    r.sampling.topK = 20;
    r.sampling.seed = 77;
    auto body = backend.requestBody(r);
    QVERIFY(body);
    QJsonObject o = QJsonDocument::fromJson(QByteArray::fromStdString(*body)).object();
    QCOMPARE(o.value("reasoning_effort").toString(), QStringLiteral("none")); // chat mode on vLLM
    QCOMPARE(o.value("chat_template_kwargs").toObject().value("thinking").toBool(), false);
    QCOMPARE(o.value("top_k").toInt(), 20);
    QCOMPARE(o.value("seed").toInt(), 77);
    QVERIFY(!o.contains("thinking"));
    // Reasoning of turns before the last user message is dropped, as the V4 encoder does.
    QVERIFY(!o.value("messages").toArray()[2].toObject().contains("reasoning_content"));

    r.thinkingMode = chat::ThinkingMode::Thinking;
    r.reasoningEffort = chat::ReasoningEffort::High;
    o = QJsonDocument::fromJson(QByteArray::fromStdString(*backend.requestBody(r))).object();
    QCOMPARE(o.value("reasoning_effort").toString(), QStringLiteral("high"));
    QCOMPARE(o.value("chat_template_kwargs").toObject().value("thinking").toBool(), true);

    // A tool-call loop in thinking mode keeps the reasoning after the last user message.
    chat::Message call = message(chat::Role::Assistant, "", "need time");
    call.toolCalls.push_back({"c1", "get_time", "{}"});
    r.messages.push_back(call);
    chat::Message result = message(chat::Role::Tool, "12:00");
    result.toolCallId = "c1";
    r.messages.push_back(result);
    o = QJsonDocument::fromJson(QByteArray::fromStdString(*backend.requestBody(r))).object();
    const QJsonArray messages = o.value("messages").toArray();
    QCOMPARE(messages[4].toObject().value("reasoning_content").toString(),
             QStringLiteral("need time"));
    QCOMPARE(messages[4].toObject().value("tool_calls").toArray()[0].toObject().value("id").toString(),
             QStringLiteral("c1"));
    QCOMPARE(messages[5].toObject().value("role").toString(), QStringLiteral("tool"));
    QCOMPARE(messages[5].toObject().value("tool_call_id").toString(), QStringLiteral("c1"));

    // Invalid tool schemas are refused before anything is sent.
    r.messages[0].toolsJson = "{not json";
    QVERIFY(!backend.requestBody(r));

    RemoteConfig ds;
    ds.baseUrl = "https://api.deepseek.com";
    QCOMPARE(RemoteBackend(ds).effectiveDialect(), RemoteDialect::DeepSeekApi);
    ds.baseUrl = "https://notdeepseek.com";
    QCOMPARE(RemoteBackend(ds).effectiveDialect(), RemoteDialect::Generic);
}

void tst_RemoteBackend::secretsAreScrubbed()
{
    RemoteConfig config;
    config.baseUrl = "https://alice:pa55word@llm.example.invalid/v1";
    config.proxy = "http://proxyuser:proxypass@proxy.example.invalid:3128";
    config.apiKey = kApiKey;
    RemoteBackend backend(config);
    const std::string scrubbed = backend.scrubSecrets(std::string("key ") + kApiKey
                                                      + " pass pa55word, proxy proxypass");
    QVERIFY(scrubbed.find(kApiKey) == std::string::npos);
    QVERIFY(scrubbed.find("pa55word") == std::string::npos);
    QVERIFY(scrubbed.find("proxypass") == std::string::npos);
    QCOMPARE(backend.displayUrl(), std::string("https://llm.example.invalid/v1"));
    QVERIFY(backend.info().description.find("pa55word") == std::string::npos);
    // Not loaded: submit refuses with a clear error.
    RecordingSink sink;
    auto r = backend.submit(simpleRequest(), sink);
    QVERIFY(!r);
    QCOMPARE(r.error().kind, Error::Kind::Unavailable);
    // A missing CA bundle is named in the error.
    config.caBundlePath = "/nonexistent/fathom-ca.pem";
    RemoteBackend withCa(config);
    auto loaded = withCa.load(ModelSpec{}, {});
    QVERIFY(!loaded);
    QCOMPARE(loaded.error().kind, Error::Kind::Io);
    QVERIFY(loaded.error().message.find("/nonexistent/fathom-ca.pem") != std::string::npos);
}

void tst_RemoteBackend::endpointUrls()
{
    RemoteConfig c;
    c.baseUrl = "https://api.deepseek.com/";
    QCOMPARE(RemoteBackend(c).endpointUrl("/chat/completions"),
             std::string("https://api.deepseek.com/v1/chat/completions"));
    c.baseUrl = "http://gpu01:8000/v1";
    QCOMPARE(RemoteBackend(c).endpointUrl("/models"), std::string("http://gpu01:8000/v1/models"));
    c.baseUrl = "http://gateway/openai/v1/";
    QCOMPARE(RemoteBackend(c).endpointUrl("/models"),
             std::string("http://gateway/openai/v1/models"));
}

namespace {
std::optional<QSslConfiguration> serverTls()
{
    if (!QSslSocket::supportsSsl())
        return std::nullopt;
    QFile certFile(QStringLiteral(FATHOM_SOURCE_DIR "/tests/remote/data/tls/server.pem"));
    QFile keyFile(QStringLiteral(FATHOM_SOURCE_DIR "/tests/remote/data/tls/server.key"));
    if (!certFile.open(QIODevice::ReadOnly) || !keyFile.open(QIODevice::ReadOnly))
        return std::nullopt;
    QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
    tls.setLocalCertificate(QSslCertificate(certFile.readAll()));
    tls.setPrivateKey(QSslKey(keyFile.readAll(), QSsl::Rsa));
    tls.setPeerVerifyMode(QSslSocket::VerifyNone);
    return tls;
}
} // namespace

void tst_RemoteBackend::tlsWithExtraCaBundle()
{
    // The server's certificate is signed by a private CA that no system store knows: adding the
    // CA bundle makes libcurl trust it (on top of the system store).
    const auto tls = serverTls();
    if (!tls)
        QSKIP("Qt has no TLS backend here");
    TestServer server;
    QVERIFY(server.listen(0, tls));
    const QByteArray stream = readData("vllm_reasoning.sse");
    server.setHandler(router(
        [&](const TestServer::Request &) { return TestServer::sse(randomPieces(stream, 8, 80)); }));
    RemoteConfig config = configFor(server);
    config.baseUrl = server.baseUrl(true).toStdString();
    config.caBundlePath = FATHOM_SOURCE_DIR "/tests/remote/data/tls/ca.pem";
    RemoteBackend backend(config);
    auto loaded = backend.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {});
    QVERIFY2(loaded, loaded ? "" : loaded.error().toString().c_str());
    RecordingSink sink;
    QVERIFY(backend.submit(simpleRequest(), sink));
    QVERIFY(drive(backend, [&] { return sink.ended(); }));
    QVERIFY2(!sink.error, sink.error ? sink.error->toString().c_str() : "");
    QCOMPARE(sink.content, std::string("Hello! How can I help?"));
    QCOMPARE(server.requests().size(), 2);
}

void tst_RemoteBackend::tlsUnknownCaIsRefused()
{
    const auto tls = serverTls();
    if (!tls)
        QSKIP("Qt has no TLS backend here");
    TestServer server;
    QVERIFY(server.listen(0, tls));
    server.setHandler(router([](const TestServer::Request &) { return TestServer::Script{}; }));
    RemoteConfig config = configFor(server);
    config.baseUrl = server.baseUrl(true).toStdString();
    config.connectRetries = 3;
    RemoteBackend backend(config);
    auto loaded = backend.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {});
    QVERIFY(!loaded);
    QCOMPARE(loaded.error().kind, Error::Kind::Network);
    const QString message = QString::fromStdString(loaded.error().message);
    QVERIFY2(message.contains(QLatin1String("certificate"), Qt::CaseInsensitive),
             qPrintable(message));
    // A certificate that does not verify is not a passing network hiccup: no retries.
    QVERIFY2(message.contains(QLatin1String("after 1 attempt")), qPrintable(message));
    QCOMPARE(server.requests().size(), 0);
}

QTEST_GUILESS_MAIN(tst_RemoteBackend)
#include "tst_remotebackend.moc"
