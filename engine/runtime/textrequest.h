// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  TextRequest: the chat side of a request that runs on the Scheduler, shared by the local
  backends (CpuBackend, CudaBackend): generated ids -> streaming UTF-8 decoder (special tokens
  kept, spec §8) -> incremental completion parser -> the caller's TokenSink. A backend keeps it
  until done() and deletes it only after the scheduler has stopped calling it.

  Thread: the engine thread (the scheduler calls it from step()).
*/

#include "engine/api/backend.h"
#include "engine/chat/encoding.h"
#include "engine/runtime/scheduler.h"
#include "engine/tokenizer/tokenizer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace fathom::engine {

/** The prompt ids of a chat request: V4's prompt format (spec §8: BOS, thinking mode, reasoning
    effort, earlier reasoning dropped) through the model's tokenizer. */
inline std::vector<int32_t> encodeChatPrompt(const tokenizer::Tokenizer &tok,
                                             const GenerationRequest &request)
{
    chat::EncodeOptions eo;
    eo.thinkingMode = request.thinkingMode;
    eo.reasoningEffort = request.reasoningEffort;
    eo.dropThinking = true;
    eo.addBos = true;
    return tok.encode(chat::encodeMessages(request.messages, eo));
}

/** One chat request: token ids -> UTF-8-safe text -> reasoning / content / tool calls. */
class TextRequest final : public GenerationListener
{
public:
    TextRequest(RequestId id,
                TokenSink &sink,
                const tokenizer::Tokenizer &tok,
                chat::ThinkingMode mode)
        : m_id(id)
        , m_sink(sink)
        , m_decoder(tok, /*skipSpecial=*/false)
        , m_parser(mode)
    {}

    bool done() const { return m_done; }

    void onToken(RequestId, int32_t token, bool) override
    {
        // The stop token goes through too: the parser needs to see EOS to close a tool block.
        emit(m_parser.push(m_decoder.push(token)));
    }

    void onFinished(RequestId, FinishReason reason, const GenerationStats &stats) override
    {
        emit(m_parser.push(m_decoder.flush()));
        emit(m_parser.finish());
        if (reason == FinishReason::Stop && m_toolCalls > 0)
            reason = FinishReason::ToolCalls;
        m_done = true;
        m_sink.onFinished(m_id, reason, stats);
    }

    void onError(RequestId, const Error &error) override
    {
        m_done = true;
        m_sink.onError(m_id, error);
    }

private:
    void emit(chat::CompletionParser::Delta d)
    {
        if (!d.reasoningContent.empty() || !d.content.empty())
            m_sink.onText(m_id, d.reasoningContent, d.content);
        if (!d.toolCalls.empty()) {
            for (chat::ToolCall &c : d.toolCalls)
                if (c.id.empty())
                    c.id = "call_" + std::to_string(m_id) + "_" + std::to_string(m_toolCalls++);
            m_sink.onToolCalls(m_id, d.toolCalls);
        }
    }

    RequestId m_id;
    TokenSink &m_sink;
    tokenizer::StreamingDecoder m_decoder;
    chat::CompletionParser m_parser;
    int m_toolCalls = 0;
    bool m_done = false;
};

} // namespace fathom::engine
