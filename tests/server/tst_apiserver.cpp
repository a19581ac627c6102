// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "fakeserver.h"

#include "app/server/apiserver.h"
#include "engine/remote/remotebackend.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMutex>
#include <QTest>
#include <QThread>

#include <curl/curl.h>

#include <atomic>
#include <map>

using namespace fathom::engine;
using fathom::server::ApiServer;
using fathom::server::ServerConfig;
using namespace fathom::test;

namespace {

const char kKey[] = "local-secret-123";

struct RecordingSink : TokenSink
{
    std::string reasoning, content;
    bool finished = false;
    FinishReason reason = FinishReason::Error;
    GenerationStats stats;
    std::optional<fathom::engine::Error> error;
    std::function<void()> onFirstText;
    int texts = 0;
    void onText(RequestId, const std::string &r, const std::string &c) override
    {
        reasoning += r;
        content += c;
        if (texts++ == 0 && onFirstText)
            onFirstText();
    }
    void onFinished(RequestId, FinishReason r, const GenerationStats &s) override
    {
        finished = true;
        reason = r;
        stats = s;
    }
    void onError(RequestId, const fathom::engine::Error &e) override { error = e; }
    bool ended() const { return finished || error.has_value(); }
};

template<typename Pred>
bool drive(remote::RemoteBackend &backend, Pred done, int timeoutMs = 10000)
{
    QElapsedTimer timer;
    timer.start();
    while (!done() && timer.elapsed() < timeoutMs)
        backend.step();
    return done();
}

remote::RemoteConfig clientConfig(const ServerThread &server, const char *key = kKey)
{
    remote::RemoteConfig c;
    c.baseUrl = server.url() + "/v1";
    c.apiKey = key ? key : "";
    c.useEnvironmentProxy = false;
    c.connectTimeoutMs = 2000;
    c.stepWaitMs = 5;
    return c;
}

ServerConfig serverConfig()
{
    ServerConfig c;
    c.modelId = QStringLiteral("deepseek-v4-flash");
    c.apiKey = QString::fromLatin1(kKey);
    c.contextLength = 1000;
    c.maxConcurrent = 2;
    return c;
}

GenerationRequest request(RequestId id)
{
    GenerationRequest r;
    r.id = id;
    chat::Message user;
    user.role = chat::Role::User;
    user.content = "What is six times seven?";
    r.messages.push_back(user);
    r.model = "deepseek-v4-flash";
    r.thinkingMode = chat::ThinkingMode::Thinking;
    r.reasoningEffort = chat::ReasoningEffort::Max;
    r.sampling.temperature = 0.5f;
    r.maxTokens = 100;
    return r;
}

} // namespace

class tst_ApiServer : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase() { curl_global_init(CURL_GLOBAL_DEFAULT); }
    void healthAndModels();
    void streamsThroughRemoteBackend();
    void wholeAnswer();
    void badRequests_data();
    void badRequests();
    void clientDisconnectCancels();
    void queuesBeyondConcurrencyLimit();
    void publicAddressNeedsKey();
    void manyConcurrentStreamingClients();
};

void tst_ApiServer::healthAndModels()
{
    ServerThread server(serverConfig());
    QVERIFY2(server.port() != 0, qPrintable(server.error()));
    HttpResult health = http(server.url() + "/health", "GET");
    QCOMPARE(health.status, 200L);
    QCOMPARE(json(health.body).value("status").toString(), QStringLiteral("ok"));

    HttpResult noKey = http(server.url() + "/v1/models", "GET");
    QCOMPARE(noKey.status, 401L);
    QVERIFY(
        json(noKey.body).value("error").toObject().value("message").toString().contains("API key"));
    HttpResult wrongKey = http(server.url() + "/v1/models", "GET", {}, "local-secret-124");
    QCOMPARE(wrongKey.status, 401L);

    // Our own client lists the models.
    remote::RemoteBackend client(clientConfig(server));
    auto loaded = client.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {});
    QVERIFY2(loaded, loaded ? "" : loaded.error().toString().c_str());
    QCOMPARE(client.models().size(), std::size_t(1));
    QCOMPARE(client.models()[0].id, std::string("deepseek-v4-flash"));
    QCOMPARE(client.models()[0].contextLength, 1000);

    HttpResult missing = http(server.url() + "/v1/embeddings", "POST", "{}", kKey);
    QCOMPARE(missing.status, 404L);
    QVERIFY(json(missing.body).contains("error"));
}

