// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

// The UI's item models under QAbstractItemModelTester (which fails the test on any broken model
// contract), plus their own behaviour: ordering, date groups, streaming updates, ids.

#include "ui/models/backendlistmodel.h"
#include "ui/models/conversationlistmodel.h"
#include "ui/models/documentlistmodel.h"
#include "ui/models/messagelistmodel.h"
#include "ui/render/markdownblockmodel.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

using namespace fathom;
using namespace fathom::ui;

namespace {

storage::Conversation conv(qint64 id, const QString &title, QDateTime updated, bool pinned = false)
{
    storage::Conversation c;
    c.id = ConversationId(id);
    c.title = title;
    c.createdAt = updated;
    c.updatedAt = updated;
    c.pinned = pinned;
    return c;
}

ChatMessage msg(qint64 id, storage::Role role, const QString &content)
{
    ChatMessage m;
    m.message.id = MessageId(id);
    m.message.role = role;
    m.message.content = content;
    m.siblings = {MessageId(id)};
    return m;
}

} // namespace

class tst_ItemModels : public QObject
{
    Q_OBJECT

private slots:
    void conversationOrderAndSections();
    void conversationUpsertRemove();
    void messageStreaming();
    void messageBranchesAndTruncate();
    void documentsTemporaryIds();
    void backends();
    void markdownBlocksStreaming();
};

void tst_ItemModels::conversationOrderAndSections()
{
    ConversationListModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const QDate today(2026, 3, 10);
    model.setToday(today);
    const QTime noon(12, 0);
    model.reset({conv(1, "old", QDateTime(today.addDays(-40), noon)),
                 conv(2, "today", QDateTime(today, noon)),
                 conv(3, "yesterday", QDateTime(today.addDays(-1), noon)),
                 conv(4, "pinned old", QDateTime(today.addDays(-100), noon), true),
                 conv(5, "week", QDateTime(today.addDays(-3), noon)),
                 conv(6, "month", QDateTime(today.addDays(-20), noon))});
    QCOMPARE(model.rowCount(), 6);
    // Pinned first, then newest first.
    const QList<qint64> expectedOrder = {4, 2, 3, 5, 6, 1};
    for (int row = 0; row < expectedOrder.size(); ++row)
        QCOMPARE(model.idAt(row), expectedOrder.at(row));
    auto section = [&](int row) {
        return model.data(model.index(row), ConversationListModel::SectionRole).toString();
    };
    QCOMPARE(section(0), QStringLiteral("Pinned"));
    QCOMPARE(section(1), QStringLiteral("Today"));
    QCOMPARE(section(2), QStringLiteral("Yesterday"));
    QCOMPARE(section(3), QStringLiteral("Previous 7 days"));
    QCOMPARE(section(4), QStringLiteral("Previous 30 days"));
    // Older ones are grouped by month.
    QCOMPARE(section(5), QLocale().toString(today.addDays(-40), QStringLiteral("MMMM yyyy")));
    // An untitled conversation is shown with a placeholder title.
    model.upsert(conv(7, QString(), QDateTime(today, noon.addSecs(60))));
    QCOMPARE(model.data(model.index(model.rowOf(7)), ConversationListModel::TitleRole).toString(),
             QStringLiteral("New conversation"));
}

void tst_ItemModels::conversationUpsertRemove()
{
    ConversationListModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy countSpy(&model, &ConversationListModel::countChanged);
    const QDateTime t0(QDate(2026, 1, 1), QTime(8, 0));
    model.upsert(conv(1, "a", t0));
    model.upsert(conv(2, "b", t0.addSecs(10)));
    model.upsert(conv(3, "c", t0.addSecs(20)));
    QCOMPARE(countSpy.count(), 3);
    QCOMPARE(model.idAt(0), 3);
    // Touching moves a conversation to the top without changing the count.
    model.upsert(conv(1, "a", t0.addSecs(30)));
    QCOMPARE(countSpy.count(), 3);
    QCOMPARE(model.idAt(0), 1);
    QCOMPARE(model.rowCount(), 3);
    model.remove(ConversationId(2));
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.rowOf(2), -1);
    model.remove(ConversationId(42)); // unknown: nothing happens
    QCOMPARE(model.rowCount(), 2);
}

void tst_ItemModels::messageStreaming()
{
    MessageListModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.reset({msg(1, storage::Role::User, "Hello")});
    ChatMessage answer = msg(2, storage::Role::Assistant, QString());
    answer.message.state = storage::MessageState::Streaming;
    model.append(answer);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.appendText(MessageId(2), "think ", QString());
    model.appendText(MessageId(2), QString(), "Hi");
    model.appendText(MessageId(2), QString(), " there");
    model.appendText(MessageId(99), QString(), "ignored");
    QCOMPARE(changed.count(), 3);
    // Only the text roles change while streaming, so delegates do not rebuild.
    QCOMPARE(changed.at(0).at(2).value<QList<int>>(), QList<int>{MessageListModel::ReasoningRole});
    QCOMPARE(changed.at(1).at(2).value<QList<int>>(), QList<int>{MessageListModel::ContentRole});
    const QModelIndex index = model.index(1);
    QCOMPARE(index.data(MessageListModel::ContentRole).toString(), QStringLiteral("Hi there"));
    QCOMPARE(index.data(MessageListModel::ReasoningRole).toString(), QStringLiteral("think "));
    QCOMPARE(index.data(MessageListModel::StreamingRole).toBool(), true);
    QCOMPARE(index.data(MessageListModel::RoleRole).toString(), QStringLiteral("assistant"));
    QCOMPARE(index.data(MessageListModel::TtftMsRole).toDouble(), -1.0);
}

