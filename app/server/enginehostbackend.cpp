// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "enginehostbackend.h"

namespace fathom::server {

namespace {

engine::FinishReason toFinishReason(EngineFinish reason)
{
    switch (reason) {
    case EngineFinish::Stop:
        return engine::FinishReason::Stop;
    case EngineFinish::Length:
        return engine::FinishReason::Length;
    case EngineFinish::Cancelled:
        return engine::FinishReason::Cancelled;
    case EngineFinish::Error:
        return engine::FinishReason::Error;
    case EngineFinish::ToolCalls:
        return engine::FinishReason::ToolCalls;
    }
    return engine::FinishReason::Stop;
}

engine::Error toEngineError(const Error &e)
{
    // The app's kinds extend the engine's (Database, Timeout, ...): those map to Internal.
    const int kind = int(e.kind);
    const auto engineKind = kind <= int(engine::Error::Kind::Unavailable)
                                ? static_cast<engine::Error::Kind>(kind)
                                : engine::Error::Kind::Internal;
    return engine::Error(engineKind, e.message.toStdString());
}

} // namespace

EngineHostBackend::EngineHostBackend(EngineHost *host, QObject *parent)
    : QObject(parent)
    , m_host(host)
{
    // EngineHost lives on the engine thread: its signals arrive here queued, in order.
    connect(host, &EngineHost::text, this, &EngineHostBackend::onText, Qt::QueuedConnection);
    connect(host, &EngineHost::finished, this, &EngineHostBackend::onFinished, Qt::QueuedConnection);
    connect(host, &EngineHost::failed, this, &EngineHostBackend::onFailed, Qt::QueuedConnection);
}

EngineHostBackend::~EngineHostBackend()
{
    if (m_host) {
        for (auto it = m_byHost.keyBegin(); it != m_byHost.keyEnd(); ++it)
            m_host->cancel(*it);
    }
}

engine::BackendInfo EngineHostBackend::info() const
{
    engine::BackendInfo info;
    info.description = "the app's loaded model";
    info.available = m_host != nullptr;
    return info;
}

engine::Result<void> EngineHostBackend::load(const engine::ModelSpec &,
                                             const engine::LoadProgressFn &)
{
    return engine::fail(engine::Error::Kind::Unsupported,
                        "the app's API server serves the model loaded in the Models screen");
}

engine::Result<void> EngineHostBackend::submit(engine::GenerationRequest request,
                                               engine::TokenSink &sink)
{
    if (!m_host)
        return engine::fail(engine::Error::Kind::Unavailable, "the engine has shut down");
    if (m_toHost.contains(request.id))
        return engine::fail(engine::Error::Kind::InvalidArgument,
                            "request " + std::to_string(request.id) + " is already running");
    const engine::RequestId serverId = request.id;
    // The name the client used is this server's; the loaded backend answers with its own model
    // (a remote backend's default, the local model), as the chat window's requests do.
    request.model.clear();
    const engine::RequestId hostId = m_host->submit(std::move(request));
    m_byHost.insert(hostId, Entry{serverId, &sink});
    m_toHost.insert(serverId, hostId);
    return {};
}

void EngineHostBackend::cancel(engine::RequestId id)
{
    // The engine reports the cancellation through finished(Cancelled), which ends the request.
    if (m_host && m_toHost.contains(id))
        m_host->cancel(m_toHost.value(id));
}

void EngineHostBackend::onText(quint64 hostId, const QString &reasoning, const QString &content)
{
    const auto it = m_byHost.constFind(hostId);
    if (it == m_byHost.constEnd())
        return; // the chat window's own request, or one this server gave up
    it->sink->onText(it->serverId, reasoning.toStdString(), content.toStdString());
}

void EngineHostBackend::onFinished(quint64 hostId, EngineFinish reason, const EngineStats &stats)
{
    const auto it = m_byHost.constFind(hostId);
    if (it == m_byHost.constEnd())
        return;
    const Entry entry = *it;
    m_byHost.erase(it);
    m_toHost.remove(entry.serverId);
    engine::GenerationStats s;
    s.promptTokens = stats.promptTokens;
    s.completionTokens = stats.completionTokens;
    s.timeToFirstTokenMs = stats.timeToFirstTokenMs;
    s.decodeTokensPerSecond = stats.tokensPerSecond;
    s.model = stats.modelId.toStdString();
    entry.sink->onFinished(entry.serverId, toFinishReason(reason), s);
}

void EngineHostBackend::onFailed(quint64 hostId, const Error &error)
{
    const auto it = m_byHost.constFind(hostId);
    if (it == m_byHost.constEnd())
        return;
    const Entry entry = *it;
    m_byHost.erase(it);
    m_toHost.remove(entry.serverId);
    entry.sink->onError(entry.serverId, toEngineError(error));
}

} // namespace fathom::server
