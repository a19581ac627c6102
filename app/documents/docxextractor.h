// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "extractor.h"

namespace fathom::documents {

/**
  Word (OOXML) documents: libzip for the package, QXmlStreamReader for the main part, streamed
  so that a decompression bomb is refused at options.limits.maxArchivePartBytes instead of being
  inflated. Paragraphs become lines; headings (Heading N / Title styles, outline levels) are
  prefixed with '#' marks; list items with "- "; table rows become "cell | cell" lines. Pages
  follow Word's explicit and last-rendered page breaks (a document without them is one page).
  Thread: any.
*/
Result<void> extractDocx(const QString &path,
                         const ExtractionOptions &options,
                         ExtractionSink &sink);

} // namespace fathom::documents
