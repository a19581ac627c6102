// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "pdfextractor.h"

#include "ocrengine.h"

#include <QCoreApplication>
#include <QFile>
#include <QImage>

#include <poppler-qt6.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#ifdef FATHOM_HAVE_POPPLER_CORE
// Poppler's core API (libpoppler-private-dev), used for the text layer only: it lets one
// TextOutputDev serve a whole run of pages, as pdftotext does. Poppler-Qt6 builds a new output
// device per page, which empties the output device's ICC colour-space cache every page: a PDF with
// an ICC-based /DefaultRGB then rebuilds a LittleCMS transform per page (a quarter of the time on
// the Valgrind manual). Rendering (the blank probe, OCR) stays on Poppler-Qt6.
#include <GfxState.h>
#include <GlobalParams.h>
#include <PDFDoc.h>
#include <Stream.h>
#include <TextOutputDev.h>
#endif

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

QString pageTextFromWords(const Poppler::Page &page)
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

#ifdef FATHOM_HAVE_POPPLER_CORE

void appendToString(void *stream, const char *text, int length)
{
    static_cast<std::string *>(stream)->append(text, size_t(length));
}

// One PDFDoc over the document's bytes and one TextOutputDev for all the pages it reads.
class CoreTextDevice
{
public:
    explicit CoreTextDevice(const QByteArray &data)
        // The stream does not own the bytes; PDFDoc owns the stream.
        : m_doc(std::make_unique<PDFDoc>(
            new MemStream(data.constData(), 0, data.size(), Object(objNull))))
    {
        if (!m_doc->isOk() || m_doc->isEncrypted())
            return;
        // As pdftotext: reading order (not physical layout or raw order), no diagonal text
        // discarded; no form feed between pages (we know where pages end).
        m_device = std::make_unique<TextOutputDev>(&appendToString, &m_text, false, 0, false, false);
        if (m_device->isOk())
            m_device->setTextPageBreaks(false);
        else
            m_device.reset();
    }

    // Page `index` (0-based); false when this parser cannot read it.
    bool read(int index, std::string &text)
    {
        if (!m_device || index >= m_doc->getNumPages())
            return false;
        m_text.clear();
        // As pdftotext: 72 dpi, no rotation, media box, no crop, not printing.
        m_doc->displayPage(m_device.get(), index + 1, 72, 72, 0, true, false, false);
        text = std::move(m_text);
        m_text = std::string();
        return true;
    }

private:
    std::unique_ptr<PDFDoc> m_doc;
    std::unique_ptr<TextOutputDev> m_device;
    std::string m_text; // the device appends here
};

/*
  The text layer of every page. With one thread it is read on the caller's thread, page by page
  (a single-threaded process: glibc's malloc skips its locks and uses the main arena, as
  pdftotext does). With more, `threads` threads read ahead, each with its own CoreTextDevice over
  the same bytes (its ICC and font caches stay warm); pages are handed out in blocks in page order
  and take() returns them strictly in order, so the output is the same whatever the thread count.
  Readers stay at most kLookahead pages ahead of the consumer (OCR can be slow; the text of a huge
  document need not pile up).
*/
class PageTextReader
{
public:
    PageTextReader(const QByteArray &data, int pageCount, int threads)
        : m_data(data)
        , m_pageCount(pageCount)
    {
        if (globalParams)
            globalParams->setTextEncoding("UTF-8");
        threads = std::clamp(threads, 1, 8);
        if (threads == 1 || pageCount <= kBlock)
            return; // read inline by take()
        // GfxState creates Poppler's shared sRGB profile lazily and without a lock: create it
        // here, before two threads could race to.
        const PDFRectangle box(0, 0, 1, 1);
        GfxState warmUp(72, 72, &box, 0, false);
        m_pages.resize(size_t(pageCount));
        m_state.assign(size_t(pageCount), State::Pending);
        for (int i = 0; i < threads; ++i)
            m_threads.emplace_back([this] { run(); });
    }

    ~PageTextReader()
    {
        {
            std::lock_guard lock(m_mutex);
            m_stop = true;
        }
        m_changed.notify_all();
        for (std::thread &t : m_threads)
            t.join();
    }

