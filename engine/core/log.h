// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Engine logging hook. The engine is Qt-free and must build on the GPU machine without spdlog,
  so it logs through one process-wide sink function. The app installs a sink that forwards to
  spdlog (app/core/logging.cpp); without one, warnings and errors go to stderr.
*/

#include <string>
#include <string_view>

namespace fathom::engine {

enum class LogLevel { Trace, Debug, Info, Warning, Error };

using LogSink = void (*)(LogLevel level, std::string_view component, std::string_view message);

// Thread-safe; pass nullptr to restore the stderr default.
void setLogSink(LogSink sink);
void log(LogLevel level, std::string_view component, std::string_view message);

inline void logInfo(std::string_view component, std::string_view message)
{
    log(LogLevel::Info, component, message);
}
inline void logWarning(std::string_view component, std::string_view message)
{
    log(LogLevel::Warning, component, message);
}
inline void logError(std::string_view component, std::string_view message)
{
    log(LogLevel::Error, component, message);
}

} // namespace fathom::engine
