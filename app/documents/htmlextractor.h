// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include <QString>

namespace fathom::documents {

/**
  The readable text of an HTML page: markup, scripts, styles and comments dropped, entities
  decoded, whitespace collapsed except in <pre>, block elements on their own lines, headings
  prefixed with '#' marks, list items with "- ", table cells separated by " | ". A tolerant
  scanner, not a DOM: broken markup still yields its text.
  Thread: any.
*/
QString htmlToText(const QString &html);

} // namespace fathom::documents
