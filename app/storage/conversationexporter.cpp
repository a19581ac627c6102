// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "conversationexporter.h"

#include "conversationstore.h"
#include "documentstore.h"
#include "messagestore.h"

#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QSet>

namespace fathom::storage {

namespace {

constexpr int kFormatVersion = 1;
const QString kFormatName = QStringLiteral("fathom.conversation");

QString isoTime(const QDateTime &t)
{
    return t.toUTC().toString(Qt::ISODateWithMs);
}

QJsonValue idOrNull(qint64 id)
{
    return id > 0 ? QJsonValue(id) : QJsonValue(QJsonValue::Null);
}

QJsonValue optionalOrNull(const std::optional<double> &v)
{
    return v ? QJsonValue(*v) : QJsonValue(QJsonValue::Null);
}

QString roleHeading(Role role)
{
    switch (role) {
    case Role::System:
        return ConversationExporter::tr("System");
    case Role::User:
        return ConversationExporter::tr("User");
    case Role::Assistant:
        return ConversationExporter::tr("Assistant");
    case Role::Tool:
        return ConversationExporter::tr("Tool");
    }
    return QString();
}

// Markdown for one message; `labels` numbers the messages in the export.
QString messageMarkdown(const Message &m,
                        const QHash<qint64, int> &labels,
                        int siblingIndex,
                        int siblingCount)
{
    QString out
        = QStringLiteral("### %1 · #%2").arg(roleHeading(m.role)).arg(labels.value(m.id.value));
    if (siblingCount > 1)
        out += ConversationExporter::tr(" (version %1 of %2)").arg(siblingIndex).arg(siblingCount);
    out += QStringLiteral("\n\n");
    QStringList facts;
    if (m.role == Role::Assistant) {
        if (!m.modelId.isEmpty())
            facts << ConversationExporter::tr("model %1").arg(m.modelId);
        if (m.completionTokens > 0)
            facts << ConversationExporter::tr("%n token(s)", nullptr, int(m.completionTokens));
        if (m.tokensPerSecond)
            facts << ConversationExporter::tr("%1 tokens/s").arg(*m.tokensPerSecond, 0, 'f', 1);
        if (m.ttftMs)
            facts << ConversationExporter::tr("first token after %1 ms").arg(*m.ttftMs, 0, 'f', 0);
    }
    if (m.state == MessageState::Interrupted)
        facts << ConversationExporter::tr("interrupted");
    if (m.state == MessageState::Streaming)
        facts << ConversationExporter::tr("incomplete");
    if (m.state == MessageState::Failed)
        facts << ConversationExporter::tr("failed: %1").arg(m.errorText);
    if (!facts.isEmpty())
        out += QStringLiteral("*") + facts.join(QStringLiteral(" · ")) + QStringLiteral("*\n\n");
    if (!m.reasoning.isEmpty()) {
        out += QStringLiteral("<details><summary>%1</summary>\n\n")
                   .arg(ConversationExporter::tr("Reasoning"));
        out += m.reasoning.trimmed() + QStringLiteral("\n\n</details>\n\n");
    }
    out += m.content.trimmed() + QStringLiteral("\n\n");
    return out;
}

} // namespace

Result<QString> ConversationExporter::toMarkdown(Database &db, ConversationId id)
{
    ConversationStore conversations(db);
    MessageStore messages(db);
    DocumentStore documents(db);
    FATHOM_TRY_ASSIGN(const Conversation c, conversations.conversation(id));
    FATHOM_TRY_ASSIGN(const QList<Message> all, messages.allMessages(id));
    FATHOM_TRY_ASSIGN(const QList<Document> docs, documents.conversationDocuments(id));

    QHash<qint64, int> labels; // message id -> #n in this export (creation order)
    QHash<qint64, Message> byId;
    QHash<qint64, QList<qint64>> kids; // parent id (0: roots) -> children in order
    for (const Message &m : all) {
        labels.insert(m.id.value, int(labels.size()) + 1);
        byId.insert(m.id.value, m);
        kids[m.parentId.value] << m.id.value;
    }
    const auto activeChildOf = [&](qint64 parent) -> qint64 {
        return parent == 0 ? c.activeRootId.value : byId.value(parent).activeChildId.value;
    };
    // Renders the chain from `head` following active children.
    const auto chain = [&](qint64 head) {
        QString out;
        for (qint64 cur = head; cur != 0 && byId.contains(cur);
             cur = byId.value(cur).activeChildId.value) {
            const Message &m = byId[cur];
            const QList<qint64> &siblings = kids.value(m.parentId.value);
            out += messageMarkdown(m, labels, int(siblings.indexOf(cur)) + 1, int(siblings.size()));
        }
        return out;
    };

    QString out = QStringLiteral("# %1\n\n")
                      .arg(c.title.isEmpty() ? tr("Untitled conversation") : c.title);
    out += QStringLiteral("- %1: %2\n").arg(tr("Created"), isoTime(c.createdAt));
    out += QStringLiteral("- %1: %2\n").arg(tr("Updated"), isoTime(c.updatedAt));
    if (!c.modelId.isEmpty())
        out += QStringLiteral("- %1: %2\n").arg(tr("Model"), c.modelId);
    if (!c.tags.isEmpty())
        out += QStringLiteral("- %1: %2\n").arg(tr("Tags"), c.tags.join(QStringLiteral(", ")));
    for (const Document &d : docs)
        out += QStringLiteral("- %1: %2 (%3)\n")
                   .arg(tr("Document"), d.name, tr("%n page(s)", nullptr, d.pageCount));
    out += QLatin1Char('\n');
    if (!c.systemPrompt.isEmpty())
        out += QStringLiteral("## %1\n\n%2\n\n").arg(tr("System prompt"), c.systemPrompt.trimmed());
    out += QStringLiteral("## %1\n\n").arg(tr("Conversation"));
    out += chain(c.activeRootId.value);

    // Every other branch: a message that is not its parent's active child starts a chain. Each
    // message belongs to exactly one chain, so every branch appears once.
    int branch = 1;
    for (const Message &m : all) {
        if (activeChildOf(m.parentId.value) == m.id.value)
            continue;
        if (branch == 1)
            out += QStringLiteral("---\n\n## %1\n\n").arg(tr("Other branches"));
        ++branch;
        const QString where = m.parentId.isValid()
                                  ? tr("reply to #%1").arg(labels.value(m.parentId.value))
                                  : tr("at the start");
        out += QStringLiteral("### %1\n\n").arg(tr("Branch %1 (%2)").arg(branch).arg(where));
        out += chain(m.id.value);
    }
    return out;
}

Result<QByteArray> ConversationExporter::toJson(Database &db, ConversationId id)
{
    ConversationStore conversations(db);
    MessageStore messages(db);
    DocumentStore documents(db);
    FATHOM_TRY_ASSIGN(const Conversation c, conversations.conversation(id));
    FATHOM_TRY_ASSIGN(const QList<Message> all, messages.allMessages(id));
    FATHOM_TRY_ASSIGN(const QList<Document> docs, documents.conversationDocuments(id));

    QJsonObject conversation{
        {QStringLiteral("title"), c.title},
        {QStringLiteral("created_at"), isoTime(c.createdAt)},
        {QStringLiteral("updated_at"), isoTime(c.updatedAt)},
        {QStringLiteral("pinned"), c.pinned},
        {QStringLiteral("archived"), c.archived},
        {QStringLiteral("model_id"), c.modelId},
        {QStringLiteral("system_prompt"), c.systemPrompt},
        {QStringLiteral("settings"), c.settings},
        {QStringLiteral("tags"), QJsonArray::fromStringList(c.tags)},
    };
    QJsonArray list;
    for (const Message &m : all) { // by id: parents come before children
        list.append(QJsonObject{
            {QStringLiteral("id"), m.id.value},
            {QStringLiteral("parent_id"), idOrNull(m.parentId.value)},
            {QStringLiteral("active_child_id"), idOrNull(m.activeChildId.value)},
            {QStringLiteral("role"), roleName(m.role)},
            {QStringLiteral("content"), m.content},
            {QStringLiteral("reasoning"), m.reasoning},
            {QStringLiteral("model_id"), m.modelId},
            {QStringLiteral("prompt_tokens"), m.promptTokens},
            {QStringLiteral("completion_tokens"), m.completionTokens},
            {QStringLiteral("reasoning_tokens"), m.reasoningTokens},
            {QStringLiteral("ttft_ms"), optionalOrNull(m.ttftMs)},
            {QStringLiteral("tokens_per_second"), optionalOrNull(m.tokensPerSecond)},
            {QStringLiteral("finish_reason"), finishReasonName(m.finishReason)},
            {QStringLiteral("state"), messageStateName(m.state)},
            {QStringLiteral("error_kind"),
             m.errorKind ? QJsonValue(int(*m.errorKind)) : QJsonValue(QJsonValue::Null)},
            {QStringLiteral("error_text"), m.errorText},
            {QStringLiteral("created_at"), isoTime(m.createdAt)},
            {QStringLiteral("updated_at"), isoTime(m.updatedAt)},
        });
    }
    QJsonArray documentList;
    for (const Document &d : docs) {
        documentList.append(QJsonObject{
            {QStringLiteral("name"), d.name},
            {QStringLiteral("content_hash"), d.contentHash},
            {QStringLiteral("mime_type"), d.mimeType},
            {QStringLiteral("page_count"), d.pageCount},
        });
    }
    const QJsonObject root{
        {QStringLiteral("format"), kFormatName},
        {QStringLiteral("version"), kFormatVersion},
        {QStringLiteral("conversation"), conversation},
        {QStringLiteral("active_root_id"), idOrNull(c.activeRootId.value)},
        {QStringLiteral("messages"), list},
        {QStringLiteral("documents"), documentList},
    };
    return QJsonDocument(root).toJson(QJsonDocument::Indented);
}

Result<ConversationId> ConversationExporter::importJson(Database &db, const QByteArray &json)
{
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &parseError);
    if (parseError.error != QJsonParseError::NoError || !doc.isObject())
        return fail(Error::Kind::Format,
                    tr("Not a conversation export: %1 at offset %2")
                        .arg(parseError.errorString())
                        .arg(parseError.offset));
    const QJsonObject root = doc.object();
    if (root.value(QStringLiteral("format")).toString() != kFormatName)
        return fail(Error::Kind::Format,
                    tr("Not a Fathom conversation export (format '%1')")
                        .arg(root.value(QStringLiteral("format")).toString()));
    const int version = root.value(QStringLiteral("version")).toInt();
    if (version < 1 || version > kFormatVersion)
        return fail(Error::Kind::Unsupported,
                    tr("Conversation export version %1 is not supported (this Fathom reads up to "
                       "version %2)")
                        .arg(version)
                        .arg(kFormatVersion));
    const QJsonObject c = root.value(QStringLiteral("conversation")).toObject();
    const auto parseTime = [](const QJsonValue &v) {
        QDateTime t = QDateTime::fromString(v.toString(), Qt::ISODateWithMs);
        return t.isValid() ? t : QDateTime::currentDateTimeUtc();
    };

