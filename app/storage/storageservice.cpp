// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "storageservice.h"

#include "conversationexporter.h"

namespace fathom::storage {

StorageService::StorageService(QString databasePath, Database::Options options, QObject *parent)
    : QObject(parent)
    , m_path(std::move(databasePath))
    , m_thread(std::make_unique<QThread>())
{
    m_worker = new StorageWorker(m_path, options); // no parent: it is about to change threads
    m_worker->moveToThread(m_thread.get());
    connect(m_thread.get(), &QThread::finished, m_worker, &QObject::deleteLater);
    connect(m_worker,
            &StorageWorker::conversationsChanged,
            this,
            &StorageService::conversationsChanged);
    connect(m_worker,
            &StorageWorker::conversationChanged,
            this,
            &StorageService::conversationChanged);
    connect(m_worker, &StorageWorker::documentsChanged, this, &StorageService::documentsChanged);
    connect(m_worker, &StorageWorker::answerSaved, this, &StorageService::answerSaved);
    connect(m_worker, &StorageWorker::writeFailed, this, &StorageService::writeFailed);
    m_thread->setObjectName(QStringLiteral("storage"));
    m_thread->start();
}

StorageService::~StorageService()
{
    // The worker closes (and saves buffered answers) when deleteLater runs on `finished`.
    m_thread->quit();
    m_thread->wait();
}

QFuture<Result<void>> StorageService::open()
{
    return run([](StorageWorker &w) { return w.open(); });
}

QFuture<Result<QList<Conversation>>> StorageService::conversations(const ConversationFilter &filter)
{
    return run([filter](StorageWorker &w) -> Result<QList<Conversation>> {
        FATHOM_TRY(w.checkOpen());
        return w.conversations().conversations(filter);
    });
}

QFuture<Result<Conversation>> StorageService::conversation(ConversationId id)
{
    return run([id](StorageWorker &w) -> Result<Conversation> {
        FATHOM_TRY(w.checkOpen());
        return w.conversations().conversation(id);
    });
}

QFuture<Result<ConversationId>> StorageService::createConversation(
    const NewConversation &conversation)
{
    return run([conversation](StorageWorker &w) -> Result<ConversationId> {
        FATHOM_TRY(w.checkOpen());
        Result<ConversationId> id = w.conversations().create(conversation);
        if (id)
            emit w.conversationsChanged();
        return id;
    });
}

QFuture<Result<void>> StorageService::removeConversation(ConversationId id)
{
    return run([id](StorageWorker &w) -> Result<void> {
        FATHOM_TRY(w.checkOpen());
        FATHOM_TRY(w.conversations().remove(id));
        emit w.conversationsChanged();
        return {};
    });
}

QFuture<Result<void>> StorageService::setTitle(ConversationId id, const QString &title)
{
    return run([id, title](StorageWorker &w) -> Result<void> {
        FATHOM_TRY(w.checkOpen());
        FATHOM_TRY(w.conversations().setTitle(id, title));
        emit w.conversationsChanged();
        return {};
    });
}

QFuture<Result<QList<Message>>> StorageService::activePath(ConversationId conversation)
{
    return run([conversation](StorageWorker &w) -> Result<QList<Message>> {
        FATHOM_TRY(w.checkOpen());
        return w.messages().activePath(conversation);
    });
}

QFuture<Result<MessageId>> StorageService::appendMessage(ConversationId conversation,
                                                         MessageId parent,
                                                         const NewMessage &message)
{
    return run([=](StorageWorker &w) -> Result<MessageId> {
        FATHOM_TRY(w.checkOpen());
        FATHOM_TRY_ASSIGN(const MessageId id, w.messages().append(conversation, parent, message));
        emit w.conversationChanged(conversation);
        return id;
    });
}

QFuture<Result<MessageId>> StorageService::editMessage(MessageId message, const QString &newContent)
{
    return run([=](StorageWorker &w) -> Result<MessageId> {
        FATHOM_TRY(w.checkOpen());
        FATHOM_TRY_ASSIGN(const MessageId id, w.messages().editMessage(message, newContent));
        FATHOM_TRY_ASSIGN(const Message m, w.messages().message(id));
        emit w.conversationChanged(m.conversationId);
        return id;
    });
}

QFuture<Result<MessageId>> StorageService::regenerate(MessageId answer, const QString &modelId)
{
    return run([=](StorageWorker &w) -> Result<MessageId> {
        FATHOM_TRY(w.checkOpen());
        FATHOM_TRY_ASSIGN(const MessageId id, w.messages().regenerate(answer, modelId));
        FATHOM_TRY_ASSIGN(const Message m, w.messages().message(id));
        emit w.conversationChanged(m.conversationId);
        return id;
    });
}

QFuture<Result<void>> StorageService::selectBranch(MessageId message)
{
    return run([=](StorageWorker &w) -> Result<void> {
        FATHOM_TRY(w.checkOpen());
        FATHOM_TRY(w.messages().selectBranch(message));
        FATHOM_TRY_ASSIGN(const Message m, w.messages().message(message));
        emit w.conversationChanged(m.conversationId);
        return {};
    });
}

QFuture<Result<MessageId>> StorageService::beginAnswer(ConversationId conversation,
                                                       MessageId parent,
                                                       const QString &modelId)
{
    return run([=](StorageWorker &w) { return w.beginAnswer(conversation, parent, modelId); });
}

void StorageService::appendAnswer(MessageId id,
                                  const QString &contentDelta,
                                  const QString &reasoningDelta)
{
    QMetaObject::invokeMethod(
        m_worker,
        [worker = m_worker, id, contentDelta, reasoningDelta] {
            worker->appendAnswer(id, contentDelta, reasoningDelta);
        },
        Qt::QueuedConnection);
}

QFuture<Result<void>> StorageService::finishAnswer(MessageId id, const MessageStats &stats)
{
    return run([=](StorageWorker &w) { return w.finishAnswer(id, stats); });
}

QFuture<Result<void>> StorageService::flush()
{
    return run([](StorageWorker &w) { return w.flushAnswers(); });
}

QFuture<Result<QList<SearchHit>>> StorageService::search(const QString &query,
                                                         const SearchOptions &options)
{
    return run([=](StorageWorker &w) -> Result<QList<SearchHit>> {
        FATHOM_TRY(w.checkOpen());
        return w.search().search(query, options);
    });
}

QFuture<Result<QString>> StorageService::exportMarkdown(ConversationId id)
{
    return run([=](StorageWorker &w) -> Result<QString> {
        FATHOM_TRY(w.checkOpen());
        FATHOM_TRY(w.flushAnswers());
        return ConversationExporter::toMarkdown(w.database(), id);
    });
}

QFuture<Result<QByteArray>> StorageService::exportJson(ConversationId id)
{
    return run([=](StorageWorker &w) -> Result<QByteArray> {
        FATHOM_TRY(w.checkOpen());
        FATHOM_TRY(w.flushAnswers());
        return ConversationExporter::toJson(w.database(), id);
    });
}

QFuture<Result<ConversationId>> StorageService::importJson(const QByteArray &json)
{
    return run([=](StorageWorker &w) -> Result<ConversationId> {
        FATHOM_TRY(w.checkOpen());
        FATHOM_TRY_ASSIGN(const ConversationId id,
                          ConversationExporter::importJson(w.database(), json));
        emit w.conversationsChanged();
        return id;
    });
}

QFuture<Result<void>> StorageService::backup(const QString &destinationPath)
{
    return run([=](StorageWorker &w) -> Result<void> {
        FATHOM_TRY(w.checkOpen());
        FATHOM_TRY(w.flushAnswers());
        return w.database().backupTo(destinationPath);
    });
}

} // namespace fathom::storage
