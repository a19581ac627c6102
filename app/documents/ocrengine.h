// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/core/error.h"

class QImage;
#include <QString>

#include <memory>

namespace fathom::documents {

/**
  Tesseract OCR of rendered pages, when Fathom was built with Tesseract (TESSERACT_FOUND). The
  language data is loaded on first use; a missing language pack is an error from init(), after
  which callers mark pages "no text layer" instead.
  Thread: the thread that created it (Tesseract instances are not shared).
*/
class OcrEngine
{
public:
    OcrEngine();
    ~OcrEngine();
    OcrEngine(const OcrEngine &) = delete;
    OcrEngine &operator=(const OcrEngine &) = delete;

    static bool isCompiledIn();

    // Loads `language` ("eng", "deu+eng"); cheap after the first successful call.
    Result<void> init(const QString &language);
    // `image` is any format; it is converted to 8-bit grey. `dpi` helps Tesseract size glyphs.
    Result<QString> recognise(const QImage &image, int dpi);

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace fathom::documents
