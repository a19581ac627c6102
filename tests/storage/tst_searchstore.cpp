// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "app/storage/conversationstore.h"
#include "app/storage/documentstore.h"
#include "app/storage/messagestore.h"
#include "app/storage/searchstore.h"
#include "storagetestutil.h"

#include <QTemporaryDir>

using namespace fathom;
using namespace fathom::storage;

class tst_SearchStore : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void findsPagesWithPageNumbersAndSnippets();
    void findsMessagesWithConversation();
    void editedTextIsReindexed();
    void userInputIsNeverSyntax_data();
    void userInputIsNeverSyntax();
    void diacriticsAndPrefix();
    void filtersAndLimit();
    void deletedDocumentsDisappear();

private:
    QTemporaryDir m_dir;
    std::unique_ptr<Database> m_db;
    DocumentId m_manual;
    ConversationId m_conversation;
    MessageId m_answer;
};

void tst_SearchStore::initTestCase()
{
    auto db = Database::open(m_dir.filePath(QStringLiteral("search.db")));
    QVERIFY(db);
    m_db = std::move(*db);
    DocumentStore docs(*m_db);
    TAKE(manual,
         docs.insertDocument({QStringLiteral("aa11"),
                              QStringLiteral("pump-manual.pdf"),
                              {},
                              {},
                              1,
                              DocumentStatus::Ready}));
    m_manual = manual;
    VERIFY_OK(docs.replacePages(
        manual,
        {{1, QStringLiteral("Introduction to centrifugal pumps and their uses."), 0},
         {2, QStringLiteral("Safety: always close the intake valve before servicing."), 0},
         {3, QStringLiteral("The impeller turns at 2900 rpm. Check the impeller seal yearly."), 0},
         {4, QStringLiteral("Résumé of maintenance intervals."), 0}}));
    TAKE(other,
         docs.insertDocument({QStringLiteral("bb22"),
                              QStringLiteral("contract.pdf"),
                              {},
                              {},
                              1,
                              DocumentStatus::Ready}));
    VERIFY_OK(docs.replacePages(other,
                                {{1, QStringLiteral("The supplier delivers pumps quarterly."), 0}}));

    ConversationStore conversations(*m_db);
    TAKE(c, conversations.create({QStringLiteral("Pump questions"), {}, {}, {}, {}, {}}));
    m_conversation = c;
    MessageStore messages(*m_db);
    NewMessage q;
    q.role = Role::User;
    q.content = QStringLiteral("How fast does the impeller spin?");
    VERIFY_OK(messages.appendToActivePath(c, q));
    NewMessage a;
    a.role = Role::Assistant;
    a.content = QStringLiteral("According to page 3 it turns at 2900 rpm.");
    a.reasoning = QStringLiteral("The user asks about rotational speed.");
    TAKE(answer, messages.appendToActivePath(c, a));
    m_answer = answer;
}

void tst_SearchStore::findsPagesWithPageNumbersAndSnippets()
{
    SearchStore search(*m_db);
    SearchOptions options;
    options.messages = false;
    TAKE(hits, search.search(QStringLiteral("impeller seal"), options));
    QCOMPARE(hits.size(), 1);
    QCOMPARE(hits.at(0).kind, SearchHit::Kind::Page);
    QCOMPARE(hits.at(0).documentId, m_manual);
    QCOMPARE(hits.at(0).documentName, QStringLiteral("pump-manual.pdf"));
    QCOMPARE(hits.at(0).pageNumber, 3);
    QVERIFY2(hits.at(0).snippet.contains(QStringLiteral("«impeller»")),
             qPrintable(hits.at(0).snippet));
    QVERIFY(hits.at(0).snippet.contains(QStringLiteral("«seal»")));

    TAKE(pumps, search.search(QStringLiteral("pumps"), options));
    QCOMPARE(pumps.size(), 2); // both documents
}

