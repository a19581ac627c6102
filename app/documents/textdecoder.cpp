// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "textdecoder.h"

#include <QCoreApplication>
#include <QStringDecoder>

#include <optional>

namespace fathom::documents {

namespace {

struct Bom
{
    QByteArrayView bytes;
    QStringConverter::Encoding encoding;
    const char *name;
};

std::optional<Bom> findBom(const QByteArray &data)
{
    // UTF-32LE's BOM starts with UTF-16LE's, so the longer marks are tested first.
    static const Bom boms[] = {
        {QByteArrayView("\x00\x00\xFE\xFF", 4), QStringConverter::Utf32BE, "UTF-32BE"},
        {QByteArrayView("\xFF\xFE\x00\x00", 4), QStringConverter::Utf32LE, "UTF-32LE"},
        {QByteArrayView("\xEF\xBB\xBF", 3), QStringConverter::Utf8, "UTF-8"},
        {QByteArrayView("\xFE\xFF", 2), QStringConverter::Utf16BE, "UTF-16BE"},
        {QByteArrayView("\xFF\xFE", 2), QStringConverter::Utf16LE, "UTF-16LE"},
    };
    for (const Bom &bom : boms) {
        if (QByteArrayView(data).startsWith(bom.bytes))
            return bom;
    }
    return std::nullopt;
}

void normaliseLineEndings(QString &text)
{
    if (!text.contains(QLatin1Char('\r')))
        return;
    text.replace(QLatin1String("\r\n"), QLatin1String("\n"));
    text.replace(QLatin1Char('\r'), QLatin1Char('\n'));
}

Result<DecodedText> decodeWith(QStringConverter::Encoding encoding,
                               const char *name,
                               QByteArrayView bytes,
                               const QString &what)
{
    QStringDecoder decoder(encoding, QStringDecoder::Flag::Stateless);
    DecodedText out;
    out.text = decoder.decode(bytes);
    if (decoder.hasError())
        return fail(Error::Kind::Format,
                    QCoreApplication::translate(
                        "fathom::documents", "'%1' is not valid %2 text despite its byte-order mark")
                        .arg(what, QLatin1String(name)));
    out.encoding = QLatin1String(name);
    normaliseLineEndings(out.text);
    return out;
}

// No BOM: UTF-8 when it decodes cleanly, Latin-1 otherwise.
Result<DecodedText> decodeUnmarked(const QByteArray &bytes, const QString &what)
{
    if (bytes.contains('\0'))
        return fail(Error::Kind::Format,
                    QCoreApplication::translate("fathom::documents",
                                                "'%1' contains binary data (NUL bytes), not text")
                        .arg(what));
    DecodedText out;
    QStringDecoder utf8(QStringConverter::Utf8, QStringDecoder::Flag::Stateless);
    out.text = utf8.decode(bytes);
    out.encoding = QStringLiteral("UTF-8");
    if (utf8.hasError()) {
        out.text = QString::fromLatin1(bytes);
        out.encoding = QStringLiteral("ISO-8859-1");
    }
    normaliseLineEndings(out.text);
    return out;
}

} // namespace

Result<DecodedText> decodeText(const QByteArray &bytes, const QString &what)
{
    if (const std::optional<Bom> bom = findBom(bytes))
        return decodeWith(bom->encoding,
                          bom->name,
                          QByteArrayView(bytes).sliced(bom->bytes.size()),
                          what);
    return decodeUnmarked(bytes, what);
}

Result<DecodedText> decodeHtml(const QByteArray &bytes, const QString &what)
{
    if (findBom(bytes))
        return decodeText(bytes, what);
    // encodingForHtml() reads <meta charset=...> / http-equiv in the first 1 KiB; it only knows
    // the encodings Qt converts itself, so an unknown label falls through to the usual rules.
    const std::optional<QStringConverter::Encoding> declared = QStringConverter::encodingForHtml(
        bytes);
    if (declared && *declared != QStringConverter::Utf8) {
        const char *name = QStringConverter::nameForEncoding(*declared);
        if (*declared == QStringConverter::Latin1) {
            DecodedText out{QString::fromLatin1(bytes), QStringLiteral("ISO-8859-1")};
            normaliseLineEndings(out.text);
            return out;
        }
        return decodeWith(*declared, name ? name : "declared", bytes, what);
    }
    return decodeUnmarked(bytes, what);
}

QStringList paginateText(const QString &text, int linesPerPage)
{
    QStringList pages;
    qsizetype start = 0;
    int lines = 0;
    const qsizetype n = text.size();
    const QChar *data = text.constData();
    for (qsizetype i = 0; i < n; ++i) {
        const char16_t c = data[i].unicode();
        if (c == u'\f') {
            pages.append(text.mid(start, i - start));
            start = i + 1;
            lines = 0;
        } else if (c == u'\n' && ++lines == linesPerPage) {
            pages.append(text.mid(start, i + 1 - start));
            start = i + 1;
            lines = 0;
        }
    }
    if (start < n || pages.isEmpty())
        pages.append(text.mid(start));
    return pages;
}

} // namespace fathom::documents
