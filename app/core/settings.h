// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/core/error.h"

#include <QCoreApplication>
#include <QList>
#include <QSettings>
#include <QVariant>

#include <memory>

namespace fathom {

/**
  One OpenAI-compatible server (vLLM, SGLang, the DeepSeek API, another Fathom) in the list of
  remote backends. The API key is not here: `keyRef` names it in the SecretStore (secretstore.h),
  so the settings file never holds a key.
*/
struct RemoteServerSettings
{
    QString id;       // stable, "r" + random hex; also the SecretStore reference's suffix
    QString name;     // shown to the user ("Office vLLM")
    QString baseUrl;  // "https://api.deepseek.com", "http://gpu01:8000/v1"
    QString caBundle; // PEM file of extra CA certificates (on-prem), empty = system store only
    QString proxy;    // "http://proxy:3128", empty = the environment's
    QString keyRef;   // SecretStore reference, empty = no key
    QString model;    // model id to request, empty = the server's first

    bool operator==(const RemoteServerSettings &) const = default;
};

/**
  The user's settings: an INI file at paths::settingsFilePath() (see paths.h for where that is),
  read and written with QSettings. Typed accessors for the known keys, each with its default;
  unknown keys are kept. Thread: any, but one Settings object per thread (QSettings is reentrant,
  not thread-safe); values written by one object are seen by others after sync().
*/
class Settings
{
    Q_DECLARE_TR_FUNCTIONS(Settings)

public:
    Settings();                                 // the user's file
    explicit Settings(const QString &filePath); // another file (tests, import)

    QString filePath() const;

    // Keys. NOTE: persisted in the user's file; renaming one needs a migration in Settings().
    static constexpr const char *kModelPath = "model/path";
    static constexpr const char *kBackend = "model/backend"; // "auto", "cpu", "cuda", "remote"
    static constexpr const char *kRemoteUrl = "remote/url";
    static constexpr const char *kRemoteModel = "remote/model";
    static constexpr const char *kContextLength = "generation/contextLength";
    static constexpr const char *kTemperature = "generation/temperature";
    static constexpr const char *kTopP = "generation/topP";
    static constexpr const char *kMaxTokens = "generation/maxTokens";
    static constexpr const char *kReasoning = "generation/reasoning"; // "off", "high", "max"
    static constexpr const char *kLanguage = "ui/language";           // "" = system
    static constexpr const char *kTheme = "ui/theme";                 // "system", "light", "dark"
    static constexpr const char *kLogLevel = "log/level";             // spdlog level names
    static constexpr const char *kServerEnabled = "server/enabled";
    static constexpr const char *kServerAddress = "server/address";
    static constexpr const char *kServerPort = "server/port";
    static constexpr const char *kServerKeyRef = "server/keyRef"; // SecretStore reference
    static constexpr const char *kServerMaxConcurrent = "server/maxConcurrent";
    static constexpr const char *kRemoteServers = "remoteServers"; // INI array, see below
    static constexpr const char *kKvSnapshotBudgetMiB = "storage/kvSnapshotBudgetMiB";

    static QVariant defaultValue(const char *key);

    QVariant value(const char *key) const; // the stored value or defaultValue(key)
    void setValue(const char *key, const QVariant &value);
    void remove(const char *key);
    bool contains(const char *key) const;

    QString modelPath() const { return value(kModelPath).toString(); }
    void setModelPath(const QString &path) { setValue(kModelPath, path); }
    QString backend() const { return value(kBackend).toString(); }
    int contextLength() const { return value(kContextLength).toInt(); }
    double temperature() const { return value(kTemperature).toDouble(); }
    double topP() const { return value(kTopP).toDouble(); }
    int maxTokens() const { return value(kMaxTokens).toInt(); }
    QString logLevel() const { return value(kLogLevel).toString(); }
    QString serverAddress() const { return value(kServerAddress).toString(); }
    int serverPort() const { return value(kServerPort).toInt(); }
    bool serverEnabled() const { return value(kServerEnabled).toBool(); }
    QString serverKeyRef() const { return value(kServerKeyRef).toString(); }
    int serverMaxConcurrent() const { return value(kServerMaxConcurrent).toInt(); }

    // The configured remote servers, in the user's order. A file from before the list existed
    // (one remote/url + remote/model) reads as a one-entry list.
    QList<RemoteServerSettings> remoteServers() const;
    void setRemoteServers(const QList<RemoteServerSettings> &servers);

    // Writes pending changes; the error names the file.
    Result<void> sync();

private:
    std::unique_ptr<QSettings> m_settings;
};

} // namespace fathom
