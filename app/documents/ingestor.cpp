// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "ingestor.h"

#include "ingestprotocol.h"
#include "processlimits.h"

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QProcess>
#include <QtConcurrent/QtConcurrentRun>

#ifdef FATHOM_HAVE_OPENSSL_CRYPTO
#include <openssl/evp.h>
#endif

#include <memory>

// Debug output (the workers' stderr) only when asked for with QT_LOGGING_RULES.
Q_LOGGING_CATEGORY(lcIngest, "fathom.documents.ingest", QtInfoMsg)

namespace fathom::documents {

namespace {

QString tr(const char *text)
{
    return QCoreApplication::translate("fathom::documents", text);
}

// The last line of the worker's stderr worth showing a user (Poppler and Tesseract are chatty).
QString lastLine(const QByteArray &stderrTail)
{
    const QList<QByteArray> lines = stderrTail.trimmed().split('\n');
    for (auto it = lines.crbegin(); it != lines.crend(); ++it) {
        const QByteArray line = it->trimmed();
        if (!line.isEmpty())
            return QString::fromLocal8Bit(line).left(300);
    }
    return {};
}

// glibc's per-thread cache of freed blocks per size class (default 7, at most 65535).
constexpr int kWorkerTcacheCount = 2000;

bool looksLikeOutOfMemory(const QByteArray &stderrTail)
{
    return stderrTail.contains("Out of memory") || stderrTail.contains("bad_alloc")
           || stderrTail.contains("Cannot allocate memory") || stderrTail.contains("out of memory");
}

} // namespace

qint64 countTokens(const ExtractedDocument &content, const engine::tokenizer::Tokenizer &tokenizer)
{
    qint64 total = 0;
    std::vector<engine::tokenizer::TokenId> ids;
    for (const ExtractedPage &page : content.pages) {
        ids.clear();
        // Ordinary text: a document quoting "<｜User｜>" must not count (or become) a control token.
        tokenizer.encodeOrdinary(page.text.toStdString(), ids);
        total += qint64(ids.size());
    }
    return total;
}

Result<QString> contentHash(const QString &path, qint64 *byteSize)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return fail(Error::Kind::Io, tr("Cannot open '%1': %2").arg(path, file.errorString()));
#ifdef FATHOM_HAVE_OPENSSL_CRYPTO
    // OpenSSL's SHA-256 uses the CPU's SHA extensions: ~1.5 GB/s against QCryptographicHash's
    // ~0.15 GB/s, i.e. 1 ms instead of 8-12 ms for a 1.4 MB PDF, paid by every document ingested.
    const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                      &EVP_MD_CTX_free);
    if (ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1) {
        QByteArray buffer(1 << 20, Qt::Uninitialized);
        qint64 total = 0;
        for (;;) {
            const qint64 n = file.read(buffer.data(), buffer.size());
            if (n < 0)
                return fail(Error::Kind::Io,
                            tr("Cannot read '%1': %2").arg(path, file.errorString()));
            if (n == 0)
                break;
            total += n;
            if (EVP_DigestUpdate(ctx.get(), buffer.constData(), size_t(n)) != 1)
                return fail(Error::Kind::Internal, tr("Cannot hash '%1' (OpenSSL)").arg(path));
        }
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int length = 0;
        if (EVP_DigestFinal_ex(ctx.get(), digest, &length) == 1) {
            if (byteSize)
                *byteSize = total;
            return QString::fromLatin1(
                QByteArray::fromRawData(reinterpret_cast<const char *>(digest), int(length)).toHex());
        }
    }
    // No usable OpenSSL digest (a FIPS-restricted configuration?): Qt's own SHA-256.
    file.seek(0);
#endif
    QCryptographicHash hash(QCryptographicHash::Sha256);
    if (!hash.addData(&file))
        return fail(Error::Kind::Io, tr("Cannot read '%1': %2").arg(path, file.errorString()));
    if (byteSize)
        *byteSize = file.size();
    return QString::fromLatin1(hash.result().toHex());
}

