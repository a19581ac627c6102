// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "ocrengine.h"

#include <QCoreApplication>
#include <QImage>

#ifdef FATHOM_HAVE_TESSERACT
#include <tesseract/baseapi.h>

#include <clocale>
#endif

namespace fathom::documents {

static QString tr(const char *text)
{
    return QCoreApplication::translate("fathom::documents", text);
}

struct OcrEngine::Private
{
#ifdef FATHOM_HAVE_TESSERACT
    std::unique_ptr<tesseract::TessBaseAPI> api;
#endif
    QString language;
};

OcrEngine::OcrEngine()
    : d(std::make_unique<Private>())
{}

OcrEngine::~OcrEngine()
{
#ifdef FATHOM_HAVE_TESSERACT
    if (d->api)
        d->api->End();
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
    // Tesseract parses its model files with the C library's number format; QCoreApplication set
    // the user's locale, which breaks that with decimal commas.
    std::setlocale(LC_NUMERIC, "C");
    auto api = std::make_unique<tesseract::TessBaseAPI>();
    const QByteArray lang = language.toUtf8();
    if (api->Init(nullptr, lang.constData()) != 0)
        return fail(Error::Kind::Unavailable,
                    tr("OCR is unavailable: Tesseract has no language data for '%1' (install "
                       "tesseract-ocr-%1 or set TESSDATA_PREFIX)")
                        .arg(language));
    api->SetPageSegMode(tesseract::PSM_AUTO);
    d->api = std::move(api);
    d->language = language;
    return {};
#else
    Q_UNUSED(language)
    return fail(Error::Kind::Unavailable,
                tr("OCR is unavailable: this build of Fathom has no Tesseract"));
#endif
}

Result<QString> OcrEngine::recognise(const QImage &image, int dpi)
{
#ifdef FATHOM_HAVE_TESSERACT
    if (!d->api)
        return fail(Error::Kind::Internal, tr("OCR used before init()"));
    const QImage grey = image.convertToFormat(QImage::Format_Grayscale8);
    if (grey.isNull())
        return fail(Error::Kind::OutOfMemory,
                    tr("OCR: cannot convert a %1x%2 page image")
                        .arg(image.width())
                        .arg(image.height()));
    d->api->SetImage(grey.constBits(), grey.width(), grey.height(), 1, int(grey.bytesPerLine()));
    d->api->SetSourceResolution(dpi);
    std::unique_ptr<char[]> text(d->api->GetUTF8Text());
    d->api->Clear();
    if (!text)
        return fail(Error::Kind::Internal, tr("OCR: Tesseract failed to recognise the page"));
    return QString::fromUtf8(text.get());
#else
    Q_UNUSED(image)
    Q_UNUSED(dpi)
    return fail(Error::Kind::Unavailable,
                tr("OCR is unavailable: this build of Fathom has no Tesseract"));
#endif
}

} // namespace fathom::documents
