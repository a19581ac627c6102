// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "secretstore.h"

#include "paths.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QUrl>

#ifdef FATHOM_HAVE_QTKEYCHAIN
#include <qt6keychain/keychain.h>

#include <QEventLoop>
#endif

#ifdef Q_OS_UNIX
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#else
#include <QSaveFile>
#endif

namespace fathom {

namespace {

constexpr auto kService = "Fathom";

#ifdef FATHOM_HAVE_QTKEYCHAIN
// Runs a QtKeychain job to its end (the jobs are asynchronous; this waits in a local loop).
void runJob(QKeychain::Job &job)
{
    QEventLoop loop;
    QObject::connect(&job, &QKeychain::Job::finished, &loop, &QEventLoop::quit);
    job.setAutoDelete(false);
    job.start();
    loop.exec(QEventLoop::ExcludeUserInputEvents);
}

// The keychain cannot be used at all (none on this system, or it refused): fall back to the file.
bool keychainMissing(QKeychain::Error e)
{
    return e == QKeychain::NoBackendAvailable || e == QKeychain::NotImplemented
           || e == QKeychain::OtherError || e == QKeychain::AccessDenied;
}
#endif

} // namespace

namespace platform {

#ifdef Q_OS_UNIX

Result<void> makeUserOnlyDir(const QString &dir)
{
    const QFileInfo info(dir);
    if (!QDir().mkpath(info.absolutePath()))
        return fail(Error::Kind::Io,
                    QCoreApplication::translate("SecretStore", "Cannot create the folder %1.")
                        .arg(info.absolutePath()));
    const QByteArray native = QFile::encodeName(dir);
    if (::mkdir(native.constData(), 0700) != 0 && errno != EEXIST)
        return fail(Error::Kind::Io,
                    QCoreApplication::translate("SecretStore", "Cannot create the folder %1: %2.")
                        .arg(dir, QString::fromLocal8Bit(std::strerror(errno))));
    // An existing folder (made by an older version, or by hand) is narrowed to the user too.
    if (::chmod(native.constData(), 0700) != 0)
        return fail(Error::Kind::Io,
                    QCoreApplication::translate("SecretStore",
                                                "Cannot make the folder %1 private: %2.")
                        .arg(dir, QString::fromLocal8Bit(std::strerror(errno))));
    return {};
}

Result<void> writeUserOnlyFile(const QString &path, const QByteArray &bytes)
{
    auto ioError = [&path](const char *what) {
        const int err = errno;
        return fail(Error::Kind::Io,
                    QCoreApplication::translate("SecretStore", "Cannot %1 %2: %3.")
                        .arg(QString::fromLatin1(what),
                             path,
                             QString::fromLocal8Bit(std::strerror(err))));
    };
    const QByteArray target = QFile::encodeName(path);
    const QByteArray temp = target + ".tmp"
                            + QByteArray::number(QRandomGenerator::global()->generate(), 16);
    // Created with mode 0600: the secret is never readable by others, not even for a moment.
    const int fd = ::open(temp.constData(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return ioError("create");
    qint64 done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.constData() + done, size_t(bytes.size() - done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            auto e = ioError("write");
            ::close(fd);
            ::unlink(temp.constData());
            return e;
        }
        done += n;
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        auto e = ioError("write");
        ::unlink(temp.constData());
        return e;
    }
    if (::rename(temp.constData(), target.constData()) != 0) {
        auto e = ioError("replace");
        ::unlink(temp.constData());
        return e;
    }
    return {};
}

bool isUserOnly(const QString &path)
{
    struct stat st;
    if (::stat(QFile::encodeName(path).constData(), &st) != 0)
        return false;
    return (st.st_mode & 077) == 0 && st.st_uid == ::geteuid();
}

#else // per-user profile folders (Windows): the folder's inherited ACL admits only the user

Result<void> makeUserOnlyDir(const QString &dir)
{
    if (!QDir().mkpath(dir))
        return fail(Error::Kind::Io,
                    QCoreApplication::translate("SecretStore", "Cannot create the folder %1.")
                        .arg(dir));
    return {};
}

Result<void> writeUserOnlyFile(const QString &path, const QByteArray &bytes)
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit())
        return fail(Error::Kind::Io,
                    QCoreApplication::translate("SecretStore", "Cannot write %1: %2.")
                        .arg(path, file.errorString()));
    return {};
}

bool isUserOnly(const QString &)
{
    return true;
}

#endif

} // namespace platform

SecretStore::SecretStore()
    : SecretStore(Backend::Auto)
{}

SecretStore::SecretStore(Backend backend, QString fileDir)
    : m_backend(backend)
    , m_dir(std::move(fileDir))
{
    if (m_dir.isEmpty())
        m_dir
            = QFileInfo(paths::settingsFilePath()).absoluteDir().filePath(QStringLiteral("secrets"));
    if (m_backend == Backend::Auto
        && qEnvironmentVariable("FATHOM_SECRET_STORE") == QLatin1String("file"))
        m_backend = Backend::File;
}

