// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/core/error.h"
#include "documenttypes.h"

namespace fathom::documents {

/**
  Receives a document as it is parsed, page by page, so that a 10,000-page PDF never has to be
  held twice. The worker streams pages to its parent through one; tests collect them.
  Thread: the extracting thread.
*/
class ExtractionSink
{
public:
    virtual ~ExtractionSink() = default;
    // Called once before the first page. pageCount is -1 when the format does not know it up front.
    virtual void begin(DocumentFormat format, const QString &mimeType, int pageCount) = 0;
    // An error stops the extraction and becomes the document's error.
    virtual Result<void> page(const ExtractedPage &page) = 0;
    virtual void warning(const QString &message) = 0;
};

// Collects everything into an ExtractedDocument.
class CollectingSink final : public ExtractionSink
{
public:
    void begin(DocumentFormat format, const QString &mimeType, int pageCount) override;
    Result<void> page(const ExtractedPage &page) override;
    void warning(const QString &message) override;

    ExtractedDocument document;
    int expectedPages = -1;
};

/**
  Parses one file IN THIS PROCESS. Only the worker (fathom-ingest-worker) and tests call this:
  the app parses untrusted files out of process through DocumentIngestor. Enforces
  options.limits (characters, pages, decompressed sizes) on top of the worker's process limits.
  Thread: any; one call per thread at a time (Poppler documents are per call).
*/
Result<void> extractDocument(const QString &path,
                             const ExtractionOptions &options,
                             ExtractionSink &sink);

// Convenience for tests: extractDocument() into a CollectingSink.
Result<ExtractedDocument> extractDocument(const QString &path,
                                          const ExtractionOptions &options = {});

} // namespace fathom::documents
