// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "app/storage/database.h"

#include <QFile>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>

using namespace fathom;
using namespace fathom::storage;

class tst_Database : public QObject
{
    Q_OBJECT

private slots:
    void opensWithWalAndForeignKeys();
    void migratesFromEveryEarlierVersion_data();
    void migratesFromEveryEarlierVersion();
    void failedMigrationLeavesPreviousVersion();
    void refusesNewerSchema();
    void refusesNonDatabaseFile();
    void transactionRollsBackUnlessCommitted();
    void nestedTransactionIsSavepoint();
    void backupIsConsistentCopy();

private:
    QTemporaryDir m_dir;
    QString path(const QString &name) const { return m_dir.filePath(name); }
    static QStringList schemaOf(Database &db);
};

// The schema as sqlite_master describes it, normalised (names and SQL), for comparison.
QStringList tst_Database::schemaOf(Database &db)
{
    QSqlQuery q(db.connection());
    q.exec(
        QStringLiteral("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"));
    QStringList rows;
    while (q.next())
        rows << QStringList{q.value(0).toString(),
                            q.value(1).toString(),
                            q.value(2).toString(),
                            q.value(3).toString().simplified()}
                    .join(QLatin1Char('|'));
    return rows;
}

void tst_Database::opensWithWalAndForeignKeys()
{
    auto db = Database::open(path(QStringLiteral("sub/dir/a.db")));
    QVERIFY2(db, qPrintable(db ? QString() : db.error().message));
    QSqlQuery q((*db)->connection());
    QVERIFY(q.exec(QStringLiteral("PRAGMA journal_mode")) && q.next());
    QCOMPARE(q.value(0).toString(), QStringLiteral("wal"));
    QVERIFY(q.exec(QStringLiteral("PRAGMA foreign_keys")) && q.next());
    QCOMPARE(q.value(0).toInt(), 1);
    QVERIFY(q.exec(QStringLiteral("PRAGMA busy_timeout")) && q.next());
    QCOMPARE(q.value(0).toInt(), 5000);
    QCOMPARE(*(*db)->userVersion(), Database::latestVersion());
    QVERIFY(Database::latestVersion() >= 4);
    // Foreign keys are enforced: a message in a missing conversation is refused.
    QVERIFY(!q.exec(QStringLiteral("INSERT INTO messages (conversation_id, role, created_at, "
                                   "updated_at) VALUES (999, 1, 0, 0)")));
    QCOMPARE(*(*db)->integrityCheck(), QStringLiteral("ok"));
}

void tst_Database::migratesFromEveryEarlierVersion_data()
{
    QTest::addColumn<int>("from");
    for (int v = 0; v < Database::latestVersion(); ++v)
        QTest::newRow(qPrintable(QStringLiteral("v%1").arg(v))) << v;
}

