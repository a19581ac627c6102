// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  DeepSeek V4's prompt format (spec §8; the official encoding/encoding_dsv4.py ships no Jinja
  template). encodeMessages() returns the exact prompt text, BOS included as text; tokenize it
  with added tokens matched (Tokenizer::encode). Byte-exact against testdata/encoding.

  Not supported: the official `context` argument. Spec §8 names it in the signature and says
  only that the prompt "starts with BOS text (unless continuing a context)"; it does not say what
  a context holds (already-rendered text or earlier messages), nor how the earlier part takes
  part in the rules that look at the whole conversation: the last user message (which decides
  drop-thinking and the <think> transition), tool-result merging and sorting by the preceding
  assistant's calls, and "tools anywhere disables drop_thinking". No golden data exercises it
  either: all 30 cases of testdata/encoding/cases.json have context = null and the 4 official
  tests use the default. Any implementation would be a guess that nothing can check byte for
  byte, so parseEncodeRequest() refuses a non-null context (Error::Kind::Unsupported) instead of
  rendering a possibly different prompt. Callers send the whole message list.
*/

#include "engine/chat/message.h"
#include "engine/core/error.h"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace fathom::engine::chat {

// The special-token texts the format uses (spec §7 table).
inline constexpr std::string_view kBos = "<\xEF\xBD\x9C"
                                         "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";
inline constexpr std::string_view kEos = "<\xEF\xBD\x9C"
                                         "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";
inline constexpr std::string_view kThinkOpen = "<think>";
inline constexpr std::string_view kThinkClose = "</think>";
inline constexpr std::string_view kDsml = "\xEF\xBD\x9C"
                                          "DSML"
                                          "\xEF\xBD\x9C";

struct EncodeOptions
{
    ThinkingMode thinkingMode = ThinkingMode::Thinking;
    bool dropThinking = true;
    ReasoningEffort reasoningEffort = ReasoningEffort::None;
    bool addBos = true;
};

std::string encodeMessages(const std::vector<Message> &messages, const EncodeOptions &options);

// OpenAI-style messages (plus reasoning_content, tools on system/developer messages, task,
// wo_eos) to Message. Key order inside tools / arguments / response_format is kept.
Result<std::vector<Message>> messagesFromJson(const nlohmann::ordered_json &messages);

// The `fathom-cli encode` request: {"messages":[…], "thinking_mode":"chat"|"thinking",
// "drop_thinking":bool, "reasoning_effort":null|"high"|"max", "add_default_bos_token":bool,
// "tools":[…] (optional, attached to the first message as the official test 1 does)}.
struct EncodeRequest
{
    std::vector<Message> messages;
    EncodeOptions options;
};
Result<EncodeRequest> parseEncodeRequest(std::string_view jsonText);

// ---- Completion parsing ----------------------------------------------------------------------

// What parse_message_from_completion_text returns: reasoning, content and tool calls (arguments
// as JSON text in Python's json.dumps layout). Tool calls carry no id.
struct ParsedCompletion
{
    std::string reasoningContent;
    std::string content;
    std::vector<ToolCall> toolCalls;
    bool finished = false; // the end-of-sentence token was seen
};

// Incremental parser for a completion arriving in pieces (e.g. from the StreamingDecoder, with
// special tokens decoded). Text that could be the start of a marker (</think>, the tool-call
// block, EOS) is held back until it is decided, so deltas never contain markup. Tool calls are
// reported as soon as their invoke element is complete.
class CompletionParser
{
public:
    struct Delta
    {
        std::string reasoningContent;
        std::string content;
        std::vector<ToolCall> toolCalls;
        bool empty() const
        {
            return reasoningContent.empty() && content.empty() && toolCalls.empty();
        }
    };

    explicit CompletionParser(ThinkingMode mode);
    Delta push(std::string_view text);
    // End of the stream: releases held-back text and checks the tool-call block is complete
    // (error() says what was wrong).
    Delta finish();
    const ParsedCompletion &result() const { return m_result; }
    // Set once the tool-call block broke the grammar; the raw block stays in `content`.
    const std::string &error() const { return m_error; }

private:
    enum class State { Reasoning, Content, ToolCalls, AfterToolCalls, PlainContent, Done };
    void step(Delta &delta, bool atEnd);
    void emitReasoning(Delta &d, std::string_view s);
    void emitContent(Delta &d, std::string_view s);
    bool parseInvokes(Delta &d, bool atEnd);
    void failBlock(Delta &d, std::string message);

    State m_state;
    std::string m_buffer;       // undecided text
    std::size_t m_blockPos = 0; // ToolCalls: parse position inside m_buffer
    ParsedCompletion m_result;
    std::string m_error;
};

Result<ParsedCompletion> parseCompletion(std::string_view text, ThinkingMode mode);

// {"reasoning_content":…, "content":…, "tool_calls":[{"type":"function","function":{"name":…,
// "arguments":…}}]} (the CLI's and the golden parse cases' layout).
nlohmann::ordered_json completionToJson(const ParsedCompletion &completion);

} // namespace fathom::engine::chat
