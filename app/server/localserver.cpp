// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "localserver.h"

#include "app/enginehost/enginehost.h"
#include "enginehostbackend.h"

namespace fathom::server {

LocalServer::LocalServer(EngineHost *host, QObject *parent)
    : QObject(parent)
    , m_host(host)
{
    connect(host, &EngineHost::loaded, this, [this](const EngineModelInfo &info) {
        if (!info.modelId.isEmpty())
            m_modelId = info.modelId;
        m_contextLength = info.contextLength;
        if (m_api)
            m_api->setModel(m_modelId, m_contextLength);
    });
}

LocalServer::~LocalServer()
{
    stop();
}

Result<quint16> LocalServer::start(const LocalServerOptions &options)
{
    stop();
    if (!m_host)
        return fail(Error::Kind::Unavailable, tr("The engine has shut down."));
    ServerConfig config;
    const QString host = options.address.trimmed();
    if (!config.address.setAddress(host == QLatin1String("localhost") ? QStringLiteral("127.0.0.1")
                                                                      : host))
        return fail(Error::Kind::InvalidArgument,
                    tr("\"%1\" is not an IP address to serve on (for example 127.0.0.1).")
                        .arg(options.address));
    if (options.port < 0 || options.port > 65535)
        return fail(Error::Kind::InvalidArgument,
                    tr("The port must be between 1 and 65535, not %1.").arg(options.port));
    config.port = quint16(options.port);
    config.apiKey = options.apiKey;
    config.maxConcurrent = std::max(1, options.maxConcurrent);
    config.modelId = m_modelId;
    config.contextLength = m_contextLength;
    config.driveBackend = false; // the engine thread steps the backend

    auto backend = std::make_unique<EngineHostBackend>(m_host);
    auto api = std::make_unique<ApiServer>(*backend, config);
    auto started = api->start();
    if (!started)
        return fail(started.error().kind, started.error().message);
    m_backend = std::move(backend);
    m_api = std::move(api);
    m_address = config.address;
    emit runningChanged();
    return *started;
}

void LocalServer::stop()
{
    if (!m_api)
        return;
    // The server first (it cancels what runs), then the backend that maps its requests.
    m_api.reset();
    m_backend.reset();
    emit runningChanged();
}

quint16 LocalServer::port() const
{
    return m_api ? m_api->port() : 0;
}

QString LocalServer::url() const
{
    if (!m_api)
        return {};
    const QString host = m_address.protocol() == QAbstractSocket::IPv6Protocol
                             ? QStringLiteral("[%1]").arg(m_address.toString())
                             : m_address.toString();
    return QStringLiteral("http://%1:%2/v1").arg(host).arg(m_api->port());
}

} // namespace fathom::server
