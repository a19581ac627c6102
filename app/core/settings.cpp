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
        {kServerKeyRef, QString()},
        {kServerMaxConcurrent, 4},
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

QList<RemoteServerSettings> Settings::remoteServers() const
{
    QList<RemoteServerSettings> servers;
    const int n = m_settings->beginReadArray(QLatin1String(kRemoteServers));
    for (int i = 0; i < n; ++i) {
        m_settings->setArrayIndex(i);
        RemoteServerSettings r;
        r.id = m_settings->value(QStringLiteral("id")).toString();
        r.name = m_settings->value(QStringLiteral("name")).toString();
        r.baseUrl = m_settings->value(QStringLiteral("baseUrl")).toString();
        r.caBundle = m_settings->value(QStringLiteral("caBundle")).toString();
        r.proxy = m_settings->value(QStringLiteral("proxy")).toString();
        r.keyRef = m_settings->value(QStringLiteral("keyRef")).toString();
        r.model = m_settings->value(QStringLiteral("model")).toString();
        if (!r.baseUrl.isEmpty())
            servers.append(r);
    }
    m_settings->endArray();
    if (servers.isEmpty() && !value(kRemoteUrl).toString().isEmpty()) {
        RemoteServerSettings legacy;
        legacy.id = QStringLiteral("r0");
        legacy.baseUrl = value(kRemoteUrl).toString();
        legacy.name = legacy.baseUrl;
        legacy.model = value(kRemoteModel).toString();
        servers.append(legacy);
    }
    return servers;
}

void Settings::setRemoteServers(const QList<RemoteServerSettings> &servers)
{
    m_settings->remove(QLatin1String(kRemoteServers));
    m_settings->beginWriteArray(QLatin1String(kRemoteServers), int(servers.size()));
    for (int i = 0; i < servers.size(); ++i) {
        const RemoteServerSettings &r = servers.at(i);
        m_settings->setArrayIndex(i);
        m_settings->setValue(QStringLiteral("id"), r.id);
        m_settings->setValue(QStringLiteral("name"), r.name);
        m_settings->setValue(QStringLiteral("baseUrl"), r.baseUrl);
        m_settings->setValue(QStringLiteral("caBundle"), r.caBundle);
        m_settings->setValue(QStringLiteral("proxy"), r.proxy);
        m_settings->setValue(QStringLiteral("keyRef"), r.keyRef);
        m_settings->setValue(QStringLiteral("model"), r.model);
    }
    m_settings->endArray();
    // The one-server keys of older files are now part of the list.
    remove(kRemoteUrl);
    remove(kRemoteModel);
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
