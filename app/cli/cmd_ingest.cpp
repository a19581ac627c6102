// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom-cli ingest --db PATH FILE...: parses each file out of process (fathom-ingest-worker) on a
// pool of jobs, stores it (documents + pages, deduplicated by content hash) and prints one JSON
// object per file, in argument order:
//   {"file":…, "document_id":…, "pages":N, "chars":N, "status":"ok"|"error", "error":…, ...}
// Exit status 0 when every file succeeded, 1 when any failed, 2 on a usage error.

#include "commands.h"

#include "app/core/settings.h"
#include "app/documents/ingestor.h"
#include "app/documents/processlimits.h"
#include "app/storage/database.h"
#include "app/storage/documentstore.h"

#include <QDir>
#include <QFileInfo>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonValue>

#include <cstdio>
#include <optional>

namespace fathom::cli {

namespace {

using namespace fathom::documents;
using fathom::storage::DocumentStatus;

struct FileOutcome
{
    QString file;
    std::optional<qint64> documentId;
    int pages = 0;
    qint64 chars = 0;
    std::optional<Error> error;
    bool duplicate = false;
    int noTextPages = 0;
    int ocrPages = 0;
    QStringList warnings;
    std::optional<qint64> tokens;
};

QByteArray jsonValue(const QJsonValue &value)
{
    // QJsonObject sorts its keys; the documented field order is kept by writing them by hand.
    const QByteArray array = QJsonDocument(QJsonArray{value}).toJson(QJsonDocument::Compact);
    return array.mid(1, array.size() - 2);
}

void printOutcome(const FileOutcome &o)
{
    QByteArray line = "{\"file\":" + jsonValue(o.file);
    line += ",\"document_id\":"
            + (o.documentId ? QByteArray::number(*o.documentId) : QByteArray("null"));
    line += ",\"pages\":" + QByteArray::number(o.pages);
    line += ",\"chars\":" + QByteArray::number(o.chars);
    line += ",\"status\":" + QByteArray(o.error ? "\"error\"" : "\"ok\"");
    line += ",\"error\":" + (o.error ? jsonValue(o.error->message) : QByteArray("null"));
    line += ",\"duplicate\":" + QByteArray(o.duplicate ? "true" : "false");
    line += ",\"no_text_pages\":" + QByteArray::number(o.noTextPages);
    line += ",\"ocr_pages\":" + QByteArray::number(o.ocrPages);
    line += ",\"warnings\":" + jsonValue(QJsonArray::fromStringList(o.warnings));
    line += ",\"tokens\":" + (o.tokens ? QByteArray::number(*o.tokens) : QByteArray("null"));
    line += "}\n";
    std::fwrite(line.constData(), 1, size_t(line.size()), stdout);
    std::fflush(stdout);
}

int pageFlags(PageTextSource source)
{
    switch (source) {
    case PageTextSource::Ocr:
        return storage::PageFlagOcr;
    case PageTextSource::NoTextLayer:
        return storage::PageFlagNoTextLayer;
    case PageTextSource::TextLayer:
    case PageTextSource::Blank:
        break;
    }
    return storage::PageFlagNone;
}

// Records a parsed document (or its failure) under `existing` or a new row, in one transaction.
Result<fathom::DocumentId> store(storage::Database &db,
                                 const QString &hash,
                                 const std::optional<storage::Document> &existing,
                                 const QFileInfo &info,
                                 const IngestResult &result)
{
    storage::DocumentStore docs(db);
    storage::Transaction tx(db);
    if (tx.beginError())
        return fathom::unexpected(*tx.beginError());
    fathom::DocumentId id;
    if (existing) {
        id = existing->id;
        FATHOM_TRY(docs.setSourcePath(id, info.absoluteFilePath()));
    } else {
        storage::NewDocument row;
        row.contentHash = hash;
        row.name = info.fileName();
        row.sourcePath = info.absoluteFilePath();
        row.mimeType = result ? result->content.mimeType : QString();
        row.byteSize = info.size();
        row.status = DocumentStatus::Ingesting;
        FATHOM_TRY_ASSIGN(id, docs.insertDocument(row));
    }
    if (!result) {
        FATHOM_TRY(docs.replacePages(id, {}));
        FATHOM_TRY(docs.setStatus(id, DocumentStatus::Failed, result.error()));
    } else {
        QList<storage::PageText> pages;
        pages.reserve(result->content.pages.size());
        for (const ExtractedPage &p : result->content.pages)
            pages.append(storage::PageText{p.number, p.text, pageFlags(p.source)});
        FATHOM_TRY(docs.replacePages(id, pages));
        const bool partial = result->content.pagesWithSource(PageTextSource::NoTextLayer) > 0;
        FATHOM_TRY(docs.setStatus(id, partial ? DocumentStatus::Partial : DocumentStatus::Ready));
        FATHOM_TRY(docs.setTokenCount(id, result->tokenCount));
    }
    FATHOM_TRY(tx.commit());
    return id;
}

void printUsage()
{
    std::printf(
        "usage: fathom-cli ingest --db PATH [options] FILE...\n"
        "  Parses each FILE (PDF, DOCX, HTML, Markdown, text, source code) in a sandboxed\n"
        "  fathom-ingest-worker process and stores its pages in the database PATH. A file\n"
        "  already stored (same content hash) is not parsed again.\n"
        "options:\n"
        "  --jobs N             parallel jobs (default: one per CPU core)\n"
        "  --time-limit S       seconds one file may take (default 600)\n"
        "  --memory-limit MB    address space one parser may use (default 2048)\n"
        "  --ocr auto|off       OCR pages without a text layer when Tesseract is available\n"
        "  --ocr-lang LANGS     Tesseract languages (default eng)\n"
        "  --tokenizer PATH     tokenizer.json (or a model folder holding one) to count each\n"
        "                       document's tokens with (default: the configured model's, if any)\n"
        "prints one JSON object per file, in order:\n"
        "  {\"file\":..., \"document_id\":..., \"pages\":N, \"chars\":N, "
        "\"status\":\"ok\"|\"error\", \"error\":..., \"duplicate\":bool, \"no_text_pages\":N, "
        "\"ocr_pages\":N, \"warnings\":[...], \"tokens\":N|null}\n"
        "exit status: 0 all files stored, 1 any file failed, 2 usage error\n");
}

} // namespace

int runIngest(const QStringList &arguments)
{
    QString dbPath;
    QStringList files;
    IngestOptions options;
    QString tokenizerPath;
    int jobs = 0;
    for (int i = 0; i < arguments.size(); ++i) {
        const QString &a = arguments.at(i);
        const bool hasValue = i + 1 < arguments.size();
        bool ok = true;
        if (a == QLatin1String("--help") || a == QLatin1String("-h")) {
            printUsage();
            return 0;
        } else if (a == QLatin1String("--db") && hasValue) {
            dbPath = arguments.at(++i);
        } else if (a == QLatin1String("--jobs") && hasValue) {
            jobs = arguments.at(++i).toInt(&ok);
            ok = ok && jobs > 0;
        } else if (a == QLatin1String("--time-limit") && hasValue) {
            const double s = arguments.at(++i).toDouble(&ok);
            ok = ok && s > 0;
            options.timeLimitMs = int(s * 1000);
        } else if (a == QLatin1String("--memory-limit") && hasValue) {
            const qint64 mb = arguments.at(++i).toLongLong(&ok);
            ok = ok && mb > 0;
            options.memoryLimitBytes = mb * 1024 * 1024;
        } else if (a == QLatin1String("--ocr") && hasValue) {
            const QString mode = arguments.at(++i);
            ok = mode == QLatin1String("auto") || mode == QLatin1String("off");
            options.extraction.ocr = mode == QLatin1String("off") ? OcrMode::Off : OcrMode::Auto;
        } else if (a == QLatin1String("--ocr-lang") && hasValue) {
            options.extraction.ocrLanguage = arguments.at(++i);
        } else if (a == QLatin1String("--tokenizer") && hasValue) {
            tokenizerPath = arguments.at(++i);
        } else if (a == QLatin1String("--")) {
            files += arguments.mid(i + 1);
            break;
        } else if (a.startsWith(QLatin1String("--"))) {
            return usageError("ingest", QStringLiteral("unknown or incomplete option '%1'").arg(a));
        } else {
            files.append(a);
        }
        if (!ok)
            return usageError("ingest", QStringLiteral("bad value for %1").arg(a));
    }
    if (dbPath.isEmpty())
        return usageError("ingest", QStringLiteral("--db PATH is required"));
    if (files.isEmpty())
        return usageError("ingest", QStringLiteral("no files given"));

    // Token counts: with the tokenizer asked for, else the configured model's. A tokenizer that
    // was asked for and cannot be read is a usage error; the configured one is only skipped.
    const bool explicitTokenizer = !tokenizerPath.isEmpty();
    if (!explicitTokenizer && !Settings().modelPath().isEmpty())
        tokenizerPath = Settings().modelPath();
    if (QFileInfo(tokenizerPath).isDir())
        tokenizerPath = QDir(tokenizerPath).filePath(QStringLiteral("tokenizer.json"));
    if (!tokenizerPath.isEmpty() && (explicitTokenizer || QFileInfo::exists(tokenizerPath))) {
        auto tokenizer = engine::tokenizer::Tokenizer::load(tokenizerPath.toStdString());
        if (!tokenizer && explicitTokenizer)
            return usageError("ingest", QString::fromStdString(tokenizer.error().toString()));
        if (tokenizer)
            options.tokenizer = *tokenizer;
    }

    // A reader that goes away (`| head`) must not turn into a crash signal.
    ignoreBrokenPipeSignal();

    Result<std::unique_ptr<storage::Database>> db = storage::Database::open(dbPath);
    if (!db) {
        // Still one line per file, as the contract says.
        for (const QString &f : files) {
            FileOutcome o;
            o.file = f;
            o.error = db.error();
            printOutcome(o);
        }
        return 1;
    }
    storage::DocumentStore docs(**db);

    // Hash and look up every file first: duplicates (stored before, or repeated in this batch)
    // are not parsed; the rest start on the pool at once.
    struct Pending
    {
        QString hash;
        std::optional<storage::Document> existing;
        std::optional<Error> error;
        QFuture<IngestResult> future;
        int firstIndex = -1; // an earlier argument with the same content
    };
    DocumentIngestor ingestor(options, jobs);
    QList<Pending> pending(files.size());
    QHash<QString, int> byHash;
    for (int i = 0; i < files.size(); ++i) {
        Pending &p = pending[i];
        Result<QString> hash = contentHash(files.at(i));
        if (!hash) {
            p.error = hash.error();
            continue;
        }
        p.hash = *hash;
        if (const auto earlier = byHash.constFind(p.hash); earlier != byHash.constEnd()) {
            p.firstIndex = *earlier;
            continue;
        }
        byHash.insert(p.hash, i);
        Result<std::optional<storage::Document>> found = docs.findByHash(p.hash);
        if (!found) {
            p.error = found.error();
            continue;
        }
        p.existing = *found;
        const bool usable = p.existing
                            && (p.existing->status == DocumentStatus::Ready
                                || p.existing->status == DocumentStatus::Partial);
        if (!usable)
            p.future = ingestor.ingest(files.at(i));
    }

    QList<FileOutcome> outcomes(files.size());
    bool allOk = true;
    for (int i = 0; i < files.size(); ++i) {
        Pending &p = pending[i];
        FileOutcome &o = outcomes[i];
        o.file = files.at(i);
        if (p.firstIndex >= 0) {
            o = outcomes.at(p.firstIndex);
            o.file = files.at(i);
            o.duplicate = true;
        } else if (p.error) {
            o.error = p.error;
        } else if (!p.future.isValid()) {
            // Stored before with usable pages: report what is in the database.
            o.documentId = p.existing->id.value;
            o.pages = p.existing->pageCount;
            o.chars = p.existing->charCount;
            o.tokens = p.existing->tokenCount;
            o.duplicate = true;
        } else {
            p.future.waitForFinished();
            const IngestResult result
                = p.future.resultCount() > 0
                      ? p.future.result()
                      : IngestResult(fail(Error::Kind::Cancelled,
                                          QStringLiteral("'%1': cancelled").arg(files.at(i))));
            Result<fathom::DocumentId> id = store(**db,
                                                  p.hash,
                                                  p.existing,
                                                  QFileInfo(files.at(i)),
                                                  result);
            if (id)
                o.documentId = id->value;
            if (!result) {
                o.error = result.error();
            } else if (!id) {
                o.error = id.error();
            } else {
                o.pages = int(result->content.pages.size());
                o.chars = result->content.charCount();
                o.noTextPages = result->content.pagesWithSource(PageTextSource::NoTextLayer);
                o.ocrPages = result->content.pagesWithSource(PageTextSource::Ocr);
                o.warnings = result->content.warnings;
                o.tokens = result->tokenCount;
            }
        }
        allOk = allOk && !o.error;
        printOutcome(o);
    }
    return allOk ? 0 : 1;
}

} // namespace fathom::cli
