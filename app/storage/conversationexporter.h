// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "database.h"
#include "records.h"

#include <QByteArray>
#include <QCoreApplication>
#include <QString>

namespace fathom::storage {

/**
  A conversation to Markdown (for reading and sharing) and to JSON (complete: every branch, the
  active path, figures and times; importJson() reads it back into a new conversation).

  JSON format "fathom.conversation" version 1:
    { "format": "fathom.conversation", "version": 1,
      "conversation": { "title", "created_at", "updated_at" (ISO 8601 UTC), "pinned",
                        "archived", "model_id", "system_prompt", "settings" {...}, "tags" [...] },
      "active_root_id": id | null,
      "messages": [ { "id", "parent_id" | null, "active_child_id" | null, "role", "content",
                      "reasoning", "model_id", "prompt_tokens", "completion_tokens",
                      "reasoning_tokens", "ttft_ms" | null, "tokens_per_second" | null,
                      "finish_reason", "state", "error_kind" | null, "error_text",
                      "created_at", "updated_at" }, ... ],   // parents before children
      "documents": [ { "name", "content_hash", "mime_type", "page_count" } ] }
  Ids are labels inside the file; import assigns new ones. Documents are referenced by content
  hash and linked on import only when a document with that hash is in the database.

  Synchronous, on the Database's thread.
*/
class ConversationExporter
{
    Q_DECLARE_TR_FUNCTIONS(ConversationExporter)

public:
    static Result<QString> toMarkdown(Database &db, ConversationId id);
    static Result<QByteArray> toJson(Database &db, ConversationId id);
    // One transaction: on any error nothing is imported. The title is kept as is.
    static Result<ConversationId> importJson(Database &db, const QByteArray &json);
};

} // namespace fathom::storage
