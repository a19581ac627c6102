// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "enginehost.h"

#include "backendfactory.h"

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QThread>
#include <QTimer>

Q_LOGGING_CATEGORY(lcEngineHost, "fathom.enginehost")

#define FATHOM_ASSERT_ENGINE_THREAD() \
    do { \
        if (QThread::currentThread() != thread()) \
            qCWarning(lcEngineHost) << Q_FUNC_INFO << "called off the engine thread"; \
        Q_ASSERT(QThread::currentThread() == thread()); \
    } while (false)

namespace fathom {

class EngineHost::Sink final : public engine::TokenSink
{
public:
    explicit Sink(EngineHost *host)
        : m_host(host)
    {}
    void onText(engine::RequestId id,
                const std::string &reasoning,
                const std::string &content) override
    {
        m_host->onText(id, reasoning, content);
    }
    void onFinished(engine::RequestId id,
                    engine::FinishReason reason,
                    const engine::GenerationStats &stats) override
    {
        m_host->onFinished(id, reason, stats);
    }
    void onError(engine::RequestId id, const engine::Error &error) override
    {
        m_host->onError(id, error);
    }

private:
    EngineHost *m_host;
};

EngineHost::EngineHost()
    : m_sink(std::make_unique<Sink>(this))
{
    static const bool registered = [] {
        qRegisterMetaType<fathom::Error>();
        qRegisterMetaType<fathom::EngineLoadProgress>();
        qRegisterMetaType<fathom::EngineModelInfo>();
        qRegisterMetaType<fathom::EngineStats>();
        qRegisterMetaType<fathom::EngineFinish>();
        qRegisterMetaType<fathom::BackendChoice>();
        return true;
    }();
    Q_UNUSED(registered);
    m_stepTimer = new QTimer(this); // moves with this object to the engine thread
    m_stepTimer->setInterval(0);
    connect(m_stepTimer, &QTimer::timeout, this, &EngineHost::runStep);
}

EngineHost::~EngineHost()
{
    // Requests still running are reported as cancelled so their owners can save what they have.
    if (m_backend) {
        for (auto it = m_pending.keyBegin(); it != m_pending.keyEnd(); ++it)
            m_backend->cancel(*it);
        flushText(true);
        m_backend->unload();
    }
}

void EngineHost::load(const BackendChoice &choice)
{
    m_cancelLoad.store(false);
    QMetaObject::invokeMethod(
        this, [this, choice] { doLoad(choice); }, Qt::QueuedConnection);
}

void EngineHost::unload()
{
    QMetaObject::invokeMethod(
        this, [this] { doUnload(); }, Qt::QueuedConnection);
}

engine::RequestId EngineHost::submit(engine::GenerationRequest request)
{
    request.id = m_nextId.fetch_add(1);
    const engine::RequestId id = request.id;
    QMetaObject::invokeMethod(
        this,
        [this, request = std::move(request)]() mutable { doSubmit(std::move(request)); },
        Qt::QueuedConnection);
    return id;
}

void EngineHost::cancel(engine::RequestId id)
{
    QMetaObject::invokeMethod(
        this, [this, id] { doCancel(id); }, Qt::QueuedConnection);
}

void EngineHost::cancelAll()
{
    QMetaObject::invokeMethod(
        this,
        [this] {
            const auto ids = m_pending.keys();
            for (engine::RequestId id : ids)
                doCancel(id);
        },
        Qt::QueuedConnection);
}

void EngineHost::doLoad(const BackendChoice &choice)
{
    FATHOM_ASSERT_ENGINE_THREAD();
    doUnload();
    Result<std::unique_ptr<engine::Backend>> created = createBackend(choice);
    if (!created) {
        emit loadFailed(created.error());
        return;
    }
    std::unique_ptr<engine::Backend> backend = std::move(*created);

    engine::ModelSpec spec;
    spec.path = choice.modelPath.toStdString();
    spec.id = choice.modelId.toStdString();
    spec.contextLength = choice.contextLength;
    spec.devices = std::vector<int>(choice.devices.begin(), choice.devices.end());

    QElapsedTimer sinceProgress;
    sinceProgress.start();
    bool first = true;
    auto progress = [&](const engine::LoadProgress &p) {
        // Loading blocks this thread; progress is throttled so the GUI is not flooded.
        if (first || sinceProgress.elapsed() >= kProgressIntervalMs || p.bytesDone == p.bytesTotal) {
            first = false;
            sinceProgress.restart();
            emit loadProgress(
                {qint64(p.bytesDone), qint64(p.bytesTotal), QString::fromStdString(p.stage)});
        }
        return !m_cancelLoad.load();
    };
    if (engine::Result<void> r = backend->load(spec, progress); !r) {
        Error error = Error::fromEngine(r.error());
        if (m_cancelLoad.load())
            error = Error(Error::Kind::Cancelled, tr("Loading was cancelled."));
        qCWarning(lcEngineHost) << "load failed:" << QString::fromStdString(r.error().toString());
        emit loadFailed(error);
        return;
    }
    if (m_cancelLoad.load()) {
        backend->unload();
        emit loadFailed(Error(Error::Kind::Cancelled, tr("Loading was cancelled.")));
        return;
    }
    m_backend = std::move(backend);
    m_modelId = choice.modelId;
    const engine::BackendInfo info = m_backend->info();
    EngineModelInfo modelInfo;
    modelInfo.backendDescription = QString::fromStdString(info.description);
    modelInfo.modelId = choice.modelId;
    modelInfo.contextLength = choice.contextLength;
    modelInfo.canCountTokens = info.capabilities.tokenizer;
    emit loaded(modelInfo);
}

void EngineHost::doUnload()
{
    FATHOM_ASSERT_ENGINE_THREAD();
    if (!m_backend)
        return;
    m_stepTimer->stop();
    // unload() reports the requests it aborts through the sink (as cancelled).
    m_backend->unload();
    const auto ids = m_pending.keys();
    for (engine::RequestId id : ids) {
        flushOne(id);
        m_pending.remove(id);
        emit finished(id, EngineFinish::Cancelled, {});
    }
    m_backend.reset();
    m_modelId.clear();
    emit unloaded();
}

void EngineHost::doSubmit(engine::GenerationRequest request)
{
    FATHOM_ASSERT_ENGINE_THREAD();
    const engine::RequestId id = request.id;
    if (!m_backend) {
        emit failed(id,
                    Error(Error::Kind::Unavailable,
                          tr("No model is loaded. Load one in Models before sending.")));
        return;
    }
    m_pending.insert(id, {});
    if (engine::Result<void> r = m_backend->submit(std::move(request), *m_sink); !r) {
        m_pending.remove(id);
        emit failed(id, Error::fromEngine(r.error()));
        return;
    }
    if (!m_sinceFlush.isValid())
        m_sinceFlush.start();
    m_stepTimer->start();
}

void EngineHost::doCancel(engine::RequestId id)
{
    FATHOM_ASSERT_ENGINE_THREAD();
    if (!m_backend || !m_pending.contains(id))
        return;
    m_backend->cancel(id);
    // The backend reports the cancellation from its next step.
    m_stepTimer->start();
}

void EngineHost::runStep()
{
    FATHOM_ASSERT_ENGINE_THREAD();
    if (!m_backend) {
        m_stepTimer->stop();
        return;
    }
    const bool more = m_backend->step();
    flushText(false);
    if (!more) {
        m_stepTimer->stop();
        // A backend with nothing left must have reported every request; anything still
        // pending would otherwise wait forever.
        const auto ids = m_pending.keys();
        for (engine::RequestId id : ids) {
            qCWarning(lcEngineHost) << "request" << id << "ended without a finish report";
            flushOne(id);
            m_pending.remove(id);
            emit failed(id,
                        Error(Error::Kind::Internal,
                              tr("The engine stopped without finishing the answer.")));
        }
    }
}

void EngineHost::flushText(bool force)
{
    if (!force && m_sinceFlush.isValid() && m_sinceFlush.elapsed() < kTextIntervalMs)
        return;
    m_sinceFlush.restart();
    for (auto it = m_pending.keyBegin(); it != m_pending.keyEnd(); ++it)
        flushOne(*it);
}

void EngineHost::flushOne(engine::RequestId id)
{
    auto it = m_pending.find(id);
    if (it == m_pending.end() || (it->reasoning.empty() && it->content.empty()))
        return;
    emit text(id, QString::fromStdString(it->reasoning), QString::fromStdString(it->content));
    it->reasoning.clear();
    it->content.clear();
}

void EngineHost::onText(engine::RequestId id,
                        const std::string &reasoning,
                        const std::string &content)
{
    auto it = m_pending.find(id);
    if (it == m_pending.end())
        return;
    it->reasoning += reasoning;
    it->content += content;
}

void EngineHost::onFinished(engine::RequestId id,
                            engine::FinishReason reason,
                            const engine::GenerationStats &stats)
{
    if (!m_pending.contains(id))
        return;
    flushOne(id);
    m_pending.remove(id);
    EngineStats s = toEngineStats(stats);
    if (s.modelId.isEmpty())
        s.modelId = m_modelId;
    emit finished(id, toEngineFinish(reason), s);
}

void EngineHost::onError(engine::RequestId id, const engine::Error &error)
{
    if (!m_pending.contains(id))
        return;
    flushOne(id);
    m_pending.remove(id);
    qCWarning(lcEngineHost) << "request" << id
                            << "failed:" << QString::fromStdString(error.toString());
    emit failed(id, Error::fromEngine(error));
}

} // namespace fathom
