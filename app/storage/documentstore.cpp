// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "documentstore.h"

#include <QSet>
#include <QSqlRecord>

namespace fathom::storage {

namespace {

const QString kDocumentColumns = QStringLiteral(
    "d.id, d.content_hash, d.name, d.source_path, d.mime_type, d.byte_size, d.page_count, "
    "d.char_count, d.token_count, d.status, d.error_kind, d.error_text, d.created_at, "
    "d.updated_at");

Document readDocument(const QSqlQuery &q)
{
    Document d;
    d.id = DocumentId(q.value(0).toLongLong());
    d.contentHash = q.value(1).toString();
    d.name = q.value(2).toString();
    d.sourcePath = q.value(3).toString();
    d.mimeType = q.value(4).toString();
    d.byteSize = q.value(5).toLongLong();
    d.pageCount = q.value(6).toInt();
    d.charCount = q.value(7).toLongLong();
    if (!q.value(8).isNull())
        d.tokenCount = q.value(8).toLongLong();
    d.status = static_cast<DocumentStatus>(q.value(9).toInt());
    if (!q.value(10).isNull())
        d.errorKind = static_cast<Error::Kind>(q.value(10).toInt());
    d.errorText = q.value(11).toString();
    d.createdAt = fromMsecs(q.value(12).toLongLong());
    d.updatedAt = fromMsecs(q.value(13).toLongLong());
    return d;
}

Page readPage(const QSqlQuery &q)
{
    Page p;
    p.documentId = DocumentId(q.value(0).toLongLong());
    p.pageNumber = q.value(1).toInt();
    p.text = q.value(2).toString();
    p.charOffset = q.value(3).toLongLong();
    p.charCount = q.value(4).toLongLong();
    p.flags = q.value(5).toInt();
    return p;
}

} // namespace

Result<std::optional<Document>> DocumentStore::findByHash(const QString &contentHash)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral("SELECT ") + kDocumentColumns
                                   + QStringLiteral(" FROM documents d WHERE "
                                                    "d.content_hash = :hash")));
    q.bindValue(QStringLiteral(":hash"), contentHash.toLower());
    FATHOM_TRY(m_db.exec(q, tr("looking up a document by hash")));
    if (!q.next())
        return std::optional<Document>();
    return std::optional<Document>(readDocument(q));
}

Result<Document> DocumentStore::document(DocumentId id)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral("SELECT ") + kDocumentColumns
                                   + QStringLiteral(" FROM documents d WHERE d.id = :id")));
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("reading document %1").arg(id.value)));
    if (!q.next())
        return fail(Error::Kind::InvalidArgument, tr("No document with id %1").arg(id.value));
    return readDocument(q);
}

Result<QList<Document>> DocumentStore::documents()
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral("SELECT ") + kDocumentColumns
                                   + QStringLiteral(" FROM documents d ORDER BY "
                                                    "d.created_at DESC, d.id DESC")));
    FATHOM_TRY(m_db.exec(q, tr("listing documents")));
    QList<Document> list;
    while (q.next())
        list << readDocument(q);
    return list;
}

Result<DocumentId> DocumentStore::insertDocument(const NewDocument &document)
{
    if (document.contentHash.isEmpty())
        return fail(Error::Kind::InvalidArgument,
                    tr("Document %1 has no content hash").arg(document.name));
    FATHOM_TRY_ASSIGN(std::optional<Document> existing, findByHash(document.contentHash));
    if (existing)
        return fail(Error::Kind::InvalidArgument,
                    tr("Document %1 is already stored as %2 (id %3)")
                        .arg(document.name, existing->name)
                        .arg(existing->id.value));
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral(
                          "INSERT INTO documents (content_hash, name, source_path, mime_type, "
                          "byte_size, status, created_at, updated_at) VALUES (:hash, :name, "
                          ":source, :mime, :size, :status, :now, :now)")));
    const qint64 now = nowMsecs();
    q.bindValue(QStringLiteral(":hash"), document.contentHash.toLower());
    q.bindValue(QStringLiteral(":name"), document.name);
    q.bindValue(QStringLiteral(":source"), document.sourcePath);
    q.bindValue(QStringLiteral(":mime"), document.mimeType);
    q.bindValue(QStringLiteral(":size"), document.byteSize);
    q.bindValue(QStringLiteral(":status"), int(document.status));
    q.bindValue(QStringLiteral(":now"), now);
    FATHOM_TRY(m_db.exec(q, tr("storing document %1").arg(document.name)));
    return DocumentId(q.lastInsertId().toLongLong());
}

