// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "openaiapi.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>

#include <cmath>

namespace fathom::server {

using namespace fathom::engine;

namespace {

Unexpected<ApiError> bad(const QString &message, const QString &param = {}, int status = 400)
{
    ApiError e;
    e.status = status;
    e.message = message;
    e.param = param;
    return Unexpected<ApiError>(std::move(e));
}

bool isInteger(const QJsonValue &v)
{
    if (!v.isDouble())
        return false;
    const double d = v.toDouble();
    return std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9.0e15;
}

// Message content: a string, null, or an array of {"type": "text", "text": ...} parts.
Expected<QString, ApiError> contentOf(const QJsonValue &v, const QString &param)
{
    if (v.isString())
        return v.toString();
    if (v.isNull() || v.isUndefined())
        return QString();
    if (v.isArray()) {
        QString text;
        for (const QJsonValue &part : v.toArray()) {
            const QJsonObject o = part.toObject();
            if (!part.isObject()
                || o.value(QLatin1String("type")).toString() != QLatin1String("text")
                || !o.value(QLatin1String("text")).isString())
                return bad(QStringLiteral("only text content parts are supported"), param);
            text += o.value(QLatin1String("text")).toString();
        }
        return text;
    }
    return bad(QStringLiteral("content must be a string, null or an array of text parts"), param);
}

std::string compactJson(const QJsonValue &v)
{
    if (v.isArray())
        return QJsonDocument(v.toArray()).toJson(QJsonDocument::Compact).toStdString();
    return QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact).toStdString();
}

} // namespace

