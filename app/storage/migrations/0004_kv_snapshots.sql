-- Copyright (C) 2026 Fathom contributors
-- SPDX-License-Identifier: MIT
-- Schema version 4: records of KV-cache snapshot files (the files live next to the database).
-- A snapshot is only reused for the same model fingerprint and the same prefix hash.

CREATE TABLE kv_snapshots (
    id INTEGER PRIMARY KEY,
    file_path TEXT NOT NULL UNIQUE,
    model_fingerprint TEXT NOT NULL,
    token_count INTEGER NOT NULL,
    prefix_hash TEXT NOT NULL,
    byte_size INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    conversation_id INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
    document_id INTEGER REFERENCES documents(id) ON DELETE SET NULL
);
CREATE INDEX kv_snapshots_lookup ON kv_snapshots(model_fingerprint, prefix_hash, token_count);
CREATE INDEX kv_snapshots_lru ON kv_snapshots(last_used_at);
