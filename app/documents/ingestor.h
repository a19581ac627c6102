// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/core/error.h"
#include "documenttypes.h"
#include "engine/tokenizer/tokenizer.h"

#include <QFuture>
#include <QPromise>
#include <QString>
#include <QThreadPool>

#include <atomic>
#include <memory>
#include <optional>

namespace fathom::documents {

struct IngestOptions
{
    QString workerPath;               // empty: DocumentIngestor::defaultWorkerPath()
    int timeLimitMs = 10 * 60 * 1000; // wall clock per document, enforced by the parent
    qint64 memoryLimitBytes = 2048ll * 1024 * 1024; // the worker's address space
    // Threads one worker may use for a PDF's text layer; 0: automatic (runIngestion: the cores,
    // at most 4; DocumentIngestor: the cores shared among the jobs submitted and not finished).
    int threadsPerJob = 0;
    ExtractionOptions extraction;
    // When valid, each document's token count is computed after extraction (in the job's thread,
    // never the GUI's): the model's tokenizer.json, or the demo model's tokenizer.
    engine::tokenizer::Tokenizer tokenizer;
};

// One document, parsed. Storage turns it into a documents row and its pages.
struct IngestedDocument
{
    QString path; // absolute
    QString fileName;
    QString contentHash; // SHA-256 of the file's bytes, lowercase hex
    qint64 byteSize = 0;
    ExtractedDocument content;
    // Tokens of the document's text under IngestOptions::tokenizer: the sum over its pages of
    // each page's text encoded alone as ordinary text (no added tokens), as the chat prompt lays
    // the pages out one by one. nullopt without a tokenizer.
    std::optional<qint64> tokenCount;
    qint64 elapsedMs = 0;
};

// The token count described at IngestedDocument::tokenCount. Thread: any.
qint64 countTokens(const ExtractedDocument &content, const engine::tokenizer::Tokenizer &tokenizer);

using IngestResult = Result<IngestedDocument>;

// SHA-256 of a file's bytes, lowercase hex, streamed. Thread: any.
Result<QString> contentHash(const QString &path, qint64 *byteSize = nullptr);

/**
  Parses one document in a fathom-ingest-worker process, in the calling thread, and waits for it.
  A worker crash, a time-limit overrun, a memory-limit overrun and a malformed file all come back
  as errors naming the file; nothing here can take the calling process down. When `promise` is
  given its progress range is the page count and cancelling it kills the worker (Cancelled).
  Thread: any (blocking); DocumentIngestor runs it on its pool.
*/
IngestResult runIngestion(const QString &path,
                          const IngestOptions &options,
                          QPromise<IngestResult> *promise = nullptr);

/**
  Ingestion jobs on a thread pool (one worker process per running job). Each ingest() returns a
  QFuture with progress (pages) and cancel; results arrive in any order.
  Thread: create and call from one thread; the futures may be watched from any.
*/
class DocumentIngestor
{
public:
    // maxParallelJobs 0: one job per CPU core.
    explicit DocumentIngestor(IngestOptions options = {}, int maxParallelJobs = 0);
    ~DocumentIngestor(); // cancels what is still running and waits for the workers to die

    QFuture<IngestResult> ingest(const QString &path);
    void cancelAll();
    void waitForDone();

    const IngestOptions &options() const { return m_options; }
    // For the jobs submitted from now on (the model changed); an invalid one: no token counts.
    void setTokenizer(const engine::tokenizer::Tokenizer &tokenizer)
    {
        m_options.tokenizer = tokenizer;
    }

    // $FATHOM_INGEST_WORKER, else fathom-ingest-worker next to the running executable, else in
    // ../libexec/fathom/ relative to it.
    static QString defaultWorkerPath();

private:
    IngestOptions m_options;
    std::shared_ptr<std::atomic<int>> m_active; // jobs submitted and not finished
    QThreadPool m_pool;
    QList<QFuture<IngestResult>> m_futures;
};

} // namespace fathom::documents
