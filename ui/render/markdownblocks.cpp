// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "markdownblocks.h"

#include <QRegularExpression>
#include <QSet>
#include <QStringView>

namespace fathom::ui {

namespace {

bool isFence(QStringView line, QChar *fenceChar, int *fenceLen, QString *info)
{
    int indent = 0;
    while (indent < line.size() && indent < 4 && line.at(indent) == u' ')
        ++indent;
    if (indent > 3 || indent >= line.size())
        return false;
    const QChar c = line.at(indent);
    if (c != u'`' && c != u'~')
        return false;
    int n = 0;
    while (indent + n < line.size() && line.at(indent + n) == c)
        ++n;
    if (n < 3)
        return false;
    const QStringView rest = line.mid(indent + n).trimmed();
    if (c == u'`' && rest.contains(u'`'))
        return false;
    *fenceChar = c;
    *fenceLen = n;
    if (info)
        *info = rest.toString().section(u' ', 0, 0);
    return true;
}

bool isClosingFence(QStringView line, QChar fenceChar, int fenceLen)
{
    const QStringView t = line.trimmed();
    if (t.size() < fenceLen)
        return false;
    for (QChar c : t) {
        if (c != fenceChar)
            return false;
    }
    return true;
}

bool isListItem(QStringView line)
{
    static const QRegularExpression listItem(
        QStringLiteral("^\\s{0,3}([-*+]|\\d{1,9}[.)])(\\s|$)"));
    return listItem.match(line.toString()).hasMatch();
}

// After a blank line, whether `line` belongs to the block before it: indented continuations,
// and the next item of a list that block is in (a list split into blocks would restart its
// numbering).
bool continuesBlock(QStringView line, bool inList)
{
    if (line.startsWith(u' ') || line.startsWith(u'\t'))
        return inList;
    return inList && isListItem(line);
}

} // namespace

QList<MarkdownBlock> splitMarkdown(const QString &markdown)
{
    QList<MarkdownBlock> blocks;
    const QList<QStringView> lines = QStringView(markdown).split(u'\n');
    QString text;
    bool previousBlank = false;
    bool inList = false;
    auto flushText = [&] {
        inList = false;
        while (text.endsWith(u'\n'))
            text.chop(1);
        if (!text.trimmed().isEmpty())
            blocks.append({MarkdownBlock::Kind::Text, text, {}, true});
        text.clear();
    };
    for (qsizetype i = 0; i < lines.size(); ++i) {
        const QStringView line = lines.at(i);
        QChar fenceChar;
        int fenceLen = 0;
        QString info;
        if (isFence(line, &fenceChar, &fenceLen, &info)) {
            flushText();
            QString code;
            bool closed = false;
            qsizetype j = i + 1;
            for (; j < lines.size(); ++j) {
                if (isClosingFence(lines.at(j), fenceChar, fenceLen)) {
                    closed = true;
                    break;
                }
                if (!code.isEmpty() || j > i + 1)
                    code += u'\n';
                code += lines.at(j);
            }
            blocks.append({MarkdownBlock::Kind::Code, code, info, closed});
            i = j;
            previousBlank = false;
            continue;
        }
        const bool blank = line.trimmed().isEmpty();
        if (!blank && previousBlank && !continuesBlock(line, inList))
            flushText();
        if (!blank && isListItem(line))
            inList = true;
        text += line;
        text += u'\n';
        previousBlank = blank;
    }
    flushText();
    return blocks;
}

QList<MarkdownBlock> splitParagraphs(const QString &text)
{
    QList<MarkdownBlock> blocks;
    QString paragraph;
    bool previousBlank = false;
    auto flush = [&] {
        while (paragraph.endsWith(u'\n'))
            paragraph.chop(1);
        if (!paragraph.trimmed().isEmpty())
            blocks.append({MarkdownBlock::Kind::Text, paragraph, {}, true});
        paragraph.clear();
    };
    for (QStringView line : QStringView(text).split(u'\n')) {
        const bool blank = line.trimmed().isEmpty();
        if (!blank && previousBlank)
            flush();
        paragraph += line;
        paragraph += u'\n';
        previousBlank = blank;
    }
    flush();
    return blocks;
}

namespace {

struct Palette
{
    const char *keyword, *string, *comment, *number, *type;
};

const QSet<QString> &keywordsFor(const QString &language)
{
    static const QSet<QString> cLike
        = {"auto",       "break",   "case",     "catch",      "class",   "const",     "constexpr",
           "continue",   "default", "delete",   "do",         "else",    "enum",      "explicit",
           "export",     "extern",  "false",    "final",      "for",     "friend",    "goto",
           "if",         "import",  "inline",   "interface",  "let",     "namespace", "new",
           "null",       "nullptr", "operator", "override",   "package", "private",   "protected",
           "public",     "return",  "sizeof",   "static",     "struct",  "super",     "switch",
           "template",   "this",    "throw",    "true",       "try",     "typedef",   "typename",
           "union",      "using",   "var",      "virtual",    "void",    "volatile",  "while",
           "function",   "async",   "await",    "yield",      "fn",      "impl",      "mut",
           "pub",        "match",   "mod",      "use",        "func",    "go",        "defer",
           "chan",       "type",    "struct",   "trait",      "where",   "in",        "of",
           "instanceof", "typeof",  "extends",  "implements", "abstract"};
    static const QSet<QString> python = {"and",   "as",    "assert",   "async", "await",
                                         "break", "class", "continue", "def",   "del",
                                         "elif",  "else",  "except",   "False", "finally",
                                         "for",   "from",  "global",   "if",    "import",
                                         "in",    "is",    "lambda",   "None",  "nonlocal",
                                         "not",   "or",    "pass",     "raise", "return",
                                         "True",  "try",   "while",    "with",  "yield",
                                         "self",  "match", "case"};
    static const QSet<QString> shell = {"if",     "then",     "else", "elif",   "fi",
                                        "for",    "while",    "do",   "done",   "case",
                                        "esac",   "function", "in",   "export", "local",
                                        "return", "echo",     "cd",   "set",    "exit"};
    static const QSet<QString> sql = {"SELECT",   "FROM",   "WHERE",   "INSERT", "INTO",
                                      "VALUES",   "UPDATE", "SET",     "DELETE", "CREATE",
                                      "TABLE",    "INDEX",  "DROP",    "ALTER",  "JOIN",
                                      "LEFT",     "RIGHT",  "INNER",   "OUTER",  "ON",
                                      "GROUP",    "BY",     "ORDER",   "HAVING", "LIMIT",
                                      "AND",      "OR",     "NOT",     "NULL",   "AS",
                                      "DISTINCT", "UNION",  "PRIMARY", "KEY",    "REFERENCES",
                                      "select",   "from",   "where",   "insert", "into",
                                      "values",   "update", "set",     "delete", "create",
                                      "table",    "join",   "on",      "group",  "by",
                                      "order",    "limit",  "and",     "or",     "not",
                                      "null",     "as"};
    const QString l = language.toLower();
    if (l == u"python" || l == u"py")
        return python;
    if (l == u"sh" || l == u"bash" || l == u"shell" || l == u"zsh" || l == u"console")
        return shell;
    if (l == u"sql")
        return sql;
    return cLike;
}

QString escaped(QStringView s)
{
    return s.toString().toHtmlEscaped();
}

} // namespace

QString highlightCode(const QString &code, const QString &language, CodeTheme theme)
{
    static const Palette light{"#0033b3", "#067d17", "#8c8c8c", "#1750eb", "#00627a"};
    static const Palette dark{"#cf8e6d", "#6aab73", "#7a7e85", "#2aacb8", "#56a8f5"};
    const Palette &p = theme == CodeTheme::Dark ? dark : light;
    const QSet<QString> &keywords = keywordsFor(language);
    const QString l = language.toLower();
    const bool hashComments = l == u"python" || l == u"py" || l == u"sh" || l == u"bash"
                              || l == u"shell" || l == u"yaml" || l == u"yml" || l == u"toml"
                              || l == u"ruby" || l == u"r" || l == u"zsh" || l == u"cmake";
    const bool dashComments = l == u"sql" || l == u"lua" || l == u"haskell";

    QString out;
    out.reserve(code.size() * 2);
    auto span = [&](const char *color, QStringView text) {
        out += QStringLiteral("<span style=\"color:%1\">").arg(QLatin1String(color));
        out += escaped(text);
        out += QStringLiteral("</span>");
    };
    const qsizetype n = code.size();
    qsizetype i = 0;
    while (i < n) {
        const QChar c = code.at(i);
        // Comments.
        if ((hashComments && c == u'#')
            || (dashComments && c == u'-' && i + 1 < n && code.at(i + 1) == u'-')
            || (!hashComments && c == u'/' && i + 1 < n && code.at(i + 1) == u'/')) {
            qsizetype end = code.indexOf(u'\n', i);
            if (end < 0)
                end = n;
            span(p.comment, QStringView(code).mid(i, end - i));
            i = end;
            continue;
        }
        if (c == u'/' && i + 1 < n && code.at(i + 1) == u'*') {
            qsizetype end = code.indexOf(QStringLiteral("*/"), i + 2);
            end = end < 0 ? n : end + 2;
            span(p.comment, QStringView(code).mid(i, end - i));
            i = end;
            continue;
        }
        // Strings.
        if (c == u'"' || c == u'\'' || c == u'`') {
            qsizetype j = i + 1;
            while (j < n && code.at(j) != c && code.at(j) != u'\n') {
                if (code.at(j) == u'\\')
                    ++j;
                ++j;
            }
            j = std::min(n, j + 1);
            span(p.string, QStringView(code).mid(i, j - i));
            i = j;
            continue;
        }
        // Numbers.
        if (c.isDigit()) {
            qsizetype j = i;
            while (j < n
                   && (code.at(j).isLetterOrNumber() || code.at(j) == u'.' || code.at(j) == u'_'))
                ++j;
            span(p.number, QStringView(code).mid(i, j - i));
            i = j;
            continue;
        }
        // Words.
        if (c.isLetter() || c == u'_') {
            qsizetype j = i;
            while (j < n && (code.at(j).isLetterOrNumber() || code.at(j) == u'_'))
                ++j;
            const QString word = code.mid(i, j - i);
            if (keywords.contains(word))
                span(p.keyword, word);
            else if (word.at(0).isUpper() && word.size() > 1)
                span(p.type, word);
            else
                out += escaped(word);
            i = j;
            continue;
        }
        out += escaped(QStringView(code).mid(i, 1));
        ++i;
    }
    return QStringLiteral("<pre style=\"margin:0\">") + out + QStringLiteral("</pre>");
}

} // namespace fathom::ui
