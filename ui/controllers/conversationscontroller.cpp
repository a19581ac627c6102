// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "conversationscontroller.h"

#include "app/storage/storageservice.h"

namespace fathom::ui {

ConversationsController::ConversationsController(storage::StorageService *storage, QObject *parent)
    : QObject(parent)
    , m_storage(storage)
    , m_model(new ConversationListModel(this))
{
    m_undoTimer.setSingleShot(true);
    m_undoTimer.setInterval(kUndoMs);
    connect(&m_undoTimer, &QTimer::timeout, this, &ConversationsController::commitPendingDelete);
}

ConversationsController::~ConversationsController()
{
    commitPendingDelete();
}

void ConversationsController::setShowArchived(bool show)
{
    if (show == m_showArchived)
        return;
    m_showArchived = show;
    emit showArchivedChanged();
    reload();
}

QString ConversationsController::undoText() const
{
    return m_pendingDelete ? tr("Deleted “%1”")
                                 .arg(m_pendingDelete->title.isEmpty() ? tr("New conversation")
                                                                       : m_pendingDelete->title)
                           : QString();
}

void ConversationsController::reload()
{
    storage::ConversationFilter filter;
    filter.onlyArchived = m_showArchived;
    m_storage->conversations(filter)
        .then(this, [this](const Result<QList<storage::Conversation>> &list) {
            if (!list) {
                emit errorOccurred(
                    tr("The conversations could not be loaded: %1").arg(list.error().message));
                return;
            }
            QList<storage::Conversation> rows = *list;
            if (m_pendingDelete) {
                rows.removeIf(
                    [this](const storage::Conversation &c) { return c.id == m_pendingDelete->id; });
            }
            m_model->reset(rows);
            emit loaded();
        });
}

void ConversationsController::select(qint64 id)
{
    if (id == m_currentId)
        return;
    m_currentId = id;
    emit currentChanged();
}

void ConversationsController::newConversation()
{
    select(0);
}

void ConversationsController::update(qint64 id,
                                     const std::function<void(storage::Conversation &)> &change)
{
    if (auto c = m_model->conversation(ConversationId(id))) {
        change(*c);
        m_model->upsert(*c);
    }
}

void ConversationsController::rename(qint64 id, const QString &title)
{
    const QString t = title.simplified();
    if (t.isEmpty())
        return;
    update(id, [&](storage::Conversation &c) { c.title = t; });
    m_storage->setTitle(ConversationId(id), t).then(this, [this](const Result<void> &r) {
        if (!r)
            emit errorOccurred(
                tr("The conversation could not be renamed: %1").arg(r.error().message));
    });
}

void ConversationsController::remove(qint64 id)
{
    commitPendingDelete();
    const std::optional<storage::Conversation> c = m_model->conversation(ConversationId(id));
    if (!c)
        return;
    m_pendingDelete = c;
    m_model->remove(ConversationId(id));
    if (m_currentId == id)
        select(0);
    m_undoTimer.start();
    emit undoChanged();
}

void ConversationsController::undoRemove()
{
    if (!m_pendingDelete)
        return;
    m_undoTimer.stop();
    const storage::Conversation c = *m_pendingDelete;
    m_pendingDelete.reset();
    m_model->upsert(c);
    select(c.id.value);
    emit undoChanged();
}

void ConversationsController::commitPendingDelete()
{
    if (!m_pendingDelete)
        return;
    m_undoTimer.stop();
    const ConversationId id = m_pendingDelete->id;
    m_pendingDelete.reset();
    emit undoChanged();
    m_storage->removeConversation(id).then(this, [this](const Result<void> &r) {
        if (!r)
            emit errorOccurred(
                tr("The conversation could not be deleted: %1").arg(r.error().message));
    });
}

void ConversationsController::setPinned(qint64 id, bool pinned)
{
    update(id, [&](storage::Conversation &c) { c.pinned = pinned; });
    m_storage
        ->run([id, pinned](storage::StorageWorker &w) {
            return w.conversations().setPinned(ConversationId(id), pinned);
        })
        .then(this, [this](const Result<void> &r) {
            if (!r)
                emit errorOccurred(tr("Could not pin the conversation: %1").arg(r.error().message));
        });
}

void ConversationsController::setArchived(qint64 id, bool archived)
{
    if (archived != m_showArchived) {
        m_model->remove(ConversationId(id));
        if (m_currentId == id)
            select(0);
    }
    m_storage
        ->run([id, archived](storage::StorageWorker &w) {
            return w.conversations().setArchived(ConversationId(id), archived);
        })
        .then(this, [this](const Result<void> &r) {
            if (!r)
                emit errorOccurred(
                    tr("Could not archive the conversation: %1").arg(r.error().message));
        });
}

void ConversationsController::search(const QString &query)
{
    m_searchQuery = query.trimmed();
    const int serial = ++m_searchSerial;
    if (m_searchQuery.isEmpty()) {
        m_searchResults.clear();
        emit searchResultsChanged();
        return;
    }
    // Titles match at once, from the model; contents come from the FTS index.
    QVariantList results;
    for (int row = 0; row < m_model->rowCount(); ++row) {
        const QModelIndex index = m_model->index(row);
        const QString title = index.data(ConversationListModel::TitleRole).toString();
        if (title.contains(m_searchQuery, Qt::CaseInsensitive))
            results.append(QVariantMap{{"kind", "title"},
                                       {"conversationId", index.data(ConversationListModel::IdRole)},
                                       {"title", title},
                                       {"snippet", QString()}});
    }
    m_searchResults = results;
    emit searchResultsChanged();
    storage::SearchOptions options;
    options.limit = 50;
    m_storage->search(m_searchQuery, options)
        .then(this, [this, serial, results](const Result<QList<storage::SearchHit>> &hits) mutable {
            if (serial != m_searchSerial)
                return;
            if (!hits)
                return; // a query FTS cannot parse simply has no content hits
            for (const storage::SearchHit &h : *hits) {
                if (h.kind == storage::SearchHit::Kind::Message) {
                    results.append(QVariantMap{{"kind", "message"},
                                               {"conversationId", h.conversationId.value},
                                               {"messageId", h.messageId.value},
                                               {"title", h.conversationTitle},
                                               {"snippet", h.snippet}});
                } else {
                    results.append(QVariantMap{{"kind", "page"},
                                               {"documentId", h.documentId.value},
                                               {"title", h.documentName},
                                               {"page", h.pageNumber},
                                               {"snippet", h.snippet}});
                }
            }
            m_searchResults = results;
            emit searchResultsChanged();
        });
}

void ConversationsController::onCreated(const storage::Conversation &conversation)
{
    if (!m_showArchived)
        m_model->upsert(conversation);
    m_currentId = conversation.id.value;
    emit currentChanged();
}

void ConversationsController::onTouched(qint64 id)
{
    update(id, [](storage::Conversation &c) { c.updatedAt = QDateTime::currentDateTimeUtc(); });
}

} // namespace fathom::ui
