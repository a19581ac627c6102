// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "logging.h"

#include "engine/core/log.h"

#include <QCoreApplication>
#include <QDir>
#include <QHash>
#include <QMutex>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <vector>

namespace fathom {

namespace {

struct LogState
{
    QMutex mutex;
    std::vector<spdlog::sink_ptr> sinks;
    QHash<QString, std::shared_ptr<spdlog::logger>> loggers;
    spdlog::level::level_enum level = spdlog::level::info;
    bool qtHandlerInstalled = false;
};

LogState &state()
{
    static LogState s;
    return s;
}

spdlog::level::level_enum toSpdlog(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg:
        return spdlog::level::debug;
    case QtInfoMsg:
        return spdlog::level::info;
    case QtWarningMsg:
        return spdlog::level::warn;
    case QtCriticalMsg:
        return spdlog::level::err;
    case QtFatalMsg:
        return spdlog::level::critical;
    }
    return spdlog::level::info;
}

spdlog::level::level_enum toSpdlog(engine::LogLevel level)
{
    switch (level) {
    case engine::LogLevel::Trace:
        return spdlog::level::trace;
    case engine::LogLevel::Debug:
        return spdlog::level::debug;
    case engine::LogLevel::Info:
        return spdlog::level::info;
    case engine::LogLevel::Warning:
        return spdlog::level::warn;
    case engine::LogLevel::Error:
        return spdlog::level::err;
    }
    return spdlog::level::info;
}

void qtMessageHandler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    const QString category = context.category && *context.category
                                 ? QString::fromUtf8(context.category)
                                 : QStringLiteral("default");
    const std::shared_ptr<spdlog::logger> log = logger(category);
    const QByteArray text = message.toUtf8();
    const spdlog::source_loc where(context.file ? context.file : "",
                                   context.line,
                                   context.function ? context.function : "");
    // NOTE: never pass the text as the format string: a '{' in a message would throw.
    log->log(where, toSpdlog(type), "{}", std::string_view(text.constData(), size_t(text.size())));
    if (type == QtFatalMsg) {
        log->flush();
        std::abort(); // qFatal's contract; only the app's own qFatal calls reach this
    }
}

void engineSink(engine::LogLevel level, std::string_view component, std::string_view message)
{
    const std::shared_ptr<spdlog::logger> log = logger(
        QString::fromUtf8(component.data(), qsizetype(component.size())));
    log->log(toSpdlog(level), "{}", message);
}

} // namespace

std::shared_ptr<spdlog::logger> logger(const QString &name)
{
    LogState &s = state();
    QMutexLocker lock(&s.mutex);
    auto it = s.loggers.constFind(name);
    if (it != s.loggers.constEnd())
        return it.value();
    std::vector<spdlog::sink_ptr> sinks = s.sinks;
    if (sinks.empty())
        sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    auto log = std::make_shared<spdlog::logger>(name.toStdString(), sinks.begin(), sinks.end());
    log->set_level(s.level);
    log->flush_on(spdlog::level::warn);
    s.loggers.insert(name, log);
    return log;
}

Result<void> initLogging(const LoggingOptions &options)
{
    LogState &s = state();
    std::vector<spdlog::sink_ptr> sinks;
    const spdlog::level::level_enum level = spdlog::level::from_str(
        options.level == QLatin1String("warning") ? std::string("warn")
                                                  : options.level.toStdString());
    try {
        if (options.toStderr)
            sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
        if (!options.logDir.isEmpty()) {
            if (!QDir().mkpath(options.logDir))
                return fail(Error::Kind::Io,
                            QCoreApplication::translate("Logging", "Cannot create the log folder %1")
                                .arg(options.logDir));
            const QString file = QDir(options.logDir).filePath(options.fileName);
            sinks.push_back(
                std::make_shared<spdlog::sinks::rotating_file_sink_mt>(file.toStdString(),
                                                                       size_t(options.maxFileBytes),
                                                                       size_t(options.maxFiles)));
        }
    } catch (const std::exception &e) {
        // spdlog reports with exceptions; they stop here (errors are values at our boundary).
        return fail(Error::Kind::Io,
                    QCoreApplication::translate("Logging", "Cannot open the log file in %1: %2")
                        .arg(options.logDir, QString::fromLocal8Bit(e.what())));
    }
    const char *pattern = "%Y-%m-%d %H:%M:%S.%e [%t] %^%l%$ %n: %v";
    for (const spdlog::sink_ptr &sink : sinks)
        sink->set_pattern(pattern);
    {
        QMutexLocker lock(&s.mutex);
        s.sinks = sinks;
        s.level = level;
        for (const auto &log : std::as_const(s.loggers)) {
            log->sinks() = sinks;
            log->set_level(level);
        }
    }
    qInstallMessageHandler(qtMessageHandler);
    s.qtHandlerInstalled = true;
    engine::setLogSink(engineSink);
    return {};
}

void shutdownLogging()
{
    LogState &s = state();
    engine::setLogSink(nullptr);
    if (s.qtHandlerInstalled) {
        qInstallMessageHandler(nullptr);
        s.qtHandlerInstalled = false;
    }
    QMutexLocker lock(&s.mutex);
    for (const auto &log : std::as_const(s.loggers))
        log->flush();
    s.loggers.clear();
    s.sinks.clear();
}

} // namespace fathom
