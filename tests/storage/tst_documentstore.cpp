// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "app/storage/conversationstore.h"
#include "app/storage/documentstore.h"
#include "storagetestutil.h"

#include <QCryptographicHash>
#include <QTemporaryDir>

using namespace fathom;
using namespace fathom::storage;

class tst_DocumentStore : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();
    void sameHashStoredOnce();
    void replacePagesComputesOffsets();
    void replacePagesRejectsRepeatedNumbers();
    void statusAndError();
    void conversationLinksKeepOrder();
    void removingDocumentRemovesPagesAndLinks();

private:
    static QString sha256(const QByteArray &bytes)
    {
        return QString::fromLatin1(
            QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex());
    }
    DocumentId insert(const QString &name, const QByteArray &bytes)
    {
        DocumentStore store(*m_db);
        auto id = store.insertDocument({sha256(bytes),
                                        name,
                                        QStringLiteral("/tmp/") + name,
                                        QStringLiteral("application/pdf"),
                                        bytes.size(),
                                        DocumentStatus::Ingesting});
        return id ? *id : DocumentId();
    }

    QTemporaryDir m_dir;
    std::unique_ptr<Database> m_db;
};

void tst_DocumentStore::init()
{
    auto db = Database::open(
        m_dir.filePath(QString::fromLatin1(QTest::currentTestFunction()) + ".db"));
    QVERIFY(db);
    m_db = std::move(*db);
}

void tst_DocumentStore::cleanup()
{
    m_db.reset();
}

void tst_DocumentStore::sameHashStoredOnce()
{
    DocumentStore store(*m_db);
    const DocumentId id = insert(QStringLiteral("a.pdf"), "same bytes");
    QVERIFY(id.isValid());
    TAKE(found, store.findByHash(sha256("same bytes").toUpper())); // hashes compare lower-case
    QVERIFY(found);
    QCOMPARE(found->id, id);
    QCOMPARE(found->name, QStringLiteral("a.pdf"));
    QCOMPARE(found->byteSize, qint64(10));
    QCOMPARE(found->status, DocumentStatus::Ingesting);
    auto again = store.insertDocument(
        {sha256("same bytes"), QStringLiteral("copy of a.pdf"), {}, {}, 10, DocumentStatus::Pending});
    QVERIFY(!again);
    QCOMPARE(again.error().kind, Error::Kind::InvalidArgument);
    TAKE(all, store.documents());
    QCOMPARE(all.size(), 1);
    TAKE(missing, store.findByHash(sha256("other")));
    QVERIFY(!missing);
}

void tst_DocumentStore::replacePagesComputesOffsets()
{
    DocumentStore store(*m_db);
    const DocumentId id = insert(QStringLiteral("b.pdf"), "b");
    // Out of order on purpose: offsets follow page numbers.
    const QList<PageText> pages{{2, QStringLiteral("second page"), PageFlagNone},
                                {1, QStringLiteral("first"), PageFlagNone},
                                {3, QString(), PageFlagNoTextLayer}};
    VERIFY_OK(store.replacePages(id, pages));
    TAKE(stored, store.pages(id));
    QCOMPARE(stored.size(), 3);
    QCOMPARE(stored.at(0).pageNumber, 1);
    QCOMPARE(stored.at(0).charOffset, qint64(0));
    QCOMPARE(stored.at(1).charOffset, qint64(5));
    QCOMPARE(stored.at(1).charCount, qint64(11));
    QCOMPARE(stored.at(2).charOffset, qint64(16));
    QCOMPARE(stored.at(2).flags, int(PageFlagNoTextLayer));
    TAKE(doc, store.document(id));
    QCOMPARE(doc.pageCount, 3);
    QCOMPARE(doc.charCount, qint64(16));
    // Replacing replaces.
    VERIFY_OK(store.replacePages(id, {{1, QStringLiteral("only"), PageFlagOcr}}));
    TAKE(again, store.pages(id));
    QCOMPARE(again.size(), 1);
    TAKE(page, store.page(id, 1));
    QCOMPARE(page.text, QStringLiteral("only"));
    QCOMPARE(page.flags, int(PageFlagOcr));
    QVERIFY(!store.page(id, 2));
}

