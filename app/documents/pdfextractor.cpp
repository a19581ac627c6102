#include "pdfextractor.h"

#include "ocrengine.h"

#include <QCoreApplication>
#include <QFile>
#include <QSizeF>
#include <QStringList>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#ifdef FATHOM_HAVE_POPPLER_CORE
// Poppler's core API (libpoppler-private-dev) for everything: the text layer with one
// TextOutputDev serving a whole run of pages, as pdftotext does (Poppler-Qt6 builds a new output
// device per page, which empties its ICC colour-space cache every page: a PDF with an ICC-based
// /DefaultRGB then rebuilds a LittleCMS transform per page, a quarter of the time on the Valgrind
// manual), and SplashOutputDev rendering straight into 8-bit grey for the blank probe and OCR.
// The worker then links neither Poppler-Qt6 nor QtGui (and their X11/EGL/GL/DBus libraries):
// about 30 ms less start-up per document.
#include <Error.h>
#include <GfxState.h>
#include <GlobalParams.h>
#include <PDFDoc.h>
#include <SplashOutputDev.h>
#include <Stream.h>
#include <TextOutputDev.h>
#include <splash/SplashBitmap.h>
#else
// Without the core API (e.g. Windows builds): Poppler-Qt6's word list and QImage rendering.
#include <poppler-qt6.h>
#include <QImage>
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

