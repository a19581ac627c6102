// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "app/storage/conversationexporter.h"
#include "app/storage/conversationstore.h"
#include "app/storage/documentstore.h"
#include "app/storage/messagestore.h"
#include "storagetestutil.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>

using namespace fathom;
using namespace fathom::storage;

class tst_ConversationExporter : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void jsonHasEveryBranch();
    void markdownShowsActivePathAndBranches();
    void importRoundTrip();
    void importRejectsBadInput_data();
    void importRejectsBadInput();

private:
    // Messages with ids replaced by their position, so two exports can be compared.
    static QJsonObject normalised(const QByteArray &json);

    QTemporaryDir m_dir;
    std::unique_ptr<Database> m_db;
    ConversationId m_conversation;
};

void tst_ConversationExporter::initTestCase()
{
    auto db = Database::open(m_dir.filePath(QStringLiteral("export.db")));
    QVERIFY(db);
    m_db = std::move(*db);
    ConversationStore conversations(*m_db);
    NewConversation nc;
    nc.title = QStringLiteral("Gearbox review");
    nc.modelId = QStringLiteral("deepseek-v4-flash");
    nc.systemPrompt = QStringLiteral("Be brief.");
    nc.settings = QJsonObject{{QStringLiteral("temperature"), 0.3}};
    TAKE(c, conversations.create(nc));
    m_conversation = c;
    VERIFY_OK(conversations.addTag(c, QStringLiteral("engineering")));
    DocumentStore docs(*m_db);
    TAKE(doc,
         docs.insertDocument({QStringLiteral("feed"),
                              QStringLiteral("gearbox.pdf"),
                              {},
                              {},
                              4,
                              DocumentStatus::Ready}));
    VERIFY_OK(docs.linkToConversation(c, doc));

    MessageStore messages(*m_db);
    NewMessage u;
    u.content = QStringLiteral("Summarise the gearbox report.");
    TAKE(u1, messages.appendToActivePath(c, u));
    NewMessage a;
    a.role = Role::Assistant;
    a.content = QStringLiteral("ANSWER-ONE: the gearbox wears fast.");
    a.reasoning = QStringLiteral("REASONING-ONE");
    TAKE(a1, messages.appendToActivePath(c, a));
    MessageStats stats;
    stats.completionTokens = 9;
    stats.tokensPerSecond = 21.5;
    stats.ttftMs = 120;
    VERIFY_OK(messages.finish(a1, stats));
    TAKE(a2, messages.regenerate(a1, QStringLiteral("deepseek-v4-flash")));
    VERIFY_OK(
        messages.updateText(a2, QStringLiteral("ANSWER-TWO: wear is within limits."), QString()));
    VERIFY_OK(messages.finish(a2, stats));
    NewMessage f;
    f.content = QStringLiteral("FOLLOW-UP on answer two");
    VERIFY_OK(messages.append(c, a2, f));
    TAKE(u1b, messages.editMessage(u1, QStringLiteral("EDITED: Summarise briefly.")));
    a.content = QStringLiteral("ANSWER-THREE to the edit");
    a.reasoning.clear();
    VERIFY_OK(messages.append(c, u1b, a));
    // Make the original first branch active again, with answer two chosen below it.
    VERIFY_OK(messages.selectBranch(a2));
}

void tst_ConversationExporter::jsonHasEveryBranch()
{
    TAKE(json, ConversationExporter::toJson(*m_db, m_conversation));
    const QJsonObject root = QJsonDocument::fromJson(json).object();
    QCOMPARE(root.value("format").toString(), QStringLiteral("fathom.conversation"));
    QCOMPARE(root.value("version").toInt(), 1);
    QCOMPARE(root.value("conversation").toObject().value("title").toString(),
             QStringLiteral("Gearbox review"));
    QCOMPARE(root.value("conversation")
                 .toObject()
                 .value("settings")
                 .toObject()
                 .value("temperature")
                 .toDouble(),
             0.3);
    const QJsonArray messages = root.value("messages").toArray();
    QCOMPARE(messages.size(), 6);
    // Two roots, and the active root is the original question.
    QHash<qint64, QJsonObject> byId;
    int roots = 0;
    for (const QJsonValue &v : messages) {
        byId.insert(v.toObject().value("id").toInteger(), v.toObject());
        roots += v.toObject().value("parent_id").isNull() ? 1 : 0;
    }
    QCOMPARE(roots, 2);
    // Follow the active path through the file.
    QStringList path;
    for (qint64 id = root.value("active_root_id").toInteger(); id;
         id = byId.value(id).value("active_child_id").toInteger())
        path << byId.value(id).value("content").toString().left(10);
    QCOMPARE(path, (QStringList{"Summarise ", "ANSWER-TWO", "FOLLOW-UP "}));
    const QJsonArray docs = root.value("documents").toArray();
    QCOMPARE(docs.size(), 1);
    QCOMPARE(docs.at(0).toObject().value("content_hash").toString(), QStringLiteral("feed"));
}

