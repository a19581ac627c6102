// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/core/error.h"

#include <QByteArray>
#include <QString>

#include <memory>

namespace fathom::documents {

// An 8-bit grey image (0 black, 255 white), rows top to bottom: what the PDF renderer produces
// for the blank-page probe and for OCR. Plain bytes, so that the worker needs no QtGui.
struct GreyImage
{
    int width = 0;
    int height = 0;
    qsizetype bytesPerLine = 0;
    QByteArray pixels; // height * bytesPerLine

    bool isNull() const
    {
        return width <= 0 || height <= 0 || pixels.size() < height * bytesPerLine;
    }
    const uchar *scanLine(int y) const
    {
        return reinterpret_cast<const uchar *>(pixels.constData()) + y * bytesPerLine;
    }
};

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
    // `dpi` helps Tesseract size glyphs.
    Result<QString> recognise(const GreyImage &image, int dpi);

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace fathom::documents
