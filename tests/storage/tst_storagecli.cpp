// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// The storage commands of fathom-cli, run as a user would: search --json, export md|json,
// import, backup, and their exit statuses.

#include "app/storage/conversationstore.h"
#include "app/storage/documentstore.h"
#include "app/storage/messagestore.h"
#include "storagetestutil.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>

using namespace fathom;
using namespace fathom::storage;

class tst_StorageCli : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void searchJson();
    void exportAndImport();
    void backup();
    void exitStatuses();

private:
    struct Run
    {
        int status = -1;
        QByteArray out;
        QByteArray err;
    };
    static Run cli(const QStringList &arguments)
    {
        QProcess p;
        p.start(QStringLiteral(FATHOM_CLI_PATH), arguments);
        Run r;
        if (!p.waitForFinished(60000) || p.exitStatus() != QProcess::NormalExit)
            return r;
        r.status = p.exitCode();
        r.out = p.readAllStandardOutput();
        r.err = p.readAllStandardError();
        return r;
    }

    QTemporaryDir m_dir;
    QString m_db;
    ConversationId m_conversation;
};

void tst_StorageCli::initTestCase()
{
    m_db = m_dir.filePath(QStringLiteral("cli.db"));
    auto db = Database::open(m_db);
    QVERIFY(db);
    DocumentStore docs(**db);
    TAKE(doc,
         docs.insertDocument({QStringLiteral("c0ffee"),
                              QStringLiteral("pump manual.pdf"),
                              {},
                              {},
                              10,
                              DocumentStatus::Ready}));
    VERIFY_OK(docs.replacePages(doc,
                                {{1, QStringLiteral("Centrifugal pumps."), 0},
                                 {2, QStringLiteral("Close the valve."), 0},
                                 {3, QStringLiteral("The impeller turns at 2900 rpm."), 0}}));
    ConversationStore conversations(**db);
    TAKE(c, conversations.create({QStringLiteral("Pumps \"quoted\""), {}, {}, {}, {}, {}}));
    m_conversation = c;
    MessageStore messages(**db);
    NewMessage q;
    q.content = QStringLiteral("How fast is the impeller?");
    TAKE(u, messages.appendToActivePath(c, q));
    NewMessage a;
    a.role = Role::Assistant;
    a.content = QStringLiteral("2900 rpm, page 3.");
    TAKE(a1, messages.append(c, u, a));
    VERIFY_OK(messages.editMessage(a1, QStringLiteral("About 2900 rpm.")));
}

void tst_StorageCli::searchJson()
{
    const Run r = cli({QStringLiteral("search"),
                       QStringLiteral("--db"),
                       m_db,
                       QStringLiteral("--json"),
                       QStringLiteral("impeller")});
    QCOMPARE(r.status, 0);
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(r.out, &error);
    QVERIFY2(doc.isArray(), r.out.constData());
    const QJsonArray hits = doc.array();
    QCOMPARE(hits.size(), 2); // page 3 and the question
    bool page = false, message = false;
    for (const QJsonValue &v : hits) {
        const QJsonObject h = v.toObject();
        if (h.value("kind").toString() == QLatin1String("page")) {
            page = true;
            QCOMPARE(h.value("document").toString(), QStringLiteral("pump manual.pdf"));
            QCOMPARE(h.value("page").toInt(), 3);
            QVERIFY(h.value("snippet").toString().contains(QStringLiteral("«impeller»")));
        } else {
            message = true;
            QCOMPARE(h.value("conversation_id").toInteger(), m_conversation.value);
            QCOMPARE(h.value("role").toString(), QStringLiteral("user"));
        }
    }
    QVERIFY(page && message);
    const Run none = cli({QStringLiteral("search"),
                          QStringLiteral("--db"),
                          m_db,
                          QStringLiteral("--json"),
                          QStringLiteral("nothing-matches-this")});
    QCOMPARE(none.status, 0);
    QCOMPARE(none.out.trimmed(), QByteArray("[]"));
}

