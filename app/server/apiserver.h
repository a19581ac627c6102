// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  The local OpenAI-compatible HTTP server (`fathom-cli serve`, and the app's settings switch):
  GET /health, GET /v1/models, POST /v1/chat/completions (streamed as server-sent events or
  whole), over any engine Backend.

  Thread: the thread it is created in. For now it also drives the Backend there (a zero-interval
  timer calls step() while requests run), which suits `fathom-cli serve`; the app will put the
  EngineHost between the two so decode steps never hold up HTTP.

  Rules: loopback unless the caller binds another address, and then an API key is required;
  at most `maxConcurrent` requests run in the backend (several share its decode steps), the
  rest wait in arrival order; a client that disconnects cancels its request; bad requests get
  OpenAI-style JSON errors with 4xx codes and the server keeps serving.
*/

#include "app/core/error.h"
#include "engine/api/backend.h"
#include "openaiapi.h"

#include <QHostAddress>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <deque>
#include <map>
#include <memory>

class QHttpServer;
class QHttpServerRequest;
class QHttpServerResponder;
class QTcpSocket;

namespace fathom::server {

struct ServerConfig
{
    QHostAddress address = QHostAddress::LocalHost;
    quint16 port = 0; // 0 = any free port (see ApiServer::port())
    QString apiKey;   // empty = no key (loopback only)
    int maxConcurrent = 4;
    QString modelId = QStringLiteral("deepseek-v4-flash");
    int contextLength = 0; // for the max_tokens check; 0 = unknown
    int defaultMaxTokens = 4096;
    qint64 maxBodyBytes = 8 * 1024 * 1024; // larger bodies get 413
    // true: the server calls Backend::step() itself (fathom-cli serve); false: something else
    // steps the backend and its sink calls arrive on their own (the app's EngineHost, through
    // EngineHostBackend).
    bool driveBackend = true;
};

class ApiServer final : public QObject, private engine::TokenSink
{
    Q_OBJECT

public:
    // The backend must be loaded and outlive the server.
    ApiServer(engine::Backend &backend, ServerConfig config, QObject *parent = nullptr);
    ~ApiServer() override;

    Result<quint16> start();
    quint16 port() const { return m_port; }
    // The model the app has loaded now (/v1/models, the max_tokens check); takes effect for the
    // requests that arrive next.
    void setModel(const QString &modelId, int contextLength);
    int runningRequests() const { return int(m_running.size()); }
    int queuedRequests() const { return int(m_queue.size()); }

signals:
    void requestFinished(quint64 id);

private:
    struct Job;

    void handleChat(const QHttpServerRequest &request, QHttpServerResponder &&responder);
    bool authorized(const QHttpServerRequest &request) const;
    void sendError(QHttpServerResponder &responder, const ApiError &error);
    void startQueued();
    void startJob(std::shared_ptr<Job> job);
    void finishJob(engine::RequestId id);
    void writeEvent(Job &job, const QJsonObject &object);
    void writeRaw(Job &job, const QByteArray &bytes);
    void sendHeadersIfNeeded(Job &job);
    void kick(); // starts stepping the backend (when this server drives it)

    // TokenSink (called from inside m_backend.step(), on this thread)
    void onText(engine::RequestId id,
                const std::string &reasoning,
                const std::string &content) override;
    void onToolCalls(engine::RequestId id,
                     const std::vector<engine::chat::ToolCall> &calls) override;
    void onFinished(engine::RequestId id,
                    engine::FinishReason reason,
                    const engine::GenerationStats &stats) override;
    void onError(engine::RequestId id, const engine::Error &error) override;

    engine::Backend &m_backend;
    ServerConfig m_config;
    std::unique_ptr<QHttpServer> m_http;
    quint16 m_port = 0;
    QTimer m_stepTimer;
    engine::RequestId m_nextId = 1;
    std::deque<std::shared_ptr<Job>> m_queue;
    std::map<engine::RequestId, std::shared_ptr<Job>> m_running;
};

} // namespace fathom::server
