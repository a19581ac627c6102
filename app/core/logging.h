// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/core/error.h"

#include <QString>

#include <memory>

namespace spdlog {
class logger;
}

/*
  One logger for the whole process: spdlog with a rotating file (<data>/logs/fathom.log, 5 MiB x
  3 files by default) and stderr. initLogging() also
   - installs a Qt message handler, so qCDebug/qCWarning(lcX) of every Qt category goes to the
     spdlog logger named after the category ("fathom.storage", "qt.qpa.xcb", ...), and
   - installs the engine's log sink (engine/core/log.h), so engine messages go to spdlog loggers
     named after the engine component.
  Messages are always logged as logger->log(level, "{}", text): text is never a format string.
*/

namespace fathom {

struct LoggingOptions
{
    QString logDir; // empty: no file (stderr only)
    QString fileName = QStringLiteral("fathom.log");
    QString level = QStringLiteral("info"); // trace, debug, info, warning, error, critical, off
    bool toStderr = true;
    qint64 maxFileBytes = 5 * 1024 * 1024;
    int maxFiles = 3;
};

// Thread: call once from main() before other threads start; safe to call again (reconfigures).
Result<void> initLogging(const LoggingOptions &options);
// Flushes and uninstalls the Qt handler and the engine sink.
void shutdownLogging();
// The logger for a category or component name (created on first use, sharing the sinks).
std::shared_ptr<spdlog::logger> logger(const QString &name);

} // namespace fathom