Expected<ChatRequest, ApiError> parseChatRequest(const QByteArray &body, const ApiLimits &limits)
{
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &parseError);
    if (parseError.error != QJsonParseError::NoError)
        return bad(QStringLiteral("the request body is not valid JSON: %1 at offset %2")
                       .arg(parseError.errorString())
                       .arg(parseError.offset));
    if (!doc.isObject())
        return bad(QStringLiteral("the request body must be a JSON object"));
    const QJsonObject o = doc.object();

    ChatRequest out;
    GenerationRequest &r = out.request;
    r.maxTokens = limits.defaultMaxTokens;

    // model: optional here (one model is served), but a different one is an error.
    if (o.contains(QLatin1String("model"))) {
        const QJsonValue m = o.value(QLatin1String("model"));
        if (!m.isString())
            return bad(QStringLiteral("model must be a string"), QStringLiteral("model"));
        const QString id = m.toString();
        if (!id.isEmpty() && id != limits.modelId && id != QLatin1String("auto")) {
            ApiError e;
            e.status = 404;
            e.message = QStringLiteral("The model '%1' does not exist; this server serves '%2'")
                            .arg(id, limits.modelId);
            e.param = QStringLiteral("model");
            e.code = QStringLiteral("model_not_found");
            return Unexpected<ApiError>(std::move(e));
        }
    }
    r.model = limits.modelId.toStdString();

    const QJsonValue messages = o.value(QLatin1String("messages"));
    if (!messages.isArray() || messages.toArray().isEmpty())
        return bad(QStringLiteral("messages must be a non-empty array"), QStringLiteral("messages"));
    const QJsonArray list = messages.toArray();
    for (qsizetype i = 0; i < list.size(); ++i) {
        const QString param = QStringLiteral("messages[%1]").arg(i);
        if (!list[i].isObject())
            return bad(QStringLiteral("each message must be an object"), param);
        const QJsonObject m = list[i].toObject();
        const QJsonValue roleValue = m.value(QLatin1String("role"));
        if (!roleValue.isString())
            return bad(QStringLiteral("role must be a string"), param + QLatin1String(".role"));
        const QString role = roleValue.toString();
        chat::Message msg;
        if (role == QLatin1String("system"))
            msg.role = chat::Role::System;
        else if (role == QLatin1String("user"))
            msg.role = chat::Role::User;
        else if (role == QLatin1String("assistant"))
            msg.role = chat::Role::Assistant;
        else if (role == QLatin1String("tool"))
            msg.role = chat::Role::Tool;
        else if (role == QLatin1String("developer"))
            msg.role = chat::Role::Developer;
        else
            return bad(QStringLiteral("unknown role '%1'").arg(role),
                       param + QLatin1String(".role"));
        auto content = contentOf(m.value(QLatin1String("content")),
                                 param + QLatin1String(".content"));
        if (!content)
            return Unexpected<ApiError>(content.error());
        msg.content = content->toStdString();
        if (msg.role == chat::Role::Assistant) {
            const QJsonValue reasoning = m.value(QLatin1String("reasoning_content"));
            if (reasoning.isString())
                msg.reasoningContent = reasoning.toString().toStdString();
            else if (!reasoning.isNull() && !reasoning.isUndefined())
                return bad(QStringLiteral("reasoning_content must be a string"),
                           param + QLatin1String(".reasoning_content"));
            const QJsonValue calls = m.value(QLatin1String("tool_calls"));
            if (calls.isArray()) {
                for (const QJsonValue &c : calls.toArray()) {
                    const QJsonObject call = c.toObject();
                    const QJsonObject fn = call.value(QLatin1String("function")).toObject();
                    if (!c.isObject() || !fn.value(QLatin1String("name")).isString())
                        return bad(QStringLiteral("each tool call needs function.name"),
                                   param + QLatin1String(".tool_calls"));
                    chat::ToolCall tc;
                    tc.id = call.value(QLatin1String("id")).toString().toStdString();
                    tc.name = fn.value(QLatin1String("name")).toString().toStdString();
                    const QJsonValue args = fn.value(QLatin1String("arguments"));
                    tc.argumentsJson = args.isString() ? args.toString().toStdString()
                                                       : compactJson(args);
                    msg.toolCalls.push_back(std::move(tc));
                }
            } else if (!calls.isNull() && !calls.isUndefined()) {
                return bad(QStringLiteral("tool_calls must be an array"),
                           param + QLatin1String(".tool_calls"));
            }
        }
        if (msg.role == chat::Role::Tool) {
            const QJsonValue id = m.value(QLatin1String("tool_call_id"));
            if (!id.isString())
                return bad(QStringLiteral("a tool message needs tool_call_id"),
                           param + QLatin1String(".tool_call_id"));
            msg.toolCallId = id.toString().toStdString();
        }
        r.messages.push_back(std::move(msg));
    }

    // Tools and response_format belong to the system message in the V4 prompt.
    auto systemMessage = [&]() -> chat::Message & {
        for (chat::Message &m : r.messages)
            if (m.role == chat::Role::System)
                return m;
        chat::Message system;
        system.role = chat::Role::System;
        r.messages.insert(r.messages.begin(), system);
        return r.messages.front();
    };
    if (const QJsonValue tools = o.value(QLatin1String("tools"));
        !tools.isUndefined() && !tools.isNull()) {
        if (!tools.isArray())
            return bad(QStringLiteral("tools must be an array"), QStringLiteral("tools"));
        QJsonArray functions;
        for (const QJsonValue &t : tools.toArray()) {
            const QJsonObject fn = t.toObject().value(QLatin1String("function")).toObject();
            if (!t.isObject() || !fn.value(QLatin1String("name")).isString())
                return bad(QStringLiteral("each tool needs a function with a name"),
                           QStringLiteral("tools"));
            functions.append(fn);
        }
        if (!functions.isEmpty())
            systemMessage().toolsJson = compactJson(functions);
    }
    if (const QJsonValue format = o.value(QLatin1String("response_format"));
        !format.isUndefined() && !format.isNull()) {
        if (!format.isObject())
            return bad(QStringLiteral("response_format must be an object"),
                       QStringLiteral("response_format"));
        if (format.toObject().value(QLatin1String("type")).toString() != QLatin1String("text"))
            systemMessage().responseFormatJson = compactJson(format);
    }

    // Sampling.
    if (const QJsonValue v = o.value(QLatin1String("temperature"));
        !v.isUndefined() && !v.isNull()) {
        if (!v.isDouble() || v.toDouble() < 0.0 || v.toDouble() > 2.0)
            return bad(QStringLiteral("temperature must be a number from 0 to 2"),
                       QStringLiteral("temperature"));
        r.sampling.temperature = float(v.toDouble());
    }
    if (const QJsonValue v = o.value(QLatin1String("top_p")); !v.isUndefined() && !v.isNull()) {
        if (!v.isDouble() || v.toDouble() <= 0.0 || v.toDouble() > 1.0)
            return bad(QStringLiteral("top_p must be a number in (0, 1]"), QStringLiteral("top_p"));
        r.sampling.topP = float(v.toDouble());
    }
    if (const QJsonValue v = o.value(QLatin1String("top_k")); !v.isUndefined() && !v.isNull()) {
        if (!isInteger(v) || v.toDouble() < -1)
            return bad(QStringLiteral("top_k must be an integer"), QStringLiteral("top_k"));
        r.sampling.topK = std::max(0, v.toInt());
    }
    if (const QJsonValue v = o.value(QLatin1String("min_p")); !v.isUndefined() && !v.isNull()) {
        if (!v.isDouble() || v.toDouble() < 0.0 || v.toDouble() > 1.0)
            return bad(QStringLiteral("min_p must be a number in [0, 1]"), QStringLiteral("min_p"));
        r.sampling.minP = float(v.toDouble());
    }
    if (const QJsonValue v = o.value(QLatin1String("seed")); !v.isUndefined() && !v.isNull()) {
        if (!isInteger(v))
            return bad(QStringLiteral("seed must be an integer"), QStringLiteral("seed"));
        r.sampling.seed = static_cast<std::uint64_t>(static_cast<qint64>(v.toDouble()));
    }
    if (const QJsonValue v = o.value(QLatin1String("n")); !v.isUndefined() && !v.isNull()) {
        if (!isInteger(v) || v.toInt() != 1)
            return bad(QStringLiteral("only n = 1 is supported"), QStringLiteral("n"));
    }
    for (const char *name : {"max_tokens", "max_completion_tokens"}) {
        const QJsonValue v = o.value(QLatin1String(name));
        if (v.isUndefined() || v.isNull())
            continue;
        if (!isInteger(v) || v.toDouble() < 1)
            return bad(QStringLiteral("%1 must be a positive integer").arg(QLatin1String(name)),
                       QLatin1String(name));
        if (limits.contextLength > 0 && v.toDouble() > limits.contextLength)
            return bad(QStringLiteral("%1 = %2 is larger than the model's context of %3 tokens")
                           .arg(QLatin1String(name))
                           .arg(qint64(v.toDouble()))
                           .arg(limits.contextLength),
                       QLatin1String(name));
        r.maxTokens = v.toInt();
    }

    // Streaming.
    if (const QJsonValue v = o.value(QLatin1String("stream")); !v.isUndefined() && !v.isNull()) {
        if (!v.isBool())
            return bad(QStringLiteral("stream must be a boolean"), QStringLiteral("stream"));
        out.stream = v.toBool();
    }
    if (const QJsonValue v = o.value(QLatin1String("stream_options"));
        !v.isUndefined() && !v.isNull()) {
        if (!v.isObject())
            return bad(QStringLiteral("stream_options must be an object"),
                       QStringLiteral("stream_options"));
        const QJsonValue usage = v.toObject().value(QLatin1String("include_usage"));
        if (!usage.isUndefined() && !usage.isBool())
            return bad(QStringLiteral("stream_options.include_usage must be a boolean"),
                       QStringLiteral("stream_options.include_usage"));
        out.includeUsage = usage.toBool();
    }

    // Thinking mode and effort: on by default, as vLLM does for V4.
    r.thinkingMode = chat::ThinkingMode::Thinking;
    r.reasoningEffort = chat::ReasoningEffort::High;
    if (const QJsonValue v = o.value(QLatin1String("thinking")); v.isObject()) {
        const QString type = v.toObject().value(QLatin1String("type")).toString();
        if (type == QLatin1String("disabled"))
            r.thinkingMode = chat::ThinkingMode::Chat;
        else if (type != QLatin1String("enabled"))
            return bad(QStringLiteral("thinking.type must be \"enabled\" or \"disabled\""),
                       QStringLiteral("thinking"));
    } else if (!v.isUndefined() && !v.isNull()) {
        return bad(QStringLiteral("thinking must be an object"), QStringLiteral("thinking"));
    }
    if (const QJsonValue v = o.value(QLatin1String("chat_template_kwargs")); v.isObject()) {
        const QJsonValue t = v.toObject().value(QLatin1String("thinking"));
        if (t.isBool())
            r.thinkingMode = t.toBool() ? chat::ThinkingMode::Thinking : chat::ThinkingMode::Chat;
    }
    if (const QJsonValue v = o.value(QLatin1String("reasoning_effort"));
        !v.isUndefined() && !v.isNull()) {
        if (!v.isString())
            return bad(QStringLiteral("reasoning_effort must be a string"),
                       QStringLiteral("reasoning_effort"));
        const QString effort = v.toString();
        if (effort == QLatin1String("none")) {
            r.thinkingMode = chat::ThinkingMode::Chat;
        } else if (effort == QLatin1String("max")) {
            r.thinkingMode = chat::ThinkingMode::Thinking;
            r.reasoningEffort = chat::ReasoningEffort::Max;
        } else if (effort == QLatin1String("high") || effort == QLatin1String("xhigh")) {
            r.thinkingMode = chat::ThinkingMode::Thinking;
            r.reasoningEffort = chat::ReasoningEffort::High;
        } else if (effort == QLatin1String("low") || effort == QLatin1String("minimal")
                   || effort == QLatin1String("medium")) {
            r.thinkingMode = chat::ThinkingMode::Thinking;
            r.reasoningEffort = chat::ReasoningEffort::None;
        } else {
            return bad(QStringLiteral(
                           "reasoning_effort must be one of none, minimal, low, medium, high, "
                           "xhigh, max"),
                       QStringLiteral("reasoning_effort"));
        }
    }
    if (r.thinkingMode == chat::ThinkingMode::Chat)
        r.reasoningEffort = chat::ReasoningEffort::None;
    return out;
}