    FATHOM_STORAGE_BEGIN(tx, db);
    ConversationStore conversations(db);
    NewConversation nc;
    nc.title = c.value(QStringLiteral("title")).toString();
    nc.modelId = c.value(QStringLiteral("model_id")).toString();
    nc.systemPrompt = c.value(QStringLiteral("system_prompt")).toString();
    nc.settings = c.value(QStringLiteral("settings")).toObject();
    nc.createdAt = parseTime(c.value(QStringLiteral("created_at")));
    FATHOM_TRY_ASSIGN(const ConversationId id, conversations.create(nc));
    if (c.value(QStringLiteral("pinned")).toBool())
        FATHOM_TRY(conversations.setPinned(id, true));
    if (c.value(QStringLiteral("archived")).toBool())
        FATHOM_TRY(conversations.setArchived(id, true));
    for (const QJsonValue &tag : c.value(QStringLiteral("tags")).toArray())
        FATHOM_TRY(conversations.addTag(id, tag.toString()));

    // Insert parents before children, whatever the file's order; ids are remapped.
    const QJsonArray list = root.value(QStringLiteral("messages")).toArray();
    QHash<qint64, qint64> newIds; // file id -> database id
    QList<QJsonObject> pending;
    QSet<qint64> fileIds;
    for (const QJsonValue &v : list) {
        const QJsonObject m = v.toObject();
        const qint64 fileId = m.value(QStringLiteral("id")).toInteger();
        if (fileId <= 0 || fileIds.contains(fileId))
            return fail(Error::Kind::Format,
                        tr("Conversation export: missing or repeated message id %1").arg(fileId));
        fileIds.insert(fileId);
        pending << m;
    }
    FATHOM_TRY_ASSIGN(QSqlQuery insert,
                      db.prepare(QStringLiteral(
                          "INSERT INTO messages (conversation_id, parent_id, role, content, "
                          "reasoning, model_id, prompt_tokens, completion_tokens, "
                          "reasoning_tokens, ttft_ms, tokens_per_second, finish_reason, state, "
                          "error_kind, error_text, created_at, updated_at) VALUES (:c, :parent, "
                          ":role, :content, :reasoning, :model, :prompt, :completion, "
                          ":reasoningTokens, :ttft, :tps, :finish, :state, :errorKind, "
                          ":errorText, :created, :updated)")));
    while (!pending.isEmpty()) {
        QList<QJsonObject> later;
        for (const QJsonObject &m : std::as_const(pending)) {
            const QJsonValue parentValue = m.value(QStringLiteral("parent_id"));
            const qint64 parent = parentValue.isNull() ? 0 : parentValue.toInteger();
            if (parent != 0 && !newIds.contains(parent)) {
                if (!fileIds.contains(parent))
                    return fail(Error::Kind::Format,
                                tr("Conversation export: message %1 replies to a missing "
                                   "message %2")
                                    .arg(m.value(QStringLiteral("id")).toInteger())
                                    .arg(parent));
                later << m;
                continue;
            }
            const std::optional<Role> role = roleFromName(
                m.value(QStringLiteral("role")).toString());
            if (!role)
                return fail(Error::Kind::Format,
                            tr("Conversation export: message %1 has an unknown role '%2'")
                                .arg(m.value(QStringLiteral("id")).toInteger())
                                .arg(m.value(QStringLiteral("role")).toString()));
            const auto number = [&](const char *key) {
                const QJsonValue v = m.value(QLatin1String(key));
                return v.isDouble() ? QVariant(v.toDouble()) : QVariant();
            };
            insert.bindValue(QStringLiteral(":c"), id.value);
            insert.bindValue(QStringLiteral(":parent"),
                             parent ? QVariant(newIds.value(parent)) : QVariant());
            insert.bindValue(QStringLiteral(":role"), int(*role));
            insert.bindValue(QStringLiteral(":content"),
                             m.value(QStringLiteral("content")).toString());
            insert.bindValue(QStringLiteral(":reasoning"),
                             m.value(QStringLiteral("reasoning")).toString());
            insert.bindValue(QStringLiteral(":model"),
                             m.value(QStringLiteral("model_id")).toString());
            insert.bindValue(QStringLiteral(":prompt"),
                             m.value(QStringLiteral("prompt_tokens")).toInteger());
            insert.bindValue(QStringLiteral(":completion"),
                             m.value(QStringLiteral("completion_tokens")).toInteger());
            insert.bindValue(QStringLiteral(":reasoningTokens"),
                             m.value(QStringLiteral("reasoning_tokens")).toInteger());
            insert.bindValue(QStringLiteral(":ttft"), number("ttft_ms"));
            insert.bindValue(QStringLiteral(":tps"), number("tokens_per_second"));
            insert.bindValue(QStringLiteral(":finish"),
                             int(finishReasonFromName(
                                 m.value(QStringLiteral("finish_reason")).toString())));
            MessageState state = messageStateFromName(m.value(QStringLiteral("state")).toString());
            if (state == MessageState::Streaming) // nobody is streaming into an imported answer
                state = MessageState::Interrupted;
            insert.bindValue(QStringLiteral(":state"), int(state));
            const QJsonValue errorKind = m.value(QStringLiteral("error_kind"));
            insert.bindValue(QStringLiteral(":errorKind"),
                             errorKind.isDouble() ? QVariant(errorKind.toInt()) : QVariant());
            insert.bindValue(QStringLiteral(":errorText"),
                             m.value(QStringLiteral("error_text")).toString());
            insert.bindValue(QStringLiteral(":created"),
                             toMsecs(parseTime(m.value(QStringLiteral("created_at")))));
            insert.bindValue(QStringLiteral(":updated"),
                             toMsecs(parseTime(m.value(QStringLiteral("updated_at")))));
            FATHOM_TRY(db.exec(insert, tr("importing a message")));
            newIds.insert(m.value(QStringLiteral("id")).toInteger(),
                          insert.lastInsertId().toLongLong());
        }
        if (later.size() == pending.size())
            return fail(Error::Kind::Format,
                        tr("Conversation export: the messages' parent links form a cycle"));
        pending = later;
    }

