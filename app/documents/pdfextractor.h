// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "extractor.h"

namespace fathom::documents {

/**
  PDF through Poppler-Qt6: the text of each page in reading order (Poppler's word list, which
  follows the same text flows as pdftotext), one ExtractedPage per page with its number. A page
  without text is rendered at low resolution: if it shows nothing it is Blank; otherwise it is
  rendered at options.ocrDpi and read by Tesseract (Ocr), or, with OCR off or unavailable, marked
  NoTextLayer and reported in a warning.
  Thread: any; the Poppler document lives and dies inside the call.
*/
Result<void> extractPdf(const QString &path, const ExtractionOptions &options, ExtractionSink &sink);

} // namespace fathom::documents
