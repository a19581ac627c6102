// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/storage/records.h"
#include "ui/models/conversationlistmodel.h"

#include <QObject>
#include <QQmlEngine>
#include <QTimer>
#include <QVariantList>

#include <functional>
#include <optional>

namespace fathom::storage {
class StorageService;
}

namespace fathom::ui {

/**
  The sidebar: the conversation list (grouped by date), new/rename/delete with undo/pin/archive,
  and full-text search across titles, messages and document pages.

  A delete hides the conversation at once and is written only when the undo time runs out (or
  another delete replaces it, or the app exits), so undo needs no copy of the data.

  Thread: GUI.
*/
class ConversationsController : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("owned by AppController")

    Q_PROPERTY(ConversationListModel *model READ model CONSTANT)
    Q_PROPERTY(qint64 currentId READ currentId NOTIFY currentChanged)
    Q_PROPERTY(bool showArchived READ showArchived WRITE setShowArchived NOTIFY showArchivedChanged)
    Q_PROPERTY(QVariantList searchResults READ searchResults NOTIFY searchResultsChanged)
    Q_PROPERTY(QString searchQuery READ searchQuery NOTIFY searchResultsChanged)
    Q_PROPERTY(bool canUndo READ canUndo NOTIFY undoChanged)
    Q_PROPERTY(QString undoText READ undoText NOTIFY undoChanged)

public:
    static constexpr int kUndoMs = 8000;

    ConversationsController(storage::StorageService *storage, QObject *parent = nullptr);
    ~ConversationsController() override;

    ConversationListModel *model() { return m_model; }
    qint64 currentId() const { return m_currentId; }
    bool showArchived() const { return m_showArchived; }
    void setShowArchived(bool show);
    QVariantList searchResults() const { return m_searchResults; }
    QString searchQuery() const { return m_searchQuery; }
    bool canUndo() const { return m_pendingDelete.has_value(); }
    QString undoText() const;

    Q_INVOKABLE void reload();
    Q_INVOKABLE void select(qint64 id);
    Q_INVOKABLE void newConversation();
    Q_INVOKABLE void rename(qint64 id, const QString &title);
    Q_INVOKABLE void remove(qint64 id);
    Q_INVOKABLE void undoRemove();
    Q_INVOKABLE void setPinned(qint64 id, bool pinned);
    Q_INVOKABLE void setArchived(qint64 id, bool archived);
    Q_INVOKABLE void search(const QString &query);
    // Writes a pending delete now (exit).
    void commitPendingDelete();

    // From ChatController: a conversation was created or has new messages.
    void onCreated(const storage::Conversation &conversation);
    void onTouched(qint64 id);

signals:
    void currentChanged();
    void showArchivedChanged();
    void searchResultsChanged();
    void undoChanged();
    void loaded();
    void errorOccurred(const QString &message);

private:
    void update(qint64 id, const std::function<void(storage::Conversation &)> &change);

    storage::StorageService *m_storage;
    ConversationListModel *m_model;
    qint64 m_currentId = 0;
    bool m_showArchived = false;
    QVariantList m_searchResults;
    QString m_searchQuery;
    int m_searchSerial = 0;
    std::optional<storage::Conversation> m_pendingDelete;
    QTimer m_undoTimer;
};

} // namespace fathom::ui
