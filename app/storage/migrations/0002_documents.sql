-- Copyright (C) 2026 Fathom contributors
-- SPDX-License-Identifier: MIT
-- Schema version 2: ingested documents, their pages and the conversation <-> document links.

CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    -- Lower-case hex SHA-256 of the file's bytes: the same file dropped twice is stored once.
    content_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    source_path TEXT NOT NULL DEFAULT '',
    mime_type TEXT NOT NULL DEFAULT '',
    byte_size INTEGER NOT NULL DEFAULT 0,
    page_count INTEGER NOT NULL DEFAULT 0,
    char_count INTEGER NOT NULL DEFAULT 0,
    -- NULL until counted (the count depends on the tokenizer of a model).
    token_count INTEGER,
    status INTEGER NOT NULL DEFAULT 0,
    error_kind INTEGER,
    error_text TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Text per page, in reading order. char_offset is the page's first character (UTF-16 code units,
-- as QString counts) in the document's text, i.e. the concatenation of its pages in order.
CREATE TABLE document_pages (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    page_number INTEGER NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    char_offset INTEGER NOT NULL DEFAULT 0,
    char_count INTEGER NOT NULL DEFAULT 0,
    flags INTEGER NOT NULL DEFAULT 0,
    UNIQUE (document_id, page_number)
);

CREATE TABLE conversation_documents (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, document_id)
) WITHOUT ROWID;
CREATE INDEX conversation_documents_document ON conversation_documents(document_id);
