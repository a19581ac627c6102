// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "formatdetector.h"

#include <QFileInfo>
#include <QMimeDatabase>

namespace fathom::documents {

namespace {

const QString kPdfMime = QStringLiteral("application/pdf");
const QString kDocxMime = QStringLiteral(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document");

bool hasPdfMagic(const QByteArray &head)
{
    // The PDF spec lets "%PDF-" start anywhere in the first 1024 bytes (after junk some
    // generators prepend); readers such as Poppler accept that too.
    return head.left(1024).contains("%PDF-");
}

DetectedFormat fromMime(const QMimeType &mime)
{
    if (!mime.isValid())
        return {};
    const QString name = mime.name();
    if (name == kPdfMime)
        return {DocumentFormat::Pdf, name};
    if (name == kDocxMime)
        return {DocumentFormat::Docx, name};
    if (name == QLatin1String("text/html") || name == QLatin1String("application/xhtml+xml"))
        return {DocumentFormat::Html, name};
    if (name == QLatin1String("text/markdown") || name == QLatin1String("text/x-markdown"))
        return {DocumentFormat::Markdown, name};
    if (name == QLatin1String("text/plain"))
        return {DocumentFormat::PlainText, name};
    if (mime.inherits(QStringLiteral("text/plain")))
        return {DocumentFormat::SourceCode, name};
    return {};
}

} // namespace

DetectedFormat detectFormat(const QString &fileName, const QByteArray &head)
{
    static const QMimeDatabase db;
    const QString suffix = QFileInfo(fileName).suffix().toLower();

    if (hasPdfMagic(head))
        return {DocumentFormat::Pdf, kPdfMime};
    if (head.startsWith("PK\x03\x04")) {
        // Any zip (xlsx, odt, jar) starts like this; only Word documents are supported.
        if (suffix == QLatin1String("docx") || suffix == QLatin1String("docm")
            || suffix == QLatin1String("dotx"))
            return {DocumentFormat::Docx, kDocxMime};
        return {};
    }
    // A damaged file keeps its name: let the parser for that name report what is wrong.
    if (suffix == QLatin1String("pdf"))
        return {DocumentFormat::Pdf, kPdfMime};
    if (suffix == QLatin1String("docx"))
        return {DocumentFormat::Docx, kDocxMime};
    if (suffix == QLatin1String("md") || suffix == QLatin1String("markdown"))
        return {DocumentFormat::Markdown, QStringLiteral("text/markdown")};

    const QMimeType byName = db.mimeTypeForFile(fileName, QMimeDatabase::MatchExtension);
    if (DetectedFormat f = fromMime(byName); f.format != DocumentFormat::Unknown)
        return f;
    if (!byName.isDefault())
        return {}; // a known type that is not text (image, archive, ...)
    return fromMime(db.mimeTypeForData(head));
}

} // namespace fathom::documents
