// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "messagestore.h"

namespace fathom::storage {

namespace {

const QString kColumns = QStringLiteral(
    "m.id, m.conversation_id, m.parent_id, m.active_child_id, m.role, m.content, m.reasoning, "
    "m.model_id, m.prompt_tokens, m.completion_tokens, m.reasoning_tokens, m.ttft_ms, "
    "m.tokens_per_second, m.finish_reason, m.state, m.error_kind, m.error_text, m.created_at, "
    "m.updated_at");

Message readMessage(const QSqlQuery &q)
{
    Message m;
    m.id = MessageId(q.value(0).toLongLong());
    m.conversationId = ConversationId(q.value(1).toLongLong());
    m.parentId = MessageId(q.value(2).toLongLong());
    m.activeChildId = MessageId(q.value(3).toLongLong());
    m.role = static_cast<Role>(q.value(4).toInt());
    m.content = q.value(5).toString();
    m.reasoning = q.value(6).toString();
    m.modelId = q.value(7).toString();
    m.promptTokens = q.value(8).toLongLong();
    m.completionTokens = q.value(9).toLongLong();
    m.reasoningTokens = q.value(10).toLongLong();
    if (!q.value(11).isNull())
        m.ttftMs = q.value(11).toDouble();
    if (!q.value(12).isNull())
        m.tokensPerSecond = q.value(12).toDouble();
    m.finishReason = static_cast<FinishReason>(q.value(13).toInt());
    m.state = static_cast<MessageState>(q.value(14).toInt());
    if (!q.value(15).isNull())
        m.errorKind = static_cast<Error::Kind>(q.value(15).toInt());
    m.errorText = q.value(16).toString();
    m.createdAt = fromMsecs(q.value(17).toLongLong());
    m.updatedAt = fromMsecs(q.value(18).toLongLong());
    return m;
}

// Runs a prepared SELECT of kColumns with one bound id and reads every row as a Message.
Result<QList<Message>> readMessages(
    Database &db, const QString &sql, const QString &placeholder, qint64 id, const QString &what)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q, db.prepare(sql));
    q.bindValue(placeholder, id);
    FATHOM_TRY(db.exec(q, what));
    QList<Message> list;
    while (q.next())
        list << readMessage(q);
    return list;
}

QVariant idOrNull(qint64 id)
{
    return id > 0 ? QVariant(id) : QVariant();
}

QVariant optionalOrNull(const std::optional<double> &v)
{
    return v ? QVariant(*v) : QVariant();
}

} // namespace

Result<MessageId> MessageStore::append(ConversationId conversation,
                                       MessageId parent,
                                       const NewMessage &message)
{
    FATHOM_STORAGE_BEGIN(tx, m_db);
    if (parent.isValid()) {
        FATHOM_TRY_ASSIGN(QSqlQuery check,
                          m_db.prepare(QStringLiteral(
                              "SELECT conversation_id FROM messages WHERE id = :id")));
        check.bindValue(QStringLiteral(":id"), parent.value);
        FATHOM_TRY(m_db.exec(check, tr("reading message %1").arg(parent.value)));
        if (!check.next() || check.value(0).toLongLong() != conversation.value)
            return fail(Error::Kind::InvalidArgument,
                        tr("Message %1 is not in conversation %2")
                            .arg(parent.value)
                            .arg(conversation.value));
    }
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral(
                          "INSERT INTO messages (conversation_id, parent_id, role, content, "
                          "reasoning, model_id, state, created_at, updated_at) VALUES (:c, "
                          ":parent, :role, :content, :reasoning, :model, :state, :created, "
                          ":created)")));
    const qint64 created = toMsecs(message.createdAt);
    q.bindValue(QStringLiteral(":c"), conversation.value);
    q.bindValue(QStringLiteral(":parent"), idOrNull(parent.value));
    q.bindValue(QStringLiteral(":role"), int(message.role));
    q.bindValue(QStringLiteral(":content"), message.content);
    q.bindValue(QStringLiteral(":reasoning"), message.reasoning);
    q.bindValue(QStringLiteral(":model"), message.modelId);
    q.bindValue(QStringLiteral(":state"), int(message.state));
    q.bindValue(QStringLiteral(":created"), created);
    FATHOM_TRY(m_db.exec(q, tr("adding a message to conversation %1").arg(conversation.value)));
    const MessageId id(q.lastInsertId().toLongLong());
    FATHOM_TRY(setActiveChild(conversation, parent, id));
    FATHOM_TRY(tx.commit());
    return id;
}