QByteArray errorBody(const ApiError &error)
{
    QJsonObject e;
    e.insert(QLatin1String("message"), error.message);
    e.insert(QLatin1String("type"), error.type);
    e.insert(QLatin1String("param"),
             error.param.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(error.param));
    e.insert(QLatin1String("code"),
             error.code.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(error.code));
    return QJsonDocument(QJsonObject{{QLatin1String("error"), e}}).toJson(QJsonDocument::Compact);
}

QString finishReasonName(FinishReason reason)
{
    switch (reason) {
    case FinishReason::Stop:
        return QStringLiteral("stop");
    case FinishReason::Length:
        return QStringLiteral("length");
    case FinishReason::ToolCalls:
        return QStringLiteral("tool_calls");
    case FinishReason::Cancelled:
        return QStringLiteral("abort");
    case FinishReason::Error:
        return QStringLiteral("error");
    }
    return QStringLiteral("stop");
}

QJsonObject usageObject(const GenerationStats &stats)
{
    QJsonObject usage{{QLatin1String("prompt_tokens"), stats.promptTokens},
                      {QLatin1String("completion_tokens"), stats.completionTokens},
                      {QLatin1String("total_tokens"), stats.promptTokens + stats.completionTokens}};
    usage.insert(QLatin1String("prompt_tokens_details"),
                 QJsonObject{{QLatin1String("cached_tokens"), stats.cachedPromptTokens}});
    return usage;
}

