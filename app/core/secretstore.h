// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/core/error.h"

#include <QCoreApplication>
#include <QString>

#include <optional>

namespace fathom {

/**
  Where API keys live (the remote servers' keys, the local API server's key). Never in the
  settings file, the database or a log: those hold only a reference ("remote/3f2a...", "server"),
  and this class maps a reference to its secret.

  Storage, in order of preference:
   - the OS keychain through QtKeychain (macOS Keychain, Windows Credential Manager, the Secret
     Service / KWallet on Linux), when Fathom was built with it (FATHOM_HAVE_QTKEYCHAIN) and the
     keychain answers;
   - otherwise a file per reference in <config>/secrets/ (next to fathom.ini, see paths.h),
     readable only by the user: the folder is 0700 and each file 0600 on POSIX, created with those
     modes (never widened then narrowed); on Windows the folder is under the per-user profile,
     whose ACL admits only that user.
  FATHOM_SECRET_STORE=file in the environment makes Auto use the file only (tests, headless
  machines whose keychain prompts).
  read() looks in both places, so a key written to the file while the keychain was unavailable is
  still found once it is back.

  Thread: any; one object per thread. The keychain calls are asynchronous in QtKeychain and are
  waited for in a local event loop (they take milliseconds; a missing keychain fails at once).
*/
class SecretStore
{
    Q_DECLARE_TR_FUNCTIONS(SecretStore)

public:
    enum class Backend {
        Auto,    // the keychain when there is one, else the file
        File,    // the user-only file only (tests; users who do not want the keychain)
        Keychain // the keychain only: fails where there is none
    };

    SecretStore(); // Auto, files in the default folder
    explicit SecretStore(Backend backend, QString fileDir = QString());

    // The folder of the file fallback (<config>/secrets unless given).
    QString fileDir() const { return m_dir; }
    static bool keychainBuiltIn();

    // Stores `secret` under `ref` (letters, digits, '.', '-', '_' and '/', at most 128).
    Result<void> write(const QString &ref, const QString &secret);
    // The secret, or nullopt when none is stored under `ref`.
    Result<std::optional<QString>> read(const QString &ref) const;
    // Removes the secret from the keychain and the file; not an error when there was none.
    Result<void> remove(const QString &ref);

    // A fresh reference for a new secret: `prefix` + "/" + a random id.
    static QString newReference(const QString &prefix);

private:
    Result<void> checkRef(const QString &ref) const;
    QString filePath(const QString &ref) const;

    Backend m_backend;
    QString m_dir;
};

namespace platform {
// Writes `bytes` to `path` so that only the current user can read it (POSIX: created 0600 in a
// 0700 folder, written to a temporary name and renamed over the old file). The error names the
// file and the system's reason.
Result<void> writeUserOnlyFile(const QString &path, const QByteArray &bytes);
// True when `path` can be read by nobody but its owner (always true where the platform gives a
// per-user location instead of mode bits).
bool isUserOnly(const QString &path);
// Makes `dir` exist, readable only by the user.
Result<void> makeUserOnlyDir(const QString &dir);
} // namespace platform

} // namespace fathom
