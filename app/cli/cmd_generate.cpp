// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom-cli generate (stable command line, see the README): one chat turn on the CPU backend.
// The answer streams to stdout; the reasoning (thinking mode) streams to stderr between marker
// lines; statistics go to stderr at the end.

#include "commands.h"

#include "engine/cpu/cpubackend.h"

#include <QString>

#include <cstdio>
#include <string>

namespace fathom::cli {

namespace {

class PrintSink final : public engine::TokenSink
{
public:
    void onText(engine::RequestId, const std::string &reasoning, const std::string &content) override
    {
        if (!reasoning.empty()) {
            if (!m_inReasoning) {
                std::fputs("--- reasoning ---\n", stderr);
                m_inReasoning = true;
            }
            std::fwrite(reasoning.data(), 1, reasoning.size(), stderr);
            std::fflush(stderr);
        }
        if (!content.empty()) {
            if (m_inReasoning) {
                std::fputs("\n--- answer ---\n", stderr);
                m_inReasoning = false;
            }
            std::fwrite(content.data(), 1, content.size(), stdout);
            std::fflush(stdout);
        }
    }
    void onToolCalls(engine::RequestId, const std::vector<engine::chat::ToolCall> &calls) override
    {
        for (const auto &c : calls)
            std::printf("\n[tool call %s] %s(%s)\n",
                        c.id.c_str(),
                        c.name.c_str(),
                        c.argumentsJson.c_str());
        std::fflush(stdout);
    }
    void onFinished(engine::RequestId,
                    engine::FinishReason reason,
                    const engine::GenerationStats &stats) override
    {
        finished = true;
        this->reason = reason;
        this->stats = stats;
    }
    void onError(engine::RequestId, const engine::Error &e) override
    {
        finished = true;
        error = e.toString();
    }