Result<void> MessageStore::setActiveChild(ConversationId conversation,
                                          MessageId parent,
                                          MessageId child)
{
    // The conversation's updated_at moves with every change of its tree.
    if (parent.isValid()) {
        FATHOM_TRY_ASSIGN(QSqlQuery q,
                          m_db.prepare(QStringLiteral(
                              "UPDATE messages SET active_child_id = :child WHERE id "
                              "= :parent")));
        q.bindValue(QStringLiteral(":child"), child.value);
        q.bindValue(QStringLiteral(":parent"), parent.value);
        FATHOM_TRY(m_db.exec(q, tr("activating message %1").arg(child.value)));
        FATHOM_TRY_ASSIGN(QSqlQuery t,
                          m_db.prepare(QStringLiteral(
                              "UPDATE conversations SET updated_at = :now WHERE id = :c")));
        t.bindValue(QStringLiteral(":now"), nowMsecs());
        t.bindValue(QStringLiteral(":c"), conversation.value);
        FATHOM_TRY(m_db.exec(t, tr("updating conversation %1").arg(conversation.value)));
    } else {
        FATHOM_TRY_ASSIGN(QSqlQuery q,
                          m_db.prepare(
                              QStringLiteral("UPDATE conversations SET active_root_id = :child, "
                                             "updated_at = :now WHERE id = :c")));
        q.bindValue(QStringLiteral(":child"), child.value);
        q.bindValue(QStringLiteral(":now"), nowMsecs());
        q.bindValue(QStringLiteral(":c"), conversation.value);
        FATHOM_TRY(m_db.exec(q, tr("activating message %1").arg(child.value)));
        if (q.numRowsAffected() != 1)
            return fail(Error::Kind::InvalidArgument,
                        tr("No conversation with id %1").arg(conversation.value));
    }
    return {};
}

Result<MessageId> MessageStore::appendToActivePath(ConversationId conversation,
                                                   const NewMessage &message)
{
    FATHOM_STORAGE_BEGIN(tx, m_db);
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral(
                          "WITH RECURSIVE path(id, next) AS ("
                          " SELECT m.id, m.active_child_id FROM conversations c JOIN "
                          " messages m ON m.id = c.active_root_id WHERE c.id = :c"
                          " UNION ALL"
                          " SELECT m.id, m.active_child_id FROM path p JOIN messages m"
                          " ON m.id = p.next)"
                          " SELECT id FROM path WHERE next IS NULL LIMIT 1")));
    q.bindValue(QStringLiteral(":c"), conversation.value);
    FATHOM_TRY(m_db.exec(q, tr("finding the end of conversation %1").arg(conversation.value)));
    const MessageId leaf(q.next() ? q.value(0).toLongLong() : 0);
    q.finish();
    FATHOM_TRY_ASSIGN(MessageId id, append(conversation, leaf, message));
    FATHOM_TRY(tx.commit());
    return id;
}

Result<MessageId> MessageStore::addSibling(MessageId message, const NewMessage &sibling)
{
    FATHOM_STORAGE_BEGIN(tx, m_db);
    FATHOM_TRY_ASSIGN(const Message original, this->message(message));
    FATHOM_TRY_ASSIGN(MessageId id, append(original.conversationId, original.parentId, sibling));
    FATHOM_TRY(tx.commit());
    return id;
}

Result<MessageId> MessageStore::editMessage(MessageId message, const QString &newContent)
{
    FATHOM_TRY_ASSIGN(const Message original, this->message(message));
    NewMessage edited;
    edited.role = original.role;
    edited.content = newContent;
    edited.modelId = original.modelId;
    return addSibling(message, edited);
}

Result<MessageId> MessageStore::regenerate(MessageId answer, const QString &modelId)
{
    NewMessage fresh;
    fresh.role = Role::Assistant;
    fresh.modelId = modelId;
    fresh.state = MessageState::Streaming;
    return addSibling(answer, fresh);
}

Result<void> MessageStore::selectBranch(MessageId message)
{
    FATHOM_STORAGE_BEGIN(tx, m_db);
    FATHOM_TRY_ASSIGN(Message current, this->message(message));
    const ConversationId conversation = current.conversationId;
    while (current.parentId.isValid()) {
        FATHOM_TRY(setActiveChild(conversation, current.parentId, current.id));
        FATHOM_TRY_ASSIGN(current, this->message(current.parentId));
    }
    FATHOM_TRY(setActiveChild(conversation, MessageId(), current.id));
    return tx.commit();
}

