// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "database.h"
#include "records.h"

#include <QCoreApplication>

namespace fathom::storage {

/**
  Documents, their pages and their links to conversations. Synchronous; use it on the thread that
  opened the Database (the storage thread in the app, the command's thread in fathom-cli).
  Borrows the Database, which must outlive it.
*/
class DocumentStore
{
    Q_DECLARE_TR_FUNCTIONS(DocumentStore)

public:
    explicit DocumentStore(Database &db)
        : m_db(db)
    {}

    // The document with this content hash (lower-case hex SHA-256), or nullopt.
    Result<std::optional<Document>> findByHash(const QString &contentHash);
    Result<Document> document(DocumentId id);
    Result<QList<Document>> documents(); // newest first

    // Fails with Kind::InvalidArgument when a document with the same hash exists (use
    // findByHash first; the UNIQUE constraint makes the race harmless).
    Result<DocumentId> insertDocument(const NewDocument &document);
    // Replaces all pages in one transaction and sets page_count / char_count; computes the
    // char offsets from the page order. Pages must have distinct page numbers.
    Result<void> replacePages(DocumentId id, const QList<PageText> &pages);
    // error: its kind and message are stored (and cleared when nullopt).
    Result<void> setStatus(DocumentId id,
                           DocumentStatus status,
                           const std::optional<Error> &error = std::nullopt);
    Result<void> setTokenCount(DocumentId id, std::optional<qint64> tokenCount);
    Result<void> setSourcePath(DocumentId id, const QString &sourcePath);
    Result<void> removeDocument(DocumentId id); // pages, links and search entries go with it

    Result<QList<Page>> pages(DocumentId id);
    Result<Page> page(DocumentId id, int pageNumber);

    // position < 0 appends after the conversation's last document. Linking twice is a no-op.
    Result<void> linkToConversation(ConversationId conversation,
                                    DocumentId document,
                                    int position = -1);
    Result<void> unlinkFromConversation(ConversationId conversation, DocumentId document);
    Result<QList<Document>> conversationDocuments(ConversationId conversation); // in order

private:
    Database &m_db;
};

} // namespace fathom::storage
