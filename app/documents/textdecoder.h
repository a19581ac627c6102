// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/core/error.h"

#include <QByteArray>
#include <QString>
#include <QStringList>

namespace fathom::documents {

struct DecodedText
{
    QString text;     // line endings normalised to '\n', BOM removed
    QString encoding; // "UTF-8", "UTF-16LE", ..., "ISO-8859-1"
};

/**
  Decodes the bytes of a text file: a byte-order mark (UTF-8, UTF-16, UTF-32) wins; otherwise
  valid UTF-8 is UTF-8 and anything else is read as Latin-1, which cannot fail. Bytes with NUL
  characters and no UTF-16/32 BOM are binary data and an error. `what` names the file in errors.
  Thread: any.
*/
Result<DecodedText> decodeText(const QByteArray &bytes, const QString &what);

// Decodes an HTML file: BOM, then <meta charset>, then the same rules as decodeText().
Result<DecodedText> decodeHtml(const QByteArray &bytes, const QString &what);

/**
  Cuts text without pages of its own into pages for citations: a form feed starts a new page,
  and every kLinesPerTextPage lines make a page ("page 3" of a text file is lines 201 to 300).
  Always returns at least one (possibly empty) page.
*/
constexpr int kLinesPerTextPage = 100;
QStringList paginateText(const QString &text, int linesPerPage = kLinesPerTextPage);

} // namespace fathom::documents
