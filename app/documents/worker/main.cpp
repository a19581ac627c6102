// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom-ingest-worker: parses ONE untrusted document inside process limits and streams its pages
// to the parent over stdout (app/documents/ingestprotocol.h). Started by DocumentIngestor; a
// crash, hang or memory blow-up here costs one document, never the app.

#include "app/documents/extractor.h"
#include "app/documents/ingestprotocol.h"
#include "app/documents/processlimits.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QStringList>
#include <QThread>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <optional>
#include <vector>

#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <shellapi.h>
#endif

using namespace fathom;
using namespace fathom::documents;

namespace {

QFile g_out;

// Page frames are written in batches: one write per page woke the parent ~400 times for a
// 400-page PDF, each wake-up a context switch (expensive on a VM) plus a poll, a read and the
// frame bookkeeping: about 20 ms of the parent's CPU per document, more than all its decoding.
// Pages of a document that then crashes are discarded by the parent anyway; every other frame
// (hello, begin, warnings, errors, done) flushes the batch and goes out at once.
constexpr qsizetype kPageBatchBytes = 48 * 1024; // below the pipe's 64 KiB: one write, one read
constexpr qint64 kPageBatchMs = 100;             // progress still moves during slow (OCR) pages
QByteArray g_pending;
QElapsedTimer g_sinceFlush;

void writeOut(const QByteArray &bytes)
{
    if (g_out.write(bytes) != bytes.size())
        std::_Exit(3); // the parent is gone; nobody to report to
}

void flushPages()
{
    if (!g_pending.isEmpty()) {
        writeOut(g_pending);
        g_pending.resize(0); // keeps the capacity
    }
    g_sinceFlush.start();
}

void send(const QByteArray &frame)
{
    flushPages();
    writeOut(frame);
}

void sendPage(const QByteArray &frame)
{
    if (g_pending.size() + frame.size() > kPageBatchBytes)
        flushPages();
    if (frame.size() >= kPageBatchBytes) {
        writeOut(frame);
        return;
    }
    g_pending.append(frame);
    if (g_sinceFlush.elapsed() >= kPageBatchMs)
        flushPages();
}

class PipeSink final : public ExtractionSink
{
public:
    void begin(DocumentFormat format, const QString &mimeType, int pageCount) override
    {
        send(protocol::encodeBegin(format, mimeType, pageCount));
    }
    Result<void> page(const ExtractedPage &page) override
    {
        sendPage(protocol::encodePage(page));
        return {};
    }
    void warning(const QString &message) override { send(protocol::encodeWarning(message)); }
};

// Deterministic faults for the tests of the parent's error handling. Active only when the
// environment opts in AND the file itself asks, so a real document can never trigger one.
void runTestHook(const QString &path, qint64 memoryLimit)
{
    if (qEnvironmentVariableIntValue("FATHOM_INGEST_WORKER_TEST_HOOKS") != 1)
        return;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return;
    const QByteArray head = f.read(64);
    if (!head.startsWith("FATHOM-TEST-FAULT:"))
        return;
    const QByteArray fault = head.mid(18).trimmed();
    if (fault == "crash") {
        std::abort();
    } else if (fault == "hang") {
        for (;;)
            QThread::sleep(1);
    } else if (fault == "spin") {
        volatile quint64 spins = 0;
        for (;;)
            spins = spins + 1;
    } else if (fault == "oom") {
        // Touch memory until the limit stops us; give up (and say so) at twice the limit so a
        // broken limit cannot take the test machine down.
        std::vector<char *> blocks;
        const qint64 block = 16 * 1024 * 1024;
        for (qint64 total = 0; total < 2 * memoryLimit; total += block) {
            char *p = new char[block]; // throws std::bad_alloc at the limit
            for (qint64 i = 0; i < block; i += 4096)
                p[i] = 1;
            blocks.push_back(p);
        }
        send(protocol::encodeError(
            Error(Error::Kind::Internal, QStringLiteral("test hook: memory limit not enforced"))));
        std::_Exit(1);
    } else if (fault == "garbage") {
        send(QByteArray("\xff\xff\xff\x7f garbage", 12));
        std::_Exit(0);
    } else if (fault == "silent-exit") {
        std::_Exit(0);
    }
}

// The options, all with a value. Parsed by hand: QCommandLineParser needs a QCoreApplication,
// whose construction (event dispatcher, glib main context, locale set-up) was a third of this
// process's start-up, paid again for every document ingested.
struct Options
{
    qint64 memoryMb = 2048;
    int cpuSeconds = 0;
    QString ocr = QStringLiteral("auto");
    QString ocrLanguage = QStringLiteral("eng");
    std::optional<qint64> maxChars;
    int threads = 1;
    QString file;
};

const char kUsage[]
    = "Usage: fathom-ingest-worker [options] FILE\n"
      "Parses one document and writes its pages to stdout in Fathom's ingestion protocol.\n"
      "\n"
      "Options:\n"
      "  -h, --help              Displays help on commandline options.\n"
      "  --memory-limit-mb <mb>  Address-space limit in MiB (0: none; default 2048).\n"
      "  --cpu-limit-s <s>       CPU-time limit in seconds (0: none; default 0).\n"
      "  --ocr <mode>            auto or off (default auto).\n"
      "  --ocr-lang <lang>       Tesseract languages, e.g. eng or deu+eng (default eng).\n"
      "  --max-chars <n>         Most characters of text kept.\n"
      "  --threads <n>           Threads reading a PDF's text layer (default 1).\n";

// The arguments as text. Without a QCoreApplication nobody else does this: on Windows argv is in
// the ANSI code page, which cannot spell every file name (a Chinese name on a German system), so
// the UTF-16 command line is split instead.
QStringList commandLineArguments(int argc, char **argv)
{
    QStringList args;
#ifdef _WIN32
    int n = 0;
    if (LPWSTR *wide = CommandLineToArgvW(GetCommandLineW(), &n)) {
        for (int i = 0; i < n; ++i)
            args.append(QString::fromWCharArray(wide[i]));
        LocalFree(wide);
        return args;
    }
#endif
    for (int i = 0; i < argc; ++i)
        args.append(QString::fromLocal8Bit(argv[i]));
    return args;
}

// 0: parsed; otherwise the exit status (after printing the help or the error).
int parseArguments(const QStringList &argv, Options &o)
{
    const qsizetype argc = argv.size();
    auto number = [](const QString &name, const QString &text, qint64 &out) {
        bool ok = false;
        out = text.toLongLong(&ok);
        if (!ok)
            std::fprintf(stderr,
                         "fathom-ingest-worker: --%s needs a number, not '%s'\n",
                         qPrintable(name),
                         qPrintable(text));
        return ok;
    };
    bool positionalOnly = false;
    QStringList positional;
    for (qsizetype i = 1; i < argc; ++i) {
        const QString &arg = argv[i];
        if (positionalOnly || !arg.startsWith(QLatin1Char('-')) || arg == QLatin1String("-")) {
            positional.append(arg);
            continue;
        }
        if (arg == QLatin1String("--")) {
            positionalOnly = true;
            continue;
        }
        if (arg == QLatin1String("-h") || arg == QLatin1String("--help")) {
            std::fputs(kUsage, stdout);
            return -1;
        }
        QString name = arg.mid(2), value;
        if (const qsizetype eq = name.indexOf(QLatin1Char('=')); eq >= 0) {
            value = name.mid(eq + 1);
            name.truncate(eq);
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            std::fprintf(stderr, "fathom-ingest-worker: missing value for '%s'\n", qPrintable(arg));
            return 2;
        }
        qint64 n = 0;
        if (name == QLatin1String("memory-limit-mb") && number(name, value, n))
            o.memoryMb = n;
        else if (name == QLatin1String("cpu-limit-s") && number(name, value, n))
            o.cpuSeconds = int(qBound<qint64>(0, n, qint64(INT_MAX)));
        else if (name == QLatin1String("ocr"))
            o.ocr = value;
        else if (name == QLatin1String("ocr-lang"))
            o.ocrLanguage = value;
        else if (name == QLatin1String("max-chars") && number(name, value, n))
            o.maxChars = n;
        else if (name == QLatin1String("threads") && number(name, value, n))
            o.threads = int(qBound<qint64>(1, n, qint64(8)));
        else {
            std::fprintf(stderr,
                         "fathom-ingest-worker: unknown or invalid option '%s'\n%s",
                         qPrintable(arg),
                         kUsage);
            return 2;
        }
    }
    if (positional.size() != 1) {
        std::fprintf(stderr, "usage: fathom-ingest-worker [options] FILE\n");
        return 2;
    }
    o.file = positional.constFirst();
    return 0;
}

} // namespace

