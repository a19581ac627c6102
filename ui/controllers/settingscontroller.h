// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/core/settings.h"

#include <QObject>
#include <QPointer>
#include <QQmlEngine>
#include <QStringList>
#include <QUrl>

class QTranslator;

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

    // Loads the translation of `language` ("" = the system's) into the application.
    void applyLanguage(QQmlEngine *engine);
    // The translation file prefix, ":/i18n/fathom_<lang>.qm".
    static bool installTranslator(QTranslator *translator, const QString &language);

signals:
    void changed();
    void languageChanged();

private:
    void write(const char *key, const QVariant &value);
    std::unique_ptr<Settings> m_settings;
    QTranslator *m_translator = nullptr; // child
    QPointer<QQmlEngine> m_engine;
};

} // namespace fathom::ui
