// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>

namespace fathom::documents {

// NOTE: sent over the worker pipe (ingestprotocol.h); never reuse values.
enum class DocumentFormat : quint8 {
    Unknown = 0,
    Pdf = 1,
    Docx = 2,
    PlainText = 3,
    Markdown = 4,
    SourceCode = 5,
    Html = 6,
};

// Where the text of a page came from.
// NOTE: sent over the worker pipe and meant to be persisted with the page; never reuse values.
enum class PageTextSource : quint8 {
    TextLayer = 0,   // the document's own text (PDF text layer, DOCX runs, text files)
    Ocr = 1,         // rendered and recognised by Tesseract
    NoTextLayer = 2, // the page shows something but has no text and OCR was unavailable
    Blank = 3,       // nothing on the page at all
};

struct ExtractedPage
{
    int number = 0; // 1-based, as printed in citations
    QString text;
    PageTextSource source = PageTextSource::TextLayer;
};

// What one document turned into. Produced by the worker, assembled by IngestJob.
struct ExtractedDocument
{
    DocumentFormat format = DocumentFormat::Unknown;
    QString mimeType;
    QList<ExtractedPage> pages;
    QStringList warnings; // things the user should be told (pages without text, skipped parts)

    qint64 charCount() const;
    int pagesWithSource(PageTextSource source) const;
};

// Guards against hostile input applied inside the worker, in addition to its process limits.
struct ExtractionLimits
{
    qint64 maxChars = 64ll * 1024 * 1024;             // text kept per document
    qint64 maxArchivePartBytes = 256ll * 1024 * 1024; // one decompressed DOCX part (zip bombs)
    qint64 maxTextFileBytes = 512ll * 1024 * 1024;    // text/HTML/Markdown/code read into memory
    int maxPages = 100000;
};

enum class OcrMode : quint8 {
    Auto = 0, // OCR pages without a text layer when Tesseract is built in and has the language
    Off = 1,  // never OCR; such pages are marked NoTextLayer
};

struct ExtractionOptions
{
    ExtractionLimits limits;
    OcrMode ocr = OcrMode::Auto;
    QString ocrLanguage = QStringLiteral("eng");
    int ocrDpi = 300;
    // Threads reading one PDF's text layer (each with its own parser over the same bytes). The
    // pages come out in order and identical whatever the count.
    int threads = 1;
};

QString formatName(DocumentFormat format);
QString pageTextSourceName(PageTextSource source);

} // namespace fathom::documents

Q_DECLARE_METATYPE(fathom::documents::ExtractedPage)
