// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

// EngineHost on a real engine thread with real backends: the remote backend against a scripted
// local HTTP server (tests/remote/testserver.h), and the CPU backend on the golden tiny
// checkpoint. Checks the queued API, text coalescing (~30 Hz), finish/fail/cancel reporting and
// error conversion.

#include "app/enginehost/enginehost.h"
#include "testdata.h"
#include "tests/remote/testserver.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

using namespace fathom;
using fathom::test::TestServer;

namespace {

QByteArray chunk(const QByteArray &content)
{
    return "data: "
           "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{"
           "\"index\":0,"
           "\"delta\":{\"content\":\""
           + content + "\"},\"finish_reason\":null}]}\n\n";
}

QByteArray finalChunk()
{
    return "data: "
           "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{"
           "\"index\":0,"
           "\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_"
           "tokens\":"
           "100,\"total_tokens\":105}}\n\ndata: [DONE]\n\n";
}

TestServer::Handler router(std::function<TestServer::Script(const TestServer::Request &)> chat)
{
    return [chat](const TestServer::Request &r) -> TestServer::Script {
        if (r.path.endsWith("/models"))
            return TestServer::json(200,
                                    R"({"object":"list","data":[{"id":"m","object":"model"}]})");
        if (r.path.endsWith("/chat/completions"))
            return chat(r);
        return TestServer::json(404, R"({"error":{"message":"no"}})");
    };
}

struct Host
{
    QThread thread;
    EngineHost *host = new EngineHost;
    Host()
    {
        host->moveToThread(&thread);
        QObject::connect(&thread, &QThread::finished, host, &QObject::deleteLater);
        thread.start();
    }
    ~Host()
    {
        thread.quit();
        thread.wait();
    }
};

engine::GenerationRequest request(const char *text, int maxTokens = 64)
{
    engine::GenerationRequest r;
    r.messages.push_back({engine::chat::Role::User, text});
    r.maxTokens = maxTokens;
    r.sampling.temperature = 0.0f;
    return r;
}

} // namespace

class tst_EngineHost : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void remoteStreamIsCoalesced();
    void remoteCancelBetweenSteps();
    void submitWithoutBackendFails();
    void loadFailureIsAnError();
    void cpuBackendOnTinyCheckpoint();
};

void tst_EngineHost::initTestCase()
{
#ifndef FATHOM_HAVE_REMOTE
    QSKIP("built without the remote backend (libcurl)");
#endif
}

void tst_EngineHost::remoteStreamIsCoalesced()
{
    TestServer server;
    QVERIFY(server.listen());
    QList<QByteArray> pieces;
    QByteArray expected;
    for (int i = 0; i < 100; ++i) {
        const QByteArray word = "w" + QByteArray::number(i) + " ";
        pieces.append(chunk(word));
        expected += word;
    }
    pieces.append(finalChunk());
    server.setHandler(
        router([&](const TestServer::Request &) { return TestServer::sse(pieces, 4); }));

    Host h;
    QSignalSpy loaded(h.host, &EngineHost::loaded);
    QSignalSpy text(h.host, &EngineHost::text);
    QSignalSpy finished(h.host, &EngineHost::finished);
    BackendChoice choice;
    choice.kind = BackendChoice::Kind::Remote;
    choice.remoteUrl = QStringLiteral("http://127.0.0.1:%1/v1").arg(server.port());
    choice.modelId = QStringLiteral("m");
    h.host->load(choice);
    QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 20000);

    QElapsedTimer clock;
    clock.start();
    const engine::RequestId id = h.host->submit(request("hi"));
    QVERIFY(id != 0);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 20000);
    const qint64 elapsed = clock.elapsed();

    QString all;
    for (const QList<QVariant> &args : text) {
        QCOMPARE(args.at(0).toULongLong(), id);
        all += args.at(2).toString();
    }
    QCOMPARE(all, QString::fromUtf8(expected));
    // 100 deltas over `elapsed` ms arrive as at most one signal per 33 ms (plus the final flush).
    QVERIFY2(text.count() <= elapsed / EngineHost::kTextIntervalMs + 2,
             qPrintable(QStringLiteral("%1 text signals in %2 ms").arg(text.count()).arg(elapsed)));
    QVERIFY(text.count() < 100);
    QCOMPARE(finished.first().at(0).toULongLong(), id);
    QVERIFY(finished.first().at(1).value<EngineFinish>() == EngineFinish::Stop);
    QCOMPARE(finished.first().at(2).value<EngineStats>().completionTokens, 100);
}