Result<void> DocumentStore::replacePages(DocumentId id, const QList<PageText> &pages)
{
    QSet<int> numbers;
    for (const PageText &p : pages) {
        if (p.pageNumber < 1 || numbers.contains(p.pageNumber))
            return fail(Error::Kind::InvalidArgument,
                        tr("Document %1: invalid or repeated page number %2")
                            .arg(id.value)
                            .arg(p.pageNumber));
        numbers.insert(p.pageNumber);
    }
    QList<PageText> ordered = pages;
    std::sort(ordered.begin(), ordered.end(), [](const PageText &a, const PageText &b) {
        return a.pageNumber < b.pageNumber;
    });

    FATHOM_STORAGE_BEGIN(tx, m_db);
    FATHOM_TRY(document(id)); // a clear error for a missing document
    FATHOM_TRY_ASSIGN(QSqlQuery del,
                      m_db.prepare(
                          QStringLiteral("DELETE FROM document_pages WHERE document_id = :id")));
    del.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(del, tr("removing the pages of document %1").arg(id.value)));

    FATHOM_TRY_ASSIGN(QSqlQuery ins,
                      m_db.prepare(QStringLiteral(
                          "INSERT INTO document_pages (document_id, page_number, text, "
                          "char_offset, char_count, flags) VALUES (:doc, :page, :text, :offset, "
                          ":count, :flags)")));
    qint64 offset = 0;
    for (const PageText &p : ordered) {
        ins.bindValue(QStringLiteral(":doc"), id.value);
        ins.bindValue(QStringLiteral(":page"), p.pageNumber);
        ins.bindValue(QStringLiteral(":text"), p.text);
        ins.bindValue(QStringLiteral(":offset"), offset);
        ins.bindValue(QStringLiteral(":count"), qint64(p.text.size()));
        ins.bindValue(QStringLiteral(":flags"), p.flags);
        FATHOM_TRY(
            m_db.exec(ins, tr("storing page %1 of document %2").arg(p.pageNumber).arg(id.value)));
        offset += p.text.size();
    }
    FATHOM_TRY_ASSIGN(QSqlQuery upd,
                      m_db.prepare(QStringLiteral(
                          "UPDATE documents SET page_count = :pages, char_count = :chars, "
                          "updated_at = :now WHERE id = :id")));
    upd.bindValue(QStringLiteral(":pages"), int(ordered.size()));
    upd.bindValue(QStringLiteral(":chars"), offset);
    upd.bindValue(QStringLiteral(":now"), nowMsecs());
    upd.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(upd, tr("updating document %1").arg(id.value)));
    return tx.commit();
}

Result<void> DocumentStore::setStatus(DocumentId id,
                                      DocumentStatus status,
                                      const std::optional<Error> &error)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral(
                          "UPDATE documents SET status = :status, error_kind = :kind, "
                          "error_text = :text, updated_at = :now WHERE id = :id")));
    q.bindValue(QStringLiteral(":status"), int(status));
    q.bindValue(QStringLiteral(":kind"), error ? QVariant(int(error->kind)) : QVariant());
    q.bindValue(QStringLiteral(":text"), error ? error->message : QString());
    q.bindValue(QStringLiteral(":now"), nowMsecs());
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("setting the status of document %1").arg(id.value)));
    if (q.numRowsAffected() != 1)
        return fail(Error::Kind::InvalidArgument, tr("No document with id %1").arg(id.value));
    return {};
}

Result<void> DocumentStore::setTokenCount(DocumentId id, std::optional<qint64> tokenCount)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(
                          QStringLiteral("UPDATE documents SET token_count = :tokens, updated_at = "
                                         ":now WHERE id = :id")));
    q.bindValue(QStringLiteral(":tokens"), tokenCount ? QVariant(*tokenCount) : QVariant());
    q.bindValue(QStringLiteral(":now"), nowMsecs());
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("setting the token count of document %1").arg(id.value)));
    if (q.numRowsAffected() != 1)
        return fail(Error::Kind::InvalidArgument, tr("No document with id %1").arg(id.value));
    return {};
}

