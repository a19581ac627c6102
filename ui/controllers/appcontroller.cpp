// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "appcontroller.h"

#include "chatcontroller.h"
#include "conversationscontroller.h"
#include "documentscontroller.h"
#include "modelscontroller.h"
#include "settingscontroller.h"

#include "app/core/paths.h"
#include "app/enginehost/enginehost.h"
#include "app/server/localserver.h"
#include "app/storage/storageservice.h"
#include "ui/models/documentlistmodel.h"

#include <QEvent>
#include <QGuiApplication>
#include <QLoggingCategory>
#include <QPalette>

Q_LOGGING_CATEGORY(lcApp, "fathom.ui")

namespace fathom::ui {

AppController::AppController()
    : AppController(Options{})
{}

AppController::AppController(const Options &options, QObject *parent)
    : QObject(parent)
    , m_options(options)
{
    auto settings = options.settingsPath.isEmpty()
                        ? std::make_unique<Settings>()
                        : std::make_unique<Settings>(options.settingsPath);
    m_settings = new SettingsController(std::move(settings), this);

    m_storage = std::make_unique<storage::StorageService>(
        options.databasePath.isEmpty() ? paths::databasePath() : options.databasePath);

    m_engineThread = std::make_unique<QThread>();
    m_engineThread->setObjectName(QStringLiteral("engine"));
    m_engineHost = new EngineHost; // no parent: it is about to change threads
    m_engineHost->moveToThread(m_engineThread.get());
    connect(m_engineThread.get(), &QThread::finished, m_engineHost, &QObject::deleteLater);
    m_engineThread->start();

    // The API server switch in Settings: the same ApiServer as `fathom-cli serve`, over the
    // loaded model; started here when the settings say so.
    m_settings->attachServer(new server::LocalServer(m_engineHost, this));
    m_models = new ModelsController(m_engineHost, m_settings, this);
    m_documents = new DocumentsController(m_storage.get(), this);
    // The chat's context meter counts the documents the panel shows.
    m_chat = new ChatController(m_storage.get(),
                                m_engineHost,
                                m_models,
                                m_settings,
                                m_documents->model(),
                                this);
    m_documents->setChat(m_chat);
    connect(m_documents,
            &DocumentsController::tokenizerChanged,
            m_chat,
            &ChatController::setTokenizer);
    // Documents are counted with the loaded model's tokenizer.
    connect(m_models, &ModelsController::stateChanged, this, [this] {
        if (m_models->ready())
            m_documents->setModelFolder(m_models->currentPath());
    });
    m_conversations = new ConversationsController(m_storage.get(), this);

    connect(m_conversations, &ConversationsController::currentChanged, this, [this] {
        m_chat->open(m_conversations->currentId());
        m_documents->openConversation(m_conversations->currentId());
    });
    connect(m_chat,
            &ChatController::conversationCreated,
            m_conversations,
            &ConversationsController::onCreated);
    connect(m_chat, &ChatController::conversationChanged, this, [this] {
        m_documents->openConversation(m_chat->conversationId());
    });
    connect(m_chat,
            &ChatController::conversationTouched,
            m_conversations,
            &ConversationsController::onTouched);
    for (QObject *source : {static_cast<QObject *>(m_chat),
                            static_cast<QObject *>(m_documents),
                            static_cast<QObject *>(m_conversations),
                            static_cast<QObject *>(m_models),
                            static_cast<QObject *>(m_settings)}) {
        connect(source, SIGNAL(errorOccurred(QString)), this, SIGNAL(notify(QString)));
    }
    connect(m_storage.get(), &storage::StorageService::writeFailed, this, [this](const Error &e) {
        emit notify(e.kind == Error::Kind::DiskFull
                        ? tr("The disk is full: Fathom cannot save. Free some space; nothing typed "
                             "or generated has been discarded. (%1)")
                              .arg(e.message)
                        : tr("Saving failed: %1").arg(e.message));
    });
    connect(m_settings, &SettingsController::changed, this, &AppController::themeChanged);
    if (qGuiApp)
        qGuiApp->installEventFilter(this);
}

AppController::~AppController()
{
    shutdown();
}

bool AppController::eventFilter(QObject *watched, QEvent *event)
{
    if (watched == qGuiApp && event->type() == QEvent::ApplicationPaletteChange)
        emit themeChanged();
    return QObject::eventFilter(watched, event);
}

bool AppController::darkTheme() const
{
    const QString theme = m_settings->theme();
    if (theme == u"dark")
        return true;
    if (theme == u"light")
        return false;
    // Qt 6.4 has no QStyleHints::colorScheme(): the platform palette tells.
    return QGuiApplication::palette().color(QPalette::Window).lightness() < 128;
}

void AppController::start()
{
    m_storage->open().then(this, [this](const Result<void> &r) {
        if (!r) {
            emit notify(tr("The database %1 could not be opened: %2")
                            .arg(m_storage->databasePath(), r.error().message));
            return;
        }
        m_conversations->reload();
        m_ready = true;
        emit readyChanged();
    });
    if (m_options.loadModelOnStart)
        m_models->loadDefault();
}

void AppController::attachEngine(QQmlEngine *engine)
{
    m_settings->applyLanguage(engine);
    // Names built in C++ follow the language too.
    m_models->refreshBackends();
    connect(m_settings, &SettingsController::languageChanged, m_models, [this] {
        m_models->refreshBackends();
        emit m_models->modelsChanged();
    });
}

void AppController::shutdown()
{
    if (m_shutDown)
        return;
    m_shutDown = true;
    if (qGuiApp)
        qGuiApp->removeEventFilter(this);
    m_conversations->commitPendingDelete();
    // The API server's requests are cancelled while the engine still runs.
    if (auto *server = findChild<server::LocalServer *>())
        server->stop();
    m_chat->shutdown();
    // The engine thread ends; EngineHost is deleted there and cancels what still runs.
    m_engineThread->quit();
    m_engineThread->wait();
    // Waits for queued writes (the pending delete, the partial answer), then joins the thread.
    m_storage->flush().waitForFinished();
    m_storage.reset();
}

} // namespace fathom::ui
