// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "extractor.h"

namespace fathom::documents {

/**
  PDF through Poppler: the text of each page in reading order (Poppler's text flows, as
  pdftotext: its core TextOutputDev when built with FATHOM_HAVE_POPPLER_CORE, on
  options.threads threads with the pages still emitted in order; else Poppler-Qt6's word list),
  one ExtractedPage per page with its number. A page
  without text is rendered at low resolution: if it shows nothing it is Blank; otherwise it is
  rendered at options.ocrDpi and read by Tesseract (Ocr), or, with OCR off or unavailable, marked
  NoTextLayer and reported in a warning.
  Thread: any; the Poppler documents and reader threads live and die inside the call.
*/
Result<void> extractPdf(const QString &path, const ExtractionOptions &options, ExtractionSink &sink);

} // namespace fathom::documents
