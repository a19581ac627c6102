// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "storageworker.h"

#include <QFuture>
#include <QObject>
#include <QPromise>
#include <QThread>

#include <memory>
#include <type_traits>

namespace fathom::storage {

/**
  The app's way into the database: one storage thread with one StorageWorker (the single writer),
  and a QFuture for every call (STYLE.md rule 4). Calls run in the order they are made. Use
  `future.then(this, ...)` to continue on the caller's thread; nothing here blocks the caller.

  Thread: the thread that creates it (the GUI thread); it owns the storage thread. Its destructor
  saves buffered answers, then stops and joins the storage thread.
*/
class StorageService final : public QObject
{
    Q_OBJECT

public:
    explicit StorageService(QString databasePath,
                            Database::Options options = {},
                            QObject *parent = nullptr);
    ~StorageService() override;

    QString databasePath() const { return m_path; }

    // Opens the database (migrates; marks answers cut off by a crash Interrupted).
    QFuture<Result<void>> open();

    // Runs `f(StorageWorker &)` on the storage thread; the future holds what f returns. For
    // calls without a named method below. f must not keep references to the worker.
    template<typename F>
    auto run(F f) -> QFuture<std::invoke_result_t<F, StorageWorker &>>
    {
        using R = std::invoke_result_t<F, StorageWorker &>;
        QPromise<R> promise;
        QFuture<R> future = promise.future();
        promise.start();
        QMetaObject::invokeMethod(
            m_worker,
            [worker = m_worker, f = std::move(f), promise = std::move(promise)]() mutable {
                promise.addResult(f(*worker));
                promise.finish();
            },
            Qt::QueuedConnection);
        return future;
    }

    QFuture<Result<QList<Conversation>>> conversations(const ConversationFilter &filter = {});
    QFuture<Result<Conversation>> conversation(ConversationId id);
    QFuture<Result<ConversationId>> createConversation(const NewConversation &conversation);
    QFuture<Result<void>> removeConversation(ConversationId id);
    QFuture<Result<void>> setTitle(ConversationId id, const QString &title);

    QFuture<Result<QList<Message>>> activePath(ConversationId conversation);
    QFuture<Result<MessageId>> appendMessage(ConversationId conversation,
                                             MessageId parent,
                                             const NewMessage &message);
    QFuture<Result<MessageId>> editMessage(MessageId message, const QString &newContent);
    QFuture<Result<MessageId>> regenerate(MessageId answer, const QString &modelId);
    QFuture<Result<void>> selectBranch(MessageId message);

    // Streaming: begin, then append as text arrives (no future: it is buffered and saved at
    // least every StorageWorker::kFlushIntervalMs), then finish.
    QFuture<Result<MessageId>> beginAnswer(ConversationId conversation,
                                           MessageId parent,
                                           const QString &modelId);
    void appendAnswer(MessageId id,
                      const QString &contentDelta,
                      const QString &reasoningDelta = QString());
    QFuture<Result<void>> finishAnswer(MessageId id, const MessageStats &stats);
    QFuture<Result<void>> flush();

    QFuture<Result<QList<SearchHit>>> search(const QString &query,
                                             const SearchOptions &options = {});
    QFuture<Result<QString>> exportMarkdown(ConversationId id);
    QFuture<Result<QByteArray>> exportJson(ConversationId id);
    QFuture<Result<ConversationId>> importJson(const QByteArray &json);
    QFuture<Result<void>> backup(const QString &destinationPath);

signals:
    void conversationsChanged();
    void conversationChanged(fathom::ConversationId id);
    void documentsChanged();
    void answerSaved(fathom::MessageId id, qsizetype contentLength, qsizetype reasoningLength);
    void writeFailed(const fathom::Error &error);

private:
    QString m_path;
    std::unique_ptr<QThread> m_thread;
    StorageWorker *m_worker = nullptr; // lives in m_thread, deleted there
};

} // namespace fathom::storage