void tst_SearchStore::findsMessagesWithConversation()
{
    SearchStore search(*m_db);
    SearchOptions options;
    options.pages = false;
    TAKE(hits, search.search(QStringLiteral("rotational"), options)); // in the reasoning
    QCOMPARE(hits.size(), 1);
    QCOMPARE(hits.at(0).kind, SearchHit::Kind::Message);
    QCOMPARE(hits.at(0).messageId, m_answer);
    QCOMPARE(hits.at(0).conversationId, m_conversation);
    QCOMPARE(hits.at(0).conversationTitle, QStringLiteral("Pump questions"));
    QCOMPARE(hits.at(0).role, Role::Assistant);

    TAKE(both, search.search(QStringLiteral("2900 rpm")));
    QCOMPARE(both.size(), 2); // the page and the answer
}

void tst_SearchStore::editedTextIsReindexed()
{
    MessageStore messages(*m_db);
    SearchStore search(*m_db);
    VERIFY_OK(
        messages.updateText(m_answer, QStringLiteral("It spins at 2900 revolutions."), QString()));
    SearchOptions options;
    options.pages = false;
    TAKE(old, search.search(QStringLiteral("rotational"), options));
    QVERIFY(old.isEmpty());
    TAKE(fresh, search.search(QStringLiteral("revolutions"), options));
    QCOMPARE(fresh.size(), 1);
}

void tst_SearchStore::userInputIsNeverSyntax_data()
{
    QTest::addColumn<QString>("input");
    QTest::newRow("quote") << QStringLiteral("valve\"");
    QTest::newRow("operators") << QStringLiteral("valve OR NOT (intake AND");
    QTest::newRow("column filter") << QStringLiteral("text: valve");
    QTest::newRow("star") << QStringLiteral("*valve*");
    QTest::newRow("punctuation only") << QStringLiteral("-- ^ :");
    QTest::newRow("empty") << QString();
    QTest::newRow("phrase") << QStringLiteral("\"intake valve\"");
}

void tst_SearchStore::userInputIsNeverSyntax()
{
    QFETCH(QString, input);
    SearchStore search(*m_db);
    auto hits = search.search(input);
    QVERIFY2(hits, qPrintable(hits ? QString() : hits.error().message));
}

void tst_SearchStore::diacriticsAndPrefix()
{
    SearchStore search(*m_db);
    TAKE(resume, search.search(QStringLiteral("resume")));
    QCOMPARE(resume.size(), 1);
    QCOMPARE(resume.at(0).pageNumber, 4);
    TAKE(prefix, search.search(QStringLiteral("centrif")));
    QCOMPARE(prefix.size(), 1);
    QCOMPARE(prefix.at(0).pageNumber, 1);
    // A phrase must match in order.
    TAKE(phrase, search.search(QStringLiteral("\"valve intake\"")));
    QVERIFY(phrase.isEmpty());
    QCOMPARE(SearchStore::toFtsQuery(QStringLiteral("a \"b c\" d")),
             QStringLiteral("\"a\" \"b c\" \"d\"*"));
}

void tst_SearchStore::filtersAndLimit()
{
    SearchStore search(*m_db);
    SearchOptions options;
    options.documentId = m_manual;
    TAKE(inManual, search.search(QStringLiteral("pumps"), options));
    QCOMPARE(inManual.size(), 1);
    QCOMPARE(inManual.at(0).pageNumber, 1);
    SearchOptions limited;
    limited.limit = 1;
    TAKE(one, search.search(QStringLiteral("pumps"), limited));
    QCOMPARE(one.size(), 1);
}

void tst_SearchStore::deletedDocumentsDisappear()
{
    DocumentStore docs(*m_db);
    SearchStore search(*m_db);
    TAKE(doc, docs.findByHash(QStringLiteral("bb22")));
    QVERIFY(doc);
    VERIFY_OK(docs.removeDocument(doc->id));
    TAKE(hits, search.search(QStringLiteral("supplier")));
    QVERIFY(hits.isEmpty());
    TAKE(check, m_db->integrityCheck());
    QCOMPARE(check, QStringLiteral("ok"));
}

QTEST_GUILESS_MAIN(tst_SearchStore)
#include "tst_searchstore.moc"
