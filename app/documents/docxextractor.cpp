// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "docxextractor.h"

#include <QCoreApplication>
#include <QFile>
#include <QHash>
#include <QRegularExpression>
#include <QXmlStreamReader>

#include <zip.h>

#include <functional>
#include <memory>

#ifdef FATHOM_LIBZIP_MAJOR
#include <QLibrary>
#endif

namespace fathom::documents {

namespace {

QString tr(const char *text)
{
    return QCoreApplication::translate("fathom::documents", text);
}

// libzip, resolved at run time on Linux (FATHOM_LIBZIP_MAJOR): linked, it and the libraries it
// pulls in (libcrypto, libbz2) cost every worker start 5-8 ms of CPU, about 2% of parsing a
// 400-page PDF that never touches a zip archive. Loaded on the first DOCX instead.
#define FATHOM_ZIP_FUNCTIONS(X) \
    X(zip_discard) \
    X(zip_fclose) \
    X(zip_stat_init) \
    X(zip_stat) \
    X(zip_fopen) \
    X(zip_strerror) \
    X(zip_fread) \
    X(zip_file_strerror) \
    X(zip_error_init) \
    X(zip_source_buffer_create) \
    X(zip_error_strerror) \
    X(zip_error_fini) \
    X(zip_open_from_source) \
    X(zip_source_free)

struct ZipApi
{
#define FATHOM_ZIP_FIELD(name) decltype(&::name) name = nullptr;
    FATHOM_ZIP_FUNCTIONS(FATHOM_ZIP_FIELD)
#undef FATHOM_ZIP_FIELD
    QString error; // non-empty: unusable
};

const ZipApi &zipApi()
{
    static const ZipApi api = [] {
        ZipApi a;
#ifdef FATHOM_LIBZIP_MAJOR
        QLibrary lib(QStringLiteral("zip"), FATHOM_LIBZIP_MAJOR);
        if (!lib.load()) {
            a.error = tr("Word documents cannot be read: %1 (install libzip%2)")
                          .arg(lib.errorString())
                          .arg(FATHOM_LIBZIP_MAJOR);
            return a;
        }
        bool ok = true;
#define FATHOM_ZIP_RESOLVE(name) \
    a.name = reinterpret_cast<decltype(a.name)>(lib.resolve(#name)); \
    ok = ok && a.name != nullptr;
        FATHOM_ZIP_FUNCTIONS(FATHOM_ZIP_RESOLVE)
#undef FATHOM_ZIP_RESOLVE
        if (!ok)
            a.error = tr("Word documents cannot be read: the installed libzip lacks a function");
#else
#define FATHOM_ZIP_LINK(name) a.name = &::name;
        FATHOM_ZIP_FUNCTIONS(FATHOM_ZIP_LINK)
#undef FATHOM_ZIP_LINK
#endif
        return a;
    }();
    return api;
}
#define FATHOM_ZIP(name) zipApi().name

const QString kMcNamespace = QStringLiteral(
    "http://schemas.openxmlformats.org/markup-compatibility/2006");

struct ZipCloser
{
    void operator()(zip_t *z) const { FATHOM_ZIP(zip_discard)(z); }
};
struct ZipFileCloser
{
    void operator()(zip_file_t *f) const { FATHOM_ZIP(zip_fclose)(f); }
};

using ChunkFn = std::function<Result<void>(QByteArrayView)>;

// Streams one archive member through `onChunk`, refusing more than maxBytes of output whatever
// the archive claims: a bomb can declare a small size and inflate to gigabytes.
Result<void> readPart(zip_t *zip,
                      const QString &docPath,
                      const QByteArray &name,
                      qint64 maxBytes,
                      const ChunkFn &onChunk)
{
    zip_stat_t st;
    FATHOM_ZIP(zip_stat_init)(&st);
    if (FATHOM_ZIP(zip_stat)(zip, name.constData(), 0, &st) != 0)
        return fail(Error::Kind::Format,
                    tr("'%1' is not a Word document: it has no part '%2'")
                        .arg(docPath, QString::fromUtf8(name)));
    auto tooBig = [&] {
        return fail(Error::Kind::Unsupported,
                    tr("'%1': part '%2' expands to more than %3 MiB; refusing it (a "
                       "decompression bomb?)")
                        .arg(docPath, QString::fromUtf8(name))
                        .arg(maxBytes / (1024 * 1024)));
    };
    if ((st.valid & ZIP_STAT_SIZE) && st.size > zip_uint64_t(maxBytes))
        return tooBig();
    std::unique_ptr<zip_file_t, ZipFileCloser> file(FATHOM_ZIP(zip_fopen)(zip, name.constData(), 0));
    if (!file)
        return fail(Error::Kind::Format,
                    tr("'%1': cannot open part '%2': %3")
                        .arg(docPath,
                             QString::fromUtf8(name),
                             QString::fromUtf8(FATHOM_ZIP(zip_strerror)(zip))));
    QByteArray buffer(64 * 1024, Qt::Uninitialized);
    qint64 total = 0;
    for (;;) {
        const zip_int64_t got = FATHOM_ZIP(
            zip_fread)(file.get(), buffer.data(), zip_uint64_t(buffer.size()));
        if (got < 0)
            return fail(Error::Kind::Format,
                        tr("'%1': part '%2' is damaged: %3")
                            .arg(docPath,
                                 QString::fromUtf8(name),
                                 QString::fromUtf8(FATHOM_ZIP(zip_file_strerror)(file.get()))));
        if (got == 0)
            break;
        total += got;
        if (total > maxBytes)
            return tooBig();
        FATHOM_TRY(onChunk(QByteArrayView(buffer.constData(), got)));
    }
    return {};
}

QString attribute(const QXmlStreamReader &xml, QLatin1String localName)
{
    for (const QXmlStreamAttribute &a : xml.attributes()) {
        if (a.name() == localName)
            return a.value().toString();
    }
    return {};
}

// Feeds chunks to a QXmlStreamReader and calls `onToken` for each complete token.
class StreamingXml
{
public:
    StreamingXml(QString what, std::function<Result<void>(QXmlStreamReader &)> onToken)
        : m_what(std::move(what))
        , m_onToken(std::move(onToken))
    {}

    Result<void> feed(QByteArrayView chunk)
    {
        m_xml.addData(chunk.toByteArray());
        return drain();
    }

    Result<void> finish()
    {
        FATHOM_TRY(drain());
        if (m_xml.error() == QXmlStreamReader::PrematureEndOfDocumentError || !m_sawEnd)
            return fail(Error::Kind::Format, tr("%1 ends before its XML is complete").arg(m_what));
        return {};
    }

private:
    Result<void> drain()
    {
        while (!m_xml.atEnd()) {
            m_xml.readNext();
            if (m_xml.hasError())
                break;
            if (m_xml.tokenType() == QXmlStreamReader::EndDocument)
                m_sawEnd = true;
            FATHOM_TRY(m_onToken(m_xml));
        }
        if (m_xml.hasError() && m_xml.error() != QXmlStreamReader::PrematureEndOfDocumentError)
            return fail(Error::Kind::Format,
                        tr("%1 is not well-formed XML: %2 (line %3)")
                            .arg(m_what, m_xml.errorString())
                            .arg(m_xml.lineNumber()));
        return {};
    }

    QXmlStreamReader m_xml;
    QString m_what;
    std::function<Result<void>(QXmlStreamReader &)> m_onToken;
    bool m_sawEnd = false;
};

QString resolveTarget(const QString &baseDir, QString target)
{
    if (target.startsWith(QLatin1Char('/')))
        return target.mid(1);
    return baseDir.isEmpty() ? target : baseDir + QLatin1Char('/') + target;
}

// Finds the target of the first relationship whose type ends with `typeSuffix` in a .rels part.
QString findRelationship(zip_t *zip,
                         const QString &docPath,
                         const QByteArray &relsName,
                         QLatin1String typeSuffix)
{
    QString target;
    StreamingXml xml(relsName, [&](QXmlStreamReader &r) -> Result<void> {
        if (target.isEmpty() && r.isStartElement() && r.name() == QLatin1String("Relationship")
            && attribute(r, QLatin1String("Type")).endsWith(typeSuffix))
            target = attribute(r, QLatin1String("Target"));
        return {};
    });
    // Relationship parts are tiny; an unreadable one just means "use the conventional name".
    if (readPart(zip, docPath, relsName, 4 * 1024 * 1024, [&](QByteArrayView c) {
            return xml.feed(c);
        }))
        (void) xml.finish();
    return target;
}

int headingLevelFromStyleName(const QString &name)
{
    static const QRegularExpression heading(QStringLiteral("^heading\\s*([1-9])$"),
                                            QRegularExpression::CaseInsensitiveOption);
    const QRegularExpressionMatch m = heading.match(name.trimmed());
    if (m.hasMatch())
        return m.captured(1).toInt();
    if (name.compare(QLatin1String("Title"), Qt::CaseInsensitive) == 0)
        return 1;
    return 0;
}

// styleId -> heading level (1-9) for paragraph styles that are headings.
QHash<QString, int> readHeadingStyles(zip_t *zip,
                                      const QString &docPath,
                                      const QByteArray &part,
                                      qint64 maxBytes)
{
    QHash<QString, int> levels;
    QString styleId;
    int level = 0;
    StreamingXml xml(part, [&](QXmlStreamReader &r) -> Result<void> {
        if (r.isStartElement()) {
            if (r.name() == QLatin1String("style")) {
                styleId = attribute(r, QLatin1String("styleId"));
                level = headingLevelFromStyleName(styleId);
            } else if (r.name() == QLatin1String("name") && !styleId.isEmpty()) {
                level = qMax(level, headingLevelFromStyleName(attribute(r, QLatin1String("val"))));
            } else if (r.name() == QLatin1String("outlineLvl") && !styleId.isEmpty()) {
                const int v = attribute(r, QLatin1String("val")).toInt();
                if (v >= 0 && v < 9)
                    level = v + 1;
            }
        } else if (r.isEndElement() && r.name() == QLatin1String("style")) {
            if (level > 0)
                levels.insert(styleId, level);
            styleId.clear();
            level = 0;
        }
        return {};
    });
    if (readPart(zip, docPath, part, maxBytes, [&](QByteArrayView c) { return xml.feed(c); }))
        (void) xml.finish();
    return levels;
}

// Walks word/document.xml and emits pages.
class BodyWalker
{
public:
    BodyWalker(ExtractionSink &sink,
               const QHash<QString, int> &headingStyles,
               qint64 maxChars,
               QString docPath)
        : m_sink(sink)
        , m_headingStyles(headingStyles)
        , m_maxChars(maxChars)
        , m_docPath(std::move(docPath))
    {}

    Result<void> token(QXmlStreamReader &r)
    {
        if (m_skipDepth > 0) {
            if (r.isStartElement())
                ++m_skipDepth;
            else if (r.isEndElement())
                --m_skipDepth;
            return {};
        }
        if (r.isStartElement())
            return start(r);
        if (r.isEndElement())
            return end(r);
        if (r.isCharacters() && m_inText)
            return append(r.text());
        return {};
    }

    Result<void> finish()
    {
        // An empty document is still one (empty) page.
        if (!m_page.isEmpty() || m_pageNumber == 0)
            return flushPage();
        return {};
    }

private:
    struct Table
    {
        QStringList row;
        QString cell;
        bool inCell = false;
    };

    Result<void> start(QXmlStreamReader &r)
    {
        const QStringView name = r.name();
        if (name == QLatin1String("Fallback") && r.namespaceUri() == kMcNamespace) {
            // mc:AlternateContent repeats text boxes in its Fallback branch; read the Choice only.
            m_skipDepth = 1;
        } else if (name == QLatin1String("instrText") || name == QLatin1String("delText")) {
            m_skipDepth = 1; // field codes ("TOC \o ...") and deleted revisions are not text
        } else if (name == QLatin1String("p")) {
            m_paragraph.clear();
            m_headingLevel = 0;
            m_listItem = false;
        } else if (name == QLatin1String("pStyle")) {
            m_headingLevel = m_headingStyles.value(attribute(r, QLatin1String("val")), 0);
        } else if (name == QLatin1String("outlineLvl")) {
            const int v = attribute(r, QLatin1String("val")).toInt();
            if (v >= 0 && v < 9)
                m_headingLevel = v + 1;
        } else if (name == QLatin1String("numPr")) {
            m_listItem = true;
        } else if (name == QLatin1String("t")) {
            m_inText = true;
        } else if (name == QLatin1String("tab")) {
            if (m_inRun)
                FATHOM_TRY(append(u"\t"));
        } else if (name == QLatin1String("br") || name == QLatin1String("cr")) {
            if (attribute(r, QLatin1String("type")) == QLatin1String("page"))
                return pageBreak();
            FATHOM_TRY(append(u"\n"));
        } else if (name == QLatin1String("lastRenderedPageBreak")
                   || name == QLatin1String("pageBreakBefore")) {
            return pageBreak();
        } else if (name == QLatin1String("noBreakHyphen")) {
            FATHOM_TRY(append(u"-"));
        } else if (name == QLatin1String("r")) {
            m_inRun = true;
        } else if (name == QLatin1String("tbl")) {
            m_tables.append(Table());
        } else if (name == QLatin1String("tr") && !m_tables.isEmpty()) {
            m_tables.last().row.clear();
        } else if (name == QLatin1String("tc") && !m_tables.isEmpty()) {
            m_tables.last().cell.clear();
            m_tables.last().inCell = true;
        }
        return {};
    }

    Result<void> end(QXmlStreamReader &r)
    {
        const QStringView name = r.name();
        if (name == QLatin1String("t")) {
            m_inText = false;
        } else if (name == QLatin1String("r")) {
            m_inRun = false;
        } else if (name == QLatin1String("p")) {
            return endParagraph();
        } else if (name == QLatin1String("tc") && !m_tables.isEmpty()) {
            Table &t = m_tables.last();
            t.row.append(t.cell.simplified());
            t.cell.clear();
            t.inCell = false;
        } else if (name == QLatin1String("tr") && !m_tables.isEmpty()) {
            const QString line = m_tables.last().row.join(QLatin1String(" | "));
            m_tables.last().row.clear();
            return emitLine(line);
        } else if (name == QLatin1String("tbl") && !m_tables.isEmpty()) {
            m_tables.removeLast();
        }
        return {};
    }

    Result<void> endParagraph()
    {
        QString text = m_paragraph;
        m_paragraph.clear();
        if (text.trimmed().isEmpty())
            return {};
        if (m_headingLevel > 0)
            text = QString(m_headingLevel, QLatin1Char('#')) + QLatin1Char(' ') + text.trimmed();
        else if (m_listItem)
            text = QStringLiteral("- ") + text;
        return emitLine(text);
    }

    // A finished line goes to the innermost open table cell, or to the page.
    Result<void> emitLine(const QString &line)
    {
        if (!m_tables.isEmpty() && m_tables.last().inCell) {
            QString &cell = m_tables.last().cell;
            if (!cell.isEmpty())
                cell += QLatin1Char(' ');
            cell += line;
            return {};
        }
        m_page += line;
        m_page += QLatin1Char('\n');
        return {};
    }

    Result<void> append(QStringView text)
    {
        m_chars += text.size();
        if (m_chars > m_maxChars)
            return fail(Error::Kind::Unsupported,
                        tr("'%1' holds more than %2 characters of text, the most one document "
                           "may hold")
                            .arg(m_docPath)
                            .arg(m_maxChars));
        m_paragraph += text;
        return {};
    }

    Result<void> pageBreak()
    {
        // Breaks inside tables would cut rows apart; Word repeats them per rendered page anyway.
        if (!m_tables.isEmpty())
            return {};
        // Text of the paragraph so far belongs to the page before the break.
        if (!m_paragraph.isEmpty() && m_paragraph.trimmed().isEmpty())
            m_paragraph.clear();
        if (!m_paragraph.isEmpty()) {
            m_page += m_paragraph;
            m_page += QLatin1Char('\n');
            m_paragraph.clear();
        }
        // A break before any text, or right after another break (Word writes an explicit break
        // and then a last-rendered one), does not make an empty page.
        if (m_page.isEmpty())
            return {};
        return flushPage();
    }

    Result<void> flushPage()
    {
        ++m_pageNumber;
        ExtractedPage page{m_pageNumber, std::move(m_page), PageTextSource::TextLayer};
        m_page.clear();
        return m_sink.page(page);
    }

    ExtractionSink &m_sink;
    const QHash<QString, int> &m_headingStyles;
    const qint64 m_maxChars;
    const QString m_docPath;
    QList<Table> m_tables;
    QString m_paragraph;
    QString m_page;
    qint64 m_chars = 0;
    int m_pageNumber = 0;
    int m_headingLevel = 0;
    int m_skipDepth = 0;
    bool m_listItem = false;
    bool m_inText = false;
    bool m_inRun = false;
};

} // namespace

Result<void> extractDocx(const QString &path, const ExtractionOptions &options, ExtractionSink &sink)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return fail(Error::Kind::Io, tr("Cannot open '%1': %2").arg(path, file.errorString()));
    // libzip reads from memory we map: no path-encoding differences between platforms.
    const qint64 size = file.size();
    uchar *mapped = size > 0 ? file.map(0, size) : nullptr;
    QByteArray copy;
    if (!mapped) {
        copy = file.readAll();
        mapped = reinterpret_cast<uchar *>(copy.data());
    }
    if (!zipApi().error.isEmpty())
        return fail(Error::Kind::Unavailable, zipApi().error);
    zip_error_t error;
    FATHOM_ZIP(zip_error_init)(&error);
    zip_source_t *source = FATHOM_ZIP(
        zip_source_buffer_create)(mapped, zip_uint64_t(size), 0, &error);
    if (!source) {
        const QString message = QString::fromUtf8(FATHOM_ZIP(zip_error_strerror)(&error));
        FATHOM_ZIP(zip_error_fini)(&error);
        return fail(Error::Kind::Internal, tr("Cannot read '%1': %2").arg(path, message));
    }
    std::unique_ptr<zip_t, ZipCloser> zip(
        FATHOM_ZIP(zip_open_from_source)(source, ZIP_RDONLY, &error));
    if (!zip) {
        const QString message = QString::fromUtf8(FATHOM_ZIP(zip_error_strerror)(&error));
        FATHOM_ZIP(zip_source_free)(source);
        FATHOM_ZIP(zip_error_fini)(&error);
        return fail(Error::Kind::Format,
                    tr("'%1' is not a valid Word document (zip archive): %2").arg(path, message));
    }
    FATHOM_ZIP(zip_error_fini)(&error);

    QString mainPart = findRelationship(zip.get(),
                                        path,
                                        "_rels/.rels",
                                        QLatin1String("/officeDocument"));
    mainPart = mainPart.isEmpty() ? QStringLiteral("word/document.xml")
                                  : resolveTarget({}, mainPart);
    const qsizetype slash = mainPart.lastIndexOf(QLatin1Char('/'));
    const QString dir = slash < 0 ? QString() : mainPart.left(slash);
    const QString fileName = slash < 0 ? mainPart : mainPart.mid(slash + 1);
    const QByteArray mainRels
        = resolveTarget(dir, QLatin1String("_rels/") + fileName + QLatin1String(".rels")).toUtf8();
    QString stylesPart = findRelationship(zip.get(), path, mainRels, QLatin1String("/styles"));
    stylesPart = stylesPart.isEmpty() ? resolveTarget(dir, QStringLiteral("styles.xml"))
                                      : resolveTarget(dir, stylesPart);
    const QHash<QString, int> headingStyles = readHeadingStyles(zip.get(),
                                                                path,
                                                                stylesPart.toUtf8(),
                                                                options.limits.maxArchivePartBytes);

    sink.begin(DocumentFormat::Docx,
               QStringLiteral(
                   "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
               -1);
    BodyWalker walker(sink, headingStyles, options.limits.maxChars, path);
    StreamingXml xml(QStringLiteral("'%1' (%2)").arg(path, mainPart),
                     [&](QXmlStreamReader &r) { return walker.token(r); });
    FATHOM_TRY(readPart(zip.get(),
                        path,
                        mainPart.toUtf8(),
                        options.limits.maxArchivePartBytes,
                        [&](QByteArrayView chunk) { return xml.feed(chunk); }));
    FATHOM_TRY(xml.finish());
    return walker.finish();
}

} // namespace fathom::documents