void tst_ApiServer::streamsThroughRemoteBackend()
{
    // Our server as the far end of our remote backend: real HTTP, SSE both ways.
    ServerThread server(serverConfig());
    QVERIFY(server.port() != 0);
    remote::RemoteBackend client(clientConfig(server));
    QVERIFY(client.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {}));
    RecordingSink sink;
    QVERIFY(client.submit(request(1), sink));
    QVERIFY(drive(client, [&] { return sink.ended(); }));
    QVERIFY2(!sink.error, sink.error ? sink.error->toString().c_str() : "");
    QCOMPARE(sink.reasoning, std::string("Let me think."));
    QCOMPARE(sink.content, std::string("The answer is 42."));
    QCOMPARE(sink.reason, FinishReason::Stop);
    QCOMPARE(sink.stats.promptTokens, 11);
    QCOMPARE(sink.stats.completionTokens, 5);
    QCOMPARE(sink.stats.cachedPromptTokens, 3);
    QVERIFY(sink.texts >= 2);

    // What reached the engine: reasoning_effort max = thinking + Max; sampling kept.
    const auto submitted = server.backend.submittedRequests();
    QCOMPARE(submitted.size(), std::size_t(1));
    QCOMPARE(submitted[0].thinkingMode, chat::ThinkingMode::Thinking);
    QCOMPARE(submitted[0].reasoningEffort, chat::ReasoningEffort::Max);
    QCOMPARE(submitted[0].sampling.temperature, 0.5f);
    QCOMPARE(submitted[0].maxTokens, 100);
    QCOMPARE(submitted[0].messages.size(), std::size_t(1));
    QCOMPARE(submitted[0].messages[0].content, std::string("What is six times seven?"));

    // Chat mode ("none" on the generic dialect) and a length cut.
    GenerationRequest chatMode = request(2);
    chatMode.thinkingMode = chat::ThinkingMode::Chat;
    chatMode.maxTokens = 3;
    RecordingSink second;
    QVERIFY(client.submit(chatMode, second));
    QVERIFY(drive(client, [&] { return second.ended(); }));
    QVERIFY(!second.error);
    QCOMPARE(second.reason, FinishReason::Length);
    QCOMPARE(server.backend.submittedRequests().back().thinkingMode, chat::ThinkingMode::Chat);
}

void tst_ApiServer::wholeAnswer()
{
    ServerThread server(serverConfig());
    QVERIFY(server.port() != 0);
    const QByteArray body
        = R"({"model":"deepseek-v4-flash","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"6*7?"}]}],"reasoning_effort":"none","max_tokens":50,"tools":[{"type":"function","function":{"name":"calc","parameters":{"type":"object"}}}]})";
    HttpResult r = http(server.url() + "/v1/chat/completions", "POST", body, kKey);
    QCOMPARE(r.status, 200L);
    const QJsonObject o = json(r.body);
    QCOMPARE(o.value("object").toString(), QStringLiteral("chat.completion"));
    QCOMPARE(o.value("model").toString(), QStringLiteral("deepseek-v4-flash"));
    const QJsonObject choice = o.value("choices").toArray().at(0).toObject();
    QCOMPARE(choice.value("finish_reason").toString(), QStringLiteral("stop"));
    QCOMPARE(choice.value("message").toObject().value("content").toString(),
             QStringLiteral("The answer is 42."));
    QCOMPARE(choice.value("message").toObject().value("reasoning_content").toString(),
             QStringLiteral("Let me think."));
    QCOMPARE(o.value("usage").toObject().value("total_tokens").toInt(), 16);
    const auto submitted = server.backend.submittedRequests();
    QCOMPARE(submitted.size(), std::size_t(1));
    QCOMPARE(submitted[0].thinkingMode, chat::ThinkingMode::Chat);
    QCOMPARE(submitted[0].messages[1].content, std::string("6*7?"));
    QVERIFY(submitted[0].messages[0].toolsJson.find("\"calc\"") != std::string::npos);
}

void tst_ApiServer::badRequests_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<long>("status");
    QTest::addColumn<QString>("param");
    const QByteArray ok = R"("messages":[{"role":"user","content":"hi"}])";
    QTest::newRow("malformed json") << QByteArray("{\"messages\": [") << 400L << QString();
    QTest::newRow("not an object") << QByteArray("[1,2]") << 400L << QString();
    QTest::newRow("no messages") << QByteArray("{}") << 400L << "messages";
    QTest::newRow("temperature of the wrong type")
        << "{" + ok + R"(,"temperature":"hot"})" << 400L << "temperature";
    QTest::newRow("stream of the wrong type")
        << "{" + ok + R"(,"stream":"yes"})" << 400L << "stream";
    QTest::newRow("max_tokens beyond the context")
        << "{" + ok + R"(,"max_tokens":5000})" << 400L << "max_tokens";
    QTest::newRow("max_tokens not an integer")
        << "{" + ok + R"(,"max_tokens":1.5})" << 400L << "max_tokens";
    QTest::newRow("unknown role") << QByteArray(R"({"messages":[{"role":"wizard","content":"hi"}]})")
                                  << 400L << "messages[0].role";
    QTest::newRow("bad reasoning_effort")
        << "{" + ok + R"(,"reasoning_effort":"extreme"})" << 400L << "reasoning_effort";
    QTest::newRow("unknown model") << "{" + ok + R"(,"model":"gpt-4o"})" << 404L << "model";
    QTest::newRow("n > 1") << "{" + ok + R"(,"n":2})" << 400L << "n";
    QTest::newRow("10 MB body") << "{" + ok + R"(,"pad":")" + QByteArray(10 * 1024 * 1024, 'x')
                                       + "\"}"
                                << 413L << QString();
}

