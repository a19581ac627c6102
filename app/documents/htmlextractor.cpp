// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "htmlextractor.h"

#include <QHash>

namespace fathom::documents {

namespace {

char32_t namedEntity(QStringView name)
{
    // The entities that turn up in real pages; the full HTML5 table has over 2,000.
    static const QHash<QString, char32_t> entities = {
        {QStringLiteral("amp"), U'&'},         {QStringLiteral("lt"), U'<'},
        {QStringLiteral("gt"), U'>'},          {QStringLiteral("quot"), U'"'},
        {QStringLiteral("apos"), U'\''},       {QStringLiteral("nbsp"), U'\u00A0'},
        {QStringLiteral("copy"), U'\u00A9'},   {QStringLiteral("reg"), U'\u00AE'},
        {QStringLiteral("trade"), U'\u2122'},  {QStringLiteral("mdash"), U'\u2014'},
        {QStringLiteral("ndash"), U'\u2013'},  {QStringLiteral("hellip"), U'\u2026'},
        {QStringLiteral("laquo"), U'\u00AB'},  {QStringLiteral("raquo"), U'\u00BB'},
        {QStringLiteral("ldquo"), U'\u201C'},  {QStringLiteral("rdquo"), U'\u201D'},
        {QStringLiteral("lsquo"), U'\u2018'},  {QStringLiteral("rsquo"), U'\u2019'},
        {QStringLiteral("bull"), U'\u2022'},   {QStringLiteral("middot"), U'\u00B7'},
        {QStringLiteral("euro"), U'\u20AC'},   {QStringLiteral("pound"), U'\u00A3'},
        {QStringLiteral("yen"), U'\u00A5'},    {QStringLiteral("cent"), U'\u00A2'},
        {QStringLiteral("sect"), U'\u00A7'},   {QStringLiteral("para"), U'\u00B6'},
        {QStringLiteral("deg"), U'\u00B0'},    {QStringLiteral("plusmn"), U'\u00B1'},
        {QStringLiteral("times"), U'\u00D7'},  {QStringLiteral("divide"), U'\u00F7'},
        {QStringLiteral("shy"), U'\u00AD'},    {QStringLiteral("zwnj"), U'\u200C'},
        {QStringLiteral("zwj"), U'\u200D'},    {QStringLiteral("ensp"), U'\u2002'},
        {QStringLiteral("emsp"), U'\u2003'},   {QStringLiteral("thinsp"), U'\u2009'},
        {QStringLiteral("larr"), U'\u2190'},   {QStringLiteral("rarr"), U'\u2192'},
        {QStringLiteral("uarr"), U'\u2191'},   {QStringLiteral("darr"), U'\u2193'},
        {QStringLiteral("auml"), U'\u00E4'},   {QStringLiteral("ouml"), U'\u00F6'},
        {QStringLiteral("uuml"), U'\u00FC'},   {QStringLiteral("Auml"), U'\u00C4'},
        {QStringLiteral("Ouml"), U'\u00D6'},   {QStringLiteral("Uuml"), U'\u00DC'},
        {QStringLiteral("szlig"), U'\u00DF'},  {QStringLiteral("eacute"), U'\u00E9'},
        {QStringLiteral("egrave"), U'\u00E8'}, {QStringLiteral("agrave"), U'\u00E0'},
        {QStringLiteral("aacute"), U'\u00E1'}, {QStringLiteral("ccedil"), U'\u00E7'},
        {QStringLiteral("ntilde"), U'\u00F1'}, {QStringLiteral("oacute"), U'\u00F3'},
        {QStringLiteral("iacute"), U'\u00ED'}, {QStringLiteral("uacute"), U'\u00FA'},
        {QStringLiteral("Eacute"), U'\u00C9'}, {QStringLiteral("alpha"), U'\u03B1'},
        {QStringLiteral("beta"), U'\u03B2'},   {QStringLiteral("gamma"), U'\u03B3'},
        {QStringLiteral("delta"), U'\u03B4'},  {QStringLiteral("pi"), U'\u03C0'},
        {QStringLiteral("mu"), U'\u03BC'},     {QStringLiteral("le"), U'\u2264'},
        {QStringLiteral("ge"), U'\u2265'},     {QStringLiteral("ne"), U'\u2260'},
        {QStringLiteral("infin"), U'\u221E'},  {QStringLiteral("check"), U'\u2713'},
    };
    return entities.value(name.toString(), 0);
}

enum class TagKind { Other, Block, Break, Heading, ListItem, Row, Cell, Pre, Skip };

struct TagInfo
{
    TagKind kind = TagKind::Other;
    int level = 0; // heading level
};

TagInfo classify(const QString &name)
{
    static const QHash<QString, TagKind> kinds = [] {
        QHash<QString, TagKind> h;
        for (const char *n :
             {"p",        "div",    "section",    "article", "header", "footer",  "nav",
              "aside",    "main",   "blockquote", "table",   "thead",  "tbody",   "tfoot",
              "ul",       "ol",     "dl",         "dt",      "dd",     "hr",      "form",
              "fieldset", "figure", "figcaption", "address", "title",  "caption", "details",
              "summary",  "body",   "html"})
            h.insert(QLatin1String(n), TagKind::Block);
        h.insert(QStringLiteral("br"), TagKind::Break);
        h.insert(QStringLiteral("li"), TagKind::ListItem);
        h.insert(QStringLiteral("tr"), TagKind::Row);
        h.insert(QStringLiteral("td"), TagKind::Cell);
        h.insert(QStringLiteral("th"), TagKind::Cell);
        h.insert(QStringLiteral("pre"), TagKind::Pre);
        for (const char *n : {"script", "style", "template", "noscript", "svg"})
            h.insert(QLatin1String(n), TagKind::Skip);
        return h;
    }();
    if (name.size() == 2 && name.at(0) == QLatin1Char('h') && name.at(1) >= QLatin1Char('1')
        && name.at(1) <= QLatin1Char('6'))
        return {TagKind::Heading, name.at(1).unicode() - '0'};
    return {kinds.value(name, TagKind::Other), 0};
}

// Collapses whitespace and merges requested line breaks into the output.
class TextBuilder
{
public:
    void text(QChar c, bool preformatted)
    {
        if (!preformatted && c != QChar(0x00A0) && c.isSpace()) {
            m_pendingSpace = true;
            return;
        }
        if (preformatted && c == QLatin1Char('\n')) {
            m_out.append(c);
            m_pendingSpace = false;
            m_pendingNewlines = 0;
            return;
        }
        flush();
        m_out.append(c == QChar(0x00A0) ? QLatin1Char(' ') : c);
    }
    void text(QStringView s, bool preformatted)
    {
        for (QChar c : s)
            text(c, preformatted);
    }
    void newlines(int n) { m_pendingNewlines = qMax(m_pendingNewlines, n); }
    void literal(QStringView s)
    {
        flush();
        m_out.append(s);
    }
    void separator(QStringView s)
    {
        // Cell separators go right after the previous cell's text, spaces swallowed.
        m_pendingSpace = false;
        m_out.append(s);
    }
    QString take()
    {
        if (!m_out.isEmpty() && !m_out.endsWith(QLatin1Char('\n')))
            m_out.append(QLatin1Char('\n'));
        return std::move(m_out);
    }

private:
    void flush()
    {
        if (m_out.isEmpty()) {
            m_pendingNewlines = 0;
            m_pendingSpace = false;
            return;
        }
        if (m_pendingNewlines > 0) {
            while (m_out.endsWith(QLatin1Char(' ')))
                m_out.chop(1);
            int have = 0;
            for (qsizetype i = m_out.size() - 1; i >= 0 && m_out.at(i) == QLatin1Char('\n'); --i)
                ++have;
            for (int i = have; i < m_pendingNewlines; ++i)
                m_out.append(QLatin1Char('\n'));
        } else if (m_pendingSpace && !m_out.endsWith(QLatin1Char('\n'))
                   && !m_out.endsWith(QLatin1Char(' '))) {
            m_out.append(QLatin1Char(' '));
        }
        m_pendingNewlines = 0;
        m_pendingSpace = false;
    }

