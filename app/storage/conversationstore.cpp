// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "conversationstore.h"

#include <QJsonDocument>

namespace fathom::storage {

namespace {

const QString kColumns = QStringLiteral(
    "c.id, c.title, c.created_at, c.updated_at, c.pinned, c.archived, c.model_id, "
    "c.system_prompt, c.settings_json, c.folder_id, c.active_root_id, "
    "(SELECT group_concat(t.name, char(31)) FROM conversation_tags ct JOIN tags t ON t.id = "
    "ct.tag_id WHERE ct.conversation_id = c.id)");

Conversation readConversation(const QSqlQuery &q)
{
    Conversation c;
    c.id = ConversationId(q.value(0).toLongLong());
    c.title = q.value(1).toString();
    c.createdAt = fromMsecs(q.value(2).toLongLong());
    c.updatedAt = fromMsecs(q.value(3).toLongLong());
    c.pinned = q.value(4).toBool();
    c.archived = q.value(5).toBool();
    c.modelId = q.value(6).toString();
    c.systemPrompt = q.value(7).toString();
    c.settings = QJsonDocument::fromJson(q.value(8).toString().toUtf8()).object();
    c.folderId = FolderId(q.value(9).toLongLong());
    c.activeRootId = MessageId(q.value(10).toLongLong());
    const QString tags = q.value(11).toString();
    if (!tags.isEmpty()) {
        c.tags = tags.split(QChar(31));
        c.tags.sort(Qt::CaseInsensitive);
    }
    return c;
}

QVariant idOrNull(qint64 id)
{
    return id > 0 ? QVariant(id) : QVariant();
}

} // namespace

Result<ConversationId> ConversationStore::create(const NewConversation &conversation)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral(
                          "INSERT INTO conversations (title, created_at, updated_at, model_id, "
                          "system_prompt, settings_json, folder_id) VALUES (:title, :created, "
                          ":created, :model, :system, :settings, :folder)")));
    q.bindValue(QStringLiteral(":title"), conversation.title);
    q.bindValue(QStringLiteral(":created"), toMsecs(conversation.createdAt));
    q.bindValue(QStringLiteral(":model"), conversation.modelId);
    q.bindValue(QStringLiteral(":system"), conversation.systemPrompt);
    q.bindValue(QStringLiteral(":settings"),
                QString::fromUtf8(
                    QJsonDocument(conversation.settings).toJson(QJsonDocument::Compact)));
    q.bindValue(QStringLiteral(":folder"), idOrNull(conversation.folderId.value));
    FATHOM_TRY(m_db.exec(q, tr("creating conversation '%1'").arg(conversation.title)));
    return ConversationId(q.lastInsertId().toLongLong());
}

Result<Conversation> ConversationStore::conversation(ConversationId id)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral("SELECT ") + kColumns
                                   + QStringLiteral(" FROM conversations c WHERE c.id = :id")));
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("reading conversation %1").arg(id.value)));
    if (!q.next())
        return fail(Error::Kind::InvalidArgument, tr("No conversation with id %1").arg(id.value));
    return readConversation(q);
}

Result<QList<Conversation>> ConversationStore::conversations(const ConversationFilter &filter)
{
    QString sql = QStringLiteral("SELECT ") + kColumns
                  + QStringLiteral(" FROM conversations c WHERE 1");
    if (filter.onlyArchived)
        sql += QStringLiteral(" AND c.archived = 1");
    else if (!filter.includeArchived)
        sql += QStringLiteral(" AND c.archived = 0");
    if (filter.folder)
        sql += filter.folder->isValid() ? QStringLiteral(" AND c.folder_id = :folder")
                                        : QStringLiteral(" AND c.folder_id IS NULL");
    if (!filter.tag.isEmpty())
        sql += QStringLiteral(" AND EXISTS (SELECT 1 FROM conversation_tags ct JOIN tags t ON t.id "
                              "= ct.tag_id WHERE ct.conversation_id = c.id AND t.name = :tag)");
    sql += QStringLiteral(" ORDER BY c.pinned DESC, c.updated_at DESC, c.id DESC");
    if (filter.limit >= 0)
        sql += QStringLiteral(" LIMIT :limit");
    FATHOM_TRY_ASSIGN(QSqlQuery q, m_db.prepare(sql));
    if (filter.folder && filter.folder->isValid())
        q.bindValue(QStringLiteral(":folder"), filter.folder->value);
    if (!filter.tag.isEmpty())
        q.bindValue(QStringLiteral(":tag"), filter.tag);
    if (filter.limit >= 0)
        q.bindValue(QStringLiteral(":limit"), filter.limit);
    FATHOM_TRY(m_db.exec(q, tr("listing conversations")));
    QList<Conversation> list;
    while (q.next())
        list << readConversation(q);
    return list;
}