void tst_ConversationExporter::markdownShowsActivePathAndBranches()
{
    TAKE(md, ConversationExporter::toMarkdown(*m_db, m_conversation));
    QVERIFY(md.startsWith(QStringLiteral("# Gearbox review\n")));
    QVERIFY(md.contains(QStringLiteral("Be brief.")));
    QVERIFY(md.contains(QStringLiteral("gearbox.pdf")));
    // The active path comes first, in order; the other branches follow.
    const qsizetype branches = md.indexOf(QStringLiteral("## Other branches"));
    QVERIFY(branches > 0);
    const qsizetype q = md.indexOf(QStringLiteral("Summarise the gearbox report."));
    const qsizetype two = md.indexOf(QStringLiteral("ANSWER-TWO"));
    const qsizetype follow = md.indexOf(QStringLiteral("FOLLOW-UP"));
    QVERIFY(q >= 0 && q < two && two < follow && follow < branches);
    for (const char *text : {"ANSWER-ONE", "EDITED: Summarise briefly.", "ANSWER-THREE"}) {
        const qsizetype at = md.indexOf(QLatin1String(text));
        QVERIFY2(at > branches, text);
    }
    // Every message appears exactly once.
    for (const char *text : {"Summarise the gearbox report.",
                             "ANSWER-ONE",
                             "ANSWER-TWO",
                             "FOLLOW-UP",
                             "EDITED",
                             "ANSWER-THREE",
                             "REASONING-ONE"})
        QCOMPARE(md.count(QLatin1String(text)), 1);
    QVERIFY(md.contains(QStringLiteral("<details><summary>Reasoning</summary>")));
    QVERIFY(md.contains(QStringLiteral("(version 2 of 2)")));
}

QJsonObject tst_ConversationExporter::normalised(const QByteArray &json)
{
    QJsonObject root = QJsonDocument::fromJson(json).object();
    QHash<qint64, int> index;
    QJsonArray messages = root.value("messages").toArray();
    for (int i = 0; i < messages.size(); ++i)
        index.insert(messages.at(i).toObject().value("id").toInteger(), i + 1);
    const auto map = [&](const QJsonValue &v) {
        return v.isNull() ? QJsonValue(QJsonValue::Null) : QJsonValue(index.value(v.toInteger()));
    };
    QJsonArray out;
    for (const QJsonValue &v : messages) {
        QJsonObject m = v.toObject();
        m["id"] = map(m.value("id"));
        m["parent_id"] = map(m.value("parent_id"));
        m["active_child_id"] = map(m.value("active_child_id"));
        out.append(m);
    }
    root["messages"] = out;
    root["active_root_id"] = map(root.value("active_root_id"));
    return root;
}

void tst_ConversationExporter::importRoundTrip()
{
    TAKE(json, ConversationExporter::toJson(*m_db, m_conversation));
    TAKE(imported, ConversationExporter::importJson(*m_db, json));
    QVERIFY(imported != m_conversation);
    TAKE(again, ConversationExporter::toJson(*m_db, imported));
    QCOMPARE(normalised(again), normalised(json));
    // The imported tree works like any other.
    MessageStore messages(*m_db);
    TAKE(path, messages.activePath(imported));
    QCOMPARE(path.size(), 3);
    QCOMPARE(path.at(1).content, QStringLiteral("ANSWER-TWO: wear is within limits."));
    QCOMPARE(*path.at(1).tokensPerSecond, 21.5);
    DocumentStore docs(*m_db);
    TAKE(linked, docs.conversationDocuments(imported));
    QCOMPARE(linked.size(), 1);
}

void tst_ConversationExporter::importRejectsBadInput_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::newRow("not json") << QByteArray("{oops");
    QTest::newRow("other format") << QByteArray(R"({"format":"x","version":1})");
    QTest::newRow("future version")
        << QByteArray(R"({"format":"fathom.conversation","version":99,"conversation":{}})");
    QTest::newRow("missing parent") << QByteArray(
        R"({"format":"fathom.conversation","version":1,"conversation":{"title":"bad"},
            "messages":[{"id":1,"parent_id":5,"role":"user","content":"x"}]})");
    QTest::newRow("cycle") << QByteArray(
        R"({"format":"fathom.conversation","version":1,"conversation":{"title":"bad"},
            "messages":[{"id":1,"parent_id":2,"role":"user"},{"id":2,"parent_id":1,"role":"user"}]})");
    QTest::newRow("bad role") << QByteArray(
        R"({"format":"fathom.conversation","version":1,"conversation":{"title":"bad"},
            "messages":[{"id":1,"parent_id":null,"role":"wizard"}]})");
}

void tst_ConversationExporter::importRejectsBadInput()
{
    QFETCH(QByteArray, json);
    ConversationStore conversations(*m_db);
    TAKE(before, conversations.conversations());
    auto r = ConversationExporter::importJson(*m_db, json);
    QVERIFY(!r);
    QVERIFY(r.error().kind == Error::Kind::Format || r.error().kind == Error::Kind::Unsupported);
    TAKE(after, conversations.conversations());
    QCOMPARE(after.size(), before.size()); // nothing half-imported
}

QTEST_GUILESS_MAIN(tst_ConversationExporter)
#include "tst_conversationexporter.moc"
