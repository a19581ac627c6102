// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/enginehost/enginetypes.h"
#include "engine/api/gpudevices.h"
#include "ui/models/backendlistmodel.h"

#include <QObject>
#include <QQmlEngine>
#include <QVariantList>

namespace fathom {
class EngineHost;
}

namespace fathom::ui {

class SettingsController;

/**
  The Models screen: the model folders the user added (validated), the demo model, the remote
  servers, the backends with why each is unavailable, and loading (progress, cancel, unload).

  Thread: GUI. Talks to EngineHost (engine thread) only through its queued calls and signals.
*/
class ModelsController : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("owned by AppController")

    Q_PROPERTY(BackendListModel *backends READ backends CONSTANT)
    Q_PROPERTY(QVariantList models READ models NOTIFY modelsChanged)
    Q_PROPERTY(QString state READ state NOTIFY stateChanged)
    Q_PROPERTY(double progress READ progress NOTIFY progressChanged)
    Q_PROPERTY(QString stage READ stage NOTIFY progressChanged)
    Q_PROPERTY(QString errorText READ errorText NOTIFY stateChanged)
    Q_PROPERTY(QString currentPath READ currentPath NOTIFY stateChanged)
    Q_PROPERTY(QString currentName READ currentName NOTIFY stateChanged)
    Q_PROPERTY(bool currentIsDemo READ currentIsDemo NOTIFY stateChanged)
    Q_PROPERTY(QString backendDescription READ backendDescription NOTIFY stateChanged)
    Q_PROPERTY(int contextLimit READ contextLimit NOTIFY stateChanged)
    Q_PROPERTY(bool ready READ ready NOTIFY stateChanged)

public:
    ModelsController(EngineHost *host, SettingsController *settings, QObject *parent = nullptr);

    BackendListModel *backends() { return m_backends; }
    QVariantList models() const;
    QString state() const { return m_state; }
    double progress() const { return m_progress; }
    QString stage() const { return m_stage; }
    QString errorText() const { return m_errorText; }
    QString currentPath() const { return m_currentPath; }
    QString currentName() const;
    bool currentIsDemo() const;
    QString backendDescription() const { return m_info.backendDescription; }
    int contextLimit() const;
    bool ready() const { return m_state == u"loaded"; }
    QString modelId() const;

    // Checks a model folder: config.json (parsed), tokenizer.json, weights. Empty when usable,
    // else what is wrong, in words.
    static QString validateModelFolder(const QString &folder);

    // Adds a folder to the list (after validation); returns the problem, or "" when added.
    Q_INVOKABLE QString addModelFolder(const QString &folderOrUrl);
    Q_INVOKABLE void removeModelFolder(const QString &folder);
    // Creates the demo model if needed, then loads it.
    Q_INVOKABLE void useDemoModel();
    Q_INVOKABLE void load(const QString &folder);
    Q_INVOKABLE void loadRemote(const QString &url, const QString &modelId, const QString &apiKey);
    // A remote server configured in Settings (its key comes from the SecretStore).
    Q_INVOKABLE void loadRemoteServer(const QString &serverId);
    Q_INVOKABLE void cancelLoad();
    Q_INVOKABLE void unload();
    // The start-up choice: the configured model, else the demo model.
    void loadDefault();
    void refreshBackends();

signals:
    void modelsChanged();
    void stateChanged();
    void progressChanged();
    void errorOccurred(const QString &message);

private:
    void describeGpus(BackendEntry &entry);
    void setState(const QString &state, const QString &error = {});
    void startLoad(const BackendChoice &choice, const QString &displayPath);

    EngineHost *m_host;
    SettingsController *m_settings;
    BackendListModel *m_backends;
    // The CUDA devices, asked once off the GUI thread (the driver's first answer takes a moment).
    std::optional<engine::GpuDeviceList> m_gpus;
    bool m_gpuQueryStarted = false;
    QString m_state = QStringLiteral("none"); // none, preparing, loading, loaded, failed
    double m_progress = 0;
    QString m_stage;
    QString m_errorText;
    QString m_currentPath;
    EngineModelInfo m_info;
    int m_configContext = 0;
};

} // namespace fathom::ui
