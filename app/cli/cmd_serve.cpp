// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom-cli serve (stable command line, see the README): the local OpenAI-compatible API server
// over the CPU backend. Prints "listening on http://HOST:PORT" on stdout once it accepts
// connections (with --port 0 that is how a script learns the port), then serves until SIGINT or
// SIGTERM.

#include "commands.h"

#include "app/server/apiserver.h"
#include "engine/cpu/cpubackend.h"
#include "engine/model/modelconfig.h"
#include "engine/runtime/v4model.h"

#include <QCoreApplication>
#include <QHostAddress>
#include <QTimer>

#include <atomic>
#include <csignal>
#include <cstdio>

namespace fathom::cli {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void onStopSignal(int)
{
    g_stop.store(true); // async-signal-safe; a timer in the event loop notices it
}

void printServeUsage()
{
    std::printf(
        "usage: fathom-cli serve --model DIR [--host 127.0.0.1] [--port 8000] [--api-key KEY]\n"
        "                        [--max-concurrent N] [--model-id ID] [--threads N]\n"
        "                        [--max-tokens N] [--exact-linear]\n"
        "  OpenAI-compatible API on http://HOST:PORT/v1 (/v1/models, /v1/chat/completions,\n"
        "  /health). Loopback only unless --host names another address, which then needs an\n"
        "  API key (--api-key, or the FATHOM_API_KEY environment variable, which stays out of\n"
        "  the process list). --port 0 picks a free port; the chosen one is printed.\n"
        "  --max-tokens is the default answer length when a request sets none (4096).\n"
        "  --exact-linear: the exact block sums of the numerical oracle instead of the\n"
        "  reference's fp32 block accumulation: slower, but every answer is bit-identical\n"
        "  whatever else runs in the same steps (the fp32 kernels differ in the last bits\n"
        "  between one and several rows per step).\n");
}

} // namespace

int runServe(const QStringList &args)
{
    const char *cmd = "serve";
    QString model;
    server::ServerConfig config;
    config.port = 8000;
    config.apiKey = qEnvironmentVariable("FATHOM_API_KEY");
    QString modelId;
    int threads = 0;
    bool exactLinear = false; // fp32 block accumulation, as the reference (spec 6.3)
    for (int i = 0; i < args.size(); ++i) {
        const QString &a = args.at(i);
        bool ok = true;
        if (a == QLatin1String("--help") || a == QLatin1String("-h")) {
            printServeUsage();
            return 0;
        }
        if (a == QLatin1String("--exact-linear")) {
            exactLinear = true;
            continue;
        }
        if (i + 1 >= args.size())
            return usageError(cmd, QStringLiteral("unknown or incomplete option '%1'").arg(a));
        const QString value = args.at(++i);
        if (a == QLatin1String("--model")) {
            model = value;
        } else if (a == QLatin1String("--host")) {
            ok = config.address.setAddress(
                value == QLatin1String("localhost") ? QStringLiteral("127.0.0.1") : value);
        } else if (a == QLatin1String("--port")) {
            const uint port = value.toUInt(&ok);
            ok = ok && port <= 65535;
            config.port = quint16(port);
        } else if (a == QLatin1String("--api-key")) {
            config.apiKey = value;
        } else if (a == QLatin1String("--max-concurrent")) {
            config.maxConcurrent = value.toInt(&ok);
            ok = ok && config.maxConcurrent > 0;
        } else if (a == QLatin1String("--model-id")) {
            modelId = value;
        } else if (a == QLatin1String("--threads")) {
            threads = value.toInt(&ok);
        } else if (a == QLatin1String("--max-tokens")) {
            config.defaultMaxTokens = value.toInt(&ok);
            ok = ok && config.defaultMaxTokens > 0;
        } else {
            return usageError(cmd, QStringLiteral("unknown option '%1'").arg(a));
        }
        if (!ok)
            return usageError(cmd, QStringLiteral("bad value for %1: '%2'").arg(a, value));
    }
    if (model.isEmpty())
        return usageError(cmd, QStringLiteral("--model DIR is required"));

    engine::CpuBackendOptions options;
    options.threads = threads;
    options.maxConcurrent = config.maxConcurrent;
    options.exactLinear = exactLinear;
    engine::CpuBackend backend(options);
    std::fprintf(stderr, "fathom-cli serve: loading %s\n", qPrintable(model));
    auto loaded = backend.load({model.toStdString(), modelId.toStdString(), 0, {}}, {});
    if (!loaded) {
        std::fprintf(stderr, "fathom-cli serve: %s\n", loaded.error().toString().c_str());
        return 1;
    }
    if (!backend.info().capabilities.tokenizer)
        std::fprintf(
            stderr,
            "fathom-cli serve: warning: %s has no tokenizer.json; chat requests will fail\n",
            qPrintable(model));
    config.modelId = modelId.isEmpty() ? QStringLiteral("deepseek-v4-flash") : modelId;
    if (const engine::V4Model *m = backend.model())
        config.contextLength = int(std::min<int64_t>(m->config().maxPositionEmbeddings, INT32_MAX));

    server::ApiServer api(backend, config);
    auto started = api.start();
    if (!started) {
        std::fprintf(stderr, "fathom-cli serve: %s\n", qPrintable(started.error().message));
        return 1;
    }
    std::printf("listening on http://%s:%u\n",
                qPrintable(config.address.toString()),
                unsigned(*started));
    std::fflush(stdout);

    std::signal(SIGINT, onStopSignal);
    std::signal(SIGTERM, onStopSignal);
    QTimer stopPoll;
    QObject::connect(&stopPoll, &QTimer::timeout, qApp, [] {
        if (g_stop.load())
            QCoreApplication::quit();
    });
    stopPoll.start(100);
    const int rc = QCoreApplication::exec();
    std::fprintf(stderr, "fathom-cli serve: stopped\n");
    return rc;
}

} // namespace fathom::cli
