-- Copyright (C) 2026 Fathom contributors
-- SPDX-License-Identifier: MIT
-- Schema version 1: conversations, folders, tags and the message tree.
-- Times are milliseconds since the Unix epoch (UTC). Enumerations are integers whose values are
-- listed in app/storage/records.h (NOTE: persisted, never reuse values).

CREATE TABLE folders (
    id INTEGER PRIMARY KEY,
    parent_id INTEGER REFERENCES folders(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    pinned INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0,
    model_id TEXT NOT NULL DEFAULT '',
    system_prompt TEXT NOT NULL DEFAULT '',
    -- Generation settings (temperature, top_p, max tokens, reasoning mode...) as a JSON object.
    settings_json TEXT NOT NULL DEFAULT '{}',
    folder_id INTEGER REFERENCES folders(id) ON DELETE SET NULL,
    -- The first message of the active path (editing the first user message creates a sibling
    -- root, so the conversation has to remember which root is active).
    active_root_id INTEGER REFERENCES messages(id) ON DELETE SET NULL
);
CREATE INDEX conversations_updated ON conversations(archived, pinned DESC, updated_at DESC);
CREATE INDEX conversations_folder ON conversations(folder_id);

CREATE TABLE tags (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);

CREATE TABLE conversation_tags (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (conversation_id, tag_id)
) WITHOUT ROWID;
CREATE INDEX conversation_tags_tag ON conversation_tags(tag_id);

-- Messages form a tree per conversation: editing a user message or regenerating an answer adds a
-- sibling (same parent) and nothing is deleted. Each message remembers which of its children is
-- active, so the active path is root -> active_child_id -> ... and switching a branch high up
-- restores the branch choices made further down.
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
    active_child_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    role INTEGER NOT NULL,
    content TEXT NOT NULL DEFAULT '',
    -- The model's thinking text, kept apart from the answer (never sent back as context).
    reasoning TEXT NOT NULL DEFAULT '',
    model_id TEXT NOT NULL DEFAULT '',
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    ttft_ms REAL,
    tokens_per_second REAL,
    finish_reason INTEGER NOT NULL DEFAULT 0,
    state INTEGER NOT NULL DEFAULT 0,
    error_kind INTEGER,
    error_text TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages(conversation_id, id);
CREATE INDEX messages_parent ON messages(parent_id, id);
CREATE INDEX messages_state ON messages(state) WHERE state <> 0;
