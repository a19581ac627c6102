// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "log.h"

#include <atomic>
#include <cstdio>

namespace fathom::engine {

namespace {
std::atomic<LogSink> g_sink {nullptr};

void stderrSink(LogLevel level, std::string_view component, std::string_view message)
{
    if (level < LogLevel::Warning)
        return;
    std::fprintf(stderr,
                 "[%s] %.*s: %.*s\n",
                 level == LogLevel::Error ? "error" : "warning",
                 static_cast<int>(component.size()),
                 component.data(),
                 static_cast<int>(message.size()),
                 message.data());
}
} // namespace

void setLogSink(LogSink sink)
{
    g_sink.store(sink);
}

void log(LogLevel level, std::string_view component, std::string_view message)
{
    if (LogSink sink = g_sink.load())
        sink(level, component, message);
    else
        stderrSink(level, component, message);
}

} // namespace fathom::engine