void tst_StorageCli::exportAndImport()
{
    const QString id = QString::number(m_conversation.value);
    const Run md = cli({QStringLiteral("export"),
                        QStringLiteral("--db"),
                        m_db,
                        QStringLiteral("--conversation"),
                        id,
                        QStringLiteral("--format"),
                        QStringLiteral("md")});
    QCOMPARE(md.status, 0);
    QVERIFY(md.out.startsWith("# Pumps \"quoted\"\n"));
    QVERIFY(md.out.contains("About 2900 rpm."));
    QVERIFY(md.out.contains("2900 rpm, page 3.")); // the other branch is there too

    const QString file = m_dir.filePath(QStringLiteral("export.json"));
    const Run json = cli({QStringLiteral("export"),
                          QStringLiteral("--db"),
                          m_db,
                          QStringLiteral("--conversation"),
                          id,
                          QStringLiteral("--format"),
                          QStringLiteral("json"),
                          QStringLiteral("--output"),
                          file});
    QCOMPARE(json.status, 0);
    const QString other = m_dir.filePath(QStringLiteral("other.db"));
    const Run imported = cli({QStringLiteral("import"), QStringLiteral("--db"), other, file});
    QCOMPARE(imported.status, 0);
    const qint64 newId
        = QJsonDocument::fromJson(imported.out).object().value("conversation_id").toInteger();
    QVERIFY(newId > 0);
    auto db = Database::open(other);
    QVERIFY(db);
    MessageStore messages(**db);
    TAKE(all, messages.allMessages(ConversationId(newId)));
    QCOMPARE(all.size(), 3);
    TAKE(path, messages.activePath(ConversationId(newId)));
    QCOMPARE(path.last().content, QStringLiteral("About 2900 rpm."));
}

void tst_StorageCli::backup()
{
    const QString copy = m_dir.filePath(QStringLiteral("copy.db"));
    const Run r = cli(
        {QStringLiteral("backup"), QStringLiteral("--db"), m_db, QStringLiteral("--output"), copy});
    QCOMPARE(r.status, 0);
    auto db = Database::open(copy);
    QVERIFY(db);
    TAKE(check, (*db)->integrityCheck());
    QCOMPARE(check, QStringLiteral("ok"));
    DocumentStore docs(**db);
    TAKE(pages, docs.pages(DocumentId(1)));
    QCOMPARE(pages.size(), 3);
}

void tst_StorageCli::exitStatuses()
{
    QCOMPARE(cli({QStringLiteral("search"),
                  QStringLiteral("--db"),
                  m_dir.filePath(QStringLiteral("missing.db")),
                  QStringLiteral("x")})
                 .status,
             1);
    QVERIFY(!QFile::exists(m_dir.filePath(QStringLiteral("missing.db")))); // not created
    QCOMPARE(cli({QStringLiteral("export"),
                  QStringLiteral("--db"),
                  m_db,
                  QStringLiteral("--conversation"),
                  QStringLiteral("1"),
                  QStringLiteral("--format"),
                  QStringLiteral("pdf")})
                 .status,
             2);
    QCOMPARE(cli({QStringLiteral("export"),
                  QStringLiteral("--db"),
                  m_db,
                  QStringLiteral("--conversation"),
                  QStringLiteral("999"),
                  QStringLiteral("--format"),
                  QStringLiteral("md")})
                 .status,
             1);
    QCOMPARE(cli({QStringLiteral("search"), QStringLiteral("--db"), m_db}).status, 2);
    const QString bad = m_dir.filePath(QStringLiteral("bad.json"));
    QFile f(bad);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("{not json");
    f.close();
    const Run r = cli({QStringLiteral("import"), QStringLiteral("--db"), m_db, bad});
    QCOMPARE(r.status, 1);
    QVERIFY(r.err.contains("bad.json"));
}

QTEST_GUILESS_MAIN(tst_StorageCli)
#include "tst_storagecli.moc"
