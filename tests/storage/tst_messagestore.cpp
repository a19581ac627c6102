// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "app/storage/conversationstore.h"
#include "app/storage/messagestore.h"
#include "storagetestutil.h"

#include <QTemporaryDir>
#include <QTest>

using namespace fathom;
using namespace fathom::storage;

class tst_MessageStore : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();
    void appendBuildsActivePath();
    void editAndRegenerateBranchWithoutDeleting();
    void selectBranchRemembersChoicesBelow();
    void parentMustBeInConversation();
    void streamingUpdateAndFinish();
    void finishRecordsTheProducingModel();
    void markInterrupted();
    void removeSubtreeKeepsSiblingsActive();
    void deepConversationCanBeDeleted();

private:
    static NewMessage user(const QString &text)
    {
        NewMessage m;
        m.role = Role::User;
        m.content = text;
        return m;
    }
    static NewMessage assistant(const QString &text)
    {
        NewMessage m;
        m.role = Role::Assistant;
        m.content = text;
        return m;
    }
    static QStringList texts(const QList<Message> &list)
    {
        QStringList out;
        for (const Message &m : list)
            out << m.content;
        return out;
    }

    QTemporaryDir m_dir;
    std::unique_ptr<Database> m_db;
    ConversationId m_conversation;
};

void tst_MessageStore::init()
{
    auto db = Database::open(
        m_dir.filePath(QString::fromLatin1(QTest::currentTestFunction()) + ".db"));
    QVERIFY(db);
    m_db = std::move(*db);
    ConversationStore conversations(*m_db);
    TAKE(id, conversations.create({QStringLiteral("t"), {}, {}, {}, {}, {}}));
    m_conversation = id;
}

void tst_MessageStore::cleanup()
{
    m_db.reset();
}

void tst_MessageStore::appendBuildsActivePath()
{
    MessageStore store(*m_db);
    TAKE(u1, store.appendToActivePath(m_conversation, user(QStringLiteral("hello"))));
    TAKE(a1, store.appendToActivePath(m_conversation, assistant(QStringLiteral("hi"))));
    TAKE(u2, store.appendToActivePath(m_conversation, user(QStringLiteral("how are you"))));
    TAKE(path, store.activePath(m_conversation));
    QCOMPARE(texts(path), (QStringList{"hello", "hi", "how are you"}));
    QCOMPARE(path.at(1).parentId, u1);
    QCOMPARE(path.at(2).parentId, a1);
    QCOMPARE(path.at(0).activeChildId, a1);
    QCOMPARE(path.at(2).id, u2);
    QCOMPARE(path.at(1).role, Role::Assistant);
    ConversationStore conversations(*m_db);
    TAKE(c, conversations.conversation(m_conversation));
    QCOMPARE(c.activeRootId, u1);
}

void tst_MessageStore::editAndRegenerateBranchWithoutDeleting()
{
    MessageStore store(*m_db);
    TAKE(u1, store.appendToActivePath(m_conversation, user(QStringLiteral("first question"))));
    TAKE(a1, store.appendToActivePath(m_conversation, assistant(QStringLiteral("first answer"))));
    // Edit the first user message: a sibling root, made active.
    TAKE(u1b, store.editMessage(u1, QStringLiteral("edited question")));
    TAKE(path1, store.activePath(m_conversation));
    QCOMPARE(texts(path1), QStringList{"edited question"});
    TAKE(a1b, store.append(m_conversation, u1b, assistant(QStringLiteral("answer to edit"))));
    // Regenerate the answer: an empty streaming sibling, active.
    TAKE(a1c, store.regenerate(a1b, QStringLiteral("model-x")));
    TAKE(regenerated, store.message(a1c));
    QCOMPARE(regenerated.state, MessageState::Streaming);
    QCOMPARE(regenerated.role, Role::Assistant);
    QCOMPARE(regenerated.parentId, u1b);
    TAKE(path2, store.activePath(m_conversation));
    QCOMPARE(path2.size(), 2);
    QCOMPARE(path2.at(1).id, a1c);

    // Nothing was deleted: all five messages are there, in two root branches.
    TAKE(count, store.count(m_conversation));
    QCOMPARE(count, qint64(5));
    TAKE(roots, store.roots(m_conversation));
    QCOMPARE(roots.size(), 2);
    TAKE(siblings, store.siblings(a1c));
    QCOMPARE(siblings.size(), 2);
    QCOMPARE(siblings.at(0).id, a1b);
    TAKE(old, store.message(a1));
    QCOMPARE(old.content, QStringLiteral("first answer"));
}

