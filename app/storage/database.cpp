// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "database.h"

#include "app/core/check.h"

#include <QAtomicInteger>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QRegularExpression>
#include <QSqlDriver>
#include <QThread>

#include <sqlite3.h>

Q_LOGGING_CATEGORY(lcDatabase, "fathom.storage.database")

namespace fathom::storage {

namespace {

QAtomicInteger<quint64> s_connectionCounter;

// The migration files, in order: version N is the N-th file (see migrations/README in
// app/storage/README.md). Forward only: a released file is never edited, a change is a new file.
QStringList migrationFiles()
{
    QDir dir(QStringLiteral(":/fathom/storage/migrations"));
    return dir.entryList({QStringLiteral("*.sql")}, QDir::Files, QDir::Name);
}

Result<QString> migrationSql(int version)
{
    const QStringList files = migrationFiles();
    if (version < 1 || version > files.size())
        return fail(Error::Kind::Internal,
                    QCoreApplication::translate("Database", "No migration to schema version %1")
                        .arg(version));
    const QString name = files.at(version - 1);
    if (name.left(4).toInt() != version)
        return fail(Error::Kind::Internal,
                    QCoreApplication::translate("Database",
                                                "Migration file %1 is out of sequence (expected "
                                                "version %2)")
                        .arg(name)
                        .arg(version));
    QFile file(QStringLiteral(":/fathom/storage/migrations/") + name);
    if (!file.open(QIODevice::ReadOnly))
        return fail(Error::Kind::Internal,
                    QCoreApplication::translate("Database", "Cannot read migration %1: %2")
                        .arg(name, file.errorString()));
    return QString::fromUtf8(file.readAll());
}

} // namespace

qint64 toMsecs(const QDateTime &time)
{
    return time.isValid() ? time.toMSecsSinceEpoch() : nowMsecs();
}

QDateTime fromMsecs(qint64 msecs)
{
    return QDateTime::fromMSecsSinceEpoch(msecs, Qt::UTC);
}

qint64 nowMsecs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

Database::Database(QString path, QString connectionName)
    : m_path(std::move(path))
    , m_connectionName(std::move(connectionName))
{}

Database::~Database()
{
    if (m_db.isValid()) {
        m_db.close();
        m_db = QSqlDatabase();
    }
    QSqlDatabase::removeDatabase(m_connectionName);
}

int Database::latestVersion()
{
    return int(migrationFiles().size());
}

Result<std::unique_ptr<Database>> Database::open(const QString &path, const Options &options)
{
    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QSQLITE")))
        return fail(Error::Kind::Unavailable,
                    tr("The Qt SQLite driver (QSQLITE) is not installed; cannot open %1").arg(path));
    if (!options.readOnly && path != QLatin1String(":memory:")) {
        const QString dir = QFileInfo(path).absolutePath();
        if (!QDir().mkpath(dir))
            return fail(Error::Kind::Io,
                        tr("Cannot create the folder %1 for the database").arg(dir));
    }
    const QString connectionName = QStringLiteral("fathom-storage-%1")
                                       .arg(s_connectionCounter.fetchAndAddRelaxed(1));
    std::unique_ptr<Database> self(new Database(path, connectionName));
    self->m_db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connectionName);
    self->m_db.setDatabaseName(path);
    if (options.readOnly)
        self->m_db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_READONLY"));
    if (!self->m_db.open())
        return fail(Error::Kind::Database,
                    tr("Cannot open the database %1: %2").arg(path, self->m_db.lastError().text()));

    const auto pragma = [&](const QString &sql) -> Result<QVariant> {
        QSqlQuery query(self->m_db);
        if (!query.exec(sql))
            return unexpected(self->sqlError(query.lastError(), sql));
        return query.next() ? query.value(0) : QVariant();
    };

    FATHOM_TRY(pragma(QStringLiteral("PRAGMA busy_timeout = %1").arg(options.busyTimeoutMs)));
    // Reading the schema is the first real access: a file that is not a database fails here.
    FATHOM_TRY_ASSIGN(const QVariant schemaCount,
                      pragma(QStringLiteral("SELECT count(*) FROM sqlite_master")));
    Q_UNUSED(schemaCount);
    if (!options.readOnly) {
        FATHOM_TRY_ASSIGN(const QVariant mode, pragma(QStringLiteral("PRAGMA journal_mode = WAL")));
        if (mode.toString().compare(QLatin1String("wal"), Qt::CaseInsensitive) != 0)
            return fail(Error::Kind::Database,
                        tr("The database %1 cannot use write-ahead logging (journal mode is "
                           "'%2'); is it on a network file system?")
                            .arg(path, mode.toString()));
    }
    FATHOM_TRY(pragma(QStringLiteral("PRAGMA foreign_keys = ON")));
    FATHOM_TRY_ASSIGN(const QVariant fk, pragma(QStringLiteral("PRAGMA foreign_keys")));
    if (fk.toInt() != 1)
        return fail(Error::Kind::Database,
                    tr("The SQLite library in use cannot enforce foreign keys (database %1)")
                        .arg(path));
    // 16 MiB of page cache (the default is 2 MiB): FTS index updates touch many pages, and a
    // large ingestion transaction would otherwise spill to the WAL over and over.
    FATHOM_TRY(pragma(QStringLiteral("PRAGMA cache_size = -16384")));
    FATHOM_TRY(pragma(options.fullSync ? QStringLiteral("PRAGMA synchronous = FULL")
                                       : QStringLiteral("PRAGMA synchronous = NORMAL")));

