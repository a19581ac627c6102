// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "messagelistmodel.h"

namespace fathom::ui {

MessageListModel::MessageListModel(QObject *parent)
    : QAbstractListModel(parent)
{}

int MessageListModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant MessageListModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const ChatMessage &row = m_rows.at(index.row());
    const storage::Message &m = row.message;
    switch (role) {
    case IdRole:
        return m.id.value;
    case RoleRole:
        return storage::roleName(m.role);
    case Qt::DisplayRole:
    case ContentRole:
        return m.content;
    case ReasoningRole:
        return m.reasoning;
    case StreamingRole:
        return m.state == storage::MessageState::Streaming;
    case FailedRole:
        return m.state == storage::MessageState::Failed;
    case ErrorTextRole:
        return m.errorText;
    case InterruptedRole:
        return m.state == storage::MessageState::Interrupted;
    case SiblingIndexRole:
        return std::max(0, int(row.siblings.indexOf(m.id)));
    case SiblingCountRole:
        return std::max(1, int(row.siblings.size()));
    case CompletionTokensRole:
        return m.completionTokens;
    case PromptTokensRole:
        return m.promptTokens;
    case TtftMsRole:
        return m.ttftMs.value_or(-1.0);
    case TokensPerSecondRole:
        return m.tokensPerSecond.value_or(-1.0);
    case ThinkingSecondsRole:
        return row.thinkingSeconds;
    case FinishReasonRole:
        return storage::finishReasonName(m.finishReason);
    }
    return {};
}

QHash<int, QByteArray> MessageListModel::roleNames() const
{
    return {{IdRole, "messageId"},
            {RoleRole, "role"},
            {ContentRole, "content"},
            {ReasoningRole, "reasoning"},
            {StreamingRole, "streaming"},
            {FailedRole, "failed"},
            {ErrorTextRole, "errorText"},
            {InterruptedRole, "interrupted"},
            {SiblingIndexRole, "siblingIndex"},
            {SiblingCountRole, "siblingCount"},
            {CompletionTokensRole, "completionTokens"},
            {PromptTokensRole, "promptTokens"},
            {TtftMsRole, "ttftMs"},
            {TokensPerSecondRole, "tokensPerSecond"},
            {ThinkingSecondsRole, "thinkingSeconds"},
            {FinishReasonRole, "finishReason"}};
}

void MessageListModel::reindex()
{
    m_rowById.clear();
    for (int i = 0; i < m_rows.size(); ++i)
        m_rowById.insert(m_rows.at(i).message.id, i);
}

void MessageListModel::reset(QList<ChatMessage> messages)
{
    const bool countChanges = messages.size() != m_rows.size();
    beginResetModel();
    m_rows = std::move(messages);
    reindex();
    endResetModel();
    if (countChanges)
        emit countChanged();
}

void MessageListModel::append(const ChatMessage &message)
{
    const int row = int(m_rows.size());
    beginInsertRows({}, row, row);
    m_rows.append(message);
    m_rowById.insert(message.message.id, row);
    endInsertRows();
    emit countChanged();
}

void MessageListModel::truncate(int row)
{
    if (row < 0 || row >= m_rows.size())
        return;
    beginRemoveRows({}, row, int(m_rows.size()) - 1);
    for (int i = row; i < m_rows.size(); ++i)
        m_rowById.remove(m_rows.at(i).message.id);
    m_rows.resize(row);
    endRemoveRows();
    emit countChanged();
}

void MessageListModel::appendText(MessageId id,
                                  const QString &reasoningDelta,
                                  const QString &contentDelta)
{
    const int row = rowOf(id);
    if (row < 0 || (reasoningDelta.isEmpty() && contentDelta.isEmpty()))
        return;
    storage::Message &m = m_rows[row].message;
    QList<int> roles;
    if (!reasoningDelta.isEmpty()) {
        m.reasoning += reasoningDelta;
        roles << ReasoningRole;
    }
    if (!contentDelta.isEmpty()) {
        m.content += contentDelta;
        roles << ContentRole;
    }
    emit dataChanged(index(row), index(row), roles);
}

void MessageListModel::update(const ChatMessage &message)
{
    const int row = rowOf(message.message.id);
    if (row < 0)
        return;
    const double thinking = m_rows[row].thinkingSeconds;
    m_rows[row] = message;
    if (message.thinkingSeconds < 0)
        m_rows[row].thinkingSeconds = thinking;
    emit dataChanged(index(row), index(row));
}

void MessageListModel::setThinkingSeconds(MessageId id, double seconds)
{
    const int row = rowOf(id);
    if (row < 0)
        return;
    m_rows[row].thinkingSeconds = seconds;
    emit dataChanged(index(row), index(row), {ThinkingSecondsRole});
}

int MessageListModel::rowOf(MessageId id) const
{
    return m_rowById.value(id, -1);
}

qint64 MessageListModel::idAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? m_rows.at(row).message.id.value : 0;
}

} // namespace fathom::ui
