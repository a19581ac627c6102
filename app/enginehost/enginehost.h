// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "enginetypes.h"

#include <QElapsedTimer>
#include <QHash>
#include <QObject>

#include <atomic>
#include <memory>

class QTimer;

namespace fathom {

/**
  Runs the active Backend on the engine thread (ARCHITECTURE.md, "Threads").

  Thread: engine. Created without a parent by the GUI-side owner, moved to the engine thread and
  deleted there (QThread::finished -> deleteLater). The public calls load(), unload(), submit()
  and cancel() may be made from any thread: they only queue work for the engine thread, so no
  caller ever blocks. cancelLoad() sets a flag the load's progress callback reads.

  Backend::step() is driven from a zero-interval timer: one scheduler step per event-loop turn,
  so queued cancels are honoured between steps. Text reaches the other threads coalesced: at most
  one text() signal per request every kTextIntervalMs (and a final one before finished()/failed()),
  which keeps the GUI at ~30 updates per second however fast tokens come.
*/
class EngineHost final : public QObject
{
    Q_OBJECT

public:
    static constexpr int kTextIntervalMs = 33;
    static constexpr int kProgressIntervalMs = 50;

    EngineHost();
    ~EngineHost() override;

    // Any thread. Replaces the active backend (the old one is unloaded first).
    void load(const BackendChoice &choice);
    void cancelLoad() { m_cancelLoad.store(true); }
    void unload();
    // Any thread. Returns the request's id at once; output arrives as signals with that id.
    engine::RequestId submit(engine::GenerationRequest request);
    void cancel(engine::RequestId id);
    void cancelAll();

signals:
    void loadProgress(const fathom::EngineLoadProgress &progress);
    void loaded(const fathom::EngineModelInfo &info);
    void loadFailed(const fathom::Error &error);
    void unloaded();
    void text(quint64 id, const QString &reasoningDelta, const QString &contentDelta);
    void finished(quint64 id, fathom::EngineFinish reason, const fathom::EngineStats &stats);
    void failed(quint64 id, const fathom::Error &error);

private:
    class Sink;
    struct Pending
    {
        std::string reasoning;
        std::string content;
    };

    void doLoad(const BackendChoice &choice);
    void doUnload();
    void doSubmit(engine::GenerationRequest request);
    void doCancel(engine::RequestId id);
    void runStep();
    void flushText(bool force);
    void flushOne(engine::RequestId id);

    // Sink callbacks (engine thread, from inside step()).
    void onText(engine::RequestId id, const std::string &reasoning, const std::string &content);
    void onFinished(engine::RequestId id,
                    engine::FinishReason reason,
                    const engine::GenerationStats &stats);
    void onError(engine::RequestId id, const engine::Error &error);

    std::unique_ptr<engine::Backend> m_backend;
    std::unique_ptr<Sink> m_sink;
    QTimer *m_stepTimer = nullptr; // child
    QElapsedTimer m_sinceFlush;
    QHash<engine::RequestId, Pending> m_pending; // requests in flight, with unsent text
    std::atomic<bool> m_cancelLoad{false};
    std::atomic<engine::RequestId> m_nextId{1};
    QString m_modelId; // of the loaded backend, for answers whose backend does not name one
};

} // namespace fathom
