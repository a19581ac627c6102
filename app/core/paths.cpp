// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "paths.h"

#include <QDir>
#include <QStandardPaths>

namespace fathom::paths {

namespace {

QString fromEnvironment(const char *name)
{
    const QString value = qEnvironmentVariable(name);
    return value.isEmpty() ? QString() : QDir::cleanPath(QDir(value).absolutePath());
}

QString ensured(const QString &dir)
{
    QDir().mkpath(dir);
    return dir;
}

} // namespace

QString dataDir()
{
    QString dir = fromEnvironment("FATHOM_DATA_DIR");
    if (dir.isEmpty())
        dir = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation);
    return ensured(dir);
}

QString databasePath()
{
    return QDir(dataDir()).filePath(QStringLiteral("fathom.db"));
}

QString logDir()
{
    return ensured(QDir(dataDir()).filePath(QStringLiteral("logs")));
}

QString kvSnapshotDir()
{
    return ensured(QDir(dataDir()).filePath(QStringLiteral("kv-snapshots")));
}

QString settingsFilePath()
{
    QString dir = fromEnvironment("FATHOM_CONFIG_DIR");
    if (dir.isEmpty() && !qEnvironmentVariableIsEmpty("FATHOM_DATA_DIR"))
        dir = dataDir();
    if (dir.isEmpty())
        dir = QStandardPaths::writableLocation(QStandardPaths::AppConfigLocation);
    return QDir(ensured(dir)).filePath(QStringLiteral("fathom.ini"));
}

} // namespace fathom::paths
