// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "storageworker.h"

#include "app/core/check.h"

#include <QLoggingCategory>
#include <QTimer>

Q_LOGGING_CATEGORY(lcStorage, "fathom.storage")

namespace fathom::storage {

StorageWorker::StorageWorker(QString databasePath, Database::Options options)
    : m_path(std::move(databasePath))
    , m_options(options)
{}

StorageWorker::~StorageWorker()
{
    close();
}

Result<void> StorageWorker::open()
{
    FATHOM_ASSERT_THREAD(this);
    if (m_db)
        return {};
    FATHOM_TRY_ASSIGN(m_db, Database::open(m_path, m_options));
    m_conversations = std::make_unique<ConversationStore>(*m_db);
    m_messages = std::make_unique<MessageStore>(*m_db);
    m_documents = std::make_unique<DocumentStore>(*m_db);
    m_search = std::make_unique<SearchStore>(*m_db);
    m_kvSnapshots = std::make_unique<KvSnapshotStore>(*m_db);
    if (!m_options.readOnly) {
        FATHOM_TRY_ASSIGN(const int interrupted, m_messages->markInterrupted());
        if (interrupted > 0)
            qCInfo(lcStorage, "%d answer(s) were cut off when Fathom last stopped", interrupted);
    }
    return {};
}

Result<void> StorageWorker::checkOpen() const
{
    if (!m_db)
        return fail(Error::Kind::Unavailable, tr("The database %1 is not open").arg(m_path));
    return {};
}

Result<MessageId> StorageWorker::beginAnswer(ConversationId conversation,
                                             MessageId parent,
                                             const QString &modelId)
{
    FATHOM_ASSERT_THREAD(this);
    FATHOM_TRY(checkOpen());
    NewMessage answer;
    answer.role = Role::Assistant;
    answer.modelId = modelId;
    answer.state = MessageState::Streaming;
    FATHOM_TRY_ASSIGN(const MessageId id, m_messages->append(conversation, parent, answer));
    m_streams.insert(id, Stream{conversation, QString(), QString(), false});
    emit conversationChanged(conversation);
    return id;
}

void StorageWorker::appendAnswer(MessageId id,
                                 const QString &contentDelta,
                                 const QString &reasoningDelta)
{
    FATHOM_ASSERT_THREAD(this);
    if (!m_db)
        return;
    auto it = m_streams.find(id);
    if (it == m_streams.end()) {
        // An answer started elsewhere (regenerate): continue from what is stored.
        Result<Message> stored = m_messages->message(id);
        if (!stored) {
            emit writeFailed(stored.error());
            return;
        }
        it = m_streams
                 .insert(id,
                         Stream{stored->conversationId, stored->content, stored->reasoning, false});
    }
    it->content += contentDelta;
    it->reasoning += reasoningDelta;
    it->dirty = it->dirty || !contentDelta.isEmpty() || !reasoningDelta.isEmpty();
    if (!m_flushTimer) {
        m_flushTimer = new QTimer(this);
        m_flushTimer->setInterval(kFlushIntervalMs);
        connect(m_flushTimer, &QTimer::timeout, this, [this] {
            if (Result<void> r = flushAnswers(); !r)
                emit writeFailed(r.error());
        });
    }
    if (!m_flushTimer->isActive())
        m_flushTimer->start();
}

Result<void> StorageWorker::flushAnswers()
{
    FATHOM_ASSERT_THREAD(this);
    FATHOM_TRY(checkOpen());
    QList<MessageId> written;
    {
        FATHOM_STORAGE_BEGIN(tx, *m_db);
        for (auto it = m_streams.begin(); it != m_streams.end(); ++it) {
            if (!it->dirty)
                continue;
            FATHOM_TRY(m_messages->updateText(it.key(), it->content, it->reasoning));
            written << it.key();
        }
        if (written.isEmpty()) {
            if (m_flushTimer)
                m_flushTimer->stop();
            return {};
        }
        FATHOM_TRY(tx.commit());
    }
    for (const MessageId id : std::as_const(written)) {
        Stream &s = m_streams[id];
        s.dirty = false;
        emit answerSaved(id, s.content.size(), s.reasoning.size());
    }
    return {};
}

Result<void> StorageWorker::finishAnswer(MessageId id, const MessageStats &stats)
{
    FATHOM_ASSERT_THREAD(this);
    FATHOM_TRY(checkOpen());
    FATHOM_STORAGE_BEGIN(tx, *m_db);
    ConversationId conversation;
    if (auto it = m_streams.find(id); it != m_streams.end()) {
        conversation = it->conversation;
        if (it->dirty)
            FATHOM_TRY(m_messages->updateText(id, it->content, it->reasoning));
    } else {
        FATHOM_TRY_ASSIGN(const Message m, m_messages->message(id));
        conversation = m.conversationId;
    }
    FATHOM_TRY(m_messages->finish(id, stats));
    FATHOM_TRY(tx.commit());
    if (auto it = m_streams.find(id); it != m_streams.end()) {
        emit answerSaved(id, it->content.size(), it->reasoning.size());
        m_streams.erase(it);
    }
    emit conversationChanged(conversation);
    return {};
}

void StorageWorker::close()
{
    if (!m_db)
        return;
    if (Result<void> r = flushAnswers(); !r)
        qCWarning(lcStorage,
                  "could not save streamed answers on close: %s",
                  qPrintable(r.error().message));
    m_streams.clear();
    m_kvSnapshots.reset();
    m_search.reset();
    m_documents.reset();
    m_messages.reset();
    m_conversations.reset();
    m_db.reset();
}

} // namespace fathom::storage