    FATHOM_TRY_ASSIGN(const int version, self->userVersion());
    if (version > latestVersion())
        return fail(Error::Kind::Unsupported,
                    tr("The database %1 has schema version %2, newer than this version of "
                       "Fathom understands (%3). Please update Fathom.")
                        .arg(path)
                        .arg(version)
                        .arg(latestVersion()));
    if (!options.readOnly) {
        const int target = options.targetVersion < 0 ? latestVersion() : options.targetVersion;
        if (version < target)
            FATHOM_TRY(self->migrateTo(target));
    }
    return self;
}

sqlite3 *Database::handle() const
{
    const QVariant v = m_db.driver() ? m_db.driver()->handle() : QVariant();
    if (!v.isValid() || qstrcmp(v.typeName(), "sqlite3*") != 0)
        return nullptr;
    return *static_cast<sqlite3 *const *>(v.constData());
}

Result<int> Database::userVersion()
{
    QSqlQuery query(m_db);
    if (!query.exec(QStringLiteral("PRAGMA user_version")) || !query.next())
        return unexpected(sqlError(query.lastError(), QStringLiteral("PRAGMA user_version")));
    return query.value(0).toInt();
}

Result<void> Database::migrateTo(int target)
{
    FATHOM_TRY_ASSIGN(int version, userVersion());
    if (target > latestVersion())
        return fail(Error::Kind::InvalidArgument,
                    tr("No schema version %1 (latest is %2)").arg(target).arg(latestVersion()));
    while (version < target) {
        const int next = version + 1;
        FATHOM_TRY_ASSIGN(const QString sql, migrationSql(next));
        // One transaction per migration: a failure leaves the database at the previous version.
        FATHOM_STORAGE_BEGIN(tx, *this);
        FATHOM_TRY(execScript(sql, tr("migration to schema version %1").arg(next)));
        FATHOM_TRY(execScript(QStringLiteral("PRAGMA user_version = %1").arg(next),
                              QStringLiteral("PRAGMA user_version")));
        FATHOM_TRY(tx.commit());
        qCInfo(lcDatabase, "migrated %s to schema version %d", qPrintable(m_path), next);
        version = next;
    }
    return {};
}

Result<QSqlQuery> Database::prepare(const QString &sql)
{
    QSqlQuery query(m_db);
    query.setForwardOnly(true);
    if (!query.prepare(sql))
        return unexpected(sqlError(query.lastError(), sql.simplified().left(80)));
    return query;
}

Result<void> Database::exec(QSqlQuery &query, const QString &what)
{
    // QSQLITE binds a null QString as SQL NULL; text columns are NOT NULL, and "no text" is ''.
    // Deliberate NULLs are bound as QVariant() (no type), which this leaves alone. (By name:
    // positional rebinding breaks placeholders that occur twice.)
    static const QRegularExpression placeholder(QStringLiteral(":[A-Za-z_][A-Za-z0-9_]*"));
    QRegularExpressionMatchIterator it = placeholder.globalMatch(query.lastQuery());
    while (it.hasNext()) {
        const QString name = it.next().captured();
        const QVariant v = query.boundValue(name);
        if (v.metaType().id() == QMetaType::QString && v.toString().isNull())
            query.bindValue(name, QStringLiteral(""));
    }
    if (!query.exec())
        return unexpected(sqlError(query.lastError(), what));
    return {};
}