IngestResult runIngestion(const QString &path,
                          const IngestOptions &options,
                          QPromise<IngestResult> *promise)
{
    QElapsedTimer clock;
    clock.start();
    IngestedDocument doc;
    const QFileInfo info(path);
    doc.path = info.absoluteFilePath();
    doc.fileName = info.fileName();
    if (!info.exists())
        return fail(Error::Kind::Io, tr("'%1' does not exist").arg(path));
    if (!info.isFile())
        return fail(Error::Kind::InvalidArgument, tr("'%1' is not a file").arg(path));
    FATHOM_TRY_ASSIGN(doc.contentHash, contentHash(doc.path, &doc.byteSize));

    const QString worker = options.workerPath.isEmpty() ? DocumentIngestor::defaultWorkerPath()
                                                        : options.workerPath;
    const qint64 memoryMb = options.memoryLimitBytes / (1024 * 1024);
    const int threads = options.threadsPerJob > 0 ? qMin(options.threadsPerJob, 8)
                                                  : qBound(1, QThread::idealThreadCount(), 4);
    QStringList args;
    args << QStringLiteral("--memory-limit-mb")
         << QString::number(memoryMb)
         // CPU time never exceeds wall time times the worker's threads: this backstop only
         // matters if this process dies and cannot kill a spinning worker.
         << QStringLiteral("--cpu-limit-s")
         << QString::number(qint64(options.timeLimitMs / 1000 + 5) * threads)
         << QStringLiteral("--threads") << QString::number(threads) << QStringLiteral("--ocr")
         << (options.extraction.ocr == OcrMode::Off ? QStringLiteral("off") : QStringLiteral("auto"))
         << QStringLiteral("--ocr-lang") << options.extraction.ocrLanguage
         << QStringLiteral("--max-chars") << QString::number(options.extraction.limits.maxChars)
         << QStringLiteral("--") << doc.path;

    QProcess process;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    // Tesseract's OpenMP threads would break the one-job-per-core plan (and the memory limit).
    env.insert(QStringLiteral("OMP_THREAD_LIMIT"), QStringLiteral("1"));
#ifdef Q_OS_LINUX
    // Poppler's text extraction is malloc-bound (a sixth of its instructions in glibc's malloc and
    // free): a deeper per-thread cache of freed small blocks cuts the worker's instructions by
    // about 9% on the Valgrind manual (callgrind). Only the worker gets it; the user's own
    // tunables come first.
    const QString tunables = env.value(QStringLiteral("GLIBC_TUNABLES"));
    if (!tunables.contains(QLatin1String("tcache_count")))
        env.insert(QStringLiteral("GLIBC_TUNABLES"),
                   (tunables.isEmpty() ? QString() : tunables + QLatin1Char(':'))
                       + QStringLiteral("glibc.malloc.tcache_count=%1").arg(kWorkerTcacheCount));
#endif
    process.setProcessEnvironment(env);
    process.setProgram(worker);
    process.setArguments(args);
    process.start(QIODevice::ReadOnly);
    if (!process.waitForStarted(30000))
        return fail(Error::Kind::Unavailable,
                    tr("Cannot start the document parser '%1' for '%2': %3")
                        .arg(worker, path, process.errorString()));

    protocol::FrameDecoder decoder;
    QByteArray stderrTail;
    bool sawHello = false;
    bool done = false;
    std::optional<Error> workerError;
    std::optional<Error> protocolError;
    int expectedPages = -1;

    auto killWorker = [&process] {
        process.kill();
        process.waitForFinished(10000);
    };
    auto handleFrame = [&](protocol::Frame &frame) -> Result<void> {
        switch (frame.type) {
        case protocol::FrameType::Hello:
            if (frame.version != protocol::kVersion)
                return fail(Error::Kind::Internal,
                            tr("The document parser '%1' speaks protocol %2, not %3")
                                .arg(worker)
                                .arg(frame.version)
                                .arg(protocol::kVersion));
            sawHello = true;
            break;
        case protocol::FrameType::Begin:
            doc.content.format = frame.format;
            doc.content.mimeType = frame.mimeType;
            expectedPages = frame.pageCount;
            if (expectedPages > 0) {
                doc.content.pages.reserve(expectedPages);
                if (promise)
                    promise->setProgressRange(0, expectedPages);
            }
            break;
        case protocol::FrameType::Page:
            if (frame.page.number != doc.content.pages.size() + 1)
                return fail(Error::Kind::Internal,
                            tr("The document parser sent page %1 after page %2")
                                .arg(frame.page.number)
                                .arg(doc.content.pages.size()));
            doc.content.pages.append(std::move(frame.page));
            if (promise && expectedPages > 0)
                promise->setProgressValue(int(doc.content.pages.size()));
            break;
        case protocol::FrameType::Warning:
            doc.content.warnings.append(frame.message);
            break;
        case protocol::FrameType::Done:
            done = true;
            break;
        case protocol::FrameType::Error:
            workerError = Error(frame.errorKind, frame.message);
            break;
        }
        return {};
    };

    for (;;) {
        if (promise && promise->isCanceled()) {
            killWorker();
            return fail(Error::Kind::Cancelled, tr("Ingestion of '%1' was cancelled").arg(path));
        }
        const qint64 remaining = options.timeLimitMs - clock.elapsed();
        if (remaining <= 0) {
            killWorker();
            return fail(Error::Kind::Timeout,
                        tr("'%1' took longer than %2 s to parse and was stopped (a malformed or "
                           "hostile file?)")
                            .arg(path)
                            .arg(options.timeLimitMs / 1000.0, 0, 'f', 1));
        }
        const bool running = process.state() != QProcess::NotRunning;
        if (running)
            process.waitForReadyRead(int(qMin<qint64>(remaining, 100)));
        decoder.append(process.readAllStandardOutput());
        stderrTail.append(process.readAllStandardError());
        if (stderrTail.size() > 16384)
            stderrTail = stderrTail.right(8192);
        for (;;) {
            Result<std::optional<protocol::Frame>> frame = decoder.next();
            if (!frame) {
                protocolError = frame.error();
                break;
            }
            if (!frame->has_value())
                break;
            if (Result<void> handled = handleFrame(**frame); !handled) {
                protocolError = handled.error();
                break;
            }
        }
        if (protocolError) {
            killWorker();
            return fail(Error::Kind::Crashed,
                        tr("The document parser failed on '%1': %2")
                            .arg(path, protocolError->message));
        }
        if (!running)
            break;
    }

    const QString detail = lastLine(stderrTail);
    if (!stderrTail.isEmpty())
        qCDebug(lcIngest, "worker stderr for %s: %s", qPrintable(path), stderrTail.constData());
    if (process.exitStatus() == QProcess::CrashExit) {
        const int code = process.exitCode();
        const CrashCause cause = classifyCrash(code);
        if (cause == CrashCause::CpuLimit)
            return fail(Error::Kind::Timeout,
                        tr("'%1' used more CPU time than allowed and was stopped").arg(path));
        if (looksLikeOutOfMemory(stderrTail))
            return fail(Error::Kind::OutOfMemory,
                        tr("'%1' needs more than the %2 MiB an ingestion may use")
                            .arg(path)
                            .arg(memoryMb));
        return fail(Error::Kind::Crashed,
                    tr("The document parser crashed on '%1' (%2)%3; the file is probably damaged")
                        .arg(path,
                             describeCrash(code),
                             detail.isEmpty() ? QString() : QStringLiteral(": ") + detail));
    }
    if (workerError)
        return fail(workerError->kind, workerError->message);
    if (!sawHello || !done)
        return fail(Error::Kind::Crashed,
                    tr("The document parser '%1' stopped without finishing '%2' (exit status "
                       "%3)%4")
                        .arg(worker, path)
                        .arg(process.exitCode())
                        .arg(detail.isEmpty() ? QString() : QStringLiteral(": ") + detail));
    if (options.tokenizer.isValid())
        doc.tokenCount = countTokens(doc.content, options.tokenizer);
    doc.elapsedMs = clock.elapsed();
    return doc;
}

