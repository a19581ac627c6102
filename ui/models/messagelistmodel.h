// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/storage/records.h"

#include <QAbstractListModel>
#include <QQmlEngine>

namespace fathom::ui {

// One row of the chat view: a message on the conversation's active path and its siblings.
struct ChatMessage
{
    storage::Message message;
    QList<MessageId> siblings;   // including itself, in creation order
    double thinkingSeconds = -1; // measured while streaming; -1: unknown
};

/**
  The active path of the open conversation (root to leaf). Streaming text is appended in place
  with dataChanged() for the text roles only, so the ListView re-lays out a single delegate.

  Thread: GUI only.
*/
class MessageListModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("owned by ChatController")
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)

public:
    enum Roles {
        IdRole = Qt::UserRole + 1,
        RoleRole, // "user", "assistant", "system", "tool"
        ContentRole,
        ReasoningRole,
        StreamingRole,
        FailedRole,
        ErrorTextRole,
        InterruptedRole,
        SiblingIndexRole, // 0-based
        SiblingCountRole,
        CompletionTokensRole,
        PromptTokensRole,
        TtftMsRole,          // -1: unknown
        TokensPerSecondRole, // -1: unknown
        ThinkingSecondsRole, // -1: unknown
        FinishReasonRole,    // "stop", "length", "cancelled", ...
    };

    explicit MessageListModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    void reset(QList<ChatMessage> messages);
    void clear() { reset({}); }
    void append(const ChatMessage &message);
    // Drops rows from `row` to the end (a new branch replaces the tail of the path).
    void truncate(int row);
    void appendText(MessageId id, const QString &reasoningDelta, const QString &contentDelta);
    void update(const ChatMessage &message); // by id
    void setThinkingSeconds(MessageId id, double seconds);

    int rowOf(MessageId id) const;
    const ChatMessage &at(int row) const { return m_rows.at(row); }
    const QList<ChatMessage> &rows() const { return m_rows; }
    Q_INVOKABLE qint64 idAt(int row) const;

signals:
    void countChanged();

private:
    QList<ChatMessage> m_rows;
    QHash<MessageId, int> m_rowById;
    void reindex();
};

} // namespace fathom::ui