void tst_ApiServer::badRequests()
{
    QFETCH(QByteArray, body);
    QFETCH(long, status);
    QFETCH(QString, param);
    static ServerThread *server = nullptr;
    if (!server)
        server = new ServerThread(serverConfig()); // one server for all rows: it must keep serving
    QVERIFY(server->port() != 0);
    HttpResult r = http(server->url() + "/v1/chat/completions", "POST", body, kKey);
    QCOMPARE(r.status, status);
    const QJsonObject error = json(r.body).value("error").toObject();
    QVERIFY2(!error.value("message").toString().isEmpty(), r.body.left(300).constData());
    QVERIFY(error.contains("type"));
    if (!param.isEmpty())
        QCOMPARE(error.value("param").toString(), param);
    QVERIFY(server->backend.submittedRequests().empty());
    // Still serving.
    QCOMPARE(http(server->url() + "/health", "GET").status, 200L);
    if (QByteArray(QTest::currentDataTag()) == "10 MB body") {
        delete server;
        server = nullptr;
    }
}

void tst_ApiServer::clientDisconnectCancels()
{
    ServerThread server(serverConfig());
    QVERIFY(server.port() != 0);
    server.backend.stepMs = 100; // slow enough to hang up in the middle
    remote::RemoteBackend client(clientConfig(server));
    QVERIFY(client.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {}));
    RecordingSink sink;
    sink.onFirstText = [&] { client.cancel(1); };
    QVERIFY(client.submit(request(1), sink));
    QVERIFY(drive(client, [&] { return sink.ended(); }));
    QCOMPARE(sink.reason, FinishReason::Cancelled);
    QElapsedTimer timer;
    timer.start();
    while (server.backend.cancels.load() == 0 && timer.elapsed() < 5000)
        QThread::msleep(10);
    QCOMPARE(server.backend.cancels.load(), 1);
}

void tst_ApiServer::queuesBeyondConcurrencyLimit()
{
    ServerThread server(serverConfig()); // maxConcurrent 2
    QVERIFY(server.port() != 0);
    server.backend.stepMs = 10;
    remote::RemoteBackend client(clientConfig(server));
    QVERIFY(client.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {}));
    std::vector<RecordingSink> sinks(5);
    for (int i = 0; i < 5; ++i)
        QVERIFY(client.submit(request(10 + i), sinks[i]));
    QVERIFY(drive(
        client,
        [&] {
            return std::all_of(sinks.begin(), sinks.end(), [](const RecordingSink &s) {
                return s.ended();
            });
        },
        20000));
    for (const RecordingSink &s : sinks) {
        QVERIFY2(!s.error, s.error ? s.error->toString().c_str() : "");
        QCOMPARE(s.content, std::string("The answer is 42."));
    }
    QCOMPARE(server.backend.submittedRequests().size(), std::size_t(5));
    QCOMPARE(server.backend.maxRunning.load(), 2); // queued, never more than the limit at once
}

void tst_ApiServer::publicAddressNeedsKey()
{
    ServerConfig c = serverConfig();
    c.address = QHostAddress::Any;
    c.apiKey.clear();
    ServerThread server(c);
    QCOMPARE(server.port(), quint16(0));
    QVERIFY(server.error().contains(QLatin1String("API key")));
}

void tst_ApiServer::manyConcurrentStreamingClients()
{
    // A short version of the issue's load test: 32 streams at once, three rounds, over one
    // libcurl multi handle against the server; none may be dropped and every answer must be the
    // one a single client gets.
    ServerConfig config = serverConfig();
    config.maxConcurrent = 32;
    ServerThread server(config);
    QVERIFY(server.port() != 0);
    server.backend.stepMs = 1;
    remote::RemoteBackend client(clientConfig(server));
    QVERIFY(client.load(ModelSpec{{}, "deepseek-v4-flash", 0, {}}, {}));
    for (int round = 0; round < 3; ++round) {
        std::vector<RecordingSink> sinks(32);
        for (int i = 0; i < 32; ++i)
            QVERIFY(client.submit(request(1000 + round * 100 + i), sinks[i]));
        QVERIFY(drive(
            client,
            [&] {
                return std::all_of(sinks.begin(), sinks.end(), [](const RecordingSink &s) {
                    return s.ended();
                });
            },
            30000));
        for (const RecordingSink &s : sinks) {
            QVERIFY2(!s.error, s.error ? s.error->toString().c_str() : "");
            QCOMPARE(s.reasoning, std::string("Let me think."));
            QCOMPARE(s.content, std::string("The answer is 42."));
            QCOMPARE(s.reason, FinishReason::Stop);
        }
    }
    QCOMPARE(server.backend.submittedRequests().size(), std::size_t(96));
    QVERIFY(server.backend.maxRunning.load() > 1); // they did run together
}

QTEST_GUILESS_MAIN(tst_ApiServer)
#include "tst_apiserver.moc"