Result<void> ConversationStore::remove(ConversationId id)
{
    FATHOM_STORAGE_BEGIN(tx, m_db);
    // Flatten the tree first: a cascade along messages.parent_id would recurse once per tree
    // level, and SQLite limits that depth (SQLITE_MAX_TRIGGER_DEPTH, 1000).
    FATHOM_TRY_ASSIGN(QSqlQuery flatten,
                      m_db.prepare(
                          QStringLiteral("UPDATE messages SET parent_id = NULL, "
                                         "active_child_id = NULL WHERE conversation_id = :id")));
    flatten.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(flatten, tr("deleting conversation %1").arg(id.value)));
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral("DELETE FROM conversations WHERE id = :id")));
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("deleting conversation %1").arg(id.value)));
    return tx.commit();
}

Result<void> ConversationStore::setColumn(ConversationId id,
                                          const char *column,
                                          const QVariant &value)
{
    // `column` is always one of the literals below, never data.
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral("UPDATE conversations SET %1 = :value, "
                                                  "updated_at = :now WHERE id = :id")
                                       .arg(QLatin1String(column))));
    q.bindValue(QStringLiteral(":value"), value);
    q.bindValue(QStringLiteral(":now"), nowMsecs());
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("updating conversation %1").arg(id.value)));
    if (q.numRowsAffected() != 1)
        return fail(Error::Kind::InvalidArgument, tr("No conversation with id %1").arg(id.value));
    return {};
}

Result<void> ConversationStore::setTitle(ConversationId id, const QString &title)
{
    return setColumn(id, "title", title);
}

Result<void> ConversationStore::setPinned(ConversationId id, bool pinned)
{
    return setColumn(id, "pinned", int(pinned));
}

Result<void> ConversationStore::setArchived(ConversationId id, bool archived)
{
    return setColumn(id, "archived", int(archived));
}

Result<void> ConversationStore::setModelId(ConversationId id, const QString &modelId)
{
    return setColumn(id, "model_id", modelId);
}

Result<void> ConversationStore::setSystemPrompt(ConversationId id, const QString &systemPrompt)
{
    return setColumn(id, "system_prompt", systemPrompt);
}

Result<void> ConversationStore::setSettings(ConversationId id, const QJsonObject &settings)
{
    return setColumn(id,
                     "settings_json",
                     QString::fromUtf8(QJsonDocument(settings).toJson(QJsonDocument::Compact)));
}

Result<void> ConversationStore::setFolder(ConversationId id, FolderId folder)
{
    return setColumn(id, "folder_id", idOrNull(folder.value));
}

Result<void> ConversationStore::touch(ConversationId id, qint64 msecs)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral(
                          "UPDATE conversations SET updated_at = :now WHERE id = :id")));
    q.bindValue(QStringLiteral(":now"), msecs > 0 ? msecs : nowMsecs());
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("updating conversation %1").arg(id.value)));
    return {};
}

