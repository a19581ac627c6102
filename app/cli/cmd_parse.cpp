// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom-cli parse --thinking-mode chat|thinking: a V4 completion on stdin ->
// {"reasoning_content":..., "content":..., "tool_calls":[...]} (spec §8).

#include "commands.h"

#include "engine/chat/encoding.h"

#include <cstdio>
#include <iostream>
#include <sstream>

namespace fathom::cli {

int runParse(const QStringList &arguments)
{
    QString mode;
    for (int i = 0; i < arguments.size(); ++i) {
        const QString &a = arguments.at(i);
        if (a == QLatin1String("--thinking-mode") && i + 1 < arguments.size()) {
            mode = arguments.at(++i);
        } else if (a == QLatin1String("--help") || a == QLatin1String("-h")) {
            std::printf("usage: fathom-cli parse --thinking-mode chat|thinking < completion.txt\n");
            return 0;
        } else {
            return usageError("parse", QStringLiteral("unknown or incomplete option '%1'").arg(a));
        }
    }
    if (mode != QLatin1String("chat") && mode != QLatin1String("thinking"))
        return usageError("parse", QStringLiteral("--thinking-mode chat|thinking is required"));
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    const auto thinking = mode == QLatin1String("chat") ? engine::chat::ThinkingMode::Chat
                                                        : engine::chat::ThinkingMode::Thinking;
    engine::chat::CompletionParser parser(thinking);
    parser.push(ss.str());
    parser.finish();
    const std::string out = engine::chat::completionToJson(parser.result()).dump() + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    if (!parser.error().empty()) {
        std::fprintf(stderr, "fathom-cli parse: %s\n", parser.error().c_str());
        return 1;
    }
    return 0;
}

} // namespace fathom::cli
