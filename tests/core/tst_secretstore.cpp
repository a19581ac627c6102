// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "app/core/secretstore.h"
#include "app/core/settings.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#ifdef Q_OS_UNIX
#include <sys/stat.h>
#endif

using fathom::RemoteServerSettings;
using fathom::SecretStore;
using fathom::Settings;

namespace {

const QString kKey = QStringLiteral("sk-test-9f8e7d6c5b4a39281706");

QByteArray readAll(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// The bytes of every file under `dir` (recursively) that is not in `skip`.
QByteArray allFilesUnder(const QString &dir, const QString &skip = QString())
{
    QByteArray out;
    QDir d(dir);
    for (const QFileInfo &fi :
         d.entryInfoList(QDir::Files | QDir::Dirs | QDir::NoDotAndDotDot | QDir::Hidden)) {
        if (!skip.isEmpty() && fi.absoluteFilePath().startsWith(skip))
            continue;
        out += fi.isDir() ? allFilesUnder(fi.absoluteFilePath(), skip)
                          : readAll(fi.absoluteFilePath());
    }
    return out;
}

#ifdef Q_OS_UNIX
int modeOf(const QString &path)
{
    struct stat st;
    return ::stat(QFile::encodeName(path).constData(), &st) == 0 ? int(st.st_mode & 07777) : -1;
}
#endif

} // namespace

class tst_SecretStore : public QObject
{
    Q_OBJECT

private slots:
    void fileStoreRoundTrip();
    void fileIsUserOnly();
    void widenedFileIsRefused();
    void badReferencesAreRejected();
    void autoStoreFallsBackOrUsesKeychain();
    void settingsHoldOnlyTheReference();
    void legacyRemoteReadsAsOneEntry();
};

void tst_SecretStore::fileStoreRoundTrip()
{
    QTemporaryDir dir;
    SecretStore store(SecretStore::Backend::File, dir.filePath(QStringLiteral("secrets")));
    auto missing = store.read(QStringLiteral("remote/none"));
    QVERIFY(missing);
    QVERIFY(!missing->has_value());

    QVERIFY(store.write(QStringLiteral("remote/a1"), kKey));
    QVERIFY(store.write(QStringLiteral("server"), QStringLiteral("другой ключ")));
    auto a = store.read(QStringLiteral("remote/a1"));
    QVERIFY(a && a->has_value());
    QCOMPARE(**a, kKey);
    auto b = store.read(QStringLiteral("server"));
    QVERIFY(b && b->has_value());
    QCOMPARE(**b, QStringLiteral("другой ключ"));

    // Overwrite, then remove (twice: removing nothing is not an error).
    QVERIFY(store.write(QStringLiteral("remote/a1"), QStringLiteral("new")));
    QCOMPARE(**store.read(QStringLiteral("remote/a1")), QStringLiteral("new"));
    QVERIFY(store.remove(QStringLiteral("remote/a1")));
    QVERIFY(store.remove(QStringLiteral("remote/a1")));
    QVERIFY(!store.read(QStringLiteral("remote/a1"))->has_value());
    // No temporary files are left behind.
    QCOMPARE(QDir(store.fileDir()).entryList(QDir::Files | QDir::Hidden).size(), 1);
}

void tst_SecretStore::fileIsUserOnly()
{
#ifndef Q_OS_UNIX
    QSKIP("mode bits are POSIX; Windows uses the per-user profile folder");
#else
    QTemporaryDir dir;
    const QString secrets = dir.filePath(QStringLiteral("cfg/secrets"));
    SecretStore store(SecretStore::Backend::File, secrets);
    // Even under a permissive umask the file and folder must come out private.
    const mode_t old = ::umask(0);
    auto written = store.write(QStringLiteral("remote/x"), kKey);
    ::umask(old);
    QVERIFY2(written, written ? "" : qPrintable(written.error().message));
    QCOMPARE(modeOf(secrets), 0700);
    const QStringList files = QDir(secrets).entryList(QDir::Files);
    QCOMPARE(files.size(), 1);
    const QString file = QDir(secrets).filePath(files.first());
    QCOMPARE(modeOf(file), 0600);
    QVERIFY(fathom::platform::isUserOnly(file));
    QCOMPARE(readAll(file), kKey.toUtf8());

    // A folder made earlier with wider rights is narrowed.
    const QString wide = dir.filePath(QStringLiteral("wide"));
    QVERIFY(QDir().mkpath(wide));
    QVERIFY(::chmod(QFile::encodeName(wide).constData(), 0755) == 0);
    QVERIFY(SecretStore(SecretStore::Backend::File, wide).write(QStringLiteral("k"), kKey));
    QCOMPARE(modeOf(wide), 0700);
#endif
}

void tst_SecretStore::widenedFileIsRefused()
{
#ifndef Q_OS_UNIX
    QSKIP("mode bits are POSIX");
#else
    QTemporaryDir dir;
    SecretStore store(SecretStore::Backend::File, dir.filePath(QStringLiteral("s")));
    QVERIFY(store.write(QStringLiteral("server"), kKey));
    const QString file = QDir(store.fileDir()).filePath(QStringLiteral("server"));
    QVERIFY(::chmod(QFile::encodeName(file).constData(), 0644) == 0);
    auto r = store.read(QStringLiteral("server"));
    QVERIFY(!r);
    QVERIFY2(r.error().message.contains(file), qPrintable(r.error().message));
    QVERIFY(!r.error().message.contains(kKey));
#endif
}

void tst_SecretStore::badReferencesAreRejected()
{
    QTemporaryDir dir;
    SecretStore store(SecretStore::Backend::File, dir.filePath(QStringLiteral("s")));
    for (const QString &ref : {QString(),
                               QStringLiteral("../escape"),
                               QStringLiteral("a/../../b"),
                               QStringLiteral("with space"),
                               QString(200, QLatin1Char('a'))}) {
        QVERIFY2(!store.write(ref, kKey), qPrintable(ref));
        QVERIFY2(!store.read(ref), qPrintable(ref));
    }
    // Nothing was written anywhere under the temporary folder.
    QVERIFY(!allFilesUnder(dir.path()).contains(kKey.toUtf8()));
}

void tst_SecretStore::autoStoreFallsBackOrUsesKeychain()
{
    // With a keychain (a desktop session) the key goes there; without one (CI, no D-Bus
    // session) it goes to the user-only file. Either way it reads back.
    QTemporaryDir dir;
    SecretStore store(SecretStore::Backend::Auto, dir.filePath(QStringLiteral("s")));
    const QString ref = SecretStore::newReference(QStringLiteral("test"));
    auto w = store.write(ref, kKey);
    QVERIFY2(w, w ? "" : qPrintable(w.error().message));
    auto r = store.read(ref);
    QVERIFY2(r, r ? "" : qPrintable(r.error().message));
    QVERIFY(r->has_value());
    QCOMPARE(**r, kKey);
    QVERIFY(store.remove(ref));
    QVERIFY(!store.read(ref)->has_value());
    qInfo("QtKeychain built in: %s", SecretStore::keychainBuiltIn() ? "yes" : "no");
}

void tst_SecretStore::settingsHoldOnlyTheReference()
{
    QTemporaryDir dir;
    const QString ini = dir.filePath(QStringLiteral("fathom.ini"));
    SecretStore secrets(SecretStore::Backend::File, dir.filePath(QStringLiteral("secrets")));
    QList<RemoteServerSettings> servers;
    for (int i = 0; i < 2; ++i) {
        RemoteServerSettings r;
        r.id = QStringLiteral("r%1").arg(i);
        r.name = QStringLiteral("Cluster %1").arg(i);
        r.baseUrl = QStringLiteral("https://gpu%1.example:8000/v1").arg(i);
        r.caBundle = QStringLiteral("/etc/ssl/office-ca.pem");
        r.proxy = QStringLiteral("http://proxy:3128");
        r.keyRef = QStringLiteral("remote/") + r.id;
        r.model = QStringLiteral("deepseek-v4-pro");
        QVERIFY(secrets.write(r.keyRef, kKey + QString::number(i)));
        servers.append(r);
    }
    {
        Settings s(ini);
        s.setRemoteServers(servers);
        s.setValue(Settings::kServerKeyRef, QStringLiteral("server"));
        QVERIFY(secrets.write(QStringLiteral("server"), kKey + QStringLiteral("srv")));
        QVERIFY(s.sync());
    }
    Settings again(ini);
    QCOMPARE(again.remoteServers(), servers);
    QCOMPARE(**secrets.read(again.remoteServers().at(1).keyRef), kKey + QStringLiteral("1"));
    const QByteArray text = readAll(ini);
    QVERIFY(text.contains("gpu1.example"));
    QVERIFY2(!text.contains(kKey.toUtf8()), text.constData());
}

void tst_SecretStore::legacyRemoteReadsAsOneEntry()
{
    QTemporaryDir dir;
    Settings s(dir.filePath(QStringLiteral("fathom.ini")));
    s.setValue(Settings::kRemoteUrl, QStringLiteral("http://old:8000/v1"));
    s.setValue(Settings::kRemoteModel, QStringLiteral("deepseek-v4-flash"));
    const auto servers = s.remoteServers();
    QCOMPARE(servers.size(), 1);
    QCOMPARE(servers.first().baseUrl, QStringLiteral("http://old:8000/v1"));
    QCOMPARE(servers.first().model, QStringLiteral("deepseek-v4-flash"));
    // Saving the list retires the old keys.
    s.setRemoteServers({});
    QVERIFY(s.remoteServers().isEmpty());
    QVERIFY(!s.contains(Settings::kRemoteUrl));
}

QTEST_GUILESS_MAIN(tst_SecretStore)
#include "tst_secretstore.moc"
