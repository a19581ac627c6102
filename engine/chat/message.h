// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  A chat message as the V4 prompt encoder (engine/chat, spec §8) and the OpenAI-compatible API see
  it. JSON-valued fields (tool schemas, tool-call arguments, response_format) are kept as JSON
  text so the encoder can reproduce the official output byte for byte.
*/

#include <optional>
#include <string>
#include <vector>

namespace fathom::engine::chat {

enum class Role { System, User, Assistant, Tool, Developer, LatestReminder };

struct ToolCall
{
    std::string id;
    std::string name;
    std::string argumentsJson; // the JSON text of the arguments object (may be invalid JSON)
};

struct Message
{
    Role role = Role::User;
    std::string content;
    std::string reasoningContent;    // assistant only
    std::vector<ToolCall> toolCalls; // assistant only
    std::string toolCallId;          // tool only
    std::string toolsJson;           // system/developer: JSON array of tool schemas, or empty
    std::string responseFormatJson;  // system: JSON, or empty
    // Internal task of the official encoder (spec §8): on a user message "query", "authority",
    // "domain" or "action"; on an assistant message "title". Empty for ordinary chats.
    std::string task;
    bool withoutEos = false; // assistant: a partial reply to continue (no end-of-sentence token)
};

enum class ThinkingMode { Chat, Thinking };
enum class ReasoningEffort { None, High, Max };

} // namespace fathom::engine::chat