Result<void> DocumentStore::setSourcePath(DocumentId id, const QString &sourcePath)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(
                          QStringLiteral("UPDATE documents SET source_path = :path, updated_at = "
                                         ":now WHERE id = :id")));
    q.bindValue(QStringLiteral(":path"), sourcePath);
    q.bindValue(QStringLiteral(":now"), nowMsecs());
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("setting the source path of document %1").arg(id.value)));
    return {};
}

Result<void> DocumentStore::removeDocument(DocumentId id)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral("DELETE FROM documents WHERE id = :id")));
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("removing document %1").arg(id.value)));
    return {};
}

Result<QList<Page>> DocumentStore::pages(DocumentId id)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(
                          QStringLiteral("SELECT document_id, page_number, text, char_offset, "
                                         "char_count, flags FROM document_pages WHERE document_id "
                                         "= :id ORDER BY page_number")));
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("reading the pages of document %1").arg(id.value)));
    QList<Page> list;
    while (q.next())
        list << readPage(q);
    return list;
}

Result<Page> DocumentStore::page(DocumentId id, int pageNumber)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(
                          QStringLiteral("SELECT document_id, page_number, text, char_offset, "
                                         "char_count, flags FROM document_pages WHERE document_id "
                                         "= :id AND page_number = :page")));
    q.bindValue(QStringLiteral(":id"), id.value);
    q.bindValue(QStringLiteral(":page"), pageNumber);
    FATHOM_TRY(m_db.exec(q, tr("reading page %1 of document %2").arg(pageNumber).arg(id.value)));
    if (!q.next())
        return fail(Error::Kind::InvalidArgument,
                    tr("Document %1 has no page %2").arg(id.value).arg(pageNumber));
    return readPage(q);
}

Result<void> DocumentStore::linkToConversation(ConversationId conversation,
                                               DocumentId document,
                                               int position)
{
    FATHOM_STORAGE_BEGIN(tx, m_db);
    int pos = position;
    if (pos < 0) {
        FATHOM_TRY_ASSIGN(QSqlQuery last,
                          m_db.prepare(
                              QStringLiteral("SELECT coalesce(max(position) + 1, 0) FROM "
                                             "conversation_documents WHERE conversation_id = :c")));
        last.bindValue(QStringLiteral(":c"), conversation.value);
        FATHOM_TRY(m_db.exec(last, tr("linking document %1").arg(document.value)));
        pos = last.next() ? last.value(0).toInt() : 0;
    }
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(
                          QStringLiteral("INSERT OR IGNORE INTO conversation_documents "
                                         "(conversation_id, document_id, position, added_at) "
                                         "VALUES (:c, :d, :pos, :now)")));
    q.bindValue(QStringLiteral(":c"), conversation.value);
    q.bindValue(QStringLiteral(":d"), document.value);
    q.bindValue(QStringLiteral(":pos"), pos);
    q.bindValue(QStringLiteral(":now"), nowMsecs());
    FATHOM_TRY(m_db.exec(q,
                         tr("linking document %1 to conversation %2")
                             .arg(document.value)
                             .arg(conversation.value)));
    return tx.commit();
}

Result<void> DocumentStore::unlinkFromConversation(ConversationId conversation, DocumentId document)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(
                          QStringLiteral("DELETE FROM conversation_documents WHERE conversation_id "
                                         "= :c AND document_id = :d")));
    q.bindValue(QStringLiteral(":c"), conversation.value);
    q.bindValue(QStringLiteral(":d"), document.value);
    FATHOM_TRY(m_db.exec(q,
                         tr("unlinking document %1 from conversation %2")
                             .arg(document.value)
                             .arg(conversation.value)));
    return {};
}

Result<QList<Document>> DocumentStore::conversationDocuments(ConversationId conversation)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral("SELECT ") + kDocumentColumns
                                   + QStringLiteral(
                                       " FROM conversation_documents cd JOIN documents d ON d.id "
                                       "= cd.document_id WHERE cd.conversation_id = :c ORDER BY "
                                       "cd.position, cd.added_at")));
    q.bindValue(QStringLiteral(":c"), conversation.value);
    FATHOM_TRY(m_db.exec(q, tr("listing the documents of conversation %1").arg(conversation.value)));
    QList<Document> list;
    while (q.next())
        list << readDocument(q);
    return list;
}

} // namespace fathom::storage