bool SecretStore::keychainBuiltIn()
{
#ifdef FATHOM_HAVE_QTKEYCHAIN
    return true;
#else
    return false;
#endif
}

QString SecretStore::newReference(const QString &prefix)
{
    return prefix + QLatin1Char('/')
           + QString::number(QRandomGenerator::global()->generate64(), 16)
                 .rightJustified(16, QLatin1Char('0'));
}

Result<void> SecretStore::checkRef(const QString &ref) const
{
    static const QRegularExpression valid(QStringLiteral("^[A-Za-z0-9._/-]{1,128}$"));
    if (!valid.match(ref).hasMatch() || ref.contains(QLatin1String("..")))
        return fail(Error::Kind::InvalidArgument,
                    tr("\"%1\" is not a valid secret reference (letters, digits, '.', '-', '_' "
                       "and '/', at most 128).")
                        .arg(ref));
    return {};
}

QString SecretStore::filePath(const QString &ref) const
{
    return QDir(m_dir).filePath(QString::fromLatin1(QUrl::toPercentEncoding(ref)));
}

Result<void> SecretStore::write(const QString &ref, const QString &secret)
{
    FATHOM_TRY(checkRef(ref));
#ifdef FATHOM_HAVE_QTKEYCHAIN
    if (m_backend != Backend::File) {
        QKeychain::WritePasswordJob job(QString::fromLatin1(kService));
        job.setKey(ref);
        job.setTextData(secret);
        runJob(job);
        if (job.error() == QKeychain::NoError) {
            // A copy left in the file by an earlier fallback would outlive the keychain entry.
            QFile::remove(filePath(ref));
            return {};
        }
        if (m_backend == Backend::Keychain || !keychainMissing(job.error()))
            return fail(Error::Kind::Unavailable,
                        tr("Cannot store the key in the system keychain: %1").arg(job.errorString()));
    }
#else
    if (m_backend == Backend::Keychain)
        return fail(Error::Kind::Unsupported,
                    tr("This build of Fathom has no system keychain support."));
#endif
    FATHOM_TRY(platform::makeUserOnlyDir(m_dir));
    return platform::writeUserOnlyFile(filePath(ref), secret.toUtf8());
}

Result<std::optional<QString>> SecretStore::read(const QString &ref) const
{
    FATHOM_TRY(checkRef(ref));
#ifdef FATHOM_HAVE_QTKEYCHAIN
    if (m_backend != Backend::File) {
        QKeychain::ReadPasswordJob job(QString::fromLatin1(kService));
        job.setKey(ref);
        runJob(job);
        if (job.error() == QKeychain::NoError)
            return std::optional<QString>(job.textData());
        if (m_backend == Backend::Keychain) {
            if (job.error() == QKeychain::EntryNotFound)
                return std::optional<QString>();
            return fail(Error::Kind::Unavailable,
                        tr("Cannot read the key from the system keychain: %1")
                            .arg(job.errorString()));
        }
    }
#else
    if (m_backend == Backend::Keychain)
        return fail(Error::Kind::Unsupported,
                    tr("This build of Fathom has no system keychain support."));
#endif
    const QString path = filePath(ref);
    QFile file(path);
    if (!file.exists())
        return std::optional<QString>();
    if (!platform::isUserOnly(path))
        return fail(Error::Kind::Io,
                    tr("%1 holds an API key but other users can read it; it is not used. Make it "
                       "private (chmod 600) or enter the key again.")
                        .arg(path));
    if (!file.open(QIODevice::ReadOnly))
        return fail(Error::Kind::Io, tr("Cannot read %1: %2.").arg(path, file.errorString()));
    return std::optional<QString>(QString::fromUtf8(file.readAll()));
}

Result<void> SecretStore::remove(const QString &ref)
{
    FATHOM_TRY(checkRef(ref));
#ifdef FATHOM_HAVE_QTKEYCHAIN
    if (m_backend != Backend::File) {
        QKeychain::DeletePasswordJob job(QString::fromLatin1(kService));
        job.setKey(ref);
        runJob(job);
        if (job.error() != QKeychain::NoError && job.error() != QKeychain::EntryNotFound
            && !keychainMissing(job.error()))
            return fail(Error::Kind::Unavailable,
                        tr("Cannot remove the key from the system keychain: %1")
                            .arg(job.errorString()));
    }
#endif
    const QString path = filePath(ref);
    if (QFile::exists(path) && !QFile::remove(path))
        return fail(Error::Kind::Io, tr("Cannot remove %1.").arg(path));
    return {};
}

} // namespace fathom
