// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "ocrengine.h"

#include <QCoreApplication>

#ifdef FATHOM_HAVE_TESSERACT
#include <tesseract/capi.h>

#include <clocale>
#ifdef FATHOM_TESSERACT_MAJOR
#include <QLibrary>
#endif
#endif

namespace fathom::documents {

static QString tr(const char *text)
{
    return QCoreApplication::translate("fathom::documents", text);
}

#ifdef FATHOM_HAVE_TESSERACT
namespace {

// Tesseract's C API. With FATHOM_TESSERACT_MAJOR (Linux) libtesseract is loaded on the first page
// that needs OCR: linked, it and the ~35 libraries it pulls in (curl, archive, leptonica's image
// codecs) cost every worker start about 35 ms of CPU, 8% of parsing a 400-page PDF.
struct TesseractApi
{
    decltype(&TessBaseAPICreate) create = nullptr;
    decltype(&TessBaseAPIDelete) destroy = nullptr;
    decltype(&TessBaseAPIInit3) init = nullptr;
    decltype(&TessBaseAPISetPageSegMode) setPageSegMode = nullptr;
    decltype(&TessBaseAPISetImage) setImage = nullptr;
    decltype(&TessBaseAPISetSourceResolution) setSourceResolution = nullptr;
    decltype(&TessBaseAPIGetUTF8Text) getUtf8Text = nullptr;
    decltype(&TessDeleteText) deleteText = nullptr;
    decltype(&TessBaseAPIClear) clear = nullptr;
    decltype(&TessBaseAPIEnd) end = nullptr;
    QString error; // non-empty: unusable
};

const TesseractApi &tesseractApi()
{
    static const TesseractApi api = [] {
        TesseractApi a;
#ifdef FATHOM_TESSERACT_MAJOR
        QLibrary lib(QStringLiteral("tesseract"), FATHOM_TESSERACT_MAJOR);
        if (!lib.load()) {
            a.error = tr("OCR is unavailable: %1 (install libtesseract%2)")
                          .arg(lib.errorString())
                          .arg(FATHOM_TESSERACT_MAJOR);
            return a;
        }
        bool ok = true;
#define FATHOM_TESSERACT_SYMBOL(field, symbol) \
    field = reinterpret_cast<decltype(field)>(lib.resolve(#symbol)); \
    ok = ok && field != nullptr;
#else
        const bool ok = true;
#define FATHOM_TESSERACT_SYMBOL(field, symbol) field = &symbol;
#endif
        FATHOM_TESSERACT_SYMBOL(a.create, TessBaseAPICreate)
        FATHOM_TESSERACT_SYMBOL(a.destroy, TessBaseAPIDelete)
        FATHOM_TESSERACT_SYMBOL(a.init, TessBaseAPIInit3)
        FATHOM_TESSERACT_SYMBOL(a.setPageSegMode, TessBaseAPISetPageSegMode)
        FATHOM_TESSERACT_SYMBOL(a.setImage, TessBaseAPISetImage)
        FATHOM_TESSERACT_SYMBOL(a.setSourceResolution, TessBaseAPISetSourceResolution)
        FATHOM_TESSERACT_SYMBOL(a.getUtf8Text, TessBaseAPIGetUTF8Text)
        FATHOM_TESSERACT_SYMBOL(a.deleteText, TessDeleteText)
        FATHOM_TESSERACT_SYMBOL(a.clear, TessBaseAPIClear)
        FATHOM_TESSERACT_SYMBOL(a.end, TessBaseAPIEnd)
#undef FATHOM_TESSERACT_SYMBOL
        if (!ok)
            a.error = tr("OCR is unavailable: the installed Tesseract library lacks its C API");
        return a;
    }();
    return api;
}

} // namespace
#endif

struct OcrEngine::Private
{
#ifdef FATHOM_HAVE_TESSERACT
    TessBaseAPI *api = nullptr;
#endif
    QString language;
};

OcrEngine::OcrEngine()
    : d(std::make_unique<Private>())
{}

OcrEngine::~OcrEngine()
{
#ifdef FATHOM_HAVE_TESSERACT
    if (d->api) {
        tesseractApi().end(d->api);
        tesseractApi().destroy(d->api);
    }
#endif
}

bool OcrEngine::isCompiledIn()
{
#ifdef FATHOM_HAVE_TESSERACT
    return true;
#else
    return false;
#endif
}

Result<void> OcrEngine::init(const QString &language)
{
#ifdef FATHOM_HAVE_TESSERACT
    if (d->api && d->language == language)
        return {};
    const TesseractApi &t = tesseractApi();
    if (!t.error.isEmpty())
        return fail(Error::Kind::Unavailable, t.error);
    // Tesseract parses its model files with the C library's number format; QCoreApplication set
    // the user's locale, which breaks that with decimal commas.
    std::setlocale(LC_NUMERIC, "C");
    TessBaseAPI *api = t.create();
    const QByteArray lang = language.toUtf8();
    if (!api || t.init(api, nullptr, lang.constData()) != 0) {
        if (api)
            t.destroy(api);
        return fail(Error::Kind::Unavailable,
                    tr("OCR is unavailable: Tesseract has no language data for '%1' (install "
                       "tesseract-ocr-%1 or set TESSDATA_PREFIX)")
                        .arg(language));
    }
    t.setPageSegMode(api, tesseract::PSM_AUTO);
    if (d->api) {
        t.end(d->api);
        t.destroy(d->api);
    }
    d->api = api;
    d->language = language;
    return {};
#else
    Q_UNUSED(language)
    return fail(Error::Kind::Unavailable,
                tr("OCR is unavailable: this build of Fathom has no Tesseract"));
#endif
}

Result<QString> OcrEngine::recognise(const GreyImage &image, int dpi)
{
#ifdef FATHOM_HAVE_TESSERACT
    if (!d->api)
        return fail(Error::Kind::Internal, tr("OCR used before init()"));
    if (image.isNull())
        return fail(Error::Kind::Internal, tr("OCR: the page image is empty"));
    const TesseractApi &t = tesseractApi();
    t.setImage(d->api, image.scanLine(0), image.width, image.height, 1, int(image.bytesPerLine));
    t.setSourceResolution(d->api, dpi);
    char *text = t.getUtf8Text(d->api);
    t.clear(d->api);
    if (!text)
        return fail(Error::Kind::Internal, tr("OCR: Tesseract failed to recognise the page"));
    const QString result = QString::fromUtf8(text);
    t.deleteText(text);
    return result;
#else
    Q_UNUSED(image)
    Q_UNUSED(dpi)
    return fail(Error::Kind::Unavailable,
                tr("OCR is unavailable: this build of Fathom has no Tesseract"));
#endif
}

} // namespace fathom::documents