int run(int argc, char **argv)
{
    // No QCoreApplication: nothing here needs an event loop, and translate() works without one
    // (the worker has never installed translations).
    Options o;
    if (const int status = parseArguments(commandLineArguments(argc, argv), o); status != 0)
        return status < 0 ? 0 : status;
    const QString path = o.file;

    setStdoutBinary();
    // The descriptor, not the FILE*: stdio would buffer frames that a crash then loses.
    if (!g_out.open(fileno(stdout), QIODevice::WriteOnly | QIODevice::Unbuffered)) {
        std::fprintf(stderr, "fathom-ingest-worker: cannot write to stdout\n");
        return 2;
    }
    g_pending.reserve(kPageBatchBytes);
    send(protocol::encodeHello());

    ProcessLimits limits;
    limits.memoryBytes = o.memoryMb * 1024 * 1024;
    limits.cpuSeconds = o.cpuSeconds;
    // Never parse untrusted input without the limits in place.
    if (Result<void> limited = applyLimitsToCurrentProcess(limits); !limited) {
        send(protocol::encodeError(limited.error()));
        return 1;
    }

    ExtractionOptions options;
    options.ocr = o.ocr == QLatin1String("off") ? OcrMode::Off : OcrMode::Auto;
    options.ocrLanguage = o.ocrLanguage;
    if (o.maxChars)
        options.limits.maxChars = *o.maxChars;
    options.threads = o.threads;

    try {
        runTestHook(path, limits.memoryBytes);
        PipeSink sink;
        if (Result<void> done = extractDocument(path, options, sink); !done) {
            send(protocol::encodeError(done.error()));
            return 1;
        }
    } catch (const std::bad_alloc &) {
        send(protocol::encodeError(
            Error(Error::Kind::OutOfMemory,
                  QCoreApplication::translate(
                      "fathom::documents", "'%1' needs more than the %2 MiB an ingestion may use")
                      .arg(path)
                      .arg(limits.memoryBytes / (1024 * 1024)))));
        return 1;
    } catch (const std::exception &e) {
        send(protocol::encodeError(
            Error(Error::Kind::Internal,
                  QStringLiteral("'%1': %2").arg(path, QString::fromLocal8Bit(e.what())))));
        return 1;
    }
    send(protocol::encodeDone());
    return 0;
}

int main(int argc, char **argv)
{
    const int status = run(argc, argv);
    flushPages(); // every return path has sent its last frame with send(); this is a backstop
    // Every frame is already written (unbuffered); skip the exit handlers: tearing down the
    // statics of Qt, libstdc++, Poppler, NSS and OpenSSL cost about a tenth of the start-up.
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(status);
}
