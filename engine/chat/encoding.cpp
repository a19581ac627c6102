// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

#include "encoding.h"

#include "pyjson.h"

#include <algorithm>
#include <unordered_map>

namespace fathom::engine::chat {

namespace {

using OJson = nlohmann::ordered_json;

constexpr std::string_view kUser = "<\xEF\xBD\x9C"
                                   "User\xEF\xBD\x9C>";
constexpr std::string_view kAssistant = "<\xEF\xBD\x9C"
                                        "Assistant\xEF\xBD\x9C>";
constexpr std::string_view kLatestReminder = "<\xEF\xBD\x9C"
                                             "latest_reminder\xEF\xBD\x9C>";
constexpr std::string_view kFw = "\xEF\xBD\x9C"; // U+FF5C

const char *const kMaxEffortPrefix
    = "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
      "You MUST be very thorough in your thinking and comprehensively decompose the problem to "
      "resolve the root cause, rigorously stress-testing your logic against all potential paths, "
      "edge cases, and adversarial scenarios.\n"
      "Explicitly write out your entire deliberation process, documenting every intermediate step, "
      "considered alternative, and rejected hypothesis to ensure absolutely no assumption is left "
      "unchecked.\n\n";

std::string dsml(std::string_view rest)
{
    return "<" + std::string(kDsml) + std::string(rest);
}
std::string dsmlClose(std::string_view rest)
{
    return "</" + std::string(kDsml) + std::string(rest);
}

std::string toolsBlock(const std::string &toolsJson)
{
    std::string schemas;
    const OJson tools = OJson::parse(toolsJson, nullptr, false);
    if (tools.is_array()) {
        for (const OJson &t : tools) {
            if (!schemas.empty())
                schemas += '\n';
            schemas += pythonJsonDumps(t.is_object() && t.contains("function") ? t["function"] : t);
        }
    } else if (!tools.is_discarded()) {
        schemas = pythonJsonDumps(tools);
    } else {
        schemas = toolsJson;
    }
    std::string s = "\n\n## Tools\n\nYou have access to a set of tools to help answer the user's "
                    "question. You can invoke tools by writing a \""
                    + dsml("tool_calls>") + "\" block like the following:\n\n";
    s += dsml("tool_calls>\n");
    s += dsml("invoke name=\"$TOOL_NAME\">\n");
    s += dsml("parameter name=\"$PARAMETER_NAME\" string=\"true|false\">$PARAMETER_VALUE")
         + dsmlClose("parameter>\n");
    s += "...\n" + dsmlClose("invoke>\n");
    s += dsml("invoke name=\"$TOOL_NAME2\">\n");
    s += "...\n" + dsmlClose("invoke>\n");
    s += dsmlClose("tool_calls>\n\n");
    s += "String parameters should be specified as is and set `string=\"true\"`. For all other "
         "types (numbers, booleans, arrays, objects), pass the value in JSON format and set "
         "`string=\"false\"`.\n\n"
         "If thinking_mode is enabled (triggered by <think>), you MUST output your complete "
         "reasoning inside <think>...</think> BEFORE any tool calls or final response.\n\n"
         "Otherwise, output directly after </think> with tool calls or final response.\n\n"
         "### Available Tool Schemas\n\n";
    s += schemas;
    s += "\n\nYou MUST strictly follow the above defined tool name and parameter schemas to "
         "invoke tool calls.\n";
    return s;
}

std::string responseFormatBlock(const std::string &json)
{
    const OJson v = OJson::parse(json, nullptr, false);
    return "\n\n## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n"
           + (v.is_discarded() ? json : pythonJsonDumps(v));
}

std::string toolCallsBlock(const std::vector<ToolCall> &calls)
{
    std::string s = "\n\n" + dsml("tool_calls>\n");
    bool firstCall = true;
    for (const ToolCall &call : calls) {
        if (!firstCall)
            s += '\n';
        firstCall = false;
        s += dsml("invoke name=\"") + call.name + "\">\n";
        // Arguments that are not a JSON object fall back to one string parameter "arguments".
        const OJson args = OJson::parse(call.argumentsJson, nullptr, false);
        std::vector<std::string> params;
        auto param = [&](const std::string &key, bool isString, const std::string &value) {
            params.push_back(dsml("parameter name=\"") + key + "\" string=\""
                             + (isString ? "true" : "false") + "\">" + value
                             + dsmlClose("parameter>"));
        };
        if (args.is_object()) {
            for (auto it = args.begin(); it != args.end(); ++it) {
                if (it.value().is_string())
                    param(it.key(), true, it.value().get<std::string>());
                else
                    param(it.key(), false, pythonJsonDumps(it.value()));
            }
        } else {
            param("arguments", true, call.argumentsJson);
        }
        for (std::size_t i = 0; i < params.size(); ++i) {
            if (i)
                s += '\n';
            s += params[i];
        }
        s += "\n" + dsmlClose("invoke>");
    }
    s += "\n" + dsmlClose("tool_calls>");
    return s;
}

std::string taskToken(const std::string &task)
{
    return "<" + std::string(kFw) + task + std::string(kFw) + ">";
}

bool isUserLike(Role r)
{
    return r == Role::User || r == Role::Developer;
}

// OpenAI tool messages become <tool_result> blocks of a user turn (sorted by the order of the
// preceding assistant's calls); consecutive user turns are merged with a blank line.
std::vector<Message> mergeToolResults(const std::vector<Message> &in)
{
    std::vector<Message> out;
    std::vector<std::string> callOrder;
    std::size_t i = 0;
    while (i < in.size()) {
        const Message &m = in[i];
        if (m.role == Role::Tool) {
            std::vector<const Message *> group;
            while (i < in.size() && in[i].role == Role::Tool)
                group.push_back(&in[i++]);
            auto key = [&](const Message *t) {
                auto it = std::find(callOrder.begin(), callOrder.end(), t->toolCallId);
                return it == callOrder.end() ? callOrder.size()
                                             : std::size_t(it - callOrder.begin());
            };
            std::stable_sort(group.begin(), group.end(), [&](const Message *a, const Message *b) {
                return key(a) < key(b);
            });
            std::string text;
            for (const Message *t : group) {
                if (!text.empty())
                    text += "\n\n";
                text += "<tool_result>" + t->content + "</tool_result>";
            }
            if (!out.empty() && out.back().role == Role::User) {
                out.back().content += "\n\n" + text;
            } else {
                Message u;
                u.role = Role::User;
                u.content = std::move(text);
                out.push_back(std::move(u));
            }
            continue;
        }
        if (m.role == Role::Assistant) {
            callOrder.clear();
            for (const ToolCall &c : m.toolCalls)
                callOrder.push_back(c.id);
        }
        if (m.role == Role::User && !out.empty() && out.back().role == Role::User) {
            out.back().content += "\n\n" + m.content;
            if (!m.task.empty())
                out.back().task = m.task;
        } else {
            out.push_back(m);
        }
        ++i;
    }
    return out;
}

} // namespace

std::string encodeMessages(const std::vector<Message> &input, const EncodeOptions &options)
{
    const bool thinking = options.thinkingMode == ThinkingMode::Thinking;
    std::vector<Message> msgs = mergeToolResults(input);

    // drop_thinking is switched off as soon as any message defines tools.
    bool drop = thinking && options.dropThinking;
    for (const Message &m : msgs)
        if (!m.toolsJson.empty())
            drop = false;

    auto lastUserIndex = [&] {
        std::ptrdiff_t last = -1;
        for (std::size_t i = 0; i < msgs.size(); ++i)
            if (isUserLike(msgs[i].role))
                last = std::ptrdiff_t(i);
        return last;
    };
    std::ptrdiff_t lastUser = lastUserIndex();
    if (drop) {
        // Earlier developer turns go away with the earlier reasoning.
        std::vector<Message> kept;
        for (std::size_t i = 0; i < msgs.size(); ++i)
            if (msgs[i].role != Role::Developer || std::ptrdiff_t(i) >= lastUser)
                kept.push_back(std::move(msgs[i]));
        msgs = std::move(kept);
        lastUser = lastUserIndex();
    }

    std::string out;
    if (options.addBos)
        out += kBos;
    if (thinking && options.reasoningEffort == ReasoningEffort::Max)
        out += kMaxEffortPrefix;

    for (std::size_t i = 0; i < msgs.size(); ++i) {
        const Message &m = msgs[i];
        const std::ptrdiff_t idx = std::ptrdiff_t(i);
        switch (m.role) {
        case Role::System:
            out += m.content;
            if (!m.toolsJson.empty())
                out += toolsBlock(m.toolsJson);
            if (!m.responseFormatJson.empty())
                out += responseFormatBlock(m.responseFormatJson);
            break;
        case Role::User:
        case Role::Developer:
            out += kUser;
            out += m.content;
            if (m.role == Role::Developer && !m.toolsJson.empty())
                out += toolsBlock(m.toolsJson);
            break;
        case Role::LatestReminder:
            out += kLatestReminder;
            out += m.content;
            break;
        case Role::Assistant: {
            const bool afterTask = i > 0 && isUserLike(msgs[i - 1].role)
                                   && !msgs[i - 1].task.empty();
            if (thinking && !afterTask && (!drop || idx > lastUser)) {
                out += m.reasoningContent;
                out += kThinkClose;
            }
            out += m.content;
            if (!m.toolCalls.empty())
                out += toolCallsBlock(m.toolCalls);
            if (!m.withoutEos)
                out += kEos;
            if (m.task == "title")
                out += taskToken("title");
            break;
        }
        case Role::Tool: // merged away above
            break;
        }

        const bool transition = i + 1 == msgs.size() || msgs[i + 1].role == Role::Assistant
                                || msgs[i + 1].role == Role::LatestReminder;
        if (!transition || !isUserLike(m.role))
            continue;
        const std::string_view think = thinking && (!drop || idx == lastUser) ? kThinkOpen
                                                                              : kThinkClose;
        if (m.task.empty()) {
            out += kAssistant;
            out += think;
        } else if (m.task == "action") {
            out += kAssistant;
            out += think;
            out += taskToken("action");
        } else {
            out += taskToken(m.task);
        }
    }
    return out;
}

// ---- JSON input ------------------------------------------------------------------------------

namespace {

std::string jsonText(const OJson &v)
{
    return v.is_string() ? v.get<std::string>() : pythonJsonDumps(v);
}

Result<std::string> contentText(const OJson &c, std::size_t index)
{
    if (c.is_null())
        return std::string();
    if (c.is_string())
        return c.get<std::string>();
    if (c.is_array()) {
        std::string s;
        for (const OJson &part : c) {
            std::string piece;
            if (part.is_string())
                piece = part.get<std::string>();
            else if (part.is_object() && part.contains("text") && part["text"].is_string())
                piece = part["text"].get<std::string>();
            else
                return fail(Error::Kind::InvalidArgument,
                            "messages[" + std::to_string(index) + "]: content part without text");
            if (!s.empty())
                s += "\n\n";
            s += piece;
        }
        return s;
    }
    return fail(Error::Kind::InvalidArgument,
                "messages[" + std::to_string(index) + "]: content must be a string, array or null");
}

} // namespace

Result<std::vector<Message>> messagesFromJson(const OJson &messages)
{
    if (!messages.is_array())
        return fail(Error::Kind::InvalidArgument, "\"messages\" must be an array");
    std::vector<Message> out;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const OJson &j = messages[i];
        const std::string where = "messages[" + std::to_string(i) + "]";
        if (!j.is_object() || !j.contains("role") || !j["role"].is_string())
            return fail(Error::Kind::InvalidArgument,
                        where + ": object with a string \"role\" expected");
        static const std::unordered_map<std::string, Role> roles = {
            {"system", Role::System},
            {"user", Role::User},
            {"assistant", Role::Assistant},
            {"tool", Role::Tool},
            {"developer", Role::Developer},
            {"latest_reminder", Role::LatestReminder},
        };
        const std::string roleName = j["role"].get<std::string>();
        auto role = roles.find(roleName);
        if (role == roles.end())
            return fail(Error::Kind::InvalidArgument, where + ": unknown role '" + roleName + "'");
        Message m;
        m.role = role->second;
        if (j.contains("content")) {
            FATHOM_TRY_ASSIGN(m.content, contentText(j["content"], i));
        }
        if (j.contains("reasoning_content") && j["reasoning_content"].is_string())
            m.reasoningContent = j["reasoning_content"].get<std::string>();
        if (j.contains("tool_call_id") && j["tool_call_id"].is_string())
            m.toolCallId = j["tool_call_id"].get<std::string>();
        if (j.contains("tools") && !j["tools"].is_null())
            m.toolsJson = pythonJsonDumps(j["tools"]);
        if (j.contains("response_format") && !j["response_format"].is_null())
            m.responseFormatJson = pythonJsonDumps(j["response_format"]);
        if (j.contains("task") && j["task"].is_string())
            m.task = j["task"].get<std::string>();
        if (j.contains("wo_eos") && j["wo_eos"].is_boolean())
            m.withoutEos = j["wo_eos"].get<bool>();
        if (j.contains("tool_calls") && j["tool_calls"].is_array()) {
            for (const OJson &c : j["tool_calls"]) {
                const OJson &f = c.contains("function") ? c["function"] : c;
                if (!f.is_object() || !f.contains("name") || !f["name"].is_string())
                    return fail(Error::Kind::InvalidArgument,
                                where + ": tool call without a function name");
                ToolCall call;
                call.name = f["name"].get<std::string>();
                if (c.contains("id") && c["id"].is_string())
                    call.id = c["id"].get<std::string>();
                if (f.contains("arguments"))
                    call.argumentsJson = jsonText(f["arguments"]);
                m.toolCalls.push_back(std::move(call));
            }
        }
        out.push_back(std::move(m));
    }
    return out;
}

