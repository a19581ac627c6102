// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "chunkdecoder.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace fathom::engine::remote {

using nlohmann::json;

namespace {

// Servers send null for absent strings ("content": null next to "reasoning_content": "...").
std::string stringField(const json &object, const char *name)
{
    const auto it = object.find(name);
    if (it == object.end() || !it->is_string())
        return {};
    return it->get<std::string>();
}

int intField(const json &object, const char *name)
{
    const auto it = object.find(name);
    if (it == object.end() || !it->is_number())
        return 0;
    if (it->is_number_float())
        return static_cast<int>(it->get<double>());
    return static_cast<int>(it->get<std::int64_t>());
}

std::string shorten(std::string text, std::size_t limit = 500)
{
    const auto isSpace = [](unsigned char c) {
        return c == ' ' || c == '\n' || c == '\r' || c == '\t';
    };
    while (!text.empty() && isSpace(static_cast<unsigned char>(text.back())))
        text.pop_back();
    std::size_t start = 0;
    while (start < text.size() && isSpace(static_cast<unsigned char>(text[start])))
        ++start;
    text.erase(0, start);
    if (text.size() > limit) {
        // Do not cut a UTF-8 sequence in half.
        std::size_t cut = limit;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
            --cut;
        text.resize(cut);
        text += "…";
    }
    return text;
}

// The message of an error object embedded in a stream or body, if the JSON is one.
std::optional<std::string> embeddedError(const json &root)
{
    if (!root.is_object())
        return std::nullopt;
    if (const auto it = root.find("error"); it != root.end() && !it->is_null()) {
        if (it->is_string())
            return it->get<std::string>();
        if (it->is_object()) {
            std::string message = stringField(*it, "message");
            const std::string type = stringField(*it, "type");
            if (message.empty())
                message = it->dump();
            if (!type.empty())
                message += " [" + type + "]";
            return message;
        }
        return it->dump();
    }
    if (stringField(root, "object") == "error") {
        std::string message = stringField(root, "message");
        const std::string type = stringField(root, "type");
        if (!type.empty())
            message += " [" + type + "]";
        return message;
    }
    return std::nullopt;
}

ChunkUsage parseUsage(const json &usage)
{
    ChunkUsage u;
    u.promptTokens = intField(usage, "prompt_tokens");
    u.completionTokens = intField(usage, "completion_tokens");
    if (const auto d = usage.find("prompt_tokens_details"); d != usage.end() && d->is_object())
        u.cachedPromptTokens = intField(*d, "cached_tokens");
    if (u.cachedPromptTokens == 0)
        u.cachedPromptTokens = intField(usage, "prompt_cache_hit_tokens");
    if (const auto d = usage.find("completion_tokens_details"); d != usage.end() && d->is_object())
        u.reasoningTokens = intField(*d, "reasoning_tokens");
    return u;
}

std::string reasoningOf(const json &delta)
{
    std::string text = stringField(delta, "reasoning_content");
    if (text.empty())
        text = stringField(delta, "reasoning");
    return text;
}

} // namespace

FinishReason finishReasonFromString(std::string_view reason)
{
    if (reason == "length")
        return FinishReason::Length;
    if (reason == "tool_calls" || reason == "function_call")
        return FinishReason::ToolCalls;
    return FinishReason::Stop;
}

std::string errorMessageFromBody(std::string_view body)
{
    const json root = json::parse(body, nullptr, /*allow_exceptions*/ false);
    if (!root.is_discarded()) {
        if (auto message = embeddedError(root))
            return shorten(*message);
        if (root.is_object()) {
            if (const auto it = root.find("detail"); it != root.end())
                return shorten(it->is_string() ? it->get<std::string>() : it->dump());
            if (const auto it = root.find("message"); it != root.end() && it->is_string())
                return shorten(it->get<std::string>());
        }
    }
    return shorten(std::string(body));
}