DocumentIngestor::DocumentIngestor(IngestOptions options, int maxParallelJobs)
    : m_options(std::move(options))
    , m_active(std::make_shared<std::atomic<int>>(0))
{
    m_pool.setMaxThreadCount(maxParallelJobs > 0 ? maxParallelJobs : QThread::idealThreadCount());
    m_pool.setObjectName(QStringLiteral("ingestion"));
}

DocumentIngestor::~DocumentIngestor()
{
    cancelAll();
    waitForDone();
}

QFuture<IngestResult> DocumentIngestor::ingest(const QString &path)
{
    m_active->fetch_add(1);
    QFuture<IngestResult> future = QtConcurrent::run(
        &m_pool,
        [active = m_active](QPromise<IngestResult> &promise,
                            const QString &path,
                            IngestOptions options) {
            // A lone document gets the idle cores; a batch gets one core per job.
            if (options.threadsPerJob <= 0)
                options.threadsPerJob = qBound(1,
                                               QThread::idealThreadCount() / qMax(1, active->load()),
                                               4);
            promise.addResult(runIngestion(path, options, &promise));
            active->fetch_sub(1);
        },
        path,
        m_options);
    // Forget futures that have finished so a long-lived ingestor does not grow.
    m_futures.removeIf([](const QFuture<IngestResult> &f) { return f.isFinished(); });
    m_futures.append(future);
    return future;
}

void DocumentIngestor::cancelAll()
{
    for (QFuture<IngestResult> &f : m_futures)
        f.cancel();
}

void DocumentIngestor::waitForDone()
{
    m_pool.waitForDone();
    // A job cancelled before it started never ran to count itself out.
    m_active->store(0);
    m_futures.clear();
}

QString DocumentIngestor::defaultWorkerPath()
{
    const QString fromEnv = qEnvironmentVariable("FATHOM_INGEST_WORKER");
    if (!fromEnv.isEmpty())
        return fromEnv;
#ifdef Q_OS_WIN
    const QString name = QStringLiteral("fathom-ingest-worker.exe");
#else
    const QString name = QStringLiteral("fathom-ingest-worker");
#endif
    const QDir appDir(QCoreApplication::applicationDirPath());
    const QString beside = appDir.filePath(name);
    if (QFileInfo::exists(beside))
        return beside;
    const QString libexec = appDir.filePath(QStringLiteral("../libexec/fathom/") + name);
    if (QFileInfo::exists(libexec))
        return QDir::cleanPath(libexec);
    return beside; // the error then names where it was expected
}

} // namespace fathom::documents
