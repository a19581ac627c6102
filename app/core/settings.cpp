// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "settings.h"

#include "paths.h"

#include <QHash>

namespace fathom {

Settings::Settings()
    : Settings(paths::settingsFilePath())
{}

Settings::Settings(const QString &filePath)
    : m_settings(std::make_unique<QSettings>(filePath, QSettings::IniFormat))
{}

QString Settings::filePath() const
{
    return m_settings->fileName();
}

QVariant Settings::defaultValue(const char *key)
{
    static const QHash<QByteArray, QVariant> defaults = {
        {kModelPath, QString()},
        {kBackend, QStringLiteral("auto")},
        {kRemoteUrl, QString()},
        {kRemoteModel, QString()},
        {kContextLength, 65536},
        {kTemperature, 0.6},
        {kTopP, 0.95},
        {kMaxTokens, 8192},
        {kReasoning, QStringLiteral("high")},
        {kLanguage, QString()},
        {kTheme, QStringLiteral("system")},
        {kLogLevel, QStringLiteral("info")},
        {kServerEnabled, false},
        // Loopback only by default: the server is for local tools, not the network.
        {kServerAddress, QStringLiteral("127.0.0.1")},
        {kServerPort, 8080},
        {kKvSnapshotBudgetMiB, 20480},
    };
    return defaults.value(QByteArray(key));
}

QVariant Settings::value(const char *key) const
{
    return m_settings->value(QLatin1String(key), defaultValue(key));
}

void Settings::setValue(const char *key, const QVariant &value)
{
    m_settings->setValue(QLatin1String(key), value);
}

void Settings::remove(const char *key)
{
    m_settings->remove(QLatin1String(key));
}

bool Settings::contains(const char *key) const
{
    return m_settings->contains(QLatin1String(key));
}

Result<void> Settings::sync()
{
    m_settings->sync();
    switch (m_settings->status()) {
    case QSettings::NoError:
        return {};
    case QSettings::AccessError:
        return fail(Error::Kind::Io,
                    tr("Cannot write the settings file %1: access denied").arg(filePath()));
    case QSettings::FormatError:
        return fail(Error::Kind::Format, tr("The settings file %1 is malformed").arg(filePath()));
    }
    return {};
}

} // namespace fathom