bool imageIsBlank(const GreyImage &image)
{
    for (int y = 0; y < image.height; ++y) {
        const uchar *row = image.scanLine(y);
        for (int x = 0; x < image.width; ++x) {
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

#ifdef FATHOM_HAVE_POPPLER_CORE

void appendToString(void *stream, const char *text, int length)
{
    static_cast<std::string *>(stream)->append(text, size_t(length));
}

// Poppler reports damaged objects on stderr, which the parent keeps only the tail of; a hostile
// file can produce millions. Keep the first few, as Poppler-Qt6's own handler would print them.
void reportPopplerError(ErrorCategory, Goffset position, const char *message)
{
    static std::atomic<int> reported{0};
    const int n = reported.fetch_add(1);
    if (n < 50)
        std::fprintf(stderr, "poppler: %s (at %lld)\n", message, static_cast<long long>(position));
    else if (n == 50)
        std::fputs("poppler: further errors not shown\n", stderr);
}

void initPopplerGlobals()
{
    static std::once_flag once;
    std::call_once(once, [] {
        // Poppler-Qt6 creates these when it loads a document; nothing else in the worker does.
        if (!globalParams)
            globalParams = std::make_unique<GlobalParams>();
        globalParams->setTextEncoding("UTF-8");
        setErrorCallback(&reportPopplerError);
    });
}

// A PDFDoc over bytes it does not own.
std::unique_ptr<PDFDoc> openCoreDocument(const QByteArray &data)
{
    return std::make_unique<PDFDoc>(
        new MemStream(data.constData(), 0, data.size(), Object(objNull)));
}

// One TextOutputDev for all the pages read through it from one PDFDoc.
class CoreTextDevice
{
public:
    explicit CoreTextDevice(PDFDoc &doc)
        : m_doc(doc)
    {
        if (!m_doc.isOk())
            return;
        // As pdftotext: reading order (not physical layout or raw order), no diagonal text
        // discarded; no form feed between pages (we know where pages end).
        m_device = std::make_unique<TextOutputDev>(&appendToString, &m_text, false, 0, false, false);
        if (m_device->isOk())
            m_device->setTextPageBreaks(false);
        else
            m_device.reset();
    }

    // Page `index` (0-based); false when the page cannot be opened.
    bool read(int index, std::string &text)
    {
        if (!m_device || index >= m_doc.getNumPages() || !m_doc.getPage(index + 1))
            return false;
        m_text.clear();
        // As pdftotext: 72 dpi, no rotation, media box, no crop, not printing.
        m_doc.displayPage(m_device.get(), index + 1, 72, 72, 0, true, false, false);
        text = std::move(m_text);
        m_text = std::string();
        return true;
    }

private:
    PDFDoc &m_doc;
    std::unique_ptr<TextOutputDev> m_device;
    std::string m_text; // the device appends here
};

/*
  The text layer of every page. With one thread it is read on the caller's thread from the
  document the caller opened, page by page (a single-threaded process: glibc's malloc skips its
  locks and uses the main arena, as pdftotext does). With more, `threads` threads read ahead, each
  with its own PDFDoc over the same bytes and its own CoreTextDevice (its ICC and font caches
  stay warm); pages are handed out in blocks in page order and take() returns them strictly in
  order, so the output is the same whatever the thread count. Readers stay at most kLookahead
  pages ahead of the consumer (OCR can be slow; the text of a huge document need not pile up).
*/
class PageTextReader
{
public:
    PageTextReader(PDFDoc &doc, const QByteArray &data, int pageCount, int threads)
        : m_doc(doc)
        , m_data(data)
        , m_pageCount(pageCount)
    {
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

    // The text of page `index` (0-based, called in order); nullopt when the page cannot be
    // opened. Rethrows a reader's std::bad_alloc so the worker reports it as an out-of-memory.
    std::optional<std::string> take(int index)
    {
        if (m_threads.empty()) {
            if (!m_inline)
                m_inline = std::make_unique<CoreTextDevice>(m_doc);
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
            const std::unique_ptr<PDFDoc> doc = openCoreDocument(m_data);
            CoreTextDevice device(*doc);
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

    PDFDoc &m_doc;
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

// The pages of one PDF through Poppler's core API.
class PdfPages
{
public:
    // `data` must outlive this object.
    static Result<std::unique_ptr<PdfPages>> open(const QString &path, const QByteArray &data)
    {
        initPopplerGlobals();
        std::unique_ptr<PdfPages> pages(new PdfPages(data));
        if (!pages->m_doc->isOk()) {
            if (pages->m_doc->getErrorCode() == errEncrypted)
                return fail(Error::Kind::Unsupported,
                            tr("'%1' is password-protected; Fathom cannot read encrypted PDFs")
                                .arg(path));
            return fail(Error::Kind::Format,
                        tr("'%1' is not a readable PDF (Poppler could not parse it)").arg(path));
        }
        return pages;
    }

    int pageCount() const { return m_doc->getNumPages(); }

    void startReading(int threads)
    {
        m_reader = std::make_unique<PageTextReader>(*m_doc, m_data, pageCount(), threads);
    }

    // The text layer of page `index` (0-based, in order); nullopt when it cannot be opened.
    std::optional<QString> text(int index)
    {
        if (std::optional<std::string> text = m_reader->take(index))
            return QString::fromStdString(*text);
        return std::nullopt;
    }

    // In points, as displayed (the crop box, turned by the page's rotation).
    QSizeF pageSize(int index)
    {
        const double w = m_doc->getPageCropWidth(index + 1),
                     h = m_doc->getPageCropHeight(index + 1);
        return m_doc->getPageRotate(index + 1) % 180 == 0 ? QSizeF(w, h) : QSizeF(h, w);
    }

    // The page at `dpi` in 8-bit grey on white, anti-aliased, as Poppler-Qt6 renders it (crop
    // box, the page's rotation); a null image when it cannot be rendered.
    GreyImage render(int index, double dpi)
    {
        if (!m_renderer) {
            SplashColor white;
            white[0] = 0xff;
            m_renderer = std::make_unique<SplashOutputDev>(splashModeMono8, 1, false, white);
            m_renderer->setFontAntialias(true);
            m_renderer->setVectorAntialias(true);
            m_renderer->setFreeTypeHinting(false, false);
            m_renderer->startDoc(m_doc.get());
        }
        GreyImage image;
        if (!m_doc->getPage(index + 1))
            return image;
        m_doc->displayPage(m_renderer.get(), index + 1, dpi, dpi, 0, false, true, false);
        SplashBitmap *bitmap = m_renderer->getBitmap();
        if (!bitmap || bitmap->getMode() != splashModeMono8 || !bitmap->getDataPtr())
            return image;
        image.width = bitmap->getWidth();
        image.height = bitmap->getHeight();
        image.bytesPerLine = bitmap->getRowSize();
        if (image.bytesPerLine < image.width) // bottom-up rows: never asked for
            return GreyImage();
        image.pixels = QByteArray(reinterpret_cast<const char *>(bitmap->getDataPtr()),
                                  qsizetype(image.height) * image.bytesPerLine);
        return image;
    }

private:
    explicit PdfPages(const QByteArray &data)
        : m_data(data)
        , m_doc(openCoreDocument(data))
    {}

    const QByteArray &m_data;
    std::unique_ptr<PDFDoc> m_doc;
    // Both use m_doc, so they are declared after it (destroyed before it).
    std::unique_ptr<PageTextReader> m_reader;
    std::unique_ptr<SplashOutputDev> m_renderer;
};

#else // !FATHOM_HAVE_POPPLER_CORE

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

// The pages of one PDF through Poppler-Qt6 (no core API in this build).
class PdfPages
{
public:
    static Result<std::unique_ptr<PdfPages>> open(const QString &path, const QByteArray &data)
    {
        std::unique_ptr<PdfPages> pages(new PdfPages);
        pages->m_doc = Poppler::Document::loadFromData(data);
        if (!pages->m_doc)
            return fail(Error::Kind::Format,
                        tr("'%1' is not a readable PDF (Poppler could not parse it)").arg(path));
        if (pages->m_doc->isLocked())
            return fail(Error::Kind::Unsupported,
                        tr("'%1' is password-protected; Fathom cannot read encrypted PDFs")
                            .arg(path));
        pages->m_doc->setRenderHint(Poppler::Document::Antialiasing, true);
        pages->m_doc->setRenderHint(Poppler::Document::TextAntialiasing, true);
        return pages;
    }

    int pageCount() const { return m_doc->numPages(); }
    void startReading(int) {}

    std::optional<QString> text(int index)
    {
        if (const std::unique_ptr<Poppler::Page> page = m_doc->page(index))
            return pageTextFromWords(*page);
        return std::nullopt;
    }

    QSizeF pageSize(int index)
    {
        const std::unique_ptr<Poppler::Page> page = m_doc->page(index);
        return page ? page->pageSizeF() : QSizeF();
    }

    GreyImage render(int index, double dpi)
    {
        GreyImage image;
        const std::unique_ptr<Poppler::Page> page = m_doc->page(index);
        if (!page)
            return image;
        const QImage grey = page->renderToImage(dpi, dpi).convertToFormat(QImage::Format_Grayscale8);
        if (grey.isNull())
            return image;
        image.width = grey.width();
        image.height = grey.height();
        image.bytesPerLine = grey.bytesPerLine();
        image.pixels = QByteArray(reinterpret_cast<const char *>(grey.constBits()),
                                  grey.sizeInBytes());
        return image;
    }

private:
    std::unique_ptr<Poppler::Document> m_doc;
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

    FATHOM_TRY_ASSIGN(std::unique_ptr<PdfPages> doc, PdfPages::open(path, data));
    const int pageCount = doc->pageCount();
    if (pageCount <= 0)
        return fail(Error::Kind::Format, tr("'%1' is a PDF without pages").arg(path));
    if (pageCount > options.limits.maxPages)
        return fail(Error::Kind::Unsupported,
                    tr("'%1' has %2 pages; at most %3 are ingested")
                        .arg(path)
                        .arg(pageCount)
                        .arg(options.limits.maxPages));

    sink.begin(DocumentFormat::Pdf, QStringLiteral("application/pdf"), pageCount);

    OcrEngine ocr;
    std::optional<Error> ocrUnavailable;
    if (options.ocr == OcrMode::Off)
        ocrUnavailable = Error(Error::Kind::Unavailable, tr("OCR is turned off"));
    QList<int> noTextPages;
    QList<int> ocrPages;
    QList<int> brokenPages;

    doc->startReading(options.threads);
    for (int i = 0; i < pageCount; ++i) {
        ExtractedPage out;
        out.number = i + 1;
        std::optional<QString> text = doc->text(i);
        if (!text) {
            out.source = PageTextSource::NoTextLayer;
            brokenPages.append(out.number);
            FATHOM_TRY(sink.page(out));
            continue;
        }
        if (!text->trimmed().isEmpty()) {
            out.text = std::move(*text);
            FATHOM_TRY(sink.page(out));
            continue;
        }
        // No text layer. Is there anything on the page at all? A tiny rendering answers cheaply.
        const QSizeF size = doc->pageSize(i);
        const double probeDpi = clampDpi(size, 18, 250000);
        const GreyImage probe = doc->render(i, probeDpi);
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
        const GreyImage image = doc->render(i, dpi);
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
