// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "database.h"
#include "records.h"

#include <QCoreApplication>

namespace fathom::storage {

struct ConversationFilter
{
    bool includeArchived = false;
    bool onlyArchived = false;
    std::optional<FolderId> folder; // set: only this folder (invalid id: no folder)
    QString tag;                    // non-empty: only conversations with this tag
    int limit = -1;
};

/**
  Conversations, folders and tags. Synchronous, on the Database's thread; borrows the Database.
*/
class ConversationStore
{
    Q_DECLARE_TR_FUNCTIONS(ConversationStore)

public:
    explicit ConversationStore(Database &db)
        : m_db(db)
    {}

    Result<ConversationId> create(const NewConversation &conversation);
    Result<Conversation> conversation(ConversationId id);
    // Pinned first, then most recently updated.
    Result<QList<Conversation>> conversations(const ConversationFilter &filter = {});
    Result<void> remove(ConversationId id); // its messages go with it; documents stay

    Result<void> setTitle(ConversationId id, const QString &title);
    Result<void> setPinned(ConversationId id, bool pinned);
    Result<void> setArchived(ConversationId id, bool archived);
    Result<void> setModelId(ConversationId id, const QString &modelId);
    Result<void> setSystemPrompt(ConversationId id, const QString &systemPrompt);
    Result<void> setSettings(ConversationId id, const QJsonObject &settings);
    Result<void> setFolder(ConversationId id, FolderId folder); // invalid: no folder
    Result<void> touch(ConversationId id, qint64 msecs = 0);    // updated_at (0: now)

    Result<void> addTag(ConversationId id, const QString &tag);
    Result<void> removeTag(ConversationId id, const QString &tag);
    Result<QStringList> tags(ConversationId id);
    Result<QStringList> allTags();

    Result<FolderId> createFolder(const QString &name, FolderId parent = {});
    Result<void> renameFolder(FolderId id, const QString &name);
    Result<void> removeFolder(FolderId id); // its conversations move to no folder
    Result<QList<Folder>> folders();

private:
    Result<void> setColumn(ConversationId id, const char *column, const QVariant &value);

    Database &m_db;
};

} // namespace fathom::storage