void tst_DocumentStore::replacePagesRejectsRepeatedNumbers()
{
    DocumentStore store(*m_db);
    const DocumentId id = insert(QStringLiteral("c.pdf"), "c");
    VERIFY_OK(store.replacePages(id, {{1, QStringLiteral("kept"), 0}}));
    QVERIFY(!store.replacePages(id, {{1, QStringLiteral("x"), 0}, {1, QStringLiteral("y"), 0}}));
    QVERIFY(!store.replacePages(id, {{0, QStringLiteral("x"), 0}}));
    QVERIFY(!store.replacePages(DocumentId(999), {{1, QStringLiteral("x"), 0}}));
    TAKE(pages, store.pages(id));
    QCOMPARE(pages.size(), 1);
    QCOMPARE(pages.at(0).text, QStringLiteral("kept"));
}

void tst_DocumentStore::statusAndError()
{
    DocumentStore store(*m_db);
    const DocumentId id = insert(QStringLiteral("d.pdf"), "d");
    VERIFY_OK(store.setStatus(id,
                              DocumentStatus::Failed,
                              Error(Error::Kind::Crashed, QStringLiteral("parser crashed"))));
    TAKE(failed, store.document(id));
    QCOMPARE(failed.status, DocumentStatus::Failed);
    QCOMPARE(*failed.errorKind, Error::Kind::Crashed);
    QCOMPARE(failed.errorText, QStringLiteral("parser crashed"));
    VERIFY_OK(store.setStatus(id, DocumentStatus::Ready));
    VERIFY_OK(store.setTokenCount(id, 4242));
    TAKE(ready, store.document(id));
    QCOMPARE(ready.status, DocumentStatus::Ready);
    QVERIFY(!ready.errorKind);
    QVERIFY(ready.errorText.isEmpty());
    QCOMPARE(*ready.tokenCount, qint64(4242));
    QVERIFY(!store.setStatus(DocumentId(12345), DocumentStatus::Ready));
}

void tst_DocumentStore::conversationLinksKeepOrder()
{
    DocumentStore store(*m_db);
    ConversationStore conversations(*m_db);
    TAKE(c, conversations.create({QStringLiteral("c"), {}, {}, {}, {}, {}}));
    const DocumentId x = insert(QStringLiteral("x.pdf"), "x");
    const DocumentId y = insert(QStringLiteral("y.pdf"), "y");
    const DocumentId z = insert(QStringLiteral("z.pdf"), "z");
    VERIFY_OK(store.linkToConversation(c, y));
    VERIFY_OK(store.linkToConversation(c, x));
    VERIFY_OK(store.linkToConversation(c, y)); // no-op
    VERIFY_OK(store.linkToConversation(c, z));
    TAKE(linked, store.conversationDocuments(c));
    QCOMPARE(linked.size(), 3);
    QCOMPARE(linked.at(0).id, y);
    QCOMPARE(linked.at(1).id, x);
    QCOMPARE(linked.at(2).id, z);
    VERIFY_OK(store.unlinkFromConversation(c, x));
    TAKE(after, store.conversationDocuments(c));
    QCOMPARE(after.size(), 2);
    // A link to a missing conversation is refused by the foreign key.
    QVERIFY(!store.linkToConversation(ConversationId(777), x));
}

void tst_DocumentStore::removingDocumentRemovesPagesAndLinks()
{
    DocumentStore store(*m_db);
    ConversationStore conversations(*m_db);
    TAKE(c, conversations.create({QStringLiteral("c"), {}, {}, {}, {}, {}}));
    const DocumentId id = insert(QStringLiteral("e.pdf"), "e");
    VERIFY_OK(store.replacePages(id, {{1, QStringLiteral("text"), 0}}));
    VERIFY_OK(store.linkToConversation(c, id));
    VERIFY_OK(store.removeDocument(id));
    TAKE(pages, store.pages(id));
    QVERIFY(pages.isEmpty());
    TAKE(linked, store.conversationDocuments(c));
    QVERIFY(linked.isEmpty());
    QVERIFY(conversations.conversation(c)); // the conversation stays
}

QTEST_GUILESS_MAIN(tst_DocumentStore)
#include "tst_documentstore.moc"