    QString m_out;
    int m_pendingNewlines = 0;
    bool m_pendingSpace = false;
};

// Decodes the entity at html[i] == '&'; returns the characters and advances i past it.
QString decodeEntity(const QString &html, qsizetype &i)
{
    const qsizetype n = html.size();
    qsizetype j = i + 1;
    if (j < n && html.at(j) == QLatin1Char('#')) {
        ++j;
        const bool hex = j < n
                         && (html.at(j) == QLatin1Char('x') || html.at(j) == QLatin1Char('X'));
        if (hex)
            ++j;
        const qsizetype digitsStart = j;
        while (j < n && j - digitsStart < 8
               && (hex ? isxdigit(html.at(j).toLatin1()) : html.at(j).isDigit()))
            ++j;
        if (j == digitsStart)
            return QStringLiteral("&");
        bool ok = false;
        uint code = html.mid(digitsStart, j - digitsStart).toUInt(&ok, hex ? 16 : 10);
        if (j < n && html.at(j) == QLatin1Char(';'))
            ++j;
        i = j - 1;
        if (!ok || code == 0 || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
            code = 0xFFFD;
        const char32_t c = code;
        return QString::fromUcs4(&c, 1);
    }
    while (j < n && j - i <= 32 && html.at(j).isLetterOrNumber())
        ++j;
    const char32_t c = namedEntity(QStringView(html).mid(i + 1, j - i - 1));
    if (!c)
        return QStringLiteral("&");
    if (j < n && html.at(j) == QLatin1Char(';'))
        ++j;
    i = j - 1;
    return QString::fromUcs4(&c, 1);
}

} // namespace

QString htmlToText(const QString &html)
{
    TextBuilder out;
    const qsizetype n = html.size();
    int preDepth = 0;
    int cellInRow = 0;
    for (qsizetype i = 0; i < n; ++i) {
        const QChar c = html.at(i);
        if (c == QLatin1Char('&')) {
            out.text(decodeEntity(html, i), preDepth > 0);
            continue;
        }
        if (c != QLatin1Char('<')) {
            out.text(c, preDepth > 0);
            continue;
        }
        // Markup. Comments, doctype, processing instructions and CDATA first.
        const QStringView rest = QStringView(html).mid(i);
        if (rest.startsWith(QLatin1String("<!--"))) {
            const qsizetype end = html.indexOf(QLatin1String("-->"), i + 4);
            i = end < 0 ? n : end + 2;
            continue;
        }
        if (rest.startsWith(QLatin1String("<![CDATA["))) {
            const qsizetype end = html.indexOf(QLatin1String("]]>"), i + 9);
            const qsizetype stop = end < 0 ? n : end;
            out.text(QStringView(html).mid(i + 9, stop - i - 9), preDepth > 0);
            i = end < 0 ? n : end + 2;
            continue;
        }
        if (rest.startsWith(QLatin1String("<!")) || rest.startsWith(QLatin1String("<?"))) {
            const qsizetype end = html.indexOf(QLatin1Char('>'), i);
            i = end < 0 ? n : end;
            continue;
        }
        qsizetype j = i + 1;
        const bool closing = j < n && html.at(j) == QLatin1Char('/');
        if (closing)
            ++j;
        const qsizetype nameStart = j;
        while (j < n && (html.at(j).isLetterOrNumber() || html.at(j) == QLatin1Char('-')))
            ++j;
        if (j == nameStart) {
            out.text(c, preDepth > 0); // a lone '<' in text
            continue;
        }
        const QString name = html.mid(nameStart, j - nameStart).toLower();
        // Skip attributes, honouring quotes so that '>' inside a value does not end the tag.
        QChar quote;
        while (j < n) {
            const QChar a = html.at(j);
            if (!quote.isNull()) {
                if (a == quote)
                    quote = QChar();
            } else if (a == QLatin1Char('"') || a == QLatin1Char('\'')) {
                quote = a;
            } else if (a == QLatin1Char('>')) {
                break;
            }
            ++j;
        }
        i = j;
        const TagInfo tag = classify(name);
        switch (tag.kind) {
        case TagKind::Skip:
            if (!closing) {
                // Raw text: everything up to the matching end tag is not page text.
                const QString endTag = QLatin1String("</") + name;
                const qsizetype end = html.indexOf(endTag, i, Qt::CaseInsensitive);
                if (end < 0) {
                    i = n;
                } else {
                    const qsizetype gt = html.indexOf(QLatin1Char('>'), end);
                    i = gt < 0 ? n : gt;
                }
            }
            break;
        case TagKind::Block:
            out.newlines(name == QLatin1String("p") ? 2 : 1);
            break;
        case TagKind::Break:
            out.literal(u"\n");
            break;
        case TagKind::Heading:
            out.newlines(2);
            if (!closing)
                out.literal(QString(tag.level, QLatin1Char('#')) + QLatin1Char(' '));
            break;
        case TagKind::ListItem:
            out.newlines(1);
            if (!closing)
                out.literal(u"- ");
            break;
        case TagKind::Row:
            out.newlines(1);
            cellInRow = 0;
            break;
        case TagKind::Cell:
            if (!closing && cellInRow++ > 0)
                out.separator(u" | ");
            break;
        case TagKind::Pre:
            out.newlines(1);
            preDepth = qMax(0, preDepth + (closing ? -1 : 1));
            break;
        case TagKind::Other:
            break;
        }
    }
    return out.take();
}

} // namespace fathom::documents
