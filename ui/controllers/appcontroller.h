// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "chatcontroller.h"
#include "conversationscontroller.h"
#include "documentscontroller.h"
#include "modelscontroller.h"
#include "settingscontroller.h"

#include <QObject>
#include <QQmlEngine>
#include <QThread>

#include <memory>

namespace fathom {
class EngineHost;
namespace storage {
class StorageService;
}
} // namespace fathom

namespace fathom::ui {

/**
  The root of the UI's object tree: owns the settings, the storage service (storage thread), the
  engine thread with its EngineHost, and every controller; handed to Main.qml as `app`.

  Thread: GUI. Created by the composition root (app/desktop/main.cpp, tests) after the
  QGuiApplication. shutdown() (also run by the destructor) ends a running answer as cancelled
  with its text saved, stops the engine thread and lets storage write what it buffered.
*/
class AppController : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("created by the application")

    Q_PROPERTY(SettingsController *settings READ settings CONSTANT)
    Q_PROPERTY(ModelsController *models READ models CONSTANT)
    Q_PROPERTY(ConversationsController *conversations READ conversations CONSTANT)
    Q_PROPERTY(ChatController *chat READ chat CONSTANT)
    Q_PROPERTY(DocumentsController *documents READ documents CONSTANT)
    Q_PROPERTY(bool darkTheme READ darkTheme NOTIFY themeChanged)
    Q_PROPERTY(bool ready READ ready NOTIFY readyChanged)

public:
    struct Options
    {
        QString databasePath; // empty: paths::databasePath()
        QString settingsPath; // empty: the user's settings file
        bool loadModelOnStart = true;
    };

    explicit AppController(const Options &options, QObject *parent = nullptr);
    AppController();
    ~AppController() override;

    SettingsController *settings() const { return m_settings; }
    ModelsController *models() const { return m_models; }
    ConversationsController *conversations() const { return m_conversations; }
    ChatController *chat() const { return m_chat; }
    DocumentsController *documents() const { return m_documents; }
    storage::StorageService *storage() const { return m_storage.get(); }
    EngineHost *engineHost() const { return m_engineHost; }
    bool darkTheme() const;
    bool ready() const { return m_ready; }

    // Opens the database and loads the conversation list (and the model when asked to).
    void start();
    void shutdown();
    // The translation and retranslation need the QML engine.
    void attachEngine(QQmlEngine *engine);

signals:
    void themeChanged();
    void readyChanged();
    // A message the user can act on (engine failure, disk full, unreadable document...).
    void notify(const QString &message);

protected:
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    Options m_options;
    std::unique_ptr<storage::StorageService> m_storage;
    std::unique_ptr<QThread> m_engineThread;
    EngineHost *m_engineHost = nullptr; // lives in m_engineThread, deleted there
    SettingsController *m_settings = nullptr;
    ModelsController *m_models = nullptr;
    ConversationsController *m_conversations = nullptr;
    ChatController *m_chat = nullptr;
    DocumentsController *m_documents = nullptr;
    bool m_ready = false;
    bool m_shutDown = false;
};

} // namespace fathom::ui
