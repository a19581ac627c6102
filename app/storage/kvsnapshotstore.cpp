// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "kvsnapshotstore.h"

namespace fathom::storage {

namespace {

const QString kColumns = QStringLiteral(
    "id, file_path, model_fingerprint, token_count, prefix_hash, byte_size, created_at, "
    "last_used_at, conversation_id, document_id");

KvSnapshot readSnapshot(const QSqlQuery &q)
{
    KvSnapshot s;
    s.id = KvSnapshotId(q.value(0).toLongLong());
    s.filePath = q.value(1).toString();
    s.modelFingerprint = q.value(2).toString();
    s.tokenCount = q.value(3).toLongLong();
    s.prefixHash = q.value(4).toString();
    s.byteSize = q.value(5).toLongLong();
    s.createdAt = fromMsecs(q.value(6).toLongLong());
    s.lastUsedAt = fromMsecs(q.value(7).toLongLong());
    s.conversationId = ConversationId(q.value(8).toLongLong());
    s.documentId = DocumentId(q.value(9).toLongLong());
    return s;
}

QVariant idOrNull(qint64 id)
{
    return id > 0 ? QVariant(id) : QVariant();
}

} // namespace

Result<KvSnapshotId> KvSnapshotStore::record(const KvSnapshot &snapshot)
{
    FATHOM_STORAGE_BEGIN(tx, m_db);
    FATHOM_TRY_ASSIGN(QSqlQuery del,
                      m_db.prepare(
                          QStringLiteral("DELETE FROM kv_snapshots WHERE file_path = :path")));
    del.bindValue(QStringLiteral(":path"), snapshot.filePath);
    FATHOM_TRY(m_db.exec(del, tr("recording KV snapshot %1").arg(snapshot.filePath)));
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral(
                          "INSERT INTO kv_snapshots (file_path, model_fingerprint, token_count, "
                          "prefix_hash, byte_size, created_at, last_used_at, conversation_id, "
                          "document_id) VALUES (:path, :model, :tokens, :prefix, :bytes, :created, "
                          ":used, :conversation, :document)")));
    const qint64 created = toMsecs(snapshot.createdAt);
    q.bindValue(QStringLiteral(":path"), snapshot.filePath);
    q.bindValue(QStringLiteral(":model"), snapshot.modelFingerprint);
    q.bindValue(QStringLiteral(":tokens"), snapshot.tokenCount);
    q.bindValue(QStringLiteral(":prefix"), snapshot.prefixHash);
    q.bindValue(QStringLiteral(":bytes"), snapshot.byteSize);
    q.bindValue(QStringLiteral(":created"), created);
    q.bindValue(QStringLiteral(":used"),
                snapshot.lastUsedAt.isValid() ? toMsecs(snapshot.lastUsedAt) : created);
    q.bindValue(QStringLiteral(":conversation"), idOrNull(snapshot.conversationId.value));
    q.bindValue(QStringLiteral(":document"), idOrNull(snapshot.documentId.value));
    FATHOM_TRY(m_db.exec(q, tr("recording KV snapshot %1").arg(snapshot.filePath)));
    const KvSnapshotId id(q.lastInsertId().toLongLong());
    FATHOM_TRY(tx.commit());
    return id;
}

Result<std::optional<KvSnapshot>> KvSnapshotStore::find(const QString &modelFingerprint,
                                                        const QString &prefixHash)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral("SELECT ") + kColumns
                                   + QStringLiteral(" FROM kv_snapshots WHERE model_fingerprint = "
                                                    ":model AND prefix_hash = :prefix ORDER BY "
                                                    "token_count DESC LIMIT 1")));
    q.bindValue(QStringLiteral(":model"), modelFingerprint);
    q.bindValue(QStringLiteral(":prefix"), prefixHash);
    FATHOM_TRY(m_db.exec(q, tr("looking up a KV snapshot")));
    if (!q.next())
        return std::optional<KvSnapshot>();
    return std::optional<KvSnapshot>(readSnapshot(q));
}

Result<void> KvSnapshotStore::touch(KvSnapshotId id)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral(
                          "UPDATE kv_snapshots SET last_used_at = :now WHERE id = :id")));
    q.bindValue(QStringLiteral(":now"), nowMsecs());
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("updating KV snapshot %1").arg(id.value)));
    return {};
}

Result<void> KvSnapshotStore::remove(KvSnapshotId id)
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral("DELETE FROM kv_snapshots WHERE id = :id")));
    q.bindValue(QStringLiteral(":id"), id.value);
    FATHOM_TRY(m_db.exec(q, tr("removing KV snapshot %1").arg(id.value)));
    return {};
}

Result<QList<KvSnapshot>> KvSnapshotStore::snapshots()
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(QStringLiteral("SELECT ") + kColumns
                                   + QStringLiteral(" FROM kv_snapshots ORDER BY "
                                                    "last_used_at, id")));
    FATHOM_TRY(m_db.exec(q, tr("listing KV snapshots")));
    QList<KvSnapshot> list;
    while (q.next())
        list << readSnapshot(q);
    return list;
}

Result<qint64> KvSnapshotStore::totalBytes()
{
    FATHOM_TRY_ASSIGN(QSqlQuery q,
                      m_db.prepare(
                          QStringLiteral("SELECT coalesce(sum(byte_size), 0) FROM kv_snapshots")));
    FATHOM_TRY(m_db.exec(q, tr("summing KV snapshot sizes")));
    return q.next() ? q.value(0).toLongLong() : 0;
}

} // namespace fathom::storage
