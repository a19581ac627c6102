// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "settingscontroller.h"

#include "app/core/paths.h"

#include <QCoreApplication>
#include <QLocale>
#include <QTranslator>
#include <QUrl>

#include <algorithm>

namespace fathom::ui {

SettingsController::SettingsController(std::unique_ptr<Settings> settings, QObject *parent)
    : QObject(parent)
    , m_settings(std::move(settings))
{}

SettingsController::~SettingsController() = default;

void SettingsController::write(const char *key, const QVariant &value)
{
    if (m_settings->value(key) == value)
        return;
    m_settings->setValue(key, value);
    m_settings->sync();
    emit changed();
}

QString SettingsController::dataFolder() const
{
    return m_settings->value(kDataDir).toString();
}

void SettingsController::setDataFolder(const QString &folder)
{
    write(kDataDir, folder);
}

QString SettingsController::activeDataFolder() const
{
    return paths::dataDir();
}

QStringList SettingsController::modelFolders() const
{
    return m_settings->value(kModelFolders).toStringList();
}

void SettingsController::setModelFolders(const QStringList &folders)
{
    write(kModelFolders, folders);
}

void SettingsController::addModelFolder(const QString &folder)
{
    QStringList folders = modelFolders();
    if (folder.isEmpty() || folders.contains(folder))
        return;
    folders.append(folder);
    setModelFolders(folders);
}

void SettingsController::removeModelFolder(const QString &folder)
{
    QStringList folders = modelFolders();
    if (folders.removeAll(folder) > 0)
        setModelFolders(folders);
}

QString SettingsController::localPath(const QUrl &url) const
{
    return url.isLocalFile() ? url.toLocalFile() : url.toString();
}

QString SettingsController::gpus() const
{
    return m_settings->value(kGpus).toString();
}

void SettingsController::setGpus(const QString &gpus)
{
    write(kGpus, gpus.trimmed());
}

int SettingsController::contextLength() const
{
    return m_settings->contextLength();
}

void SettingsController::setContextLength(int value)
{
    write(Settings::kContextLength, std::clamp(value, 512, 1048576));
}

double SettingsController::temperature() const
{
    return m_settings->temperature();
}

void SettingsController::setTemperature(double value)
{
    write(Settings::kTemperature, std::clamp(value, 0.0, 2.0));
}

double SettingsController::topP() const
{
    return m_settings->topP();
}

void SettingsController::setTopP(double value)
{
    write(Settings::kTopP, std::clamp(value, 0.0, 1.0));
}

int SettingsController::topK() const
{
    return m_settings->contains(kTopK) ? m_settings->value(kTopK).toInt() : 0;
}

void SettingsController::setTopK(int value)
{
    write(kTopK, std::max(0, value));
}

double SettingsController::minP() const
{
    return m_settings->contains(kMinP) ? m_settings->value(kMinP).toDouble() : 0.0;
}

void SettingsController::setMinP(double value)
{
    write(kMinP, std::clamp(value, 0.0, 1.0));
}

int SettingsController::maxTokens() const
{
    return m_settings->maxTokens();
}

void SettingsController::setMaxTokens(int value)
{
    write(Settings::kMaxTokens, std::clamp(value, 1, 393216));
}

QString SettingsController::reasoning() const
{
    return m_settings->value(Settings::kReasoning).toString();
}

void SettingsController::setReasoning(const QString &value)
{
    if (value == u"off" || value == u"high" || value == u"max")
        write(Settings::kReasoning, value);
}

QString SettingsController::theme() const
{
    return m_settings->value(Settings::kTheme).toString();
}

void SettingsController::setTheme(const QString &value)
{
    if (value == u"system" || value == u"light" || value == u"dark")
        write(Settings::kTheme, value);
}

QString SettingsController::language() const
{
    return m_settings->value(Settings::kLanguage).toString();
}

void SettingsController::setLanguage(const QString &value)
{
    if (value == language())
        return;
    write(Settings::kLanguage, value);
    if (m_engine)
        applyLanguage(m_engine);
    emit languageChanged();
}

int SettingsController::fontSize() const
{
    return m_settings->contains(kFontSize) ? m_settings->value(kFontSize).toInt() : 14;
}

void SettingsController::setFontSize(int value)
{
    write(kFontSize, std::clamp(value, 9, 28));
}

QVariantList SettingsController::languages() const
{
    // Names in their own language, so a user can find theirs whatever the UI shows now.
    QVariantList list;
    list.append(QVariantMap{{"code", QString()}, {"name", tr("System language")}});
    const QList<QPair<QString, QString>> langs = {{"en", "English"},
                                                  {"zh_CN", QStringLiteral("简体中文")},
                                                  {"de", "Deutsch"},
                                                  {"fr", QStringLiteral("Français")},
                                                  {"es", QStringLiteral("Español")},
                                                  {"ja", QStringLiteral("日本語")}};
    for (const auto &[code, name] : langs)
        list.append(QVariantMap{{"code", code}, {"name", name}});
    return list;
}

bool SettingsController::installTranslator(QTranslator *translator, const QString &language)
{
    if (language == u"en")
        return false;
    if (language.isEmpty())
        return translator->load(QLocale(),
                                QStringLiteral("fathom"),
                                QStringLiteral("_"),
                                QStringLiteral(":/i18n"));
    return translator->load(QStringLiteral("fathom_") + language, QStringLiteral(":/i18n"));
}

void SettingsController::applyLanguage(QQmlEngine *engine)
{
    m_engine = engine;
    if (m_translator) {
        QCoreApplication::removeTranslator(m_translator);
        delete m_translator;
        m_translator = nullptr;
    }
    auto *translator = new QTranslator(this);
    if (installTranslator(translator, language())) {
        QCoreApplication::installTranslator(translator);
        m_translator = translator;
    } else {
        delete translator;
    }
    if (engine)
        engine->retranslate();
}

} // namespace fathom::ui
