// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
//
// The app's side of issue 4, end to end over real HTTP on loopback:
//   client (libcurl) -> the app's API server (LocalServer: ApiServer over EngineHostBackend)
//   -> EngineHost on its engine thread -> RemoteBackend -> an upstream ApiServer (FakeBackend)
// with the remote server and the API server configured through SettingsController, keys kept in
// the SecretStore (user-only files here: FATHOM_SECRET_STORE=file), and a log file written the
// whole time. Checks: the keys work where they are needed and appear in no settings file or log;
// the model the upstream reports is the one EngineHost records for the answer; switching the
// server off and on from the settings.

#include "fakeserver.h"

#include "app/core/logging.h"
#include "app/enginehost/enginehost.h"
#include "app/server/localserver.h"
#include "ui/controllers/settingscontroller.h"

#include <QCoreApplication>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QJsonArray>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <chrono>
#include <future>

using namespace fathom;
using namespace fathom::test;

namespace {

const char kRemoteKey[] = "sk-remote-5c1e9d0a7b3f";
const char kServerKey[] = "sk-local-8a2d4e6f1b9c";

QByteArray everythingUnder(const QString &dir, const QString &skip)
{
    QByteArray out;
    QDirIterator it(dir, QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        if (path.startsWith(skip))
            continue;
        QFile f(path);
        if (f.open(QIODevice::ReadOnly))
            out += f.readAll();
    }
    return out;
}

// The app's server lives on this thread, so the blocking client runs on another one while this
// thread keeps serving.
HttpResult request(const std::string &url,
                   const QByteArray &method,
                   const QByteArray &body = {},
                   const char *key = nullptr)
{
    auto f = std::async(std::launch::async, [=] { return http(url, method, body, key); });
    while (f.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    return f.get();
}

} // namespace

class tst_LocalServer : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase();
    void remoteServerThroughTheAppsApiServer();

private:
    QTemporaryDir m_dir;
};

