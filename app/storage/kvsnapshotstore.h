// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "database.h"
#include "records.h"

#include <QCoreApplication>

namespace fathom::storage {

/**
  Records of KV-cache snapshot files (the files themselves are written by the engine host).
  A snapshot is only found for the exact model fingerprint and prefix hash.
  Synchronous, on the Database's thread; borrows the Database.
*/
class KvSnapshotStore
{
    Q_DECLARE_TR_FUNCTIONS(KvSnapshotStore)

public:
    explicit KvSnapshotStore(Database &db)
        : m_db(db)
    {}

    // Inserts, or replaces the record with the same file path.
    Result<KvSnapshotId> record(const KvSnapshot &snapshot);
    // The longest snapshot for this model and prefix hash, or nullopt.
    Result<std::optional<KvSnapshot>> find(const QString &modelFingerprint,
                                           const QString &prefixHash);
    Result<void> touch(KvSnapshotId id); // last_used_at = now
    Result<void> remove(KvSnapshotId id);
    Result<QList<KvSnapshot>> snapshots(); // least recently used first
    Result<qint64> totalBytes();

private:
    Database &m_db;
};

} // namespace fathom::storage
