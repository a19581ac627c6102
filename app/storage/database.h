// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/core/error.h"

#include <QCoreApplication>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QString>

#include <memory>

struct sqlite3;

namespace fathom::storage {

/**
  One SQLite connection, opened in and used from one thread only (STYLE.md rule 7): WAL
  (verified), foreign_keys=ON, busy_timeout, synchronous=NORMAL (WAL: a process crash never loses
  a committed transaction; see README.md), then forward-only migrations up to latestVersion().

  Thread: the thread that called open(); destroy it there too (removes the Qt connection).
  Caller owns the returned object. Not copyable.
*/
class Database
{
    Q_DECLARE_TR_FUNCTIONS(Database)

public:
    struct Options
    {
        bool readOnly = false;
        int busyTimeoutMs = 5000;
        int targetVersion = -1; // -1: latest; tests migrate to earlier versions
        bool fullSync = false;  // synchronous=FULL: also survive power loss, slower commits
    };

    static Result<std::unique_ptr<Database>> open(const QString &path, const Options &options);
    static Result<std::unique_ptr<Database>> open(const QString &path)
    {
        return open(path, Options{});
    }
    ~Database();
    Database(const Database &) = delete;
    Database &operator=(const Database &) = delete;

    static int latestVersion();

    QSqlDatabase &connection() { return m_db; }
    const QString &path() const { return m_path; }
    sqlite3 *handle() const;

    Result<int> userVersion();
    // Applies the migrations above the current version, each in its own transaction.
    Result<void> migrateTo(int version);

    // A prepared statement (bound values only; never build SQL from data).
    Result<QSqlQuery> prepare(const QString &sql);
    // Executes a prepared query; the error names `what`.
    Result<void> exec(QSqlQuery &query, const QString &what);
    // Runs one or more statements without parameters (migrations, pragmas).
    Result<void> execScript(const QString &sql, const QString &what);

    // "ok" or the problems PRAGMA integrity_check lists.
    Result<QString> integrityCheck();
    // Copies the whole database, consistent while others write, with SQLite's online backup API.
    Result<void> backupTo(const QString &destinationPath);

    // An error of kind Database (DiskFull for SQLITE_FULL) naming the database file and `what`.
    Error sqlError(const QSqlError &error, const QString &what) const;

private:
    friend class Transaction;
    explicit Database(QString path, QString connectionName);

    QString m_path;
    QString m_connectionName;
    QSqlDatabase m_db;
    int m_transactionDepth = 0;
    int m_savepointCounter = 0;
};

/**
  RAII transaction: rolls back in its destructor unless commit() succeeded. Nests: an inner
  Transaction becomes a SAVEPOINT, so store functions can be composed inside a caller's
  transaction. The outermost one is BEGIN IMMEDIATE (takes the write lock up front, so it never
  fails half way with SQLITE_BUSY on lock upgrade).
*/
class Transaction
{
    Q_DECLARE_TR_FUNCTIONS(Transaction)

public:
    explicit Transaction(Database &db);
    ~Transaction();
    Transaction(const Transaction &) = delete;
    Transaction &operator=(const Transaction &) = delete;

    // The error of BEGIN/SAVEPOINT, if it failed (then commit() fails too).
    const std::optional<Error> &beginError() const { return m_beginError; }
    Result<void> commit();

private:
    Database &m_db;
    QString m_savepoint; // empty: outermost
    bool m_active = false;
    std::optional<Error> m_beginError;
};

// Storage errors are values; these keep the call sites short.
#define FATHOM_STORAGE_BEGIN(tx, db) \
    Transaction tx{db}; \
    if (tx.beginError()) \
    return ::fathom::unexpected(*tx.beginError())

qint64 toMsecs(const QDateTime &time);
QDateTime fromMsecs(qint64 msecs);
qint64 nowMsecs();

} // namespace fathom::storage
