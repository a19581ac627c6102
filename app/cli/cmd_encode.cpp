// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom-cli encode --request R.json: prints the exact V4 prompt text (spec §8), nothing added.

#include "commands.h"

#include "engine/chat/encoding.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace fathom::cli {

int runEncode(const QStringList &arguments)
{
    QString request;
    for (int i = 0; i < arguments.size(); ++i) {
        const QString &a = arguments.at(i);
        if (a == QLatin1String("--request") && i + 1 < arguments.size()) {
            request = arguments.at(++i);
        } else if (a == QLatin1String("--help") || a == QLatin1String("-h")) {
            std::printf("usage: fathom-cli encode --request R.json|-\n"
                        "  R.json: {\"messages\":[...], \"thinking_mode\":\"chat\"|\"thinking\", "
                        "\"drop_thinking\":true, \"reasoning_effort\":null|\"high\"|\"max\"}\n"
                        "  prints the exact prompt text (no trailing newline)\n");
            return 0;
        } else {
            return usageError("encode", QStringLiteral("unknown or incomplete option '%1'").arg(a));
        }
    }
    if (request.isEmpty())
        return usageError("encode", QStringLiteral("--request FILE is required"));
    std::ostringstream ss;
    if (request == QLatin1String("-")) {
        ss << std::cin.rdbuf();
    } else {
        std::ifstream in(request.toStdString(), std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "fathom-cli encode: cannot open %s\n", qPrintable(request));
            return 1;
        }
        ss << in.rdbuf();
    }
    auto r = engine::chat::parseEncodeRequest(ss.str());
    if (!r) {
        std::fprintf(stderr,
                     "fathom-cli encode: %s: %s\n",
                     qPrintable(request),
                     r.error().toString().c_str());
        return 1;
    }
    const std::string prompt = engine::chat::encodeMessages(r->messages, r->options);
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
    return 0;
}

} // namespace fathom::cli