void tst_LocalServer::initTestCase()
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    QVERIFY(m_dir.isValid());
    qputenv("FATHOM_DATA_DIR", m_dir.filePath(QStringLiteral("data")).toUtf8());
    qputenv("FATHOM_SECRET_STORE", "file");
    for (const char *v :
         {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"})
        qunsetenv(v);
    LoggingOptions log;
    log.logDir = m_dir.filePath(QStringLiteral("logs"));
    log.level = QStringLiteral("debug");
    log.toStderr = false;
    QVERIFY(initLogging(log));
}

void tst_LocalServer::cleanupTestCase()
{
    shutdownLogging();
}

void tst_LocalServer::remoteServerThroughTheAppsApiServer()
{
    // The far end: an OpenAI-compatible server that wants a key and serves "deepseek-v4-pro".
    ServerConfig upstreamConfig;
    upstreamConfig.apiKey = QString::fromLatin1(kRemoteKey);
    upstreamConfig.modelId = QStringLiteral("deepseek-v4-pro");
    upstreamConfig.contextLength = 1000;
    ServerThread upstream(upstreamConfig);
    QVERIFY2(upstream.port() != 0, qPrintable(upstream.error()));

    const QString ini = m_dir.filePath(QStringLiteral("config/fathom.ini"));
    QVERIFY(QDir().mkpath(QFileInfo(ini).absolutePath()));
    ui::SettingsController settings(std::make_unique<Settings>(ini));
    QSignalSpy errors(&settings, &ui::SettingsController::errorOccurred);

    // Two servers side by side; the second is the one we use.
    const QString other = settings.saveRemoteServer({{"name", "Office vLLM"},
                                                     {"baseUrl", "http://10.0.0.9:8000/v1"}},
                                                    QString());
    QVERIFY(!other.isEmpty());
    const QString id = settings.saveRemoteServer({{"name", "Cluster"},
                                                  {"baseUrl",
                                                   QString::fromStdString(upstream.url() + "/v1")},
                                                  {"proxy", ""}},
                                                 QString::fromLatin1(kRemoteKey));
    QVERIFY(!id.isEmpty());
    QCOMPARE(settings.remoteServers().size(), 2);
    QVERIFY(settings.remoteServers().at(1).toMap().value("hasKey").toBool());
    QVERIFY(!settings.saveRemoteServer({{"baseUrl", "not a url"}}, QString()).size());
    QCOMPARE(errors.size(), 1);

    // The engine thread with the remote backend, loaded from the settings' choice.
    QThread engineThread;
    auto *host = new EngineHost;
    host->moveToThread(&engineThread);
    connect(&engineThread, &QThread::finished, host, &QObject::deleteLater);
    engineThread.start();
    QSignalSpy loaded(host, &EngineHost::loaded);
    QSignalSpy loadFailed(host, &EngineHost::loadFailed);
    auto choice = settings.remoteChoice(id);
    QVERIFY2(choice, choice ? "" : qPrintable(choice.error().message));
    QCOMPARE(choice->remoteApiKey, QString::fromLatin1(kRemoteKey));
    host->load(*choice);
    QTRY_VERIFY_WITH_TIMEOUT(loaded.size() + loadFailed.size() > 0, 15000);
    QVERIFY2(loadFailed.isEmpty(),
             loadFailed.isEmpty()
                 ? ""
                 : qPrintable(loadFailed.first().first().value<fathom::Error>().message));

    // An answer straight through EngineHost records the model the upstream reported.
    {
        QSignalSpy finished(host, &EngineHost::finished);
        GenerationRequest r;
        chat::Message m;
        m.role = chat::Role::User;
        m.content = "hi";
        r.messages.push_back(m);
        r.maxTokens = 100;
        const auto hostId = host->submit(r);
        QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), 15000);
        QCOMPARE(finished.first().at(0).toULongLong(), quint64(hostId));
        QCOMPARE(finished.first().at(2).value<EngineStats>().modelId,
                 QStringLiteral("deepseek-v4-pro"));
    }

    // The app's API server, switched on from the settings, with a key; port 0 = any free one.
    server::LocalServer local(host);
    settings.attachServer(&local);
    QVERIFY(!local.isRunning()); // off by default
    settings.setServerPort(0);
    settings.setServerApiKey(QString::fromLatin1(kServerKey));
    QVERIFY(settings.serverHasKey());
    settings.setServerEnabled(true);
    QVERIFY2(local.isRunning(), qPrintable(settings.serverStatus()));
    QVERIFY(settings.serverStatus().contains(local.url()));
    const std::string base = "http://127.0.0.1:" + std::to_string(local.port());

    QCOMPARE(request(base + "/v1/models", "GET").status, 401L);
    const QByteArray body
        = R"({"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],)"
          R"("reasoning_effort":"high","max_tokens":50})";
    HttpResult whole = request(base + "/v1/chat/completions", "POST", body, kServerKey);
    QCOMPARE(whole.status, 200L);
    const QJsonObject message
        = json(whole.body).value("choices").toArray().at(0).toObject().value("message").toObject();
    QCOMPARE(message.value("content").toString(), QStringLiteral("The answer is 42."));
    QCOMPARE(message.value("reasoning_content").toString(), QStringLiteral("Let me think."));

    QByteArray streamBody = body;
    streamBody.replace("\"max_tokens\":50", "\"max_tokens\":50,\"stream\":true");
    HttpResult streamed = request(base + "/v1/chat/completions", "POST", streamBody, kServerKey);
    QCOMPARE(streamed.status, 200L);
    QVERIFY2(streamed.body.contains("42.") && streamed.body.endsWith("data: [DONE]\n\n"),
             streamed.body.constData());

    // Both answers (and the direct one) reached the upstream, which accepts only the remote key.
    QCOMPARE(upstream.backend.submittedRequests().size(), std::size_t(3));

    // Off, then on again from the settings.
    settings.setServerEnabled(false);
    QVERIFY(!local.isRunning());
    QCOMPARE(request(base + "/health", "GET").status, 0L); // refused
    settings.setServerEnabled(true);
    QVERIFY(local.isRunning());

    // A non-loopback address without a key is refused with the reason shown.
    settings.setServerApiKey(QString());
    settings.setServerAddress(QStringLiteral("0.0.0.0"));
    QVERIFY(!local.isRunning());
    QVERIFY2(settings.serverStatus().contains(QLatin1String("API key")),
             qPrintable(settings.serverStatus()));
    settings.setServerAddress(QStringLiteral("127.0.0.1"));
    QVERIFY(local.isRunning());
    local.stop();

    engineThread.quit();
    engineThread.wait();

    // No key in the settings file, the log, or anything else written but the secret files.
    shutdownLogging(); // flushes
    const QString secrets = QFileInfo(ini).absoluteDir().filePath(QStringLiteral("secrets"));
    QVERIFY(QFileInfo::exists(secrets));
    const QByteArray written = everythingUnder(m_dir.path(), secrets);
    QVERIFY(written.contains("Cluster")); // the settings file was read
    QVERIFY(written.contains("fathom.")); // and the log has lines
    // (The scan does find the keys where they are meant to be.)
    QVERIFY(everythingUnder(secrets, QStringLiteral("/nonexistent")).contains(kRemoteKey));
    QVERIFY(!written.contains(kRemoteKey));
    QVERIFY(!written.contains(kServerKey));
}

QTEST_GUILESS_MAIN(tst_LocalServer)
#include "tst_localserver.moc"
