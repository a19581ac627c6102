// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

// Helpers shared by the document tests and the ingestion benchmark: hostile and synthetic inputs
// generated at run time (no binaries in the repository), access to real PDFs shipped by Debian
// documentation packages, pdftotext as the independent reference, and a character-level
// agreement measure.

#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QList>
#include <QProcess>
#include <QStandardPaths>
#include <QString>
#include <QStringList>

#include <zlib.h>

#include <algorithm>
#include <vector>

namespace fathom::test {

// ---- Real documents ----------------------------------------------------------------------------

// PDFs from Debian documentation packages (scripts/install-deps.sh installs them). A ".gz" one is
// unpacked into `scratch`. Returns an empty string when the package is not installed.
inline QString debianPdf(const QString &path, const QString &scratch)
{
    if (QFile::exists(path) && !path.endsWith(QLatin1String(".gz")))
        return path;
    if (!QFile::exists(path))
        return {};
    const QString out = QDir(scratch).filePath(QFileInfo(path).completeBaseName());
    if (QFile::exists(out))
        return out;
    gzFile in = gzopen(QFile::encodeName(path).constData(), "rb");
    if (!in)
        return {};
    QFile file(out);
    if (!file.open(QIODevice::WriteOnly)) {
        gzclose(in);
        return {};
    }
    char buffer[65536];
    int n = 0;
    while ((n = gzread(in, buffer, sizeof buffer)) > 0)
        file.write(buffer, n);
    gzclose(in);
    return out;
}

// pdftotext's text of each page (it ends each page with a form feed); empty when unavailable.
inline QStringList pdftotextPages(const QString &pdf, int first = 0, int last = 0)
{
    const QString tool = QStandardPaths::findExecutable(QStringLiteral("pdftotext"));
    if (tool.isEmpty())
        return {};
    QProcess p;
    QStringList args{QStringLiteral("-enc"), QStringLiteral("UTF-8")};
    if (first > 0)
        args << QStringLiteral("-f") << QString::number(first);
    if (last > 0)
        args << QStringLiteral("-l") << QString::number(last);
    args << pdf << QStringLiteral("-");
    p.start(tool, args);
    if (!p.waitForFinished(300000) || p.exitCode() != 0)
        return {};
    QStringList pages = QString::fromUtf8(p.readAllStandardOutput()).split(QLatin1Char('\f'));
    if (!pages.isEmpty() && pages.last().trimmed().isEmpty())
        pages.removeLast();
    return pages;
}

// ---- Character-level agreement -------------------------------------------------------------------

// Whitespace runs become one space: layout whitespace is not text.
inline QString normaliseWhitespace(const QString &s)
{
    return s.simplified();
}

// Length of the longest common subsequence, by Myers' O((N+M)·D) greedy algorithm: fast when the
// texts mostly agree, which is the case being measured.
inline qsizetype lcsLength(QStringView a, QStringView b)
{
    const qsizetype n = a.size(), m = b.size();
    const qsizetype max = n + m;
    if (max == 0)
        return 0;
    std::vector<qsizetype> v(size_t(2 * max + 2), 0);
    const qsizetype offset = max + 1;
    for (qsizetype d = 0; d <= max; ++d) {
        for (qsizetype k = -d; k <= d; k += 2) {
            qsizetype x;
            if (k == -d || (k != d && v[size_t(offset + k - 1)] < v[size_t(offset + k + 1)]))
                x = v[size_t(offset + k + 1)];
            else
                x = v[size_t(offset + k - 1)] + 1;
            qsizetype y = x - k;
            while (x < n && y < m && a[x] == b[y]) {
                ++x;
                ++y;
            }
            v[size_t(offset + k)] = x;
            if (x >= n && y >= m)
                return (n + m - d) / 2; // d edits (insertions + deletions) separate a and b
        }
    }
    return 0;
}

struct Agreement
{
    qsizetype common = 0;
    qsizetype total = 0; // characters of both texts
    double ratio() const { return total == 0 ? 1.0 : 2.0 * double(common) / double(total); }
    void add(const QString &ours, const QString &reference)
    {
        const QString a = normaliseWhitespace(ours);
        const QString b = normaliseWhitespace(reference);
        common += lcsLength(a, b);
        total += a.size() + b.size();
    }
};

// ---- Generated PDFs ------------------------------------------------------------------------------

struct PdfImage
{
    int width = 0, height = 0;
    QByteArray grey; // width*height bytes, 8-bit grey
};

// A minimal, valid PDF: `pageCount` US-letter pages. With `image`, every page shows it (a scanned
// page: pixels only, no text layer); without, every page is empty.
inline QByteArray makePdf(int pageCount, const PdfImage *image = nullptr)
{
    QByteArray pdf("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
    QList<qint64> offsets;
    auto object = [&](const QByteArray &body) {
        offsets.append(pdf.size());
        pdf += QByteArray::number(offsets.size()) + " 0 obj\n" + body + "\nendobj\n";
        return offsets.size();
    };
    // 1: catalog, 2: pages, 3: content stream, 4: image (optional), then the pages.
    const int firstPage = image ? 5 : 4;
    object("<< /Type /Catalog /Pages 2 0 R >>");
    QByteArray kids;
    kids.reserve(pageCount * 10);
    for (int i = 0; i < pageCount; ++i)
        kids += QByteArray::number(firstPage + i) + " 0 R ";
    object("<< /Type /Pages /Count " + QByteArray::number(pageCount) + " /Kids [" + kids + "] >>");
    const QByteArray content = image ? QByteArray("q 612 0 0 792 0 0 cm /Im0 Do Q") : QByteArray();
    object("<< /Length " + QByteArray::number(content.size()) + " >>\nstream\n" + content
           + "\nendstream");
    if (image) {
        const QByteArray packed = qCompress(image->grey, 9).mid(4); // zlib stream = FlateDecode
        object("<< /Type /XObject /Subtype /Image /Width " + QByteArray::number(image->width)
               + " /Height " + QByteArray::number(image->height)
               + " /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode /Length "
               + QByteArray::number(packed.size()) + " >>\nstream\n" + packed + "\nendstream");
    }
    const QByteArray resources = image ? QByteArray(" /Resources << /XObject << /Im0 4 0 R >> >>")
                                       : QByteArray(" /Resources << >>");
    for (int i = 0; i < pageCount; ++i)
        object("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R" + resources
               + " >>");
    const qint64 xref = pdf.size();
    pdf += "xref\n0 " + QByteArray::number(offsets.size() + 1) + "\n0000000000 65535 f \n";
    for (qint64 o : offsets)
        pdf += QByteArray::number(o).rightJustified(10, '0') + " 00000 n \n";
    pdf += "trailer\n<< /Size " + QByteArray::number(offsets.size() + 1)
           + " /Root 1 0 R >>\nstartxref\n" + QByteArray::number(xref) + "\n%%EOF\n";
    return pdf;
}

// Reads a binary PGM (P5, 8-bit), as `pdftoppm -gray` writes it.
inline PdfImage readPgm(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    const QByteArray data = f.readAll();
    QList<QByteArray> fields;
    qsizetype i = 0;
    while (fields.size() < 4 && i < data.size()) {
        while (i < data.size() && isspace(uchar(data[i])))
            ++i;
        if (i < data.size() && data[i] == '#') {
            while (i < data.size() && data[i] != '\n')
                ++i;
            continue;
        }
        const qsizetype start = i;
        while (i < data.size() && !isspace(uchar(data[i])))
            ++i;
        fields.append(data.mid(start, i - start));
    }
    if (fields.size() < 4 || fields[0] != "P5" || fields[3] != "255")
        return {};
    PdfImage img;
    img.width = fields[1].toInt();
    img.height = fields[2].toInt();
    img.grey = data.mid(i + 1, qsizetype(img.width) * img.height);
    return img.grey.size() == qsizetype(img.width) * img.height ? img : PdfImage{};
}

// ---- Generated zip archives (DOCX) ---------------------------------------------------------------

struct ZipEntry
{
    QByteArray name;
    QByteArray data;     // stored as is (method 0) unless `deflated` is set
    QByteArray deflated; // raw deflate data (method 8)
    quint32 crc = 0;     // of the uncompressed data
    quint64 size = 0;    // uncompressed size as declared in the headers
};

inline void putLe(QByteArray &out, quint64 value, int bytes)
{
    for (int i = 0; i < bytes; ++i)
        out += char((value >> (8 * i)) & 0xFF);
}

// Writes the archive by hand so that tests can declare any size (a bomb may lie).
inline QByteArray makeZip(const QList<ZipEntry> &entries)
{
    QByteArray out, central;
    for (const ZipEntry &e : entries) {
        const bool deflate = !e.deflated.isEmpty();
        const QByteArray &payload = deflate ? e.deflated : e.data;
        const quint32 crc = deflate
                                ? e.crc
                                : quint32(crc32(0,
                                                reinterpret_cast<const Bytef *>(e.data.constData()),
                                                uInt(e.data.size())));
        const quint64 size = deflate ? e.size : quint64(e.data.size());
        const qint64 offset = out.size();
        putLe(out, 0x04034b50, 4);
        putLe(out, 20, 2);
        putLe(out, 0, 2);
        putLe(out, deflate ? 8 : 0, 2);
        putLe(out, 0, 2);
        putLe(out, 0x21, 2);
        putLe(out, crc, 4);
        putLe(out, quint64(payload.size()), 4);
        putLe(out, size, 4);
        putLe(out, quint64(e.name.size()), 2);
        putLe(out, 0, 2);
        out += e.name;
        out += payload;
        putLe(central, 0x02014b50, 4);
        putLe(central, 20, 2);
        putLe(central, 20, 2);
        putLe(central, 0, 2);
        putLe(central, deflate ? 8 : 0, 2);
        putLe(central, 0, 2);
        putLe(central, 0x21, 2);
        putLe(central, crc, 4);
        putLe(central, quint64(payload.size()), 4);
        putLe(central, size, 4);
        putLe(central, quint64(e.name.size()), 2);
        putLe(central, 0, 2);
        putLe(central, 0, 2);
        putLe(central, 0, 2);
        putLe(central, 0, 2);
        putLe(central, 0, 4);
        putLe(central, quint64(offset), 4);
        central += e.name;
    }
    const qint64 centralOffset = out.size();
    out += central;
    putLe(out, 0x06054b50, 4);
    putLe(out, 0, 2);
    putLe(out, 0, 2);
    putLe(out, quint64(entries.size()), 2);
    putLe(out, quint64(entries.size()), 2);
    putLe(out, quint64(central.size()), 4);
    putLe(out, quint64(centralOffset), 4);
    putLe(out, 0, 2);
    return out;
}

// Raw deflate of `data`; `finish` ends the stream, otherwise a full flush leaves it open so
// independently compressed pieces can be concatenated (how a bomb repeats one block).
inline QByteArray rawDeflate(const QByteArray &data, bool finish)
{
    z_stream zs = {};
    deflateInit2(&zs, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
    QByteArray out(int(deflateBound(&zs, uLong(data.size())) + 64), '\0');
    zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.constData()));
    zs.avail_in = uInt(data.size());
    zs.next_out = reinterpret_cast<Bytef *>(out.data());
    zs.avail_out = uInt(out.size());
    deflate(&zs, finish ? Z_FINISH : Z_FULL_FLUSH);
    out.resize(qsizetype(zs.total_out));
    deflateEnd(&zs);
    return out;
}

inline const char *kWordNs = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";

inline QList<ZipEntry> docxPackage(const QByteArray &documentXml, const QByteArray &stylesXml = {})
{
    QList<ZipEntry> entries;
    entries.append({"[Content_Types].xml",
                    "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/"
                    "package/2006/content-types\"><Default Extension=\"xml\" "
                    "ContentType=\"application/xml\"/><Override PartName=\"/word/document.xml\" "
                    "ContentType=\"application/vnd.openxmlformats-officedocument."
                    "wordprocessingml.document.main+xml\"/></Types>",
                    {},
                    0,
                    0});
    entries.append({"_rels/.rels",
                    "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats."
                    "org/package/2006/relationships\"><Relationship Id=\"rId1\" "
                    "Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
                    "officeDocument\" Target=\"word/document.xml\"/></Relationships>",
                    {},
                    0,
                    0});
    if (!stylesXml.isEmpty())
        entries.append({"word/styles.xml", stylesXml, {}, 0, 0});
    if (!documentXml.isEmpty())
        entries.append({"word/document.xml", documentXml, {}, 0, 0});
    return entries;
}

// A DOCX whose word/document.xml inflates to about `megabytes` MiB of text. With `lie`, the
// headers declare a size of 4 KiB.
inline QByteArray makeDocxBomb(int megabytes, bool lie)
{
    const QByteArray head = QByteArray("<?xml version=\"1.0\"?><w:document xmlns:w=\"") + kWordNs
                            + "\"><w:body><w:p><w:r><w:t>";
    const QByteArray tail = "</w:t></w:r></w:p></w:body></w:document>";
    const QByteArray chunk(1024 * 1024, 'a');
    const QByteArray chunkDeflated = rawDeflate(chunk, false);
    QByteArray deflated = rawDeflate(head, false);
    uLong crc = crc32(0, reinterpret_cast<const Bytef *>(head.constData()), uInt(head.size()));
    for (int i = 0; i < megabytes; ++i) {
        deflated += chunkDeflated;
        crc = crc32(crc, reinterpret_cast<const Bytef *>(chunk.constData()), uInt(chunk.size()));
    }
    deflated += rawDeflate(tail, true);
    crc = crc32(crc, reinterpret_cast<const Bytef *>(tail.constData()), uInt(tail.size()));
    QList<ZipEntry> entries = docxPackage({});
    ZipEntry bomb;
    bomb.name = "word/document.xml";
    bomb.deflated = deflated;
    bomb.crc = quint32(crc);
    bomb.size = lie ? 4096 : quint64(head.size() + tail.size()) + quint64(megabytes) * chunk.size();
    entries.append(bomb);
    return makeZip(entries);
}

inline bool writeFile(const QString &path, const QByteArray &data)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(data) == data.size();
}

} // namespace fathom::test
