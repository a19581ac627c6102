// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "app/core/logging.h"
#include "engine/core/log.h"

#include <QDir>
#include <QFile>
#include <QLoggingCategory>
#include <QTemporaryDir>
#include <QTest>

#include <spdlog/spdlog.h>

Q_LOGGING_CATEGORY(lcTestStorage, "fathom.teststorage")

class tst_Logging : public QObject
{
    Q_OBJECT

private slots:
    void cleanup();
    void qtMessagesReachTheFileVerbatim();
    void engineMessagesReachTheFile();
    void levelFilters();
    void rotates();
    void unwritableFolderIsAnError();

private:
    QString readLog(const QString &dir) const
    {
        fathom::shutdownLogging(); // flushes
        QFile f(QDir(dir).filePath(QStringLiteral("fathom.log")));
        return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
    }

    QTemporaryDir m_dir;
};

void tst_Logging::cleanup()
{
    fathom::shutdownLogging();
}

void tst_Logging::qtMessagesReachTheFileVerbatim()
{
    const QString dir = m_dir.filePath(QStringLiteral("a"));
    fathom::LoggingOptions options;
    options.logDir = dir;
    options.toStderr = false;
    QVERIFY(fathom::initLogging(options));
    // Braces and printf directives in the text must come out as written (never a format string).
    qCWarning(lcTestStorage) << "disk {} full %s {0}";
    qCInfo(lcTestStorage, "opened %s", "db.sqlite");
    const QString log = readLog(dir);
    QVERIFY2(log.contains(QStringLiteral("fathom.teststorage: disk {} full %s {0}")),
             qPrintable(log));
    QVERIFY(log.contains(QStringLiteral("warning")));
    QVERIFY(log.contains(QStringLiteral("fathom.teststorage: opened db.sqlite")));
}

void tst_Logging::engineMessagesReachTheFile()
{
    const QString dir = m_dir.filePath(QStringLiteral("b"));
    fathom::LoggingOptions options;
    options.logDir = dir;
    options.toStderr = false;
    QVERIFY(fathom::initLogging(options));
    fathom::engine::logWarning("engine.cuda", "falling back to CPU: no device {}");
    const QString log = readLog(dir);
    QVERIFY2(log.contains(QStringLiteral("engine.cuda: falling back to CPU: no device {}")),
             qPrintable(log));
}

void tst_Logging::levelFilters()
{
    const QString dir = m_dir.filePath(QStringLiteral("c"));
    fathom::LoggingOptions options;
    options.logDir = dir;
    options.toStderr = false;
    options.level = QStringLiteral("warning");
    QVERIFY(fathom::initLogging(options));
    qCInfo(lcTestStorage, "quiet info");
    qCWarning(lcTestStorage, "loud warning");
    const QString log = readLog(dir);
    QVERIFY(!log.contains(QStringLiteral("quiet info")));
    QVERIFY(log.contains(QStringLiteral("loud warning")));
}

void tst_Logging::rotates()
{
    const QString dir = m_dir.filePath(QStringLiteral("d"));
    fathom::LoggingOptions options;
    options.logDir = dir;
    options.toStderr = false;
    options.maxFileBytes = 4096;
    options.maxFiles = 2;
    QVERIFY(fathom::initLogging(options));
    for (int i = 0; i < 500; ++i)
        qCWarning(lcTestStorage, "line %d of a long log that must rotate", i);
    fathom::shutdownLogging();
    const QStringList files = QDir(dir).entryList(QDir::Files);
    QVERIFY2(files.contains(QStringLiteral("fathom.1.log")), qPrintable(files.join(' ')));
    QVERIFY(files.size() <= 3); // fathom.log + maxFiles rotated
    for (const QString &f : files)
        QVERIFY(QFileInfo(QDir(dir).filePath(f)).size() <= 4096 + 200);
}

void tst_Logging::unwritableFolderIsAnError()
{
    const QString blocker = m_dir.filePath(QStringLiteral("file-not-folder"));
    QFile f(blocker);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.close();
    fathom::LoggingOptions options;
    options.logDir = blocker + QStringLiteral("/logs");
    auto r = fathom::initLogging(options);
    QVERIFY(!r);
    QVERIFY(r.error().message.contains(QStringLiteral("file-not-folder")));
}

QTEST_GUILESS_MAIN(tst_Logging)
#include "tst_logging.moc"