void tst_Database::migratesFromEveryEarlierVersion()
{
    QFETCH(int, from);
    const QString file = path(QStringLiteral("migrate-from-%1.db").arg(from));
    {
        Database::Options options;
        options.targetVersion = from;
        auto old = Database::open(file, options);
        QVERIFY2(old, qPrintable(old ? QString() : old.error().message));
        QCOMPARE(*(*old)->userVersion(), from);
        // Data that version `from` can hold, written with that version's SQL.
        QSqlQuery q((*old)->connection());
        if (from >= 1) {
            QVERIFY(q.exec(QStringLiteral(
                "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (1, "
                "'Old talk', 1000, 2000)")));
            QVERIFY(q.exec(QStringLiteral(
                "INSERT INTO messages (id, conversation_id, parent_id, role, content, created_at, "
                "updated_at) VALUES (1, 1, NULL, 1, 'What is a zeppelin?', 1000, 1000), (2, 1, "
                "1, 2, 'An airship with a rigid frame.', 1100, 1100)")));
            QVERIFY(q.exec(QStringLiteral("UPDATE messages SET active_child_id = 2 WHERE id = 1")));
            QVERIFY(q.exec(QStringLiteral("UPDATE conversations SET active_root_id = 1")));
        }
        if (from >= 2) {
            QVERIFY(q.exec(QStringLiteral(
                "INSERT INTO documents (id, content_hash, name, status, created_at, updated_at) "
                "VALUES (1, 'abc', 'manual.pdf', 2, 0, 0)")));
            QVERIFY(q.exec(QStringLiteral(
                "INSERT INTO document_pages (document_id, page_number, text) VALUES (1, 7, "
                "'The dirigible landed at Lakehurst.')")));
        }
    }
    auto db = Database::open(file);
    QVERIFY2(db, qPrintable(db ? QString() : db.error().message));
    QCOMPARE(*(*db)->userVersion(), Database::latestVersion());
    QCOMPARE(*(*db)->integrityCheck(), QStringLiteral("ok"));

    // Same schema as a database created at the latest version.
    auto fresh = Database::open(path(QStringLiteral("fresh-%1.db").arg(from)));
    QVERIFY(fresh);
    QCOMPARE(schemaOf(**db), schemaOf(**fresh));

    QSqlQuery q((*db)->connection());
    if (from >= 1) {
        QVERIFY(q.exec(QStringLiteral("SELECT count(*) FROM messages")) && q.next());
        QCOMPARE(q.value(0).toInt(), 2);
        // Rows written before the search index existed are indexed by the migration.
        QVERIFY(q.exec(QStringLiteral(
                    "SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'zeppelin'"))
                && q.next());
        QCOMPARE(q.value(0).toInt(), 1);
    }
    if (from >= 2) {
        QVERIFY(q.exec(QStringLiteral("SELECT p.page_number FROM pages_fts JOIN document_pages p "
                                      "ON p.id = pages_fts.rowid WHERE pages_fts MATCH "
                                      "'dirigible'"))
                && q.next());
        QCOMPARE(q.value(0).toInt(), 7);
    }
}

void tst_Database::failedMigrationLeavesPreviousVersion()
{
    const QString file = path(QStringLiteral("failing.db"));
    {
        Database::Options options;
        options.targetVersion = 1;
        auto db = Database::open(file, options);
        QVERIFY(db);
        // Squat on a name that migration 2 creates: it must fail as a whole.
        QSqlQuery q((*db)->connection());
        QVERIFY(q.exec(QStringLiteral("CREATE TABLE document_pages (x)")));
    }
    auto db = Database::open(file);
    QVERIFY(!db);
    QCOMPARE(db.error().kind, Error::Kind::Database);
    QVERIFY2(db.error().message.contains(QStringLiteral("version 2")),
             qPrintable(db.error().message));

    Database::Options options;
    options.targetVersion = 1;
    auto again = Database::open(file, options);
    QVERIFY(again);
    QCOMPARE(*(*again)->userVersion(), 1);
    QSqlQuery q((*again)->connection());
    QVERIFY(q.exec(QStringLiteral("SELECT count(*) FROM sqlite_master WHERE name = 'documents'"))
            && q.next());
    QCOMPARE(q.value(0).toInt(), 0); // the table created before the failing statement is gone
}

void tst_Database::refusesNewerSchema()
{
    const QString file = path(QStringLiteral("newer.db"));
    {
        auto db = Database::open(file);
        QVERIFY(db);
        QSqlQuery q((*db)->connection());
        QVERIFY(q.exec(QStringLiteral("PRAGMA user_version = 999")));
    }
    auto db = Database::open(file);
    QVERIFY(!db);
    QCOMPARE(db.error().kind, Error::Kind::Unsupported);
    QVERIFY(db.error().message.contains(file));
}

void tst_Database::refusesNonDatabaseFile()
{
    const QString file = path(QStringLiteral("garbage.db"));
    QFile f(file);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QByteArray(8192, 'x'));
    f.close();
    auto db = Database::open(file);
    QVERIFY(!db);
    QVERIFY2(db.error().message.contains(file), qPrintable(db.error().message));
}