void tst_ItemModels::messageBranchesAndTruncate()
{
    MessageListModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    ChatMessage user = msg(5, storage::Role::User, "q");
    user.siblings = {MessageId(1), MessageId(5), MessageId(9)};
    model.reset({user, msg(6, storage::Role::Assistant, "a"), msg(7, storage::Role::User, "q2")});
    QCOMPARE(model.index(0).data(MessageListModel::SiblingIndexRole).toInt(), 1);
    QCOMPARE(model.index(0).data(MessageListModel::SiblingCountRole).toInt(), 3);
    QCOMPARE(model.index(1).data(MessageListModel::SiblingCountRole).toInt(), 1);
    model.truncate(1);
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.rowOf(MessageId(6)), -1);
    model.append(msg(8, storage::Role::Assistant, "b"));
    QCOMPARE(model.rowOf(MessageId(8)), 1);
    model.setThinkingSeconds(MessageId(8), 2.5);
    QCOMPARE(model.index(1).data(MessageListModel::ThinkingSecondsRole).toDouble(), 2.5);
}

void tst_ItemModels::documentsTemporaryIds()
{
    DocumentListModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    storage::Document pending;
    pending.id = DocumentId(-1);
    pending.name = "report.pdf";
    pending.status = storage::DocumentStatus::Ingesting;
    model.upsert(pending, -1.0);
    QCOMPARE(model.index(0).data(DocumentListModel::ProgressRole).toDouble(), -1.0);
    QCOMPARE(model.index(0).data(DocumentListModel::StatusRole).toString(),
             QStringLiteral("ingesting"));
    model.setProgress(-1, 0.5);
    QCOMPARE(model.index(0).data(DocumentListModel::ProgressRole).toDouble(), 0.5);
    storage::Document stored = pending;
    stored.id = DocumentId(12);
    stored.status = storage::DocumentStatus::Ready;
    stored.pageCount = 7;
    stored.tokenCount = 1234;
    model.replaceId(-1, stored);
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.index(0).data(DocumentListModel::IdRole).toLongLong(), 12);
    QCOMPARE(model.index(0).data(DocumentListModel::PageCountRole).toInt(), 7);
    QCOMPARE(model.totalTokens(), 1234);
    // The same file dropped twice ends as one row.
    storage::Document again = pending;
    again.id = DocumentId(-2);
    model.upsert(again, -1.0);
    model.replaceId(-2, stored);
    QCOMPARE(model.rowCount(), 1);
    model.remove(12);
    QCOMPARE(model.rowCount(), 0);
}

void tst_ItemModels::backends()
{
    BackendListModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    BackendEntry cuda;
    cuda.kind = "cuda";
    cuda.name = "GPU";
    cuda.available = false;
    cuda.unavailableReason = "no CUDA";
    model.reset({cuda});
    QCOMPARE(model.index(0).data(BackendListModel::AvailableRole).toBool(), false);
    QCOMPARE(model.index(0).data(BackendListModel::ReasonRole).toString(),
             QStringLiteral("no CUDA"));
}

void tst_ItemModels::markdownBlocksStreaming()
{
    MarkdownBlockModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    // Streams a long answer in small pieces; every intermediate state must keep the model valid,
    // and the final blocks must be those of the whole text.
    const QString answer = QStringLiteral(
        "# Title\n\nFirst paragraph with **bold**.\n\n- item one\n\n- item two\n\n"
        "```python\ndef f(x):\n    return x * 2  # double\n```\n\n| a | b |\n|---|---|\n| 1 | 2 "
        "|\n\nEnd.");
    QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
    for (int i = 1; i <= answer.size(); i += 3)
        model.setText(answer.left(i));
    model.setText(answer);
    const QList<MarkdownBlock> expected = splitMarkdown(answer);
    QCOMPARE(model.rowCount(), expected.size());
    for (int row = 0; row < expected.size(); ++row) {
        const QModelIndex index = model.index(row);
        const bool code = expected.at(row).kind == MarkdownBlock::Kind::Code;
        QCOMPARE(index.data(MarkdownBlockModel::KindRole).toString(), code ? "code" : "text");
        QCOMPARE(index.data(code ? MarkdownBlockModel::CodeRole : MarkdownBlockModel::MarkdownRole)
                     .toString(),
                 expected.at(row).text);
    }
    // Appending text changes blocks in place; a reset happens only when a fence opens.
    QVERIFY2(resets.count() <= 3, qPrintable(QString::number(resets.count())));
    const int code = [&] {
        for (int row = 0; row < model.rowCount(); ++row)
            if (model.index(row).data(MarkdownBlockModel::KindRole) == "code")
                return row;
        return -1;
    }();
    QVERIFY(code >= 0);
    const QString html = model.index(code).data(MarkdownBlockModel::HtmlRole).toString();
    QVERIFY(html.contains(QStringLiteral(">def</span>")));
    QVERIFY(html.contains(QStringLiteral("# double</span>")));
    QVERIFY(html.contains(QStringLiteral("x * <span"))); // text kept, the number coloured
}

QTEST_GUILESS_MAIN(tst_ItemModels)
#include "tst_itemmodels.moc"
