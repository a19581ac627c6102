// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "app/core/settings.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using fathom::Settings;

class tst_Settings : public QObject
{
    Q_OBJECT

private slots:
    void defaults();
    void persistsAsIni();
    void readsHandWrittenIni();
    void unwritableFileIsAnError();

private:
    QTemporaryDir m_dir;
};

void tst_Settings::defaults()
{
    Settings s(m_dir.filePath(QStringLiteral("empty.ini")));
    QCOMPARE(s.serverAddress(), QStringLiteral("127.0.0.1")); // loopback unless the user opts in
    QCOMPARE(s.backend(), QStringLiteral("auto"));
    QCOMPARE(s.logLevel(), QStringLiteral("info"));
    QVERIFY(s.modelPath().isEmpty());
    QVERIFY(!s.contains(Settings::kModelPath));
    QVERIFY(!Settings::defaultValue("no/such/key").isValid());
}

void tst_Settings::persistsAsIni()
{
    const QString file = m_dir.filePath(QStringLiteral("fathom.ini"));
    {
        Settings s(file);
        s.setModelPath(QStringLiteral("/models/deepseek-v4-flash"));
        s.setValue(Settings::kServerPort, 9123);
        QVERIFY(s.sync());
    }
    // Read the file as text: an independent check of where and how it is stored.
    QFile f(file);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QString text = QString::fromUtf8(f.readAll());
    QVERIFY2(text.contains(QStringLiteral("[model]")), qPrintable(text));
    QVERIFY(text.contains(QStringLiteral("path=/models/deepseek-v4-flash")));
    QVERIFY(text.contains(QStringLiteral("port=9123")));
    Settings again(file);
    QCOMPARE(again.modelPath(), QStringLiteral("/models/deepseek-v4-flash"));
    QCOMPARE(again.serverPort(), 9123);
    again.remove(Settings::kServerPort);
    QCOMPARE(again.serverPort(), 8080);
}

void tst_Settings::readsHandWrittenIni()
{
    const QString file = m_dir.filePath(QStringLiteral("hand.ini"));
    QFile f(file);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("[generation]\ntemperature=0.25\nmaxTokens=100\n[ui]\ntheme=dark\n");
    f.close();
    Settings s(file);
    QCOMPARE(s.temperature(), 0.25);
    QCOMPARE(s.maxTokens(), 100);
    QCOMPARE(s.value(Settings::kTheme).toString(), QStringLiteral("dark"));
}

void tst_Settings::unwritableFileIsAnError()
{
    // A folder where the file should be: QSettings cannot write it.
    const QString file = m_dir.filePath(QStringLiteral("blocked.ini"));
    QVERIFY(QDir().mkpath(file));
    Settings s(file);
    s.setValue(Settings::kTheme, QStringLiteral("light"));
    auto r = s.sync();
    QVERIFY(!r);
    QVERIFY(r.error().message.contains(QStringLiteral("blocked.ini")));
}

QTEST_GUILESS_MAIN(tst_Settings)
#include "tst_settings.moc"