void tst_MessageStore::selectBranchRemembersChoicesBelow()
{
    MessageStore store(*m_db);
    TAKE(u1, store.appendToActivePath(m_conversation, user(QStringLiteral("q"))));
    TAKE(a1, store.appendToActivePath(m_conversation, assistant(QStringLiteral("a1"))));
    TAKE(a2, store.addSibling(a1, assistant(QStringLiteral("a2"))));
    TAKE(u2, store.append(m_conversation, a2, user(QStringLiteral("follow-up on a2"))));
    TAKE(u2b, store.addSibling(u2, user(QStringLiteral("other follow-up on a2"))));
    // Switch to a1 ...
    VERIFY_OK(store.selectBranch(a1));
    TAKE(p1, store.activePath(m_conversation));
    QCOMPARE(texts(p1), (QStringList{"q", "a1"}));
    // ... and back to a2: its chosen follow-up (the newer one) is restored.
    VERIFY_OK(store.selectBranch(a2));
    TAKE(p2, store.activePath(m_conversation));
    QCOMPARE(texts(p2), (QStringList{"q", "a2", "other follow-up on a2"}));
    VERIFY_OK(store.selectBranch(u2));
    TAKE(p3, store.activePath(m_conversation));
    QCOMPARE(p3.last().id, u2);
    Q_UNUSED(u1);
    Q_UNUSED(u2b);
}

void tst_MessageStore::parentMustBeInConversation()
{
    MessageStore store(*m_db);
    ConversationStore conversations(*m_db);
    TAKE(other, conversations.create({QStringLiteral("other"), {}, {}, {}, {}, {}}));
    TAKE(m, store.appendToActivePath(other, user(QStringLiteral("x"))));
    auto r = store.append(m_conversation, m, user(QStringLiteral("y")));
    QVERIFY(!r);
    QCOMPARE(r.error().kind, Error::Kind::InvalidArgument);
    TAKE(count, store.count(m_conversation));
    QCOMPARE(count, qint64(0));
}

void tst_MessageStore::streamingUpdateAndFinish()
{
    MessageStore store(*m_db);
    TAKE(u, store.appendToActivePath(m_conversation, user(QStringLiteral("q"))));
    NewMessage a = assistant(QString());
    a.state = MessageState::Streaming;
    TAKE(id, store.append(m_conversation, u, a));
    VERIFY_OK(store.updateText(id, QStringLiteral("partial"), QStringLiteral("thinking")));
    MessageStats stats;
    stats.finishReason = FinishReason::Length;
    stats.promptTokens = 12;
    stats.completionTokens = 34;
    stats.reasoningTokens = 5;
    stats.ttftMs = 250.5;
    stats.tokensPerSecond = 17.25;
    VERIFY_OK(store.finish(id, stats));
    TAKE(m, store.message(id));
    QCOMPARE(m.content, QStringLiteral("partial"));
    QCOMPARE(m.reasoning, QStringLiteral("thinking"));
    QCOMPARE(m.state, MessageState::Complete);
    QCOMPARE(m.finishReason, FinishReason::Length);
    QCOMPARE(m.completionTokens, qint64(34));
    QCOMPARE(m.reasoningTokens, qint64(5));
    QCOMPARE(*m.ttftMs, 250.5);
    QCOMPARE(*m.tokensPerSecond, 17.25);
    QVERIFY(!m.errorKind);

    MessageStats failed;
    failed.error = Error(Error::Kind::OutOfMemory, QStringLiteral("CUDA out of memory"));
    VERIFY_OK(store.finish(id, failed));
    TAKE(f, store.message(id));
    QCOMPARE(f.state, MessageState::Failed);
    QCOMPARE(f.finishReason, FinishReason::Error);
    QCOMPARE(*f.errorKind, Error::Kind::OutOfMemory);
    QCOMPARE(f.errorText, QStringLiteral("CUDA out of memory"));
}

