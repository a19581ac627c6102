// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "database.h"
#include "records.h"

#include <QCoreApplication>

namespace fathom::storage {

/**
  The message tree of a conversation. Editing a user message or regenerating an answer adds a
  sibling branch (same parent) and makes it active; nothing is ever deleted by branching. Each
  message stores its active child and the conversation its active root, so the active path is
  root -> active child -> ... -> leaf.

  Synchronous, on the Database's thread; borrows the Database.
*/
class MessageStore
{
    Q_DECLARE_TR_FUNCTIONS(MessageStore)

public:
    explicit MessageStore(Database &db)
        : m_db(db)
    {}

    // Adds `message` as the last child of `parent` (invalid: a new root) and makes it the
    // active child; touches the conversation. The parent must belong to the conversation.
    Result<MessageId> append(ConversationId conversation,
                             MessageId parent,
                             const NewMessage &message);
    // Appends at the end of the conversation's active path.
    Result<MessageId> appendToActivePath(ConversationId conversation, const NewMessage &message);
    // Adds a sibling of `message` (same parent) and makes it active: the edit of a user
    // message or the regeneration of an answer. The original branch stays.
    Result<MessageId> addSibling(MessageId message, const NewMessage &sibling);
    // Convenience: addSibling with the same role and the new text.
    Result<MessageId> editMessage(MessageId message, const QString &newContent);
    // Convenience: an empty Streaming assistant sibling of `answer`, ready to be streamed into.
    Result<MessageId> regenerate(MessageId answer, const QString &modelId);

    // Makes the path from the root to `message` active (each ancestor's active child, and the
    // conversation's active root). The choices below `message` are kept.
    Result<void> selectBranch(MessageId message);

    Result<Message> message(MessageId id);
    // From the active root following active children to a leaf.
    Result<QList<Message>> activePath(ConversationId conversation);
    Result<QList<Message>> children(MessageId parent);  // in creation order
    Result<QList<Message>> siblings(MessageId message); // including itself, in order
    Result<QList<Message>> roots(ConversationId conversation);
    Result<QList<Message>> allMessages(ConversationId conversation); // every branch, by id
    Result<qint64> count(ConversationId conversation = {});          // invalid: all conversations

    // Streaming: replaces the text (content and reasoning) of a message; state stays.
    Result<void> updateText(MessageId id, const QString &content, const QString &reasoning);
    // Ends an answer: stats, finish reason, state Complete (or Failed with the error).
    Result<void> finish(MessageId id, const MessageStats &stats);
    // Marks every Streaming message Interrupted (run at start-up: they were cut off by a crash).
    Result<int> markInterrupted();

    // Deletes a message and its whole subtree (an explicit user action, never branching).
    Result<void> removeSubtree(MessageId id);

private:
    Result<void> setActiveChild(ConversationId conversation, MessageId parent, MessageId child);

    Database &m_db;
};

} // namespace fathom::storage