Result<Message> MessageStore::message(MessageId id)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral("SELECT ") + kColumns
                                   + QStringLiteral(" FROM messages m WHERE m.id = :id")));
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("reading message %1").arg(id.value)));
    if (!q.next())
        return fail(Error::Kind::InvalidArgument, tr("No message with id %1").arg(id.value));
    return readMessage(q);
}

Result<QList<Message>> MessageStore::activePath(ConversationId conversation)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(
                          QStringLiteral("WITH RECURSIVE path(id, depth) AS ("
                                         " SELECT active_root_id, 0 FROM conversations "
                                         " WHERE id = :c AND active_root_id IS NOT NULL"
                                         " UNION ALL"
                                         " SELECT m.active_child_id, p.depth + 1 FROM path p"
                                         " JOIN messages m ON m.id = p.id"
                                         " WHERE m.active_child_id IS NOT NULL)"
                                         " SELECT ")
                          + kColumns
                          + QStringLiteral(" FROM path p JOIN messages m ON m.id = p.id "
                                           "ORDER BY p.depth")));
    q.bindValue(QStringLiteral(":c"), conversation.value);
    FATHOM_TRY(m_db.exec(q, tr("reading conversation %1").arg(conversation.value)));
    QList<Message> list;
    while (q.next())
        list << readMessage(q);
    return list;
}

Result<QList<Message>> MessageStore::children(MessageId parent)
{
    return readMessages(m_db,
                        QStringLiteral("SELECT ") + kColumns
                            + QStringLiteral(
                                " FROM messages m WHERE m.parent_id = :p ORDER BY m.id"),
                        QStringLiteral(":p"),
                        parent.value,
                        tr("reading the replies to message %1").arg(parent.value));
}

Result<QList<Message>> MessageStore::siblings(MessageId message)
{
    FATHOM_TRY_ASSIGN(const Message m, this->message(message));
    if (m.parentId.isValid())
        return children(m.parentId);
    return roots(m.conversationId);
}

Result<QList<Message>> MessageStore::roots(ConversationId conversation)
{
    return readMessages(m_db,
                        QStringLiteral("SELECT ") + kColumns
                            + QStringLiteral(" FROM messages m WHERE m.conversation_id = :c AND "
                                             "m.parent_id IS NULL ORDER BY m.id"),
                        QStringLiteral(":c"),
                        conversation.value,
                        tr("reading conversation %1").arg(conversation.value));
}

Result<QList<Message>> MessageStore::allMessages(ConversationId conversation)
{
    return readMessages(m_db,
                        QStringLiteral("SELECT ") + kColumns
                            + QStringLiteral(
                                " FROM messages m WHERE m.conversation_id = :c ORDER BY m.id"),
                        QStringLiteral(":c"),
                        conversation.value,
                        tr("reading conversation %1").arg(conversation.value));
}

Result<qint64> MessageStore::count(ConversationId conversation)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(conversation.isValid()
                                       ? QStringLiteral("SELECT count(*) FROM messages WHERE "
                                                        "conversation_id = :c")
                                       : QStringLiteral("SELECT count(*) FROM messages")));
    if (conversation.isValid())
        q.bindValue(QStringLiteral(":c"), conversation.value);
    FATHOM_TRY(m_db.exec(q, tr("counting messages")));
    return q.next() ? q.value(0).toLongLong() : 0;
}

Result<void> MessageStore::updateText(MessageId id, const QString &content, const QString &reasoning)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(
                          QStringLiteral("UPDATE messages SET content = :content, reasoning = "
                                         ":reasoning, updated_at = :now WHERE id = :id")));
    q.bindValue(QStringLiteral(":content"), content);
    q.bindValue(QStringLiteral(":reasoning"), reasoning);
    q.bindValue(QStringLiteral(":now"), nowMsecs());
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("saving message %1").arg(id.value)));
    if (q.numRowsAffected() != 1)
        return fail(Error::Kind::InvalidArgument, tr("No message with id %1").arg(id.value));
    return {};
}

