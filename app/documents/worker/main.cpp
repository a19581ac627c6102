// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom-ingest-worker: parses ONE untrusted document inside process limits and streams its pages
// to the parent over stdout (app/documents/ingestprotocol.h). Started by DocumentIngestor; a
// crash, hang or memory blow-up here costs one document, never the app.

#include "app/documents/extractor.h"
#include "app/documents/ingestprotocol.h"
#include "app/documents/processlimits.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QFile>
#include <QThread>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

using namespace fathom;
using namespace fathom::documents;

namespace {

QFile g_out;

void send(const QByteArray &frame)
{
    if (g_out.write(frame) != frame.size())
        std::_Exit(3); // the parent is gone; nobody to report to
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
        send(protocol::encodePage(page));
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

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("fathom-ingest-worker"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Parses one document and writes its pages to stdout in Fathom's ingestion protocol."));
    parser.addHelpOption();
    const QCommandLineOption memory(QStringLiteral("memory-limit-mb"),
                                    QStringLiteral("Address-space limit in MiB (0: none)."),
                                    QStringLiteral("mb"),
                                    QStringLiteral("2048"));
    const QCommandLineOption cpu(QStringLiteral("cpu-limit-s"),
                                 QStringLiteral("CPU-time limit in seconds (0: none)."),
                                 QStringLiteral("s"),
                                 QStringLiteral("0"));
    const QCommandLineOption ocr(QStringLiteral("ocr"),
                                 QStringLiteral("auto or off."),
                                 QStringLiteral("mode"),
                                 QStringLiteral("auto"));
    const QCommandLineOption ocrLang(QStringLiteral("ocr-lang"),
                                     QStringLiteral("Tesseract languages, e.g. eng or deu+eng."),
                                     QStringLiteral("lang"),
                                     QStringLiteral("eng"));
    const QCommandLineOption maxChars(QStringLiteral("max-chars"),
                                      QStringLiteral("Most characters of text kept."),
                                      QStringLiteral("n"));
    const QCommandLineOption threads(QStringLiteral("threads"),
                                     QStringLiteral("Threads reading a PDF's text layer."),
                                     QStringLiteral("n"),
                                     QStringLiteral("1"));
    parser.addOptions({memory, cpu, ocr, ocrLang, maxChars, threads});
    parser.addPositionalArgument(QStringLiteral("file"), QStringLiteral("The document."));
    parser.process(app);
    if (parser.positionalArguments().size() != 1) {
        std::fprintf(stderr, "usage: fathom-ingest-worker [options] FILE\n");
        return 2;
    }
    const QString path = parser.positionalArguments().constFirst();

    setStdoutBinary();
    // The descriptor, not the FILE*: stdio would buffer frames that a crash then loses.
    if (!g_out.open(fileno(stdout), QIODevice::WriteOnly | QIODevice::Unbuffered)) {
        std::fprintf(stderr, "fathom-ingest-worker: cannot write to stdout\n");
        return 2;
    }
    send(protocol::encodeHello());

    ProcessLimits limits;
    limits.memoryBytes = parser.value(memory).toLongLong() * 1024 * 1024;
    limits.cpuSeconds = parser.value(cpu).toInt();
    // Never parse untrusted input without the limits in place.
    if (Result<void> limited = applyLimitsToCurrentProcess(limits); !limited) {
        send(protocol::encodeError(limited.error()));
        return 1;
    }

    ExtractionOptions options;
    options.ocr = parser.value(ocr) == QLatin1String("off") ? OcrMode::Off : OcrMode::Auto;
    options.ocrLanguage = parser.value(ocrLang);
    if (parser.isSet(maxChars))
        options.limits.maxChars = parser.value(maxChars).toLongLong();
    options.threads = qBound(1, parser.value(threads).toInt(), 8);

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
