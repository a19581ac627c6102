// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// `fathom-cli serve` as a process over the golden tiny checkpoint: it starts, prints its port,
// answers /health and /v1/models, turns a chat request it cannot serve into a JSON error instead
// of dying, and stops cleanly on SIGTERM.
#include "testdata.h"

#include "engine/remote/remotebackend.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QTest>

#include <curl/curl.h>

namespace {

struct HttpResult
{
    long status = 0;
    QByteArray body;
};

HttpResult http(const std::string &url, const QByteArray &body = {})
{
    HttpResult result;
    CURL *easy = curl_easy_init();
    curl_slist *headers = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 60000L);
    if (!body.isEmpty()) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.constData());
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.size()));
    }
    curl_easy_setopt(
        easy, CURLOPT_WRITEFUNCTION, +[](char *data, size_t size, size_t n, void *user) -> size_t {
            static_cast<QByteArray *>(user)->append(data, qsizetype(size * n));
            return size * n;
        });
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &result.body);
    if (curl_easy_perform(easy) == CURLE_OK)
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &result.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);
    return result;
}

} // namespace

class tst_Serve : public QObject
{
    Q_OBJECT

private slots:
    void servesTinyCheckpoint();
    void refusesPublicAddressWithoutKey();
};

void tst_Serve::servesTinyCheckpoint()
{
    FATHOM_TESTDATA_PATH(model, "v4/tiny-bf16");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    QProcess serve;
    serve.setProcessChannelMode(QProcess::SeparateChannels);
    serve.start(QStringLiteral(FATHOM_BINARY_DIR "/bin/fathom-cli"),
                {QStringLiteral("serve"),
                 QStringLiteral("--model"),
                 model,
                 QStringLiteral("--port"),
                 QStringLiteral("0"),
                 QStringLiteral("--threads"),
                 QStringLiteral("1")});
    QVERIFY2(serve.waitForStarted(10000), qPrintable(serve.errorString()));
    auto stop = qScopeGuard([&] {
        if (serve.state() != QProcess::NotRunning) {
            serve.kill();
            serve.waitForFinished(5000);
        }
    });
    QByteArray out;
    const QRegularExpression listening(
        QStringLiteral("listening on http://127\\.0\\.0\\.1:(\\d+)"));
    QRegularExpressionMatch match;
    for (int i = 0; i < 120 && !match.hasMatch(); ++i) {
        serve.waitForReadyRead(500);
        out += serve.readAllStandardOutput();
        match = listening.match(QString::fromUtf8(out));
        if (serve.state() == QProcess::NotRunning)
            break;
    }
    QVERIFY2(match.hasMatch(), (out + serve.readAllStandardError()).constData());
    const std::string base = "http://127.0.0.1:" + match.captured(1).toStdString();

    const HttpResult health = http(base + "/health");
    QCOMPARE(health.status, 200L);

    // Our remote backend lists the served model.
    fathom::engine::remote::RemoteConfig config;
    config.baseUrl = base + "/v1";
    config.useEnvironmentProxy = false;
    fathom::engine::remote::RemoteBackend client(config);
    auto loaded = client.load({{}, "deepseek-v4-flash", 0, {}}, {});
    QVERIFY2(loaded, loaded ? "" : loaded.error().toString().c_str());
    QCOMPARE(client.models().size(), std::size_t(1));
    QVERIFY(client.models()[0].contextLength > 0); // from config.json

    // The tiny checkpoint has no tokenizer.json: a chat request is refused with a JSON error
    // (or answered, if a tokenizer was put next to it), and the server keeps serving.
    const HttpResult chat = http(base + "/v1/chat/completions",
                                 R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":4})");
    if (chat.status == 200) {
        QVERIFY(QJsonDocument::fromJson(chat.body).object().contains("choices"));
    } else {
        QVERIFY2(chat.status >= 400, chat.body.constData());
        QVERIFY2(QJsonDocument::fromJson(chat.body).object().contains("error"),
                 chat.body.constData());
    }
    QCOMPARE(http(base + "/health").status, 200L);
    const HttpResult tooLong
        = http(base + "/v1/chat/completions",
               R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":100000000})");
    QCOMPARE(tooLong.status, 400L);

    serve.terminate(); // SIGTERM: a clean stop
    QVERIFY(serve.waitForFinished(10000));
    QCOMPARE(serve.exitStatus(), QProcess::NormalExit);
    QCOMPARE(serve.exitCode(), 0);
}

void tst_Serve::refusesPublicAddressWithoutKey()
{
    FATHOM_TESTDATA_PATH(model, "v4/tiny-bf16");
    QProcess serve;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove(QStringLiteral("FATHOM_API_KEY"));
    serve.setProcessEnvironment(env);
    serve.start(QStringLiteral(FATHOM_BINARY_DIR "/bin/fathom-cli"),
                {QStringLiteral("serve"),
                 QStringLiteral("--model"),
                 model,
                 QStringLiteral("--host"),
                 QStringLiteral("0.0.0.0"),
                 QStringLiteral("--port"),
                 QStringLiteral("0")});
    QVERIFY(serve.waitForFinished(60000));
    QCOMPARE(serve.exitCode(), 1);
    QVERIFY(serve.readAllStandardError().contains("API key"));
}

QTEST_GUILESS_MAIN(tst_Serve)
#include "tst_serve.moc"
