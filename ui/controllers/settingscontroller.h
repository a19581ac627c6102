// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/core/secretstore.h"
#include "app/core/settings.h"
#include "app/enginehost/enginetypes.h"

#include <QObject>
#include <QPointer>
#include <QQmlEngine>
#include <QStringList>
#include <QUrl>

class QTranslator;

namespace fathom::server {
class LocalServer;
}

namespace fathom::ui {

/**
  The Settings screen: typed properties over the user's settings file (app/core/settings.h),
  written as they change. Language changes load the translation and retranslate the QML at once.

  Thread: GUI.
*/
class SettingsController : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("owned by AppController")

    Q_PROPERTY(QString dataFolder READ dataFolder WRITE setDataFolder NOTIFY changed)
    Q_PROPERTY(QString activeDataFolder READ activeDataFolder CONSTANT)
    Q_PROPERTY(QStringList modelFolders READ modelFolders WRITE setModelFolders NOTIFY changed)
    Q_PROPERTY(QString gpus READ gpus WRITE setGpus NOTIFY changed)
    Q_PROPERTY(int contextLength READ contextLength WRITE setContextLength NOTIFY changed)
    Q_PROPERTY(double temperature READ temperature WRITE setTemperature NOTIFY changed)
    Q_PROPERTY(double topP READ topP WRITE setTopP NOTIFY changed)
    Q_PROPERTY(int topK READ topK WRITE setTopK NOTIFY changed)
    Q_PROPERTY(double minP READ minP WRITE setMinP NOTIFY changed)
    Q_PROPERTY(int maxTokens READ maxTokens WRITE setMaxTokens NOTIFY changed)
    Q_PROPERTY(QString reasoning READ reasoning WRITE setReasoning NOTIFY changed)
    Q_PROPERTY(QString theme READ theme WRITE setTheme NOTIFY changed)
    Q_PROPERTY(QString language READ language WRITE setLanguage NOTIFY changed)
    Q_PROPERTY(int fontSize READ fontSize WRITE setFontSize NOTIFY changed)
    Q_PROPERTY(QVariantList languages READ languages CONSTANT)
    // Remote servers: [{id, name, baseUrl, caBundle, proxy, model, hasKey}] (never the key).
    Q_PROPERTY(QVariantList remoteServers READ remoteServers NOTIFY remoteServersChanged)
    // The app's API server (the same ApiServer as `fathom-cli serve`).
    Q_PROPERTY(bool serverEnabled READ serverEnabled WRITE setServerEnabled NOTIFY serverChanged)
    Q_PROPERTY(QString serverAddress READ serverAddress WRITE setServerAddress NOTIFY serverChanged)
    Q_PROPERTY(int serverPort READ serverPort WRITE setServerPort NOTIFY serverChanged)
    Q_PROPERTY(int serverMaxConcurrent READ serverMaxConcurrent WRITE setServerMaxConcurrent NOTIFY
                   serverChanged)
    Q_PROPERTY(bool serverHasKey READ serverHasKey NOTIFY serverChanged)
    Q_PROPERTY(bool serverRunning READ serverRunning NOTIFY serverChanged)
    Q_PROPERTY(QString serverStatus READ serverStatus NOTIFY serverChanged)

public:
    static constexpr const char *kDataDir = "storage/dataDir";
    static constexpr const char *kModelFolders = "model/folders";
    static constexpr const char *kGpus = "cuda/devices";
    static constexpr const char *kTopK = "generation/topK";
    static constexpr const char *kMinP = "generation/minP";
    static constexpr const char *kFontSize = "ui/fontSize";

    explicit SettingsController(std::unique_ptr<Settings> settings, QObject *parent = nullptr);
    ~SettingsController() override;

    Settings &settings() { return *m_settings; }

    QString dataFolder() const;
    void setDataFolder(const QString &folder);
    QString activeDataFolder() const;
    QStringList modelFolders() const;
    void setModelFolders(const QStringList &folders);
    QString gpus() const;
    void setGpus(const QString &gpus);
    int contextLength() const;
    void setContextLength(int value);
    double temperature() const;
    void setTemperature(double value);
    double topP() const;
    void setTopP(double value);
    int topK() const;
    void setTopK(int value);
    double minP() const;
    void setMinP(double value);
    int maxTokens() const;
    void setMaxTokens(int value);
    QString reasoning() const;
    void setReasoning(const QString &value);
    QString theme() const;
    void setTheme(const QString &value);
    QString language() const;
    void setLanguage(const QString &value);
    int fontSize() const;
    void setFontSize(int value);
    QVariantList languages() const;

    Q_INVOKABLE void addModelFolder(const QString &folder);
    Q_INVOKABLE void removeModelFolder(const QString &folder);
    Q_INVOKABLE QString localPath(const QUrl &url) const;

    QVariantList remoteServers() const;
    // Adds (empty "id") or updates a remote server from {id, name, baseUrl, caBundle, proxy,
    // model}; `apiKey` empty keeps the stored key, `clearKey` removes it. Returns the server's id,
    // or "" with errorOccurred() when it could not be saved.
    Q_INVOKABLE QString saveRemoteServer(const QVariantMap &server,
                                         const QString &apiKey,
                                         bool clearKey = false);
    Q_INVOKABLE void removeRemoteServer(const QString &id);
    // The remote server `id` as a backend choice, with its key read from the SecretStore (for
    // ModelsController::loadRemoteServer; the key stays in memory only).
    Result<BackendChoice> remoteChoice(const QString &id) const;

    bool serverEnabled() const;
    void setServerEnabled(bool on);
    QString serverAddress() const;
    void setServerAddress(const QString &address);
    int serverPort() const;
    void setServerPort(int port);
    int serverMaxConcurrent() const;
    void setServerMaxConcurrent(int n);
    bool serverHasKey() const;
    bool serverRunning() const;
    QString serverStatus() const { return m_serverStatus; }
    // Stores the API server's key (empty removes it) and restarts a running server with it.
    Q_INVOKABLE void setServerApiKey(const QString &key);
    // Gives this controller the app's API server; it is started now when the settings say so and
    // follows the settings from then on.
    void attachServer(server::LocalServer *server);
    SecretStore &secrets() { return *m_secrets; }

    // Loads the translation of `language` ("" = the system's) into the application.
    void applyLanguage(QQmlEngine *engine);
    // The translation file prefix, ":/i18n/fathom_<lang>.qm".
    static bool installTranslator(QTranslator *translator, const QString &language);

signals:
    void changed();
    void languageChanged();
    void remoteServersChanged();
    void serverChanged();
    void errorOccurred(const QString &message);

private:
    void write(const char *key, const QVariant &value);
    void writeServer(const char *key, const QVariant &value);
    void syncOrReport();
    void applyServer();
    std::unique_ptr<Settings> m_settings;
    std::unique_ptr<SecretStore> m_secrets;
    QPointer<server::LocalServer> m_server;
    QString m_serverStatus;
    QTranslator *m_translator = nullptr; // child
    QPointer<QQmlEngine> m_engine;
};

} // namespace fathom::ui