void tst_MessageStore::finishRecordsTheProducingModel()
{
    MessageStore store(*m_db);
    TAKE(u, store.appendToActivePath(m_conversation, user(QStringLiteral("q"))));
    NewMessage a = assistant(QString());
    a.state = MessageState::Streaming;
    a.modelId = QStringLiteral("auto"); // what the user picked
    TAKE(id, store.append(m_conversation, u, a));
    MessageStats stats;
    stats.modelId = QStringLiteral("deepseek-v4-pro"); // what the server says answered
    VERIFY_OK(store.finish(id, stats));
    TAKE(m, store.message(id));
    QCOMPARE(m.modelId, QStringLiteral("deepseek-v4-pro"));

    // A backend that names no model keeps the id recorded when the answer began.
    TAKE(id2, store.append(m_conversation, u, a));
    VERIFY_OK(store.finish(id2, MessageStats{}));
    TAKE(m2, store.message(id2));
    QCOMPARE(m2.modelId, QStringLiteral("auto"));
}

void tst_MessageStore::markInterrupted()
{
    MessageStore store(*m_db);
    NewMessage a = assistant(QStringLiteral("cut off"));
    a.state = MessageState::Streaming;
    TAKE(id, store.appendToActivePath(m_conversation, a));
    TAKE(n, store.markInterrupted());
    QCOMPARE(n, 1);
    TAKE(m, store.message(id));
    QCOMPARE(m.state, MessageState::Interrupted);
    QCOMPARE(m.content, QStringLiteral("cut off"));
}

void tst_MessageStore::removeSubtreeKeepsSiblingsActive()
{
    MessageStore store(*m_db);
    TAKE(u, store.appendToActivePath(m_conversation, user(QStringLiteral("q"))));
    TAKE(a1, store.appendToActivePath(m_conversation, assistant(QStringLiteral("a1"))));
    TAKE(a2, store.addSibling(a1, assistant(QStringLiteral("a2"))));
    TAKE(f, store.append(m_conversation, a2, user(QStringLiteral("f"))));
    VERIFY_OK(store.removeSubtree(a2));
    TAKE(count, store.count(m_conversation));
    QCOMPARE(count, qint64(2));
    QVERIFY(!store.message(f));
    TAKE(path, store.activePath(m_conversation));
    QCOMPARE(texts(path), (QStringList{"q", "a1"}));
    Q_UNUSED(u);
}

void tst_MessageStore::deepConversationCanBeDeleted()
{
    // Deeper than SQLite's trigger recursion limit (1000): cascades must not recurse per level.
    MessageStore store(*m_db);
    {
        Transaction tx(*m_db);
        for (int i = 0; i < 1500; ++i)
            VERIFY_OK(store.appendToActivePath(m_conversation,
                                               i % 2 ? assistant(QStringLiteral("a%1").arg(i))
                                                     : user(QStringLiteral("u%1").arg(i))));
        VERIFY_OK(tx.commit());
    }
    TAKE(path, store.activePath(m_conversation));
    QCOMPARE(path.size(), 1500);
    VERIFY_OK(store.removeSubtree(path.at(700).id));
    TAKE(count, store.count(m_conversation));
    QCOMPARE(count, qint64(700));
    ConversationStore conversations(*m_db);
    VERIFY_OK(conversations.remove(m_conversation));
    TAKE(all, store.count());
    QCOMPARE(all, qint64(0));
}

QTEST_GUILESS_MAIN(tst_MessageStore)
#include "tst_messagestore.moc"
