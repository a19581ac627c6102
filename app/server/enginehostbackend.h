// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/enginehost/enginehost.h"
#include "engine/api/backend.h"

#include <QHash>
#include <QObject>
#include <QPointer>

namespace fathom::server {

/**
  The app's EngineHost seen as an engine Backend, so the app's API server is the same ApiServer
  as `fathom-cli serve`. Requests go to the engine thread through EngineHost::submit() (they
  share its decode steps with the chat window's own answers); EngineHost's text, finished and
  failed signals come back here and are handed to the request's TokenSink under the id the
  ApiServer gave it.

  The engine thread steps the backend, so step() does nothing: use it with
  ServerConfig::driveBackend = false. load()/unload() are the app's business (Models screen) and
  are refused here.

  Thread: the API server's (GUI) thread. Destroy it after the ApiServer that uses it: requests
  still known here are cancelled in the engine and their sinks are not called again.
*/
class EngineHostBackend final : public QObject, public engine::Backend
{
    Q_OBJECT

public:
    explicit EngineHostBackend(EngineHost *host, QObject *parent = nullptr);
    ~EngineHostBackend() override;

    engine::BackendInfo info() const override;
    engine::Result<void> load(const engine::ModelSpec &spec,
                              const engine::LoadProgressFn &progress) override;
    void unload() override {}
    engine::Result<void> submit(engine::GenerationRequest request, engine::TokenSink &sink) override;
    void cancel(engine::RequestId id) override;
    bool step() override { return false; }

    int runningRequests() const { return int(m_byHost.size()); }

private:
    struct Entry
    {
        engine::RequestId serverId = 0;
        engine::TokenSink *sink = nullptr;
    };

    void onText(quint64 hostId, const QString &reasoning, const QString &content);
    void onFinished(quint64 hostId, fathom::EngineFinish reason, const fathom::EngineStats &stats);
    void onFailed(quint64 hostId, const fathom::Error &error);

    QPointer<EngineHost> m_host;
    QHash<engine::RequestId, Entry> m_byHost;             // EngineHost id -> request
    QHash<engine::RequestId, engine::RequestId> m_toHost; // ApiServer id -> EngineHost id
};

} // namespace fathom::server