Result<ChunkDelta> ChunkDecoder::decodeChunk(std::string_view text)
{
    const json root = json::parse(text, nullptr, /*allow_exceptions*/ false);
    if (root.is_discarded() || !root.is_object())
        return fail(Error::Kind::Format,
                    "the server sent a stream event that is not a JSON object: "
                        + shorten(std::string(text), 200));
    if (auto message = embeddedError(root))
        return fail(Error::Kind::Network,
                    "the server reported an error mid-answer: " + shorten(*message));

    if (const std::string model = stringField(root, "model"); !model.empty())
        m_model = model;
    if (const auto it = root.find("usage"); it != root.end() && it->is_object())
        m_usage = parseUsage(*it);

    ChunkDelta out;
    const auto choices = root.find("choices");
    if (choices == root.end() || !choices->is_array() || choices->empty())
        return out; // the usage-only chunk, or an empty keep-alive object
    const json *choice = nullptr;
    for (const json &c : *choices) {
        if (c.is_object() && intField(c, "index") == 0) {
            choice = &c;
            break;
        }
    }
    if (!choice)
        return out;

    if (const auto delta = choice->find("delta"); delta != choice->end() && delta->is_object()) {
        out.reasoning = reasoningOf(*delta);
        out.content = stringField(*delta, "content");
        if (const auto calls = delta->find("tool_calls");
            calls != delta->end() && calls->is_array()) {
            for (const json &fragment : *calls) {
                if (!fragment.is_object())
                    continue;
                out.hasToolCallDelta = true;
                // Some servers omit "index" when they send each call whole.
                const int index = fragment.contains("index") ? intField(fragment, "index")
                                                             : static_cast<int>(m_toolCalls.size());
                auto it = std::find_if(m_toolCalls.begin(),
                                       m_toolCalls.end(),
                                       [&](const PartialToolCall &p) { return p.index == index; });
                if (it == m_toolCalls.end()) {
                    m_toolCalls.push_back({index, {}});
                    it = m_toolCalls.end() - 1;
                }
                if (const std::string id = stringField(fragment, "id"); !id.empty())
                    it->call.id = id;
                if (const auto fn = fragment.find("function");
                    fn != fragment.end() && fn->is_object()) {
                    // The name comes whole in the first fragment; some servers repeat it.
                    if (const std::string name = stringField(*fn, "name");
                        !name.empty() && it->call.name.empty())
                        it->call.name = name;
                    if (const auto args = fn->find("arguments"); args != fn->end()) {
                        if (args->is_string())
                            it->call.argumentsJson += args->get<std::string>();
                        else if (args->is_object())
                            it->call.argumentsJson += args->dump();
                    }
                }
            }
        }
    }
    if (const std::string reason = stringField(*choice, "finish_reason"); !reason.empty()) {
        out.rawFinishReason = reason;
        out.finishReason = finishReasonFromString(reason);
    }
    return out;
}

Result<ChunkDelta> ChunkDecoder::decodeCompletion(std::string_view text)
{
    const json root = json::parse(text, nullptr, /*allow_exceptions*/ false);
    if (root.is_discarded() || !root.is_object())
        return fail(Error::Kind::Format,
                    "the server's answer is not a JSON object: " + shorten(std::string(text), 200));
    if (auto message = embeddedError(root))
        return fail(Error::Kind::Network, "the server reported an error: " + shorten(*message));
    if (const std::string model = stringField(root, "model"); !model.empty())
        m_model = model;
    if (const auto it = root.find("usage"); it != root.end() && it->is_object())
        m_usage = parseUsage(*it);
    const auto choices = root.find("choices");
    if (choices == root.end() || !choices->is_array() || choices->empty()
        || !(*choices)[0].is_object())
        return fail(Error::Kind::Format, "the server's answer has no choices");
    const json &choice = (*choices)[0];
    ChunkDelta out;
    if (const auto message = choice.find("message");
        message != choice.end() && message->is_object()) {
        out.reasoning = reasoningOf(*message);
        out.content = stringField(*message, "content");
        if (const auto calls = message->find("tool_calls");
            calls != message->end() && calls->is_array()) {
            int index = 0;
            for (const json &call : *calls) {
                if (!call.is_object())
                    continue;
                PartialToolCall p;
                p.index = index++;
                p.call.id = stringField(call, "id");
                if (const auto fn = call.find("function"); fn != call.end() && fn->is_object()) {
                    p.call.name = stringField(*fn, "name");
                    if (const auto args = fn->find("arguments"); args != fn->end())
                        p.call.argumentsJson = args->is_string() ? args->get<std::string>()
                                                                 : args->dump();
                }
                m_toolCalls.push_back(std::move(p));
                out.hasToolCallDelta = true;
            }
        }
    }
    const std::string reason = stringField(choice, "finish_reason");
    out.rawFinishReason = reason;
    out.finishReason = reason.empty() ? FinishReason::Stop : finishReasonFromString(reason);
    return out;
}

std::vector<chat::ToolCall> ChunkDecoder::toolCalls() const
{
    std::vector<PartialToolCall> sorted = m_toolCalls;
    std::stable_sort(sorted.begin(),
                     sorted.end(),
                     [](const PartialToolCall &a, const PartialToolCall &b) {
                         return a.index < b.index;
                     });
    std::vector<chat::ToolCall> calls;
    calls.reserve(sorted.size());
    for (PartialToolCall &p : sorted)
        calls.push_back(std::move(p.call));
    return calls;
}

} // namespace fathom::engine::remote