Result<EncodeRequest> parseEncodeRequest(std::string_view jsonText)
{
    const OJson j = OJson::parse(jsonText.begin(), jsonText.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return fail(Error::Kind::Format, "request: not a JSON object");
    if (!j.contains("messages"))
        return fail(Error::Kind::InvalidArgument, "request: no \"messages\"");
    EncodeRequest r;
    FATHOM_TRY_ASSIGN(r.messages, messagesFromJson(j["messages"]));
    if (j.contains("tools") && !j["tools"].is_null() && !r.messages.empty())
        r.messages.front().toolsJson = pythonJsonDumps(j["tools"]);
    if (j.contains("thinking_mode")) {
        const std::string mode = j["thinking_mode"].is_string()
                                     ? j["thinking_mode"].get<std::string>()
                                     : "";
        if (mode == "chat")
            r.options.thinkingMode = ThinkingMode::Chat;
        else if (mode == "thinking")
            r.options.thinkingMode = ThinkingMode::Thinking;
        else
            return fail(Error::Kind::InvalidArgument,
                        "request: thinking_mode must be \"chat\" or \"thinking\"");
    }
    if (j.contains("drop_thinking")) {
        if (!j["drop_thinking"].is_boolean())
            return fail(Error::Kind::InvalidArgument, "request: drop_thinking must be a boolean");
        r.options.dropThinking = j["drop_thinking"].get<bool>();
    }
    if (j.contains("add_default_bos_token")) {
        if (!j["add_default_bos_token"].is_boolean())
            return fail(Error::Kind::InvalidArgument,
                        "request: add_default_bos_token must be a boolean");
        r.options.addBos = j["add_default_bos_token"].get<bool>();
    }
    if (j.contains("reasoning_effort") && !j["reasoning_effort"].is_null()) {
        const std::string e = j["reasoning_effort"].is_string()
                                  ? j["reasoning_effort"].get<std::string>()
                                  : "";
        if (e == "high")
            r.options.reasoningEffort = ReasoningEffort::High;
        else if (e == "max")
            r.options.reasoningEffort = ReasoningEffort::Max;
        else
            return fail(Error::Kind::InvalidArgument,
                        "request: reasoning_effort must be null, \"high\" or \"max\"");
    }
    if (j.contains("context") && !j["context"].is_null())
        return fail(Error::Kind::Unsupported,
                    "request: \"context\" is not supported (spec §8 does not define how a "
                    "continued prefix takes part in drop-thinking, transitions and tool-result "
                    "merging); send the whole message list instead");
    return r;
}

// ---- Completion parsing ----------------------------------------------------------------------

namespace {

const std::string kToolsStart = "\n\n" + dsml("tool_calls");
const std::string kToolsOpen = kToolsStart + ">";
const std::string kToolsClose = dsmlClose("tool_calls>");
const std::string kInvokeOpen = dsml("invoke name=\"");
const std::string kInvokeClose = dsmlClose("invoke>");
const std::string kParamOpen = dsml("parameter name=\"");
const std::string kParamClose = dsmlClose("parameter>");

// Length of the longest suffix of s that is a proper prefix of one of the markers.
std::size_t heldBackLength(std::string_view s, std::initializer_list<std::string_view> markers)
{
    std::size_t best = 0;
    for (std::string_view m : markers) {
        const std::size_t maxLen = std::min(s.size(), m.size() - 1);
        for (std::size_t len = maxLen; len > best; --len) {
            if (s.substr(s.size() - len) == m.substr(0, len)) {
                best = len;
                break;
            }
        }
    }
    return best;
}

bool isBlank(char c)
{
    return c == '\n' || c == ' ' || c == '\t' || c == '\r';
}

} // namespace

CompletionParser::CompletionParser(ThinkingMode mode)
    : m_state(mode == ThinkingMode::Thinking ? State::Reasoning : State::Content)
{}

void CompletionParser::emitReasoning(Delta &d, std::string_view s)
{
    d.reasoningContent += s;
    m_result.reasoningContent += s;
}

void CompletionParser::emitContent(Delta &d, std::string_view s)
{
    d.content += s;
    m_result.content += s;
}

CompletionParser::Delta CompletionParser::push(std::string_view text)
{
    Delta d;
    m_buffer += text;
    step(d, false);
    return d;
}

CompletionParser::Delta CompletionParser::finish()
{
    Delta d;
    step(d, true);
    return d;
}

void CompletionParser::failBlock(Delta &d, std::string message)
{
    if (m_error.empty())
        m_error = std::move(message);
    // The raw text is content from here on; tool calls already reported stay.
    m_state = State::PlainContent;
    (void) d;
}

void CompletionParser::step(Delta &d, bool atEnd)
{
    for (;;) {
        switch (m_state) {
        case State::Done:
            m_buffer.clear();
            return;
        case State::Reasoning: {
            const std::size_t close = m_buffer.find(kThinkClose);
            const std::size_t eos = m_buffer.find(kEos);
            if (close != std::string::npos && (eos == std::string::npos || close < eos)) {
                emitReasoning(d, std::string_view(m_buffer).substr(0, close));
                m_buffer.erase(0, close + kThinkClose.size());
                m_state = State::Content;
                continue;
            }
            if (eos != std::string::npos) {
                emitReasoning(d, std::string_view(m_buffer).substr(0, eos));
                m_result.finished = true;
                m_state = State::Done;
                continue;
            }
            const std::size_t hold = atEnd ? 0 : heldBackLength(m_buffer, {kThinkClose, kEos});
            emitReasoning(d, std::string_view(m_buffer).substr(0, m_buffer.size() - hold));
            m_buffer.erase(0, m_buffer.size() - hold);
            return;
        }
        case State::Content:
        case State::PlainContent: {
            const bool tools = m_state == State::Content;
            const std::size_t start = tools ? m_buffer.find(kToolsStart) : std::string::npos;
            const std::size_t eos = m_buffer.find(kEos);
            if (start != std::string::npos && (eos == std::string::npos || start < eos)) {
                emitContent(d, std::string_view(m_buffer).substr(0, start));
                m_buffer.erase(0, start);
                m_blockPos = 0;
                m_state = State::ToolCalls;
                continue;
            }
            if (eos != std::string::npos) {
                emitContent(d, std::string_view(m_buffer).substr(0, eos));
                m_result.finished = true;
                m_state = State::Done;
                continue;
            }
            const std::size_t hold = atEnd   ? 0
                                     : tools ? heldBackLength(m_buffer, {kToolsStart, kEos})
                                             : heldBackLength(m_buffer, {kEos});
            emitContent(d, std::string_view(m_buffer).substr(0, m_buffer.size() - hold));
            m_buffer.erase(0, m_buffer.size() - hold);
            return;
        }
        case State::ToolCalls:
            if (!parseInvokes(d, atEnd))
                return; // needs more text
            continue;
        case State::AfterToolCalls: {
            if (m_buffer.compare(0, kEos.size(), kEos) == 0) {
                m_result.finished = true;
                m_state = State::Done;
                continue;
            }
            if (m_buffer.empty()
                || (!atEnd && std::string_view(kEos).substr(0, m_buffer.size()) == m_buffer))
                return;
            failBlock(d, "text after the tool-call block");
            continue;
        }
        }
    }
}

// Parses complete invoke elements from m_buffer (which starts with the tool-call block);
// returns false when more text is needed. Invokes are reported as soon as they close.
bool CompletionParser::parseInvokes(Delta &d, bool atEnd)
{
    const std::string_view b = m_buffer;
    // expect(lit): true and advance if b[pos..] starts with lit; sets `more` if b ends inside it.
    bool more = false;
    auto expect = [&](std::size_t &pos, const std::string &lit) {
        if (b.size() - pos < lit.size()) {
            if (b.substr(pos) == std::string_view(lit).substr(0, b.size() - pos))
                more = true;
            return false;
        }
        if (b.compare(pos, lit.size(), lit) != 0)
            return false;
        pos += lit.size();
        return true;
    };
    auto until = [&](std::size_t &pos, std::string_view term, std::string &value) {
        const std::size_t e = b.find(term, pos);
        if (e == std::string_view::npos) {
            more = true;
            return false;
        }
        value.assign(b.substr(pos, e - pos));
        pos = e + term.size();
        return true;
    };
    auto skipBlanks = [&](std::size_t &pos) {
        while (pos < b.size() && isBlank(b[pos]))
            ++pos;
    };
    auto needMore = [&]() {
        if (atEnd) {
            failBlock(d, "incomplete tool-call block");
            emitContent(d, std::string_view(m_buffer).substr(m_blockPos));
            m_buffer.clear();
            return true;
        }
        return false;
    };
    auto broken = [&](const char *what) {
        failBlock(d, std::string("malformed tool-call block: ") + what);
        const std::string rest = m_buffer.substr(m_blockPos);
        m_buffer = rest;
        return true;
    };

    std::size_t pos = m_blockPos;
    if (pos == 0) {
        if (!expect(pos, kToolsOpen))
            return more ? needMore() : broken("expected the tool_calls tag");
        m_blockPos = pos;
    }
    for (;;) {
        pos = m_blockPos;
        skipBlanks(pos);
        if (pos == b.size())
            return needMore();
        if (expect(pos, kToolsClose)) {
            m_buffer.erase(0, pos);
            m_blockPos = 0;
            m_state = State::AfterToolCalls;
            return true;
        }
        if (more)
            return needMore();
        if (!expect(pos, kInvokeOpen))
            return more ? needMore() : broken("expected an invoke element");
        std::string name;
        if (!until(pos, "\">", name))
            return needMore();
        OJson args = OJson::object();
        for (;;) {
            skipBlanks(pos);
            if (pos == b.size())
                return needMore();
            if (expect(pos, kInvokeClose))
                break;
            if (more)
                return needMore();
            if (!expect(pos, kParamOpen))
                return more ? needMore() : broken("expected a parameter element");
            std::string key, kind, value;
            if (!until(pos, "\" string=\"", key) || !until(pos, "\">", kind)
                || !until(pos, kParamClose, value))
                return needMore();
            if (kind == "true") {
                args[key] = value;
            } else if (kind == "false") {
                OJson v = OJson::parse(value, nullptr, false);
                args[key] = v.is_discarded() ? OJson(value) : std::move(v);
            } else {
                return broken("string attribute is neither true nor false");
            }
        }
        ToolCall call;
        call.name = std::move(name);
        call.argumentsJson = pythonJsonDumps(args);
        d.toolCalls.push_back(call);
        m_result.toolCalls.push_back(std::move(call));
        m_blockPos = pos;
    }
}

Result<ParsedCompletion> parseCompletion(std::string_view text, ThinkingMode mode)
{
    CompletionParser p(mode);
    p.push(text);
    p.finish();
    if (!p.error().empty())
        return fail(Error::Kind::Format, "completion: " + p.error());
    return p.result();
}

nlohmann::ordered_json completionToJson(const ParsedCompletion &c)
{
    OJson j = OJson::object();
    j["reasoning_content"] = c.reasoningContent;
    j["content"] = c.content;
    j["tool_calls"] = OJson::array();
    for (const ToolCall &call : c.toolCalls) {
        OJson f = OJson::object();
        f["name"] = call.name;
        f["arguments"] = call.argumentsJson;
        OJson t = OJson::object();
        t["type"] = "function";
        t["function"] = std::move(f);
        j["tool_calls"].push_back(std::move(t));
    }
    return j;
}

} // namespace fathom::engine::chat
