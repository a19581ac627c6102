// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "conversationstore.h"
#include "database.h"
#include "documentstore.h"
#include "kvsnapshotstore.h"
#include "messagestore.h"
#include "records.h"
#include "searchstore.h"

#include <QHash>
#include <QObject>

#include <memory>
#include <optional>

class QTimer;

namespace fathom::storage {

/**
  The single writer: owns the app's SQLite connection and runs every storage call in order.

  Thread: storage. Created (without parent) by StorageService, moved to the storage thread, and
  deleted there (QThread::finished -> deleteLater). open() and every other member run on the
  storage thread only; StorageService queues calls to it.

  Streamed answers are buffered here and written at least every kFlushIntervalMs, so a crash
  loses less than a second of an answer; answerSaved() tells how much is on disk.
*/
class StorageWorker final : public QObject
{
    Q_OBJECT

public:
    static constexpr int kFlushIntervalMs = 500;

    StorageWorker(QString databasePath, Database::Options options);
    ~StorageWorker() override;

    Result<void> open(); // opens, migrates, marks answers cut off by a crash as Interrupted
    bool isOpen() const { return m_db != nullptr; }
    Result<void> checkOpen() const;

    Database &database() { return *m_db; }
    ConversationStore &conversations() { return *m_conversations; }
    MessageStore &messages() { return *m_messages; }
    DocumentStore &documents() { return *m_documents; }
    SearchStore &search() { return *m_search; }
    KvSnapshotStore &kvSnapshots() { return *m_kvSnapshots; }

    // A new assistant message in state Streaming under `parent`, active.
    Result<MessageId> beginAnswer(ConversationId conversation,
                                  MessageId parent,
                                  const QString &modelId);
    // Adds text to a streaming answer (buffered; written by the flush timer).
    void appendAnswer(MessageId id, const QString &contentDelta, const QString &reasoningDelta);
    // Writes every buffered answer now, in one transaction.
    Result<void> flushAnswers();
    // Flushes the answer and records its figures; it leaves the Streaming state.
    Result<void> finishAnswer(MessageId id, const MessageStats &stats);

    void close(); // flushes and closes (also done by the destructor)

signals:
    void conversationsChanged();
    void conversationChanged(fathom::ConversationId id);
    void documentsChanged();
    // `contentLength`/`reasoningLength` characters of the answer are committed to disk.
    void answerSaved(fathom::MessageId id, qsizetype contentLength, qsizetype reasoningLength);
    void writeFailed(const fathom::Error &error);

private:
    struct Stream
    {
        ConversationId conversation;
        QString content;
        QString reasoning;
        bool dirty = false;
    };

    QString m_path;
    Database::Options m_options;
    std::unique_ptr<Database> m_db;
    std::unique_ptr<ConversationStore> m_conversations;
    std::unique_ptr<MessageStore> m_messages;
    std::unique_ptr<DocumentStore> m_documents;
    std::unique_ptr<SearchStore> m_search;
    std::unique_ptr<KvSnapshotStore> m_kvSnapshots;
    QHash<MessageId, Stream> m_streams;
    QTimer *m_flushTimer = nullptr; // child; created on first use, in the storage thread
};

} // namespace fathom::storage