void tst_Database::transactionRollsBackUnlessCommitted()
{
    auto db = Database::open(path(QStringLiteral("tx.db")));
    QVERIFY(db);
    {
        Transaction tx(**db);
        QVERIFY(!tx.beginError());
        QSqlQuery q((*db)->connection());
        QVERIFY(q.exec(QStringLiteral("INSERT INTO tags (name) VALUES ('dropped')")));
    }
    {
        Transaction tx(**db);
        QSqlQuery q((*db)->connection());
        QVERIFY(q.exec(QStringLiteral("INSERT INTO tags (name) VALUES ('kept')")));
        QVERIFY(tx.commit());
    }
    QSqlQuery q((*db)->connection());
    QVERIFY(q.exec(QStringLiteral("SELECT group_concat(name) FROM tags")) && q.next());
    QCOMPARE(q.value(0).toString(), QStringLiteral("kept"));
}

void tst_Database::nestedTransactionIsSavepoint()
{
    auto db = Database::open(path(QStringLiteral("nested.db")));
    QVERIFY(db);
    {
        Transaction outer(**db);
        QSqlQuery q((*db)->connection());
        QVERIFY(q.exec(QStringLiteral("INSERT INTO tags (name) VALUES ('outer')")));
        {
            Transaction inner(**db);
            QVERIFY(!inner.beginError());
            QVERIFY(q.exec(QStringLiteral("INSERT INTO tags (name) VALUES ('inner')")));
        } // rolled back to the savepoint only
        QVERIFY(outer.commit());
    }
    QSqlQuery q((*db)->connection());
    QVERIFY(q.exec(QStringLiteral("SELECT group_concat(name) FROM tags")) && q.next());
    QCOMPARE(q.value(0).toString(), QStringLiteral("outer"));
}

void tst_Database::backupIsConsistentCopy()
{
    auto db = Database::open(path(QStringLiteral("source.db")));
    QVERIFY(db);
    QSqlQuery q((*db)->connection());
    QVERIFY(q.exec(QStringLiteral("INSERT INTO conversations (title, created_at, updated_at) "
                                  "VALUES ('backed up', 1, 1)")));
    const QString copy = path(QStringLiteral("backup/copy.db"));
    QDir().mkpath(QFileInfo(copy).absolutePath());
    QVERIFY2((*db)->backupTo(copy), "backup failed");
    QVERIFY(!QFile::exists(copy + QStringLiteral(".partial")));

    // Read the copy with the plain SQLite library: an independent reader.
    sqlite3 *raw = nullptr;
    QCOMPARE(sqlite3_open_v2(copy.toUtf8().constData(), &raw, SQLITE_OPEN_READONLY, nullptr),
             SQLITE_OK);
    sqlite3_stmt *stmt = nullptr;
    QCOMPARE(sqlite3_prepare_v2(raw, "SELECT title FROM conversations", -1, &stmt, nullptr),
             SQLITE_OK);
    QCOMPARE(sqlite3_step(stmt), SQLITE_ROW);
    QCOMPARE(QString::fromUtf8(reinterpret_cast<const char *>(sqlite3_column_text(stmt, 0))),
             QStringLiteral("backed up"));
    sqlite3_finalize(stmt);
    QCOMPARE(sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
    QCOMPARE(sqlite3_step(stmt), SQLITE_ROW);
    QCOMPARE(sqlite3_column_int(stmt, 0), Database::latestVersion());
    sqlite3_finalize(stmt);
    sqlite3_close(raw);

    // A failing backup reports the destination.
    auto bad = (*db)->backupTo(path(QStringLiteral("no/such/dir/x.db")));
    QVERIFY(!bad);
    QVERIFY(bad.error().message.contains(QStringLiteral("x.db")));
}

QTEST_GUILESS_MAIN(tst_Database)
#include "tst_database.moc"
