// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "extractor.h"

#include "docxextractor.h"
#include "formatdetector.h"
#include "htmlextractor.h"
#include "pdfextractor.h"
#include "textdecoder.h"

#include <QCoreApplication>
#include <QFile>
#include <QFileInfo>

namespace fathom::documents {

static QString tr(const char *text)
{
    return QCoreApplication::translate("fathom::documents", text);
}

qint64 ExtractedDocument::charCount() const
{
    qint64 n = 0;
    for (const ExtractedPage &p : pages)
        n += p.text.size();
    return n;
}

int ExtractedDocument::pagesWithSource(PageTextSource source) const
{
    int n = 0;
    for (const ExtractedPage &p : pages)
        n += p.source == source ? 1 : 0;
    return n;
}

QString formatName(DocumentFormat format)
{
    switch (format) {
    case DocumentFormat::Pdf:
        return QStringLiteral("pdf");
    case DocumentFormat::Docx:
        return QStringLiteral("docx");
    case DocumentFormat::PlainText:
        return QStringLiteral("text");
    case DocumentFormat::Markdown:
        return QStringLiteral("markdown");
    case DocumentFormat::SourceCode:
        return QStringLiteral("code");
    case DocumentFormat::Html:
        return QStringLiteral("html");
    case DocumentFormat::Unknown:
        break;
    }
    return QStringLiteral("unknown");
}

QString pageTextSourceName(PageTextSource source)
{
    switch (source) {
    case PageTextSource::TextLayer:
        return QStringLiteral("text");
    case PageTextSource::Ocr:
        return QStringLiteral("ocr");
    case PageTextSource::NoTextLayer:
        return QStringLiteral("no-text-layer");
    case PageTextSource::Blank:
        return QStringLiteral("blank");
    }
    return QStringLiteral("unknown");
}

void CollectingSink::begin(DocumentFormat format, const QString &mimeType, int pageCount)
{
    document.format = format;
    document.mimeType = mimeType;
    expectedPages = pageCount;
    if (pageCount > 0)
        document.pages.reserve(pageCount);
}

Result<void> CollectingSink::page(const ExtractedPage &page)
{
    document.pages.append(page);
    return {};
}

void CollectingSink::warning(const QString &message)
{
    document.warnings.append(message);
}

namespace {

// Enforces the per-document limits whatever the format, so no extractor can forget them.
class LimitingSink final : public ExtractionSink
{
public:
    LimitingSink(ExtractionSink &inner, const ExtractionLimits &limits, const QString &what)
        : m_inner(inner)
        , m_limits(limits)
        , m_what(what)
    {}
    void begin(DocumentFormat format, const QString &mimeType, int pageCount) override
    {
        m_inner.begin(format, mimeType, pageCount);
    }
    Result<void> page(const ExtractedPage &page) override
    {
        m_chars += page.text.size();
        if (m_chars > m_limits.maxChars)
            return fail(Error::Kind::Unsupported,
                        tr("'%1' holds more than %2 characters of text, the most one document may "
                           "hold")
                            .arg(m_what)
                            .arg(m_limits.maxChars));
        if (++m_pages > m_limits.maxPages)
            return fail(Error::Kind::Unsupported,
                        tr("'%1' has more than %2 pages, the most one document may have")
                            .arg(m_what)
                            .arg(m_limits.maxPages));
        return m_inner.page(page);
    }
    void warning(const QString &message) override { m_inner.warning(message); }

private:
    ExtractionSink &m_inner;
    const ExtractionLimits &m_limits;
    QString m_what;
    qint64 m_chars = 0;
    int m_pages = 0;
};

Result<QByteArray> readWholeFile(const QString &path, const ExtractionLimits &limits)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return fail(Error::Kind::Io, tr("Cannot open '%1': %2").arg(path, file.errorString()));
    if (file.size() > limits.maxTextFileBytes)
        return fail(Error::Kind::Unsupported,
                    tr("'%1' is %2 bytes; text files over %3 bytes are not ingested")
                        .arg(path)
                        .arg(file.size())
                        .arg(limits.maxTextFileBytes));
    QByteArray bytes = file.readAll();
    if (file.error() != QFileDevice::NoError)
        return fail(Error::Kind::Io, tr("Cannot read '%1': %2").arg(path, file.errorString()));
    return bytes;
}

Result<void> emitTextPages(const QString &text,
                           ExtractionSink &sink,
                           DocumentFormat format,
                           const QString &mimeType)
{
    const QStringList pages = paginateText(text);
    sink.begin(format, mimeType, int(pages.size()));
    for (qsizetype i = 0; i < pages.size(); ++i)
        FATHOM_TRY(sink.page(ExtractedPage{int(i + 1), pages.at(i), PageTextSource::TextLayer}));
    return {};
}

} // namespace

Result<void> extractDocument(const QString &path,
                             const ExtractionOptions &options,
                             ExtractionSink &userSink)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return fail(Error::Kind::Io, tr("Cannot open '%1': %2").arg(path, file.errorString()));
    const QByteArray head = file.read(4096);
    file.close();

    const DetectedFormat detected = detectFormat(QFileInfo(path).fileName(), head);
    LimitingSink sink(userSink, options.limits, path);
    switch (detected.format) {
    case DocumentFormat::Pdf:
        return extractPdf(path, options, sink);
    case DocumentFormat::Docx:
        return extractDocx(path, options, sink);
    case DocumentFormat::Html: {
        FATHOM_TRY_ASSIGN(QByteArray bytes, readWholeFile(path, options.limits));
        FATHOM_TRY_ASSIGN(DecodedText decoded, decodeHtml(bytes, path));
        return emitTextPages(htmlToText(decoded.text), sink, detected.format, detected.mimeType);
    }
    case DocumentFormat::PlainText:
    case DocumentFormat::Markdown:
    case DocumentFormat::SourceCode: {
        FATHOM_TRY_ASSIGN(QByteArray bytes, readWholeFile(path, options.limits));
        FATHOM_TRY_ASSIGN(DecodedText decoded, decodeText(bytes, path));
        return emitTextPages(decoded.text, sink, detected.format, detected.mimeType);
    }
    case DocumentFormat::Unknown:
        break;
    }
    return fail(Error::Kind::Unsupported,
                tr("'%1' is not a supported document (PDF, DOCX, HTML, Markdown, text or source "
                   "code)")
                    .arg(path));
}

Result<ExtractedDocument> extractDocument(const QString &path, const ExtractionOptions &options)
{
    CollectingSink sink;
    FATHOM_TRY(extractDocument(path, options, sink));
    return std::move(sink.document);
}

} // namespace fathom::documents
