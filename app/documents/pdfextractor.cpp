// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "pdfextractor.h"

#include "ocrengine.h"

#include <QCoreApplication>
#include <QFile>
#include <QImage>

#include <poppler-qt6.h>

#include <cmath>
#include <memory>
#include <optional>

namespace fathom::documents {

namespace {

QString tr(const char *text)
{
    return QCoreApplication::translate("fathom::documents", text);
}

// Resolution at which a page of `sizePt` points fits in `maxPixels` pixels, at most `wanted`.
double clampDpi(QSizeF sizePt, double wanted, double maxPixels)
{
    const double inches2 = qMax(1e-6, sizePt.width() / 72.0) * qMax(1e-6, sizePt.height() / 72.0);
    return qMax(1.0, qMin(wanted, std::sqrt(maxPixels / inches2)));
}

bool imageIsBlank(const QImage &image)
{
    const QImage grey = image.convertToFormat(QImage::Format_Grayscale8);
    for (int y = 0; y < grey.height(); ++y) {
        const uchar *row = grey.constScanLine(y);
        for (int x = 0; x < grey.width(); ++x) {
            if (row[x] < 245)
                return false;
        }
    }
    return true;
}

QString pageList(const QList<int> &pages)
{
    QStringList parts;
    for (int i = 0; i < pages.size() && i < 20; ++i)
        parts.append(QString::number(pages.at(i)));
    if (pages.size() > 20)
        parts.append(QStringLiteral("…"));
    return parts.join(QLatin1String(", "));
}

QString pageText(const Poppler::Page &page)
{
    // textList() walks Poppler's text flows, blocks, lines and words in reading order (the order
    // pdftotext prints); Page::text() would sort lines geometrically and interleave columns.
    const std::vector<std::unique_ptr<Poppler::TextBox>> words = page.textList();
    QString text;
    text.reserve(qsizetype(words.size()) * 8);
    for (const std::unique_ptr<Poppler::TextBox> &word : words) {
        text += word->text();
        if (word->hasSpaceAfter())
            text += QLatin1Char(' ');
        else if (!word->nextWord()) // the last word of its line
            text += QLatin1Char('\n');
    }
    return text;
}

} // namespace

Result<void> extractPdf(const QString &path, const ExtractionOptions &options, ExtractionSink &sink)
{
    // Parsing from memory: Poppler's file stream reads a few hundred bytes per system call, which
    // costs a third of the time on large documents. The mapping outlives the document (declared
    // first, destroyed last).
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return fail(Error::Kind::Io, tr("Cannot open '%1': %2").arg(path, file.errorString()));
    QByteArray data;
    if (uchar *mapped = file.size() > 0 ? file.map(0, file.size()) : nullptr)
        data = QByteArray::fromRawData(reinterpret_cast<const char *>(mapped), file.size());
    else
        data = file.readAll();

    std::unique_ptr<Poppler::Document> doc = Poppler::Document::loadFromData(data);
    if (!doc)
        return fail(Error::Kind::Format,
                    tr("'%1' is not a readable PDF (Poppler could not parse it)").arg(path));
    if (doc->isLocked())
        return fail(Error::Kind::Unsupported,
                    tr("'%1' is password-protected; Fathom cannot read encrypted PDFs").arg(path));
    const int pageCount = doc->numPages();
    if (pageCount <= 0)
        return fail(Error::Kind::Format, tr("'%1' is a PDF without pages").arg(path));
    if (pageCount > options.limits.maxPages)
        return fail(Error::Kind::Unsupported,
                    tr("'%1' has %2 pages; at most %3 are ingested")
                        .arg(path)
                        .arg(pageCount)
                        .arg(options.limits.maxPages));
    doc->setRenderHint(Poppler::Document::Antialiasing, true);
    doc->setRenderHint(Poppler::Document::TextAntialiasing, true);

    sink.begin(DocumentFormat::Pdf, QStringLiteral("application/pdf"), pageCount);

    OcrEngine ocr;
    std::optional<Error> ocrUnavailable;
    if (options.ocr == OcrMode::Off)
        ocrUnavailable = Error(Error::Kind::Unavailable, tr("OCR is turned off"));
    QList<int> noTextPages;
    QList<int> ocrPages;
    QList<int> brokenPages;

    for (int i = 0; i < pageCount; ++i) {
        ExtractedPage out;
        out.number = i + 1;
        const std::unique_ptr<Poppler::Page> page = doc->page(i);
        if (!page) {
            out.source = PageTextSource::NoTextLayer;
            brokenPages.append(out.number);
            FATHOM_TRY(sink.page(out));
            continue;
        }
        out.text = pageText(*page);
        if (!out.text.trimmed().isEmpty()) {
            FATHOM_TRY(sink.page(out));
            continue;
        }
        out.text.clear();
        // No text layer. Is there anything on the page at all? A tiny rendering answers cheaply.
        const QSizeF size = page->pageSizeF();
        const double probeDpi = clampDpi(size, 18, 250000);
        const QImage probe = page->renderToImage(probeDpi, probeDpi);
        if (!probe.isNull() && imageIsBlank(probe)) {
            out.source = PageTextSource::Blank;
            FATHOM_TRY(sink.page(out));
            continue;
        }
        if (!ocrUnavailable) {
            if (Result<void> ready = ocr.init(options.ocrLanguage); !ready)
                ocrUnavailable = ready.error();
        }
        if (ocrUnavailable) {
            out.source = PageTextSource::NoTextLayer;
            noTextPages.append(out.number);
            FATHOM_TRY(sink.page(out));
            continue;
        }
        // 40 Mpixel caps a poster-sized page; A4 at 300 dpi is 8.7 Mpixel.
        const double dpi = clampDpi(size, options.ocrDpi, 40e6);
        const QImage image = page->renderToImage(dpi, dpi);
        if (image.isNull()) {
            out.source = PageTextSource::NoTextLayer;
            noTextPages.append(out.number);
            FATHOM_TRY(sink.page(out));
            continue;
        }
        Result<QString> text = ocr.recognise(image, int(dpi));
        if (!text) {
            sink.warning(tr("Page %1 of '%2': %3").arg(out.number).arg(path, text.error().message));
            out.source = PageTextSource::NoTextLayer;
            noTextPages.append(out.number);
        } else {
            out.text = std::move(*text);
            out.source = PageTextSource::Ocr;
            ocrPages.append(out.number);
        }
        FATHOM_TRY(sink.page(out));
    }

    if (!noTextPages.isEmpty())
        sink.warning(tr("%1 of %2 pages of '%3' have no text layer and were not read (%4): "
                        "pages %5")
                         .arg(noTextPages.size())
                         .arg(pageCount)
                         .arg(path,
                              ocrUnavailable ? ocrUnavailable->message : tr("OCR failed"),
                              pageList(noTextPages)));
    if (!ocrPages.isEmpty())
        sink.warning(tr("%1 of %2 pages of '%3' were read by OCR and may contain recognition "
                        "errors: pages %4")
                         .arg(ocrPages.size())
                         .arg(pageCount)
                         .arg(path, pageList(ocrPages)));
    if (!brokenPages.isEmpty())
        sink.warning(tr("%1 pages of '%2' could not be opened: pages %3")
                         .arg(brokenPages.size())
                         .arg(path, pageList(brokenPages)));
    return {};
}

} // namespace fathom::documents
