// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "conversationlistmodel.h"

#include <QLocale>

#include <algorithm>

namespace fathom::ui {

ConversationListModel::ConversationListModel(QObject *parent)
    : QAbstractListModel(parent)
{}

int ConversationListModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant ConversationListModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const storage::Conversation &c = m_rows.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
    case TitleRole:
        return c.title.isEmpty() ? tr("New conversation") : c.title;
    case IdRole:
        return c.id.value;
    case SectionRole:
        return sectionFor(c, m_today.isValid() ? m_today : QDate::currentDate());
    case PinnedRole:
        return c.pinned;
    case ArchivedRole:
        return c.archived;
    case UpdatedRole:
        return c.updatedAt;
    }
    return {};
}

QHash<int, QByteArray> ConversationListModel::roleNames() const
{
    return {{IdRole, "conversationId"},
            {TitleRole, "title"},
            {SectionRole, "section"},
            {PinnedRole, "pinned"},
            {ArchivedRole, "archived"},
            {UpdatedRole, "updatedAt"}};
}

bool ConversationListModel::lessThan(const storage::Conversation &a, const storage::Conversation &b)
{
    if (a.pinned != b.pinned)
        return a.pinned;
    if (a.updatedAt != b.updatedAt)
        return a.updatedAt > b.updatedAt;
    return a.id.value > b.id.value;
}

void ConversationListModel::reset(QList<storage::Conversation> conversations)
{
    std::stable_sort(conversations.begin(), conversations.end(), lessThan);
    const bool countChanges = conversations.size() != m_rows.size();
    beginResetModel();
    m_rows = std::move(conversations);
    endResetModel();
    if (countChanges)
        emit countChanged();
}

void ConversationListModel::upsert(const storage::Conversation &conversation)
{
    const int old = rowOf(conversation.id.value);
    if (old >= 0) {
        beginRemoveRows({}, old, old);
        m_rows.removeAt(old);
        endRemoveRows();
    }
    const auto it = std::lower_bound(m_rows.begin(), m_rows.end(), conversation, lessThan);
    const int row = int(it - m_rows.begin());
    beginInsertRows({}, row, row);
    m_rows.insert(row, conversation);
    endInsertRows();
    if (old < 0)
        emit countChanged();
}

void ConversationListModel::remove(ConversationId id)
{
    const int row = rowOf(id.value);
    if (row < 0)
        return;
    beginRemoveRows({}, row, row);
    m_rows.removeAt(row);
    endRemoveRows();
    emit countChanged();
}

std::optional<storage::Conversation> ConversationListModel::conversation(ConversationId id) const
{
    const int row = rowOf(id.value);
    if (row < 0)
        return std::nullopt;
    return m_rows.at(row);
}

int ConversationListModel::rowOf(qint64 id) const
{
    for (int i = 0; i < m_rows.size(); ++i) {
        if (m_rows.at(i).id.value == id)
            return i;
    }
    return -1;
}

qint64 ConversationListModel::idAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? m_rows.at(row).id.value : 0;
}

void ConversationListModel::setToday(QDate today)
{
    m_today = today;
    if (!m_rows.isEmpty())
        emit dataChanged(index(0), index(int(m_rows.size()) - 1), {SectionRole});
}

QString ConversationListModel::sectionFor(const storage::Conversation &c, QDate today)
{
    if (c.pinned)
        return tr("Pinned");
    const QDate day = c.updatedAt.toLocalTime().date();
    const qint64 age = day.daysTo(today);
    if (age <= 0)
        return tr("Today");
    if (age == 1)
        return tr("Yesterday");
    if (age < 7)
        return tr("Previous 7 days");
    if (age < 30)
        return tr("Previous 30 days");
    return QLocale().toString(day, QStringLiteral("MMMM yyyy"));
}

} // namespace fathom::ui