QJsonArray toolCallsArray(const std::vector<chat::ToolCall> &calls, bool withIndex)
{
    QJsonArray array;
    for (std::size_t i = 0; i < calls.size(); ++i) {
        QJsonObject call{{QLatin1String("id"), QString::fromStdString(calls[i].id)},
                         {QLatin1String("type"), QStringLiteral("function")},
                         {QLatin1String("function"),
                          QJsonObject{{QLatin1String("name"), QString::fromStdString(calls[i].name)},
                                      {QLatin1String("arguments"),
                                       QString::fromStdString(calls[i].argumentsJson)}}}};
        if (withIndex)
            call.insert(QLatin1String("index"), int(i));
        array.append(call);
    }
    return array;
}

namespace {
// The engine's own figures for the answer, outside the OpenAI fields (clients ignore unknown
// keys): what a benchmark compares the rate it sees with (tests/bench/bench_server.mjs).
void addTimings(QJsonObject &o, const GenerationStats &stats)
{
    if (stats.decodeTokensPerSecond <= 0 && stats.timeToFirstTokenMs <= 0)
        return;
    o.insert(QLatin1String("fathom_timings"),
             QJsonObject{{QLatin1String("decode_tokens_per_second"), stats.decodeTokensPerSecond},
                         {QLatin1String("prompt_tokens_per_second"), stats.promptTokensPerSecond},
                         {QLatin1String("time_to_first_token_ms"), stats.timeToFirstTokenMs}});
}

QJsonObject envelope(const CompletionIds &ids, const char *object)
{
    return QJsonObject{{QLatin1String("id"), ids.id},
                       {QLatin1String("object"), QLatin1String(object)},
                       {QLatin1String("created"), ids.created},
                       {QLatin1String("model"), ids.model}};
}
} // namespace