Result<void> MessageStore::finish(MessageId id, const MessageStats &stats)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral(
                          "UPDATE messages SET finish_reason = :reason, prompt_tokens = :prompt, "
                          "completion_tokens = :completion, reasoning_tokens = :reasoningTokens, "
                          "ttft_ms = :ttft, tokens_per_second = :tps, state = :state, error_kind "
                          "= :kind, error_text = :text, model_id = COALESCE(NULLIF(:model, ''), "
                          "model_id), updated_at = :now WHERE id = :id")));
    q.bindValue(QStringLiteral(":reason"),
                int(stats.error ? FinishReason::Error : stats.finishReason));
    q.bindValue(QStringLiteral(":prompt"), stats.promptTokens);
    q.bindValue(QStringLiteral(":completion"), stats.completionTokens);
    q.bindValue(QStringLiteral(":reasoningTokens"), stats.reasoningTokens);
    q.bindValue(QStringLiteral(":ttft"), optionalOrNull(stats.ttftMs));
    q.bindValue(QStringLiteral(":tps"), optionalOrNull(stats.tokensPerSecond));
    q.bindValue(QStringLiteral(":state"),
                int(stats.error ? MessageState::Failed : MessageState::Complete));
    q.bindValue(QStringLiteral(":kind"),
                stats.error ? QVariant(int(stats.error->kind)) : QVariant());
    q.bindValue(QStringLiteral(":text"), stats.error ? stats.error->message : QString());
    // The model that actually produced the answer (a remote server's reported id) replaces the
    // one asked for at beginAnswer(); an empty id keeps that one.
    q.bindValue(QStringLiteral(":model"), stats.modelId);
    q.bindValue(QStringLiteral(":now"), nowMsecs());
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("finishing message %1").arg(id.value)));
    if (q.numRowsAffected() != 1)
        return fail(Error::Kind::InvalidArgument, tr("No message with id %1").arg(id.value));
    return {};
}

Result<int> MessageStore::markInterrupted()
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(
                          QStringLiteral("UPDATE messages SET state = :interrupted WHERE state = "
                                         ":streaming")));
    q.bindValue(QStringLiteral(":interrupted"), int(MessageState::Interrupted));
    q.bindValue(QStringLiteral(":streaming"), int(MessageState::Streaming));
    FATHOM_TRY(m_db.exec(q, tr("marking interrupted answers")));
    return q.numRowsAffected();
}

Result<void> MessageStore::removeSubtree(MessageId id)
{
    FATHOM_STORAGE_BEGIN(tx, m_db);
    FATHOM_TRY_ASSIGN(const Message root, message(id));
    FATHOM_TRY_ASSIGN(QSqlQuery collect,
                      m_db.prepare(QStringLiteral(
                          "WITH RECURSIVE sub(id) AS (SELECT :id UNION ALL SELECT m.id FROM "
                          "messages m JOIN sub s ON m.parent_id = s.id) SELECT id FROM sub")));
    collect.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(collect, tr("deleting message %1").arg(id.value)));
    QList<qint64> ids;
    while (collect.next())
        ids << collect.value(0).toLongLong();
    collect.finish();
    // Delete leaves first: a cascade along parent_id would recurse once per tree level, and
    // SQLite limits that depth (SQLITE_MAX_TRIGGER_DEPTH), so long threads would fail.
    std::sort(ids.begin(), ids.end(), std::greater<>());
    FATHOM_TRY_ASSIGN(QSqlQuery del,
                      m_db.prepare(QStringLiteral("DELETE FROM messages WHERE id = :id")));
    for (qint64 messageId : std::as_const(ids)) {
        del.bindValue(QStringLiteral(":id"), messageId);
        FATHOM_TRY(m_db.exec(del, tr("deleting message %1").arg(messageId)));
    }
    // The deleted branch was perhaps the active one: fall back to the newest remaining sibling.
    FATHOM_TRY_ASSIGN(const QList<Message> remaining,
                      root.parentId.isValid() ? children(root.parentId)
                                              : roots(root.conversationId));
    if (!remaining.isEmpty()) {
        FATHOM_TRY_ASSIGN(QSqlQuery active,
                          m_db.prepare(root.parentId.isValid()
                                           ? QStringLiteral("SELECT active_child_id FROM messages "
                                                            "WHERE id = :id")
                                           : QStringLiteral("SELECT active_root_id FROM "
                                                            "conversations WHERE id = :id")));
        active.bindValue(QStringLiteral(":id"),
                         root.parentId.isValid() ? root.parentId.value : root.conversationId.value);
        FATHOM_TRY(m_db.exec(active, tr("deleting message %1").arg(id.value)));
        const bool hasActive = active.next() && !active.value(0).isNull();
        active.finish();
        if (!hasActive)
            FATHOM_TRY(setActiveChild(root.conversationId, root.parentId, remaining.last().id));
    }
    return tx.commit();
}

} // namespace fathom::storage
