// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "apiserver.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QHttpServer>
#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QHttpServerResponse>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QTcpSocket>

namespace fathom::server {

Q_LOGGING_CATEGORY(lcServer, "fathom.server")

using engine::FinishReason;
using engine::GenerationStats;
using engine::RequestId;
namespace chat = engine::chat;
using StatusCode = QHttpServerResponder::StatusCode;

struct ApiServer::Job
{
    RequestId id = 0;
    ChatRequest chat;
    std::unique_ptr<QHttpServerResponder> responder;
    QPointer<QTcpSocket> socket;
    CompletionIds ids;
    bool headersSent = false;
    bool clientGone = false;
    bool done = false;
    QString reasoning;
    QString content;
    std::vector<chat::ToolCall> toolCalls;
};

namespace {

int statusForEngineError(engine::Error::Kind kind)
{
    switch (kind) {
    case engine::Error::Kind::InvalidArgument:
    case engine::Error::Kind::Format:
        return 400;
    case engine::Error::Kind::Unavailable:
    case engine::Error::Kind::OutOfMemory:
        return 503;
    case engine::Error::Kind::Unsupported:
        return 501;
    default:
        return 500;
    }
}

ApiError apiErrorFromEngine(const engine::Error &e)
{
    ApiError a;
    a.status = statusForEngineError(e.kind);
    a.message = QString::fromStdString(e.message);
    a.type = a.status < 500 ? QStringLiteral("invalid_request_error")
                            : QStringLiteral("server_error");
    a.code = QString::fromLatin1(engine::errorKindName(e.kind));
    return a;
}

QByteArray chunked(const QByteArray &bytes)
{
    return QByteArray::number(bytes.size(), 16) + "\r\n" + bytes + "\r\n";
}

// Compares without an early exit, so response times do not reveal how much of a key matched.
bool sameSecret(const QByteArray &a, const QByteArray &b)
{
    const QByteArray ha = QCryptographicHash::hash(a, QCryptographicHash::Sha256);
    const QByteArray hb = QCryptographicHash::hash(b, QCryptographicHash::Sha256);
    unsigned char diff = 0;
    for (int i = 0; i < ha.size(); ++i)
        diff |= static_cast<unsigned char>(ha[i] ^ hb[i]);
    return diff == 0;
}

} // namespace

ApiServer::ApiServer(engine::Backend &backend, ServerConfig config, QObject *parent)
    : QObject(parent)
    , m_backend(backend)
    , m_config(std::move(config))
{
    m_stepTimer.setInterval(0);
    connect(&m_stepTimer, &QTimer::timeout, this, [this] {
        // The backend waits for work at most briefly inside step(); with nothing running the
        // timer stops so an idle server uses no CPU.
        if (!m_backend.step() && m_running.empty())
            m_stepTimer.stop();
    });
}

ApiServer::~ApiServer()
{
    for (auto &[id, job] : m_running)
        m_backend.cancel(id);
    // Let the backend report the cancellations while the jobs still exist.
    for (int i = 0; i < 1000 && !m_running.empty() && m_backend.step(); ++i) {
    }
    m_running.clear();
}

void ApiServer::kick()
{
    if (m_config.driveBackend)
        m_stepTimer.start();
}

void ApiServer::setModel(const QString &modelId, int contextLength)
{
    m_config.modelId = modelId;
    m_config.contextLength = contextLength;
}

bool ApiServer::authorized(const QHttpServerRequest &request) const
{
    if (m_config.apiKey.isEmpty())
        return true;
    const QByteArray header = request.value("Authorization");
    if (!header.startsWith("Bearer "))
        return false;
    return sameSecret(header.mid(7).trimmed(), m_config.apiKey.toUtf8());
}

void ApiServer::sendError(QHttpServerResponder &responder, const ApiError &error)
{
    responder.write(errorBody(error), "application/json", static_cast<StatusCode>(error.status));
}

Result<quint16> ApiServer::start()
{
    if (!m_config.address.isLoopback() && m_config.apiKey.isEmpty())
        return fail(
            Error::Kind::InvalidArgument,
            tr("Serving on %1 makes the model reachable from other machines: set an API key "
               "(--api-key) or bind to 127.0.0.1.")
                .arg(m_config.address.toString()));
    if (m_config.maxConcurrent < 1)
        m_config.maxConcurrent = 1;

    m_http = std::make_unique<QHttpServer>();
    auto unauthorized = [] {
        ApiError e;
        e.status = 401;
        e.message = QStringLiteral(
            "Missing or incorrect API key (send \"Authorization: Bearer <key>\")");
        e.code = QStringLiteral("invalid_api_key");
        return QHttpServerResponse("application/json", errorBody(e), StatusCode::Unauthorized);
    };

    m_http->route(QStringLiteral("/health"), QHttpServerRequest::Method::Get, [this] {
        return QHttpServerResponse(QJsonObject{{QLatin1String("status"), QStringLiteral("ok")},
                                               {QLatin1String("model"), m_config.modelId},
                                               {QLatin1String("running"), runningRequests()},
                                               {QLatin1String("queued"), queuedRequests()}});
    });
    m_http->route(QStringLiteral("/v1/models"),
                  QHttpServerRequest::Method::Get,
                  [this, unauthorized](const QHttpServerRequest &request) {
                      if (!authorized(request))
                          return unauthorized();
                      QJsonObject model{{QLatin1String("id"), m_config.modelId},
                                        {QLatin1String("object"), QStringLiteral("model")},
                                        {QLatin1String("created"), 0},
                                        {QLatin1String("owned_by"), QStringLiteral("fathom")}};
                      if (m_config.contextLength > 0)
                          model.insert(QLatin1String("max_model_len"), m_config.contextLength);
                      return QHttpServerResponse(
                          QJsonObject{{QLatin1String("object"), QStringLiteral("list")},
                                      {QLatin1String("data"), QJsonArray{model}}});
                  });
    m_http->route(QStringLiteral("/v1/chat/completions"),
                  QHttpServerRequest::Method::Post,
                  [this](const QHttpServerRequest &request, QHttpServerResponder &&responder) {
                      handleChat(request, std::move(responder));
                  });
    m_http->setMissingHandler(
        [this](const QHttpServerRequest &request, QHttpServerResponder &&responder) {
            ApiError e;
            const QString path = request.url().path();
            const bool known = path == QLatin1String("/v1/chat/completions")
                               || path == QLatin1String("/v1/models")
                               || path == QLatin1String("/health");
            e.status = known ? 405 : 404;
            e.message = known ? QStringLiteral("Method not allowed on %1").arg(path)
                              : QStringLiteral("Unknown path %1").arg(path);
            sendError(responder, e);
        });

    const quint16 port = m_http->listen(m_config.address, m_config.port);
    if (port == 0)
        return fail(Error::Kind::Network,
                    tr("Cannot listen on %1 port %2 (in use, or not allowed).")
                        .arg(m_config.address.toString())
                        .arg(m_config.port));
    m_port = port;
    qCInfo(lcServer,
           "serving %s on http://%s:%u/v1",
           qUtf8Printable(m_config.modelId),
           qUtf8Printable(m_config.address.toString()),
           unsigned(port));
    return port;
}

void ApiServer::handleChat(const QHttpServerRequest &request, QHttpServerResponder &&responder)
{
    if (!authorized(request)) {
        ApiError e;
        e.status = 401;
        e.message = QStringLiteral(
            "Missing or incorrect API key (send \"Authorization: Bearer <key>\")");
        e.code = QStringLiteral("invalid_api_key");
        sendError(responder, e);
        return;
    }
    if (request.body().size() > m_config.maxBodyBytes) {
        ApiError e;
        e.status = 413;
        e.message = QStringLiteral("The request body is %1 bytes; the limit is %2")
                        .arg(request.body().size())
                        .arg(m_config.maxBodyBytes);
        sendError(responder, e);
        return;
    }
    ApiLimits limits;
    limits.modelId = m_config.modelId;
    limits.contextLength = m_config.contextLength;
    limits.defaultMaxTokens = m_config.defaultMaxTokens;
    auto parsed = parseChatRequest(request.body(), limits);
    if (!parsed) {
        sendError(responder, parsed.error());
        return;
    }

    auto job = std::make_shared<Job>();
    job->id = m_nextId++;
    job->chat = std::move(*parsed);
    job->chat.request.id = job->id;
    job->socket = responder.socket();
    job->responder = std::make_unique<QHttpServerResponder>(std::move(responder));
    job->ids.id = QStringLiteral("chatcmpl-%1")
                      .arg(QRandomGenerator::global()->generate64(), 16, 16, QLatin1Char('0'));
    job->ids.created = QDateTime::currentSecsSinceEpoch();
    job->ids.model = m_config.modelId;

    if (job->socket) {
        const RequestId id = job->id;
        connect(job->socket, &QTcpSocket::disconnected, this, [this, id] {
            if (auto it = m_running.find(id); it != m_running.end()) {
                if (!it->second->done) {
                    it->second->clientGone = true;
                    m_backend.cancel(id); // reported back through onFinished(Cancelled)
                    kick();
                }
                return;
            }
            for (auto it = m_queue.begin(); it != m_queue.end(); ++it) {
                if ((*it)->id == id) {
                    m_queue.erase(it);
                    break;
                }
            }
        });
    }
    m_queue.push_back(std::move(job));
    startQueued();
}

void ApiServer::startQueued()
{
    while (int(m_running.size()) < m_config.maxConcurrent && !m_queue.empty()) {
        std::shared_ptr<Job> job = std::move(m_queue.front());
        m_queue.pop_front();
        startJob(std::move(job));
    }
}

void ApiServer::startJob(std::shared_ptr<Job> job)
{
    if (!job->socket || job->socket->state() != QAbstractSocket::ConnectedState)
        return; // the client left while waiting
    if (auto submitted = m_backend.submit(job->chat.request, *this); !submitted) {
        sendError(*job->responder, apiErrorFromEngine(submitted.error()));
        return;
    }
    m_running.emplace(job->id, job);
    if (job->chat.stream) {
        sendHeadersIfNeeded(*job);
        writeEvent(*job,
                   chunkObject(job->ids,
                               QJsonObject{{QLatin1String("role"), QStringLiteral("assistant")},
                                           {QLatin1String("content"), QString()}},
                               std::nullopt));
    }
    kick();
}

void ApiServer::sendHeadersIfNeeded(Job &job)
{
    if (job.headersSent || !job.socket)
        return;
    job.headersSent = true;
    job.responder->writeStatusLine(StatusCode::Ok);
    job.responder->writeHeader("Content-Type", "text/event-stream; charset=utf-8");
    job.responder->writeHeader("Cache-Control", "no-cache");
    job.responder->writeHeader("Transfer-Encoding", "chunked");
    // One streamed answer per connection: the stream ends by closing it, whatever the client's
    // keep-alive wishes.
    job.responder->writeHeader("Connection", "close");
}

void ApiServer::writeRaw(Job &job, const QByteArray &bytes)
{
    if (!job.socket || job.socket->state() != QAbstractSocket::ConnectedState)
        return;
    job.responder->writeBody(chunked(bytes));
}

void ApiServer::writeEvent(Job &job, const QJsonObject &object)
{
    writeRaw(job, "data: " + QJsonDocument(object).toJson(QJsonDocument::Compact) + "\n\n");
}

void ApiServer::onText(RequestId id, const std::string &reasoning, const std::string &content)
{
    auto it = m_running.find(id);
    if (it == m_running.end())
        return;
    Job &job = *it->second;
    if (job.chat.stream) {
        QJsonObject delta;
        if (!reasoning.empty())
            delta.insert(QLatin1String("reasoning_content"), QString::fromStdString(reasoning));
        if (!content.empty())
            delta.insert(QLatin1String("content"), QString::fromStdString(content));
        if (!delta.isEmpty())
            writeEvent(job, chunkObject(job.ids, delta, std::nullopt));
    } else {
        job.reasoning += QString::fromStdString(reasoning);
        job.content += QString::fromStdString(content);
    }
}

void ApiServer::onToolCalls(RequestId id, const std::vector<chat::ToolCall> &calls)
{
    auto it = m_running.find(id);
    if (it == m_running.end())
        return;
    Job &job = *it->second;
    job.toolCalls = calls;
    if (job.chat.stream)
        writeEvent(job,
                   chunkObject(job.ids,
                               QJsonObject{
                                   {QLatin1String("tool_calls"), toolCallsArray(calls, true)}},
                               std::nullopt));
}

void ApiServer::onFinished(RequestId id, FinishReason reason, const GenerationStats &stats)
{
    auto it = m_running.find(id);
    if (it == m_running.end())
        return;
    Job &job = *it->second;
    job.done = true;
    if (!job.clientGone) {
        if (job.chat.stream) {
            writeEvent(job, chunkObject(job.ids, QJsonObject(), reason));
            if (job.chat.includeUsage)
                writeEvent(job, usageChunkObject(job.ids, stats));
            writeRaw(job, "data: [DONE]\n\n");
            if (job.socket) {
                job.responder->writeBody("0\r\n\r\n");
                job.socket->disconnectFromHost();
            }
        } else if (job.socket) {
            job.responder->write(QJsonDocument(
                completionObject(job.ids, job.reasoning, job.content, job.toolCalls, reason, stats)));
        }
    }
    finishJob(id);
}

void ApiServer::onError(RequestId id, const engine::Error &error)
{
    auto it = m_running.find(id);
    if (it == m_running.end())
        return;
    Job &job = *it->second;
    job.done = true;
    qCWarning(lcServer,
              "request %llu failed: %s",
              static_cast<unsigned long long>(id),
              error.toString().c_str());
    if (!job.clientGone && job.socket) {
        const ApiError api = apiErrorFromEngine(error);
        if (job.headersSent) {
            // Mid-stream: the status line is gone; an error event then the end of the stream,
            // without [DONE], tells the client the answer is incomplete.
            writeEvent(job, QJsonDocument::fromJson(errorBody(api)).object());
            job.responder->writeBody("0\r\n\r\n");
            job.socket->disconnectFromHost();
        } else {
            sendError(*job.responder, api);
        }
    }
    finishJob(id);
}

void ApiServer::finishJob(RequestId id)
{
    m_running.erase(id);
    emit requestFinished(id);
    // Not from inside the backend's step(): queue the next request once it has returned.
    QTimer::singleShot(0, this, [this] { startQueued(); });
}

} // namespace fathom::server