Result<void> ConversationStore::addTag(ConversationId id, const QString &tag)
{
    const QString name = tag.trimmed();
    if (name.isEmpty())
        return fail(Error::Kind::InvalidArgument, tr("A tag cannot be empty"));
    FATHOM_STORAGE_BEGIN(tx, m_db);
    FATHOM_TRY_ASSIGN(QSqlQuery ins,
                      m_db.prepare(
                          QStringLiteral("INSERT OR IGNORE INTO tags (name) VALUES (:name)")));
    ins.bindValue(QStringLiteral(":name"), name);
    FATHOM_TRY(m_db.exec(ins, tr("creating tag '%1'").arg(name)));
    FATHOM_TRY_ASSIGN(QSqlQuery link,
                      m_db.prepare(
                          QStringLiteral("INSERT OR IGNORE INTO conversation_tags "
                                         "(conversation_id, tag_id) SELECT :id, id FROM tags "
                                         "WHERE name = :name")));
    link.bindValue(QStringLiteral(":id"), id.value);
    link.bindValue(QStringLiteral(":name"), name);
    FATHOM_TRY(m_db.exec(link, tr("tagging conversation %1 with '%2'").arg(id.value).arg(name)));
    return tx.commit();
}

Result<void> ConversationStore::removeTag(ConversationId id, const QString &tag)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral(
                          "DELETE FROM conversation_tags WHERE conversation_id = :id "
                          "AND tag_id IN (SELECT id FROM tags WHERE name = :name)")));
    q.bindValue(QStringLiteral(":id"), id.value);
    q.bindValue(QStringLiteral(":name"), tag.trimmed());
    FATHOM_TRY(m_db.exec(q, tr("removing tag '%1' from conversation %2").arg(tag).arg(id.value)));
    return {};
}

Result<QStringList> ConversationStore::tags(ConversationId id)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(
                          QStringLiteral("SELECT t.name FROM conversation_tags ct JOIN tags t ON "
                                         "t.id = ct.tag_id WHERE ct.conversation_id = :id ORDER BY "
                                         "t.name COLLATE NOCASE")));
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("reading the tags of conversation %1").arg(id.value)));
    QStringList list;
    while (q.next())
        list << q.value(0).toString();
    return list;
}

Result<QStringList> ConversationStore::allTags()
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(
                          QStringLiteral("SELECT name FROM tags ORDER BY name COLLATE NOCASE")));
    FATHOM_TRY(m_db.exec(q, tr("listing tags")));
    QStringList list;
    while (q.next())
        list << q.value(0).toString();
    return list;
}

Result<FolderId> ConversationStore::createFolder(const QString &name, FolderId parent)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(
                          QStringLiteral("INSERT INTO folders (parent_id, name, created_at) VALUES "
                                         "(:parent, :name, :now)")));
    q.bindValue(QStringLiteral(":parent"), idOrNull(parent.value));
    q.bindValue(QStringLiteral(":name"), name);
    q.bindValue(QStringLiteral(":now"), nowMsecs());
    FATHOM_TRY(m_db.exec(q, tr("creating folder '%1'").arg(name)));
    return FolderId(q.lastInsertId().toLongLong());
}

Result<void> ConversationStore::renameFolder(FolderId id, const QString &name)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(
                          QStringLiteral("UPDATE folders SET name = :name WHERE id = :id")));
    q.bindValue(QStringLiteral(":name"), name);
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("renaming folder %1").arg(id.value)));
    return {};
}

Result<void> ConversationStore::removeFolder(FolderId id)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral("DELETE FROM folders WHERE id = :id")));
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("deleting folder %1").arg(id.value)));
    return {};
}

Result<QList<Folder>> ConversationStore::folders()
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral(
                          "SELECT id, parent_id, name, created_at FROM folders ORDER "
                          "BY name COLLATE NOCASE")));
    FATHOM_TRY(m_db.exec(q, tr("listing folders")));
    QList<Folder> list;
    while (q.next()) {
        Folder f;
        f.id = FolderId(q.value(0).toLongLong());
        f.parentId = FolderId(q.value(1).toLongLong());
        f.name = q.value(2).toString();
        f.createdAt = fromMsecs(q.value(3).toLongLong());
        list << f;
    }
    return list;
}

} // namespace fathom::storage
