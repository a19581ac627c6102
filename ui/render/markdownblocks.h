// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include <QList>
#include <QString>

namespace fathom::ui {

/*
  Splits a Markdown answer into blocks the chat view renders separately: prose (rendered by Qt's
  Markdown importer, which handles headings, emphasis, lists, tables and links) and fenced code
  blocks (highlighted here, with their own copy button). Prose is also split at paragraph
  boundaries outside lists, so while an answer streams only its last block changes and the
  earlier ones are not re-parsed at every update. An unterminated fence (the model is still
  writing the code) is a code block up to the end of the text.
*/
struct MarkdownBlock
{
    enum class Kind { Text, Code };
    Kind kind = Kind::Text;
    QString text;       // Markdown for Text, the raw code for Code
    QString language;   // Code: the fence's info string's first word (may be empty)
    bool closed = true; // Code: the closing fence has been seen

    bool operator==(const MarkdownBlock &) const = default;
};

QList<MarkdownBlock> splitMarkdown(const QString &markdown);

// Plain text (the model's reasoning) split into Text blocks at blank lines, each without its
// trailing newlines, so that a streaming reasoning block also re-lays out only its last paragraph.
QList<MarkdownBlock> splitParagraphs(const QString &text);

enum class CodeTheme { Light, Dark };

// The code as HTML (<pre> with coloured <span>s for keywords, strings, comments and numbers),
// everything escaped. Unknown languages get the generic C-like rules.
QString highlightCode(const QString &code, const QString &language, CodeTheme theme);

} // namespace fathom::ui