    // Active children and the active root, as in the file (when they point at real children).
    FATHOM_TRY_ASSIGN(QSqlQuery active,
                      db.prepare(
                          QStringLiteral("UPDATE messages SET active_child_id = :child WHERE "
                                         "id = :id AND :child IN (SELECT id FROM messages "
                                         "WHERE parent_id = :id2)")));
    for (const QJsonValue &v : list) {
        const QJsonObject m = v.toObject();
        const qint64 child = m.value(QStringLiteral("active_child_id")).toInteger();
        if (child <= 0 || !newIds.contains(child))
            continue;
        const qint64 self = newIds.value(m.value(QStringLiteral("id")).toInteger());
        active.bindValue(QStringLiteral(":child"), newIds.value(child));
        active.bindValue(QStringLiteral(":id"), self);
        active.bindValue(QStringLiteral(":id2"), self);
        FATHOM_TRY(db.exec(active, tr("importing the active branch")));
    }
    const qint64 activeRoot = root.value(QStringLiteral("active_root_id")).toInteger();
    if (newIds.contains(activeRoot)) {
        FATHOM_TRY_ASSIGN(QSqlQuery r,
                          db.prepare(
                              QStringLiteral("UPDATE conversations SET active_root_id = :root "
                                             "WHERE id = :id")));
        r.bindValue(QStringLiteral(":root"), newIds.value(activeRoot));
        r.bindValue(QStringLiteral(":id"), id.value);
        FATHOM_TRY(db.exec(r, tr("importing the active branch")));
    }

    DocumentStore documents(db);
    for (const QJsonValue &v : root.value(QStringLiteral("documents")).toArray()) {
        const QString hash = v.toObject().value(QStringLiteral("content_hash")).toString();
        if (hash.isEmpty())
            continue;
        FATHOM_TRY_ASSIGN(const std::optional<Document> d, documents.findByHash(hash));
        if (d)
            FATHOM_TRY(documents.linkToConversation(id, d->id));
    }
    FATHOM_TRY(conversations.touch(id, toMsecs(parseTime(c.value(QStringLiteral("updated_at"))))));
    FATHOM_TRY(tx.commit());
    return id;
}

} // namespace fathom::storage