    bool finished = false;
    engine::FinishReason reason = engine::FinishReason::Error;
    engine::GenerationStats stats;
    std::string error;

private:
    bool m_inReasoning = false;
};

const char *reasonName(engine::FinishReason r)
{
    switch (r) {
    case engine::FinishReason::Stop:
        return "stop";
    case engine::FinishReason::Length:
        return "length";
    case engine::FinishReason::Cancelled:
        return "cancelled";
    case engine::FinishReason::ToolCalls:
        return "tool_calls";
    case engine::FinishReason::Error:
        break;
    }
    return "error";
}

void printUsage()
{
    std::printf(
        "usage: fathom-cli generate --model DIR --prompt TEXT [--thinking] [--max-tokens N]\n"
        "                           [--temperature T] [--seed S] [--top-p P] [--top-k K]\n"
        "                           [--min-p M] [--system TEXT] [--reasoning-effort high|max]\n"
        "                           [--threads N] [--exact-linear]\n"
        "  streams the answer to stdout, the reasoning (--thinking) to stderr, and the\n"
        "  statistics to stderr at the end. Defaults: temperature 1.0, top-p 1.0 (model card),\n"
        "  --max-tokens 512; --temperature 0 is greedy. --exact-linear: the exact block sums of\n"
        "  the numerical oracle instead of the reference's fp32 block accumulation (slower).\n");
}

} // namespace

int runGenerate(const QStringList &args)
{
    const char *cmd = "generate";
    QString model, prompt, system;
    engine::GenerationRequest req;
    req.id = 1;
    req.maxTokens = 512;
    int threads = 0;
    bool fastLinear = true; // fp32 block accumulation, as the reference (spec 6.3)
    for (int i = 0; i < args.size(); ++i) {
        const QString &a = args.at(i);
        const bool hasValue = i + 1 < args.size();
        bool ok = true;
        if (a == QLatin1String("--help") || a == QLatin1String("-h")) {
            printUsage();
            return 0;
        } else if (a == QLatin1String("--fast-linear")) {
            fastLinear = true;
        } else if (a == QLatin1String("--exact-linear")) {
            fastLinear = false;
        } else if (a == QLatin1String("--thinking")) {
            req.thinkingMode = engine::chat::ThinkingMode::Thinking;
        } else if (!hasValue) {
            return usageError(cmd, QStringLiteral("unknown or incomplete option '%1'").arg(a));
        } else if (a == QLatin1String("--model")) {
            model = args.at(++i);
        } else if (a == QLatin1String("--prompt")) {
            prompt = args.at(++i);
        } else if (a == QLatin1String("--system")) {
            system = args.at(++i);
        } else if (a == QLatin1String("--max-tokens")) {
            req.maxTokens = args.at(++i).toInt(&ok);
            ok = ok && req.maxTokens > 0;
        } else if (a == QLatin1String("--temperature")) {
            req.sampling.temperature = args.at(++i).toFloat(&ok);
            ok = ok && req.sampling.temperature >= 0;
        } else if (a == QLatin1String("--seed")) {
            req.sampling.seed = args.at(++i).toULongLong(&ok);
        } else if (a == QLatin1String("--top-p")) {
            req.sampling.topP = args.at(++i).toFloat(&ok);
            ok = ok && req.sampling.topP > 0 && req.sampling.topP <= 1;
        } else if (a == QLatin1String("--top-k")) {
            req.sampling.topK = args.at(++i).toInt(&ok);
            ok = ok && req.sampling.topK >= 0;
        } else if (a == QLatin1String("--min-p")) {
            req.sampling.minP = args.at(++i).toFloat(&ok);
            ok = ok && req.sampling.minP >= 0 && req.sampling.minP <= 1;
        } else if (a == QLatin1String("--threads")) {
            threads = args.at(++i).toInt(&ok);
        } else if (a == QLatin1String("--reasoning-effort")) {
            const QString e = args.at(++i);
            if (e == QLatin1String("max"))
                req.reasoningEffort = engine::chat::ReasoningEffort::Max;
            else if (e == QLatin1String("high"))
                req.reasoningEffort = engine::chat::ReasoningEffort::High;
            else if (e == QLatin1String("none"))
                req.reasoningEffort = engine::chat::ReasoningEffort::None;
            else
                ok = false;
        } else {
            return usageError(cmd, QStringLiteral("unknown option '%1'").arg(a));
        }
        if (!ok)
            return usageError(cmd, QStringLiteral("bad value for %1: '%2'").arg(a, args.at(i)));
    }
    if (model.isEmpty() || prompt.isEmpty())
        return usageError(cmd, QStringLiteral("--model DIR and --prompt TEXT are required"));

    if (!system.isEmpty()) {
        engine::chat::Message s;
        s.role = engine::chat::Role::System;
        s.content = system.toStdString();
        req.messages.push_back(s);
    }
    engine::chat::Message user;
    user.role = engine::chat::Role::User;
    user.content = prompt.toStdString();
    req.messages.push_back(user);

    engine::CpuBackendOptions options;
    options.threads = threads;
    options.exactLinear = !fastLinear;
    engine::CpuBackend backend(options);
    auto loaded = backend.load({model.toStdString(), {}, 0, {}}, {});
    if (!loaded) {
        std::fprintf(stderr, "fathom-cli generate: %s\n", loaded.error().toString().c_str());
        return 1;
    }
    PrintSink sink;
    auto submitted = backend.submit(req, sink);
    if (!submitted) {
        std::fprintf(stderr, "fathom-cli generate: %s\n", submitted.error().toString().c_str());
        return 1;
    }
    while (backend.step()) {
    }
    std::fputs("\n", stdout);
    std::fflush(stdout);
    if (!sink.error.empty()) {
        std::fprintf(stderr, "fathom-cli generate: %s\n", sink.error.c_str());
        return 1;
    }
    const engine::GenerationStats &s = sink.stats;
    std::fprintf(stderr,
                 "\n--- %s: %d prompt tokens, %d generated, time to first token %.1f ms, "
                 "prefill %.1f tokens/s, decode %.2f tokens/s, finish %s\n",
                 backend.info().description.c_str(),
                 s.promptTokens,
                 s.completionTokens,
                 s.timeToFirstTokenMs,
                 s.promptTokensPerSecond,
                 s.decodeTokensPerSecond,
                 reasonName(sink.reason));
    return 0;
}

} // namespace fathom::cli
