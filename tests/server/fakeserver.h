// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

// Shared by the app/server tests: a scripted engine Backend, an ApiServer over it on its own
// thread, and a blocking libcurl client.

#include "app/server/apiserver.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QMutex>
#include <QThread>

#include <curl/curl.h>

#include <atomic>
#include <map>

namespace fathom::test {

using namespace fathom::engine;
using fathom::server::ApiServer;
using fathom::server::ServerConfig;

// A backend that "generates" a fixed script, one piece per step for every running request, so
// the server's streaming, queueing and cancelling can be checked without a model.
class FakeBackend final : public Backend
{
public:
    struct Running
    {
        GenerationRequest request;
        TokenSink *sink = nullptr;
        int next = 0;
        bool cancelled = false;
    };

    static inline const std::vector<std::pair<std::string, std::string>> script
        = {{"Let me ", ""}, {"think.", ""}, {"", "The answer "}, {"", "is "}, {"", "42."}};

    BackendInfo info() const override { return {}; }
    fathom::engine::Result<void> load(const ModelSpec &, const LoadProgressFn &) override
    {
        return {};
    }
    void unload() override {}
    fathom::engine::Result<void> submit(GenerationRequest request, TokenSink &sink) override
    {
        QMutexLocker lock(&mutex);
        if (request.messages.empty())
            return fathom::engine::fail(fathom::engine::Error::Kind::InvalidArgument, "no messages");
        submitted.push_back(request);
        running[request.id] = Running{std::move(request), &sink, 0, false};
        maxRunning = std::max(maxRunning.load(), int(running.size()));
        return {};
    }
    void cancel(RequestId id) override
    {
        QMutexLocker lock(&mutex);
        if (auto it = running.find(id); it != running.end()) {
            it->second.cancelled = true;
            ++cancels;
        }
    }
    bool step() override
    {
        QThread::msleep(stepMs); // a decode step takes time
        std::vector<std::pair<RequestId, Running>> work;
        {
            QMutexLocker lock(&mutex);
            for (auto &[id, r] : running)
                work.emplace_back(id, r);
        }
        for (auto &[id, r] : work) {
            if (r.cancelled) {
                erase(id);
                r.sink->onFinished(id, FinishReason::Cancelled, {});
                continue;
            }
            if (r.next < int(script.size()) && r.next < r.request.maxTokens) {
                r.sink->onText(id, script[r.next].first, script[r.next].second);
                QMutexLocker lock(&mutex);
                if (auto it = running.find(id); it != running.end())
                    ++it->second.next;
                continue;
            }
            erase(id);
            GenerationStats stats;
            stats.promptTokens = 11;
            stats.completionTokens = r.next;
            stats.cachedPromptTokens = 3;
            r.sink->onFinished(id,
                               r.next < int(script.size()) ? FinishReason::Length
                                                           : FinishReason::Stop,
                               stats);
        }
        QMutexLocker lock(&mutex);
        return !running.empty();
    }
    void erase(RequestId id)
    {
        QMutexLocker lock(&mutex);
        running.erase(id);
    }
    std::vector<GenerationRequest> submittedRequests()
    {
        QMutexLocker lock(&mutex);
        return submitted;
    }

    QMutex mutex;
    std::map<RequestId, Running> running;
    std::vector<GenerationRequest> submitted;
    std::atomic<int> maxRunning{0};
    std::atomic<int> cancels{0};
    std::atomic<int> stepMs{2};
};

// The server and its backend on their own thread, as in fathom-cli serve; the test thread is the
// client.
class ServerThread
{
public:
    explicit ServerThread(ServerConfig config)
    {
        m_thread.start();
        m_context = new QObject;
        m_context->moveToThread(&m_thread);
        QMetaObject::invokeMethod(
            m_context,
            [this, config] {
                m_server = new ApiServer(backend, config);
                auto started = m_server->start();
                m_port = started ? *started : 0;
                if (!started)
                    m_error = started.error().message;
            },
            Qt::BlockingQueuedConnection);
    }
    ~ServerThread()
    {
        QMetaObject::invokeMethod(
            m_context, [this] { delete m_server; }, Qt::BlockingQueuedConnection);
        m_thread.quit();
        m_thread.wait();
        delete m_context;
    }
    quint16 port() const { return m_port; }
    QString error() const { return m_error; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }

    FakeBackend backend;

private:
    QThread m_thread;
    QObject *m_context = nullptr;
    ApiServer *m_server = nullptr;
    quint16 m_port = 0;
    QString m_error;
};

struct HttpResult
{
    long status = 0;
    QByteArray body;
    QByteArray headers;
};

// One blocking request with libcurl: an HTTP client that is not ours.
inline HttpResult http(const std::string &url,
                       const QByteArray &method,
                       const QByteArray &body = {},
                       const char *key = nullptr)
{
    HttpResult result;
    CURL *easy = curl_easy_init();
    curl_slist *headers = curl_slist_append(nullptr, "Content-Type: application/json");
    if (key)
        headers = curl_slist_append(headers, (std::string("Authorization: Bearer ") + key).c_str());
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.constData());
    if (method == "POST") {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.constData());
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.size()));
    }
    auto append = +[](char *data, size_t size, size_t n, void *user) -> size_t {
        static_cast<QByteArray *>(user)->append(data, qsizetype(size * n));
        return size * n;
    };
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, append);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &result.body);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, append);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &result.headers);
    if (curl_easy_perform(easy) == CURLE_OK)
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &result.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);
    return result;
}

inline QJsonObject json(const QByteArray &bytes)
{
    return QJsonDocument::fromJson(bytes).object();
}

} // namespace fathom::test