    // The text of page `index` (0-based, called in order); nullopt when the page could not be
    // read by the core parser (the caller falls back to Poppler-Qt6). Rethrows a reader's
    // std::bad_alloc so the worker reports it as an out-of-memory.
    std::optional<std::string> take(int index)
    {
        if (m_threads.empty()) {
            if (!m_inline)
                m_inline = std::make_unique<CoreTextDevice>(m_data);
            std::string text;
            if (!m_inline->read(index, text))
                return std::nullopt;
            return text;
        }
        std::unique_lock lock(m_mutex);
        m_consumed = index;
        m_changed.notify_all();
        m_changed.wait(lock, [&] { return m_state[size_t(index)] != State::Pending || m_failure; });
        if (m_failure)
            std::rethrow_exception(m_failure);
        std::optional<std::string> text;
        if (m_state[size_t(index)] == State::Done)
            text = std::move(m_pages[size_t(index)]);
        m_pages[size_t(index)] = std::string();
        return text;
    }

private:
    enum class State : quint8 { Pending, Done, Failed };
    static constexpr int kBlock = 8;       // pages per hand-out: fonts and resources stay cached
    static constexpr int kLookahead = 256; // pages read ahead of the consumer at most

    void run()
    {
        try {
            CoreTextDevice device(m_data);
            std::string pageText;
            for (;;) {
                int first = 0;
                {
                    std::unique_lock lock(m_mutex);
                    m_changed.wait(lock, [&] {
                        return m_stop || m_next >= m_pageCount || m_next < m_consumed + kLookahead;
                    });
                    if (m_stop || m_next >= m_pageCount)
                        return;
                    first = m_next;
                    m_next += kBlock;
                }
                const int last = std::min(first + kBlock, m_pageCount);
                for (int i = first; i < last; ++i) {
                    const bool ok = device.read(i, pageText);
                    std::lock_guard lock(m_mutex);
                    m_state[size_t(i)] = ok ? State::Done : State::Failed;
                    if (ok)
                        m_pages[size_t(i)] = std::move(pageText);
                    pageText = std::string();
                }
                m_changed.notify_all();
            }
        } catch (...) {
            std::lock_guard lock(m_mutex);
            if (!m_failure)
                m_failure = std::current_exception();
            m_changed.notify_all();
        }
    }

    const QByteArray &m_data;
    const int m_pageCount;
    std::unique_ptr<CoreTextDevice> m_inline;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::vector<std::string> m_pages;
    std::vector<State> m_state;
    std::exception_ptr m_failure;
    int m_next = 0;
    int m_consumed = 0;
    bool m_stop = false;
    std::vector<std::thread> m_threads;
};

#endif // FATHOM_HAVE_POPPLER_CORE

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

#ifdef FATHOM_HAVE_POPPLER_CORE
    PageTextReader reader(data, pageCount, options.threads);
#endif
    for (int i = 0; i < pageCount; ++i) {
        ExtractedPage out;
        out.number = i + 1;
        std::optional<QString> text;
#ifdef FATHOM_HAVE_POPPLER_CORE
        if (std::optional<std::string> core = reader.take(i))
            text = QString::fromStdString(*core);
#endif
        // Poppler-Qt6 pages are opened only when needed: as the text fallback, and to render.
        std::unique_ptr<Poppler::Page> page;
        if (!text) {
            page = doc->page(i);
            if (page)
                text = pageTextFromWords(*page);
        }
        if (text && !text->trimmed().isEmpty()) {
            out.text = std::move(*text);
            FATHOM_TRY(sink.page(out));
            continue;
        }
        if (!page)
            page = doc->page(i);
        if (!page) {
            out.source = PageTextSource::NoTextLayer;
            brokenPages.append(out.number);
            FATHOM_TRY(sink.page(out));
            continue;
        }
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
        Result<QString> recognised = ocr.recognise(image, int(dpi));
        if (!recognised) {
            sink.warning(
                tr("Page %1 of '%2': %3").arg(out.number).arg(path, recognised.error().message));
            out.source = PageTextSource::NoTextLayer;
            noTextPages.append(out.number);
        } else {
            out.text = std::move(*recognised);
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
