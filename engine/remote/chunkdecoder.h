// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Decodes the JSON payloads of an OpenAI-compatible chat completion: the streamed
  "chat.completion.chunk" objects (one per server-sent event) and, for servers that ignore
  `stream: true`, the whole "chat.completion" object. Handles the dialects in use:
  - reasoning text as `delta.reasoning_content` (DeepSeek API, SGLang, vLLM before 0.10) or
    `delta.reasoning` (newer vLLM), kept apart from `delta.content`;
  - usage in the last chunk with a finish_reason (DeepSeek API) or in a separate chunk with an
    empty `choices` array (vLLM/OpenAI `stream_options.include_usage`); cached prompt tokens as
    `prompt_tokens_details.cached_tokens` or DeepSeek's `prompt_cache_hit_tokens`;
  - tool calls streamed as fragments keyed by `index` (id and name first, arguments in pieces);
  - an error object sent inside the stream (`{"error": {...}}` or vLLM's `{"object": "error"}`).
  Only choice 0 is used (we never ask for n > 1).
*/

#include "engine/api/backend.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fathom::engine::remote {

struct ChunkUsage
{
    int promptTokens = 0;
    int completionTokens = 0;
    int cachedPromptTokens = 0;
    int reasoningTokens = 0;
};

// What one payload contributed.
struct ChunkDelta
{
    std::string reasoning;
    std::string content;
    std::optional<FinishReason> finishReason;
    std::string rawFinishReason; // as sent, for messages ("content_filter", ...)
    bool hasToolCallDelta = false;
};

class ChunkDecoder
{
public:
    // One streamed chunk (the data of one server-sent event other than "[DONE]").
    Result<ChunkDelta> decodeChunk(std::string_view json);
    // A complete non-streamed chat.completion response body.
    Result<ChunkDelta> decodeCompletion(std::string_view json);

    const std::optional<ChunkUsage> &usage() const { return m_usage; }
    const std::string &model() const { return m_model; }
    // Tool calls assembled from all fragments so far, in index order.
    std::vector<chat::ToolCall> toolCalls() const;
    bool hasToolCalls() const { return !m_toolCalls.empty(); }

private:
    std::optional<ChunkUsage> m_usage;
    std::string m_model;
    struct PartialToolCall
    {
        int index = 0;
        chat::ToolCall call;
    };
    std::vector<PartialToolCall> m_toolCalls;
};

// Maps an OpenAI finish_reason string; unknown strings map to Stop (the answer did end).
FinishReason finishReasonFromString(std::string_view reason);

// The message of an OpenAI-style error body ({"error": {"message", "type", "code"}}, vLLM's
// {"object": "error", "message"}, FastAPI's {"detail": ...}), or the body text itself (trimmed and
// shortened) when it is not one of those. Never empty when the body is not empty.
std::string errorMessageFromBody(std::string_view body);

} // namespace fathom::engine::remote