Result<void> Database::execScript(const QString &sql, const QString &what)
{
    sqlite3 *db = handle();
    if (!db)
        return fail(Error::Kind::Internal, tr("No SQLite handle for the database %1").arg(m_path));
    char *message = nullptr;
    const int rc = sqlite3_exec(db, sql.toUtf8().constData(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        const QString text = message ? QString::fromUtf8(message)
                                     : QString::fromUtf8(sqlite3_errstr(rc));
        sqlite3_free(message);
        return fail((rc & 0xff) == SQLITE_FULL ? Error::Kind::DiskFull : Error::Kind::Database,
                    tr("Database %1: %2 failed: %3").arg(m_path, what, text));
    }
    return {};
}

Result<QString> Database::integrityCheck()
{
    QSqlQuery query(m_db);
    if (!query.exec(QStringLiteral("PRAGMA integrity_check")))
        return unexpected(sqlError(query.lastError(), QStringLiteral("PRAGMA integrity_check")));
    QStringList lines;
    while (query.next())
        lines << query.value(0).toString();
    return lines.join(QLatin1Char('\n'));
}

Result<void> Database::backupTo(const QString &destinationPath)
{
    sqlite3 *source = handle();
    if (!source)
        return fail(Error::Kind::Internal, tr("No SQLite handle for the database %1").arg(m_path));
    const QString partial = destinationPath + QStringLiteral(".partial");
    QFile::remove(partial);
    sqlite3 *destination = nullptr;
    int rc = sqlite3_open_v2(partial.toUtf8().constData(),
                             &destination,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                             nullptr);
    const auto failWith = [&](const QString &text) {
        if (destination)
            sqlite3_close(destination);
        QFile::remove(partial);
        return fail((rc & 0xff) == SQLITE_FULL ? Error::Kind::DiskFull : Error::Kind::Io,
                    tr("Cannot back up the database %1 to %2: %3")
                        .arg(m_path, destinationPath, text));
    };
    if (rc != SQLITE_OK)
        return failWith(
            QString::fromUtf8(destination ? sqlite3_errmsg(destination) : sqlite3_errstr(rc)));
    sqlite3_backup *backup = sqlite3_backup_init(destination, "main", source, "main");
    if (!backup)
        return failWith(QString::fromUtf8(sqlite3_errmsg(destination)));
    // Copy in steps so that a long backup never holds the source's read lock for long; the
    // source connection is ours (same thread), so writes made elsewhere restart the copy.
    do {
        rc = sqlite3_backup_step(backup, 1024);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
            QThread::msleep(10);
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE)
        return failWith(QString::fromUtf8(sqlite3_errstr(rc)));
    rc = sqlite3_errcode(destination);
    if (rc != SQLITE_OK)
        return failWith(QString::fromUtf8(sqlite3_errmsg(destination)));
    rc = sqlite3_close(destination);
    destination = nullptr;
    if (rc != SQLITE_OK)
        return failWith(QString::fromUtf8(sqlite3_errstr(rc)));
    QFile::remove(destinationPath);
    QFile::remove(destinationPath + QStringLiteral("-wal"));
    QFile::remove(destinationPath + QStringLiteral("-shm"));
    if (!QFile::rename(partial, destinationPath))
        return failWith(tr("cannot rename %1").arg(partial));
    return {};
}

Error Database::sqlError(const QSqlError &error, const QString &what) const
{
    const int code = error.nativeErrorCode().toInt();
    return Error((code & 0xff) == SQLITE_FULL ? Error::Kind::DiskFull : Error::Kind::Database,
                 tr("Database %1: %2 failed: %3").arg(m_path, what, error.text()));
}

Transaction::Transaction(Database &db)
    : m_db(db)
{
    QSqlQuery query(m_db.m_db);
    QString sql;
    if (m_db.m_transactionDepth == 0) {
        sql = QStringLiteral("BEGIN IMMEDIATE");
    } else {
        m_savepoint = QStringLiteral("fathom_sp%1").arg(++m_db.m_savepointCounter);
        sql = QStringLiteral("SAVEPOINT ") + m_savepoint;
    }
    if (!query.exec(sql)) {
        m_beginError = m_db.sqlError(query.lastError(), sql);
        return;
    }
    m_active = true;
    ++m_db.m_transactionDepth;
}

Transaction::~Transaction()
{
    if (!m_active)
        return;
    QSqlQuery query(m_db.m_db);
    if (m_savepoint.isEmpty()) {
        if (!query.exec(QStringLiteral("ROLLBACK")))
            qCWarning(lcDatabase, "rollback failed: %s", qPrintable(query.lastError().text()));
    } else {
        // ROLLBACK TO keeps the savepoint open; RELEASE removes it.
        if (!query.exec(QStringLiteral("ROLLBACK TO ") + m_savepoint)
            || !query.exec(QStringLiteral("RELEASE ") + m_savepoint))
            qCWarning(lcDatabase,
                      "rollback to savepoint failed: %s",
                      qPrintable(query.lastError().text()));
    }
    --m_db.m_transactionDepth;
}

Result<void> Transaction::commit()
{
    if (m_beginError)
        return unexpected(*m_beginError);
    FATHOM_CHECK(m_active, return fail(Error::Kind::Internal, tr("Transaction committed twice")));
    QSqlQuery query(m_db.m_db);
    const QString sql = m_savepoint.isEmpty() ? QStringLiteral("COMMIT")
                                              : QStringLiteral("RELEASE ") + m_savepoint;
    if (!query.exec(sql))
        return unexpected(m_db.sqlError(query.lastError(), sql)); // destructor rolls back
    m_active = false;
    --m_db.m_transactionDepth;
    return {};
}

} // namespace fathom::storage
