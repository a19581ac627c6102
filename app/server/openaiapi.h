// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  The OpenAI-compatible wire format of the local API server, as pure functions: a
  /v1/chat/completions request body becomes a GenerationRequest (or an OpenAI-style error with
  its HTTP status), and answers become chat.completion / chat.completion.chunk objects with the
  reasoning in `reasoning_content` (the DeepSeek API and vLLM convention).

  reasoning_effort follows vLLM's mapping for V4 (v4-model-spec.md §8): thinking is on by
  default; "none" switches to chat mode; "max" is Think Max; "high"/"xhigh" Think High;
  "low"/"minimal"/"medium" thinking without an effort prefix. DeepSeek's
  `thinking: {type: enabled|disabled}` and `chat_template_kwargs.thinking` are honoured too.
*/

#include "engine/api/backend.h"
#include "engine/core/expected.h"

#include <QByteArray>
#include <QJsonArray>
#include <QJsonObject>
#include <QString>

#include <optional>

namespace fathom::server {

struct ApiError
{
    int status = 400;
    QString message;
    QString type = QStringLiteral("invalid_request_error");
    QString param; // the offending field, or empty
    QString code;  // machine-readable code, or empty
};

struct ApiLimits
{
    QString modelId;       // the one model this server serves
    int contextLength = 0; // 0 = unknown (no max_tokens check)
    int defaultMaxTokens = 4096;
};

struct ChatRequest
{
    engine::GenerationRequest request;
    bool stream = false;
    bool includeUsage = false;
};

Expected<ChatRequest, ApiError> parseChatRequest(const QByteArray &body, const ApiLimits &limits);

// {"error": {"message", "type", "param", "code"}} as OpenAI sends it.
QByteArray errorBody(const ApiError &error);

QString finishReasonName(engine::FinishReason reason);
QJsonObject usageObject(const engine::GenerationStats &stats);

struct CompletionIds
{
    QString id; // "chatcmpl-…"
    qint64 created = 0;
    QString model;
};

// One streamed chunk; null strings are left out of the delta.
QJsonObject chunkObject(const CompletionIds &ids,
                        const QJsonObject &delta,
                        const std::optional<engine::FinishReason> &finish);
// The usage-only chunk sent when stream_options.include_usage is set.
QJsonObject usageChunkObject(const CompletionIds &ids, const engine::GenerationStats &stats);
QJsonObject completionObject(const CompletionIds &ids,
                             const QString &reasoning,
                             const QString &content,
                             const std::vector<engine::chat::ToolCall> &toolCalls,
                             engine::FinishReason finish,
                             const engine::GenerationStats &stats);
QJsonArray toolCallsArray(const std::vector<engine::chat::ToolCall> &calls, bool withIndex);

} // namespace fathom::server