void tst_EngineHost::remoteCancelBetweenSteps()
{
    TestServer server;
    QVERIFY(server.listen());
    QList<QByteArray> pieces;
    for (int i = 0; i < 400; ++i)
        pieces.append(chunk("x"));
    pieces.append(finalChunk());
    server.setHandler(
        router([&](const TestServer::Request &) { return TestServer::sse(pieces, 20); }));

    Host h;
    QSignalSpy loaded(h.host, &EngineHost::loaded);
    QSignalSpy text(h.host, &EngineHost::text);
    QSignalSpy finished(h.host, &EngineHost::finished);
    QSignalSpy failed(h.host, &EngineHost::failed);
    BackendChoice choice;
    choice.kind = BackendChoice::Kind::Remote;
    choice.remoteUrl = QStringLiteral("http://127.0.0.1:%1/v1").arg(server.port());
    h.host->load(choice);
    QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 20000);
    const engine::RequestId id = h.host->submit(request("hi"));
    QTRY_VERIFY_WITH_TIMEOUT(text.count() > 0, 20000);
    QElapsedTimer clock;
    clock.start();
    h.host->cancel(id);
    // Honoured between steps: long before the 8 s the whole stream would take.
    QTRY_COMPARE_WITH_TIMEOUT(finished.count() + failed.count(), 1, 5000);
    QVERIFY(clock.elapsed() < 3000);
    QCOMPARE(finished.count(), 1);
    QVERIFY(finished.first().at(1).value<EngineFinish>() == EngineFinish::Cancelled);
}

void tst_EngineHost::submitWithoutBackendFails()
{
    Host h;
    QSignalSpy failed(h.host, &EngineHost::failed);
    const engine::RequestId id = h.host->submit(request("hi"));
    QTRY_COMPARE(failed.count(), 1);
    QCOMPARE(failed.first().at(0).toULongLong(), id);
    const Error error = failed.first().at(1).value<Error>();
    QVERIFY(error.kind == Error::Kind::Unavailable);
    QVERIFY(!error.message.isEmpty());
}

void tst_EngineHost::loadFailureIsAnError()
{
    Host h;
    QSignalSpy failed(h.host, &EngineHost::loadFailed);
    BackendChoice choice;
    choice.kind = BackendChoice::Kind::Cpu;
    choice.modelPath = QStringLiteral("/nonexistent/model/folder");
    h.host->load(choice);
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 20000);
    const Error error = failed.first().at(0).value<Error>();
    QVERIFY(error.kind != Error::Kind::Internal || !error.message.isEmpty());
    QVERIFY2(error.message.contains(QStringLiteral("nonexistent"))
                 || error.kind == Error::Kind::Unavailable,
             qPrintable(error.message));
}

void tst_EngineHost::cpuBackendOnTinyCheckpoint()
{
    FATHOM_TESTDATA_PATH(tiny, "v4/tiny-bf16");
    Host h;
    QSignalSpy progress(h.host, &EngineHost::loadProgress);
    QSignalSpy loaded(h.host, &EngineHost::loaded);
    QSignalSpy loadFailed(h.host, &EngineHost::loadFailed);
    BackendChoice choice;
    choice.kind = BackendChoice::Kind::Cpu;
    choice.modelPath = tiny;
    h.host->load(choice);
    QTRY_COMPARE_WITH_TIMEOUT(loaded.count() + loadFailed.count(), 1, 120000);
    if (loadFailed.count())
        QFAIL(qPrintable(loadFailed.first().at(0).value<Error>().message));
    QVERIFY(progress.count() > 0);
    // The golden checkpoint has no tokenizer: chat requests are refused with a reason.
    QSignalSpy failed(h.host, &EngineHost::failed);
    h.host->submit(request("hi"));
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 20000);
    QVERIFY(!failed.first().at(1).value<Error>().message.isEmpty());
}

QTEST_GUILESS_MAIN(tst_EngineHost)
#include "tst_enginehost.moc"
