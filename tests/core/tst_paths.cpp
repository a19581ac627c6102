// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "app/core/paths.h"

#include <QDir>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

class tst_Paths : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanup();
    void dataDirFromEnvironment();
    void settingsFollowDataDirInTests();
    void configDirWins();
    void standardLocationsWithoutOverrides();

private:
    QTemporaryDir m_dir;
};

void tst_Paths::initTestCase()
{
    QCoreApplication::setOrganizationName(QStringLiteral("Fathom"));
    QCoreApplication::setApplicationName(QStringLiteral("Fathom"));
    QStandardPaths::setTestModeEnabled(true); // never the user's real folders
}

void tst_Paths::cleanup()
{
    qunsetenv("FATHOM_DATA_DIR");
    qunsetenv("FATHOM_CONFIG_DIR");
}

void tst_Paths::dataDirFromEnvironment()
{
    const QString data = m_dir.filePath(QStringLiteral("data"));
    qputenv("FATHOM_DATA_DIR", data.toUtf8());
    QCOMPARE(fathom::paths::dataDir(), data);
    QVERIFY(QFileInfo(data).isDir()); // created on demand
    QCOMPARE(fathom::paths::databasePath(), data + QStringLiteral("/fathom.db"));
    QCOMPARE(fathom::paths::logDir(), data + QStringLiteral("/logs"));
    QVERIFY(QFileInfo(fathom::paths::logDir()).isDir());
    QCOMPARE(fathom::paths::kvSnapshotDir(), data + QStringLiteral("/kv-snapshots"));
}

void tst_Paths::settingsFollowDataDirInTests()
{
    const QString data = m_dir.filePath(QStringLiteral("data2"));
    qputenv("FATHOM_DATA_DIR", data.toUtf8());
    QCOMPARE(fathom::paths::settingsFilePath(), data + QStringLiteral("/fathom.ini"));
}

void tst_Paths::configDirWins()
{
    qputenv("FATHOM_DATA_DIR", m_dir.filePath(QStringLiteral("data3")).toUtf8());
    const QString config = m_dir.filePath(QStringLiteral("config"));
    qputenv("FATHOM_CONFIG_DIR", config.toUtf8());
    QCOMPARE(fathom::paths::settingsFilePath(), config + QStringLiteral("/fathom.ini"));
}

void tst_Paths::standardLocationsWithoutOverrides()
{
    QCOMPARE(fathom::paths::dataDir(),
             QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation));
    QCOMPARE(fathom::paths::settingsFilePath(),
             QStandardPaths::writableLocation(QStandardPaths::AppConfigLocation)
                 + QStringLiteral("/fathom.ini"));
}

QTEST_GUILESS_MAIN(tst_Paths)
#include "tst_paths.moc"
