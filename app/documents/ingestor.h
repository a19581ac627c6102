// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/core/error.h"
#include "documenttypes.h"

#include <QFuture>
#include <QPromise>
#include <QString>
#include <QThreadPool>

namespace fathom::documents {

struct IngestOptions
{
    QString workerPath;               // empty: DocumentIngestor::defaultWorkerPath()
    int timeLimitMs = 10 * 60 * 1000; // wall clock per document, enforced by the parent
    qint64 memoryLimitBytes = 2048ll * 1024 * 1024; // the worker's address space
    ExtractionOptions extraction;
};

// One document, parsed. Storage turns it into a documents row and its pages.
struct IngestedDocument
{
    QString path; // absolute
    QString fileName;
    QString contentHash; // SHA-256 of the file's bytes, lowercase hex
    qint64 byteSize = 0;
    ExtractedDocument content;
    qint64 elapsedMs = 0;
};

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

    // $FATHOM_INGEST_WORKER, else fathom-ingest-worker next to the running executable, else in
    // ../libexec/fathom/ relative to it.
    static QString defaultWorkerPath();

private:
    IngestOptions m_options;
    QThreadPool m_pool;
    QList<QFuture<IngestResult>> m_futures;
};

} // namespace fathom::documents