QJsonObject chunkObject(const CompletionIds &ids,
                        const QJsonObject &delta,
                        const std::optional<FinishReason> &finish)
{
    QJsonObject o = envelope(ids, "chat.completion.chunk");
    QJsonObject choice{{QLatin1String("index"), 0},
                       {QLatin1String("delta"), delta},
                       {QLatin1String("logprobs"), QJsonValue::Null},
                       {QLatin1String("finish_reason"),
                        finish ? QJsonValue(finishReasonName(*finish))
                               : QJsonValue(QJsonValue::Null)}};
    o.insert(QLatin1String("choices"), QJsonArray{choice});
    return o;
}

QJsonObject usageChunkObject(const CompletionIds &ids, const GenerationStats &stats)
{
    QJsonObject o = envelope(ids, "chat.completion.chunk");
    o.insert(QLatin1String("choices"), QJsonArray());
    o.insert(QLatin1String("usage"), usageObject(stats));
    addTimings(o, stats);
    return o;
}

QJsonObject completionObject(const CompletionIds &ids,
                             const QString &reasoning,
                             const QString &content,
                             const std::vector<chat::ToolCall> &toolCalls,
                             FinishReason finish,
                             const GenerationStats &stats)
{
    QJsonObject o = envelope(ids, "chat.completion");
    QJsonObject message{{QLatin1String("role"), QStringLiteral("assistant")},
                        {QLatin1String("content"), content}};
    if (!reasoning.isEmpty())
        message.insert(QLatin1String("reasoning_content"), reasoning);
    if (!toolCalls.empty())
        message.insert(QLatin1String("tool_calls"), toolCallsArray(toolCalls, false));
    QJsonObject choice{{QLatin1String("index"), 0},
                       {QLatin1String("message"), message},
                       {QLatin1String("logprobs"), QJsonValue::Null},
                       {QLatin1String("finish_reason"), finishReasonName(finish)}};
    o.insert(QLatin1String("choices"), QJsonArray{choice});
    o.insert(QLatin1String("usage"), usageObject(stats));
    addTimings(o, stats);
    return o;
}

} // namespace fathom::server
