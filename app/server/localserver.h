// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "apiserver.h"
#include "app/core/error.h"

#include <QHostAddress>
#include <QObject>
#include <QPointer>

#include <memory>

namespace fathom {
class EngineHost;
}

namespace fathom::server {

class EngineHostBackend;

// What the app's settings say about its API server (Settings::kServer*; the key comes from the
// SecretStore, never from the settings file).
struct LocalServerOptions
{
    QString address = QStringLiteral("127.0.0.1");
    int port = 8080;
    QString apiKey;
    int maxConcurrent = 4;
};

/**
  The app's switchable API server: the same ApiServer as `fathom-cli serve`, over the model the
  app has loaded (EngineHost, through EngineHostBackend). It follows model loads and unloads
  (/v1/models and the max_tokens check show the loaded model); with no model loaded, requests
  get the engine's "no model is loaded" error.

  Thread: GUI (the thread EngineHost's owner lives on).
*/
class LocalServer final : public QObject
{
    Q_OBJECT

public:
    explicit LocalServer(EngineHost *host, QObject *parent = nullptr);
    ~LocalServer() override;

    // Starts (or restarts with new options). The error says why in words (bad address, port in
    // use, a non-loopback address without a key).
    Result<quint16> start(const LocalServerOptions &options);
    void stop();
    bool isRunning() const { return m_api != nullptr; }
    quint16 port() const;
    QString url() const; // "http://127.0.0.1:8080/v1", empty when stopped
    QString modelId() const { return m_modelId; }

signals:
    void runningChanged();

private:
    QPointer<EngineHost> m_host;
    std::unique_ptr<EngineHostBackend> m_backend;
    std::unique_ptr<ApiServer> m_api;
    QHostAddress m_address;
    QString m_modelId = QStringLiteral("deepseek-v4-flash");
    int m_contextLength = 0;
};

} // namespace fathom::server
