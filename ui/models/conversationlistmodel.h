// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/storage/records.h"

#include <QAbstractListModel>
#include <QDate>
#include <QQmlEngine>

namespace fathom::ui {

/**
  The sidebar's conversations, pinned first, then newest first, each with its date group
  ("Pinned", "Today", "Yesterday", "Previous 7 days", "Previous 30 days", or the month) as the
  `section` role for ListView sections. Rows hidden for undo (a pending delete) are filtered out.

  Thread: GUI only.
*/
class ConversationListModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("owned by ConversationsController")
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)

public:
    enum Roles {
        IdRole = Qt::UserRole + 1,
        TitleRole,
        SectionRole,
        PinnedRole,
        ArchivedRole,
        UpdatedRole,
    };

    explicit ConversationListModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    // Replaces everything (sorted here).
    void reset(QList<storage::Conversation> conversations);
    // Inserts or updates one conversation, keeping the order.
    void upsert(const storage::Conversation &conversation);
    void remove(ConversationId id);
    std::optional<storage::Conversation> conversation(ConversationId id) const;

    Q_INVOKABLE int rowOf(qint64 id) const;
    Q_INVOKABLE qint64 idAt(int row) const;

    // The date the groups are computed against (tests pin it).
    void setToday(QDate today);
    static QString sectionFor(const storage::Conversation &c, QDate today);

signals:
    void countChanged();

private:
    static bool lessThan(const storage::Conversation &a, const storage::Conversation &b);
    QList<storage::Conversation> m_rows;
    QDate m_today;
};

} // namespace fathom::ui
