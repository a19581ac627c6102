// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// The extractors, in process: text decoding, HTML, DOCX structure and bombs, real PDFs from Debian
// documentation packages against pdftotext, scanned pages through OCR, blank pages.

#include "testdocuments.h"

#include "app/documents/extractor.h"
#include "app/documents/htmlextractor.h"
#include "app/documents/ocrengine.h"
#include "app/documents/textdecoder.h"

#include <QCryptographicHash>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

using namespace fathom;
using namespace fathom::documents;

class tst_Extractors : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void decodeText_data();
    void decodeText();
    void binaryIsRefused();
    void paginate();
    void html();
    void docxStructure();
    void docxBomb_data();
    void docxBomb();
    void realPdfMatchesPdftotext_data();
    void realPdfMatchesPdftotext();
    void blankPages();
    void encryptedPdf();
    void scannedPage();
    void unsupportedFormat();

private:
    QString requirePdf(const QString &debianPath);
    QTemporaryDir m_dir;
};

void tst_Extractors::initTestCase()
{
    QVERIFY(m_dir.isValid());
}

QString tst_Extractors::requirePdf(const QString &debianPath)
{
    const QString pdf = test::debianPdf(debianPath, m_dir.path());
    if (pdf.isEmpty()) {
        const QByteArray why = "not installed: " + debianPath.toUtf8()
                               + " (scripts/install-deps.sh installs its package)";
        if (FATHOM_REQUIRE_TESTDATA)
            qFatal("%s", why.constData());
        qWarning("SKIP %s", why.constData());
    }
    return pdf;
}

void tst_Extractors::decodeText_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("expected");
    QTest::addColumn<QString>("encoding");
    const QString text = QStringLiteral("Größe – 東京\nzwei");
    QTest::newRow("utf8") << text.toUtf8() << text << "UTF-8";
    QTest::newRow("utf8-bom") << QByteArray("\xEF\xBB\xBF") + text.toUtf8() << text << "UTF-8";
    QByteArray le("\xFF\xFE", 2), be("\xFE\xFF", 2);
    for (QChar c : text) {
        le += char(c.unicode() & 0xFF);
        le += char(c.unicode() >> 8);
        be += char(c.unicode() >> 8);
        be += char(c.unicode() & 0xFF);
    }
    QTest::newRow("utf16le-bom") << le << text << "UTF-16LE";
    QTest::newRow("utf16be-bom") << be << text << "UTF-16BE";
    // "Größe" in Latin-1 is not valid UTF-8: read as Latin-1.
    QTest::newRow("latin1") << QByteArray("Gr\xF6\xDF"
                                          "e\r\nzwei")
                            << QStringLiteral("Größe\nzwei") << "ISO-8859-1";
    QTest::newRow("crlf") << QByteArray("a\r\nb\rc") << QStringLiteral("a\nb\nc") << "UTF-8";
}

void tst_Extractors::decodeText()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QString, expected);
    QFETCH(QString, encoding);
    const Result<DecodedText> decoded = documents::decodeText(bytes, QStringLiteral("t.txt"));
    QVERIFY2(decoded, decoded ? "" : qPrintable(decoded.error().message));
    QCOMPARE(decoded->text, expected);
    QCOMPARE(decoded->encoding, encoding);

    // The same through the file extractor: .txt, .md and .cpp are all text.
    for (const char *name : {"t.txt", "t.md", "t.cpp"}) {
        const QString path = m_dir.filePath(QLatin1String(name));
        QVERIFY(test::writeFile(path, bytes));
        const Result<ExtractedDocument> doc = extractDocument(path);
        QVERIFY2(doc, doc ? "" : qPrintable(doc.error().message));
        QCOMPARE(doc->pages.size(), 1);
        QCOMPARE(doc->pages.at(0).text, expected);
    }
}

void tst_Extractors::binaryIsRefused()
{
    const QString path = m_dir.filePath(QStringLiteral("binary.txt"));
    QVERIFY(test::writeFile(path, QByteArray("abc\0def", 7)));
    const Result<ExtractedDocument> doc = extractDocument(path);
    QVERIFY(!doc);
    QCOMPARE(doc.error().kind, Error::Kind::Format);
    QVERIFY(doc.error().message.contains(path));
}

void tst_Extractors::paginate()
{
    QString text;
    for (int i = 1; i <= 250; ++i)
        text += QStringLiteral("line %1\n").arg(i);
    QStringList pages = paginateText(text, 100);
    QCOMPARE(pages.size(), 3);
    QVERIFY(pages.at(1).startsWith(QLatin1String("line 101\n")));
    QVERIFY(pages.at(2).endsWith(QLatin1String("line 250\n")));
    QCOMPARE(pages.join(QString()), text);

    pages = paginateText(QStringLiteral("one\ftwo\n"), 100);
    QCOMPARE(pages, QStringList({QStringLiteral("one"), QStringLiteral("two\n")}));
    QCOMPARE(paginateText(QString()).size(), 1);
}

void tst_Extractors::html()
{
    const QString html = QStringLiteral(
        "<!DOCTYPE html><html><head><title>The title</title><style>p{color:red}</style>"
        "<script>if (a < b) document.write('<p>no</p>');</script></head><body>"
        "<!-- a comment <p>hidden</p> -->"
        "<h1>Heading   one</h1><p>First&nbsp;para &amp; more &lt;tags&gt; &#233;&#x4E2D; "
        "&unknown; text</p>"
        "<ul><li>one</li><li>two</li></ul>"
        "<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table>"
        "<pre>  keep\n    this</pre><p>a<br>b</p></body></html>");
    // Headings and paragraphs are set off by a blank line, other blocks by a line break.
    const QString expected = QStringLiteral("The title\n\n# Heading one\n\nFirst para & more "
                                            "<tags> é中 &unknown; text\n\n- one\n- two\nA | B\n"
                                            "1 | 2\n  keep\n    this\n\na\nb\n");
    QCOMPARE(htmlToText(html), expected);
}

void tst_Extractors::docxStructure()
{
    const QByteArray w = test::kWordNs;
    const QByteArray styles = "<?xml version=\"1.0\"?><w:styles xmlns:w=\"" + w
                              + "\"><w:style w:type=\"paragraph\" w:styleId=\"Berschrift1\">"
                                "<w:name w:val=\"heading 1\"/></w:style>"
                                "<w:style w:type=\"paragraph\" w:styleId=\"Heading2\">"
                                "<w:name w:val=\"heading 2\"/></w:style></w:styles>";
    const QByteArray body
        = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document xmlns:w=\"" + w
          + "\" xmlns:mc=\"http://schemas.openxmlformats.org/markup-compatibility/2006\"><w:body>"
            "<w:p><w:pPr><w:pStyle w:val=\"Berschrift1\"/></w:pPr><w:r><w:t>Intro</w:t></w:r></w:p>"
            "<w:p><w:r><w:t xml:space=\"preserve\">Hello </w:t></w:r><w:r><w:t>world</w:t>"
            "<w:tab/><w:t>x</w:t></w:r><w:r><w:instrText>TOC \\o</w:instrText></w:r></w:p>"
            "<w:p><w:pPr><w:numPr><w:ilvl w:val=\"0\"/></w:numPr></w:pPr><w:r><w:t>item</w:t>"
            "</w:r></w:p>"
            "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>a1</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r>"
            "<w:t>b1</w:t></w:r></w:p><w:p><w:r><w:t>more</w:t></w:r></w:p></w:tc></w:tr>"
            "<w:tr><w:tc><w:p><w:r><w:t>a2</w:t></w:r></w:p></w:tc><w:tc><w:p/></w:tc></w:tr>"
            "</w:tbl>"
            "<w:p><w:r><mc:AlternateContent><mc:Choice><w:t>box</w:t></mc:Choice><mc:Fallback>"
            "<w:t>box</w:t></mc:Fallback></mc:AlternateContent></w:r>"
            "<w:r><w:br w:type=\"page\"/></w:r></w:p>"
            "<w:p><w:r><w:lastRenderedPageBreak/><w:t>Second page</w:t></w:r></w:p>"
            "<w:p><w:pPr><w:pStyle w:val=\"Heading2\"/></w:pPr><w:r><w:t>Sub</w:t></w:r></w:p>"
            "<w:p><w:r><w:delText>deleted</w:delText></w:r></w:p>"
            "</w:body></w:document>";
    const QString path = m_dir.filePath(QStringLiteral("structure.docx"));
    QVERIFY(test::writeFile(path, test::makeZip(test::docxPackage(body, styles))));
    const Result<ExtractedDocument> doc = extractDocument(path);
    QVERIFY2(doc, doc ? "" : qPrintable(doc.error().message));
    QCOMPARE(doc->format, DocumentFormat::Docx);
    QCOMPARE(doc->pages.size(), 2);
    QCOMPARE(doc->pages.at(0).number, 1);
    QCOMPARE(doc->pages.at(0).text,
             QStringLiteral("# Intro\nHello world\tx\n- item\na1 | b1 more\na2 | \nbox\n"));
    QCOMPARE(doc->pages.at(1).number, 2);
    QCOMPARE(doc->pages.at(1).text, QStringLiteral("Second page\n## Sub\n"));

    // Damaged packages are errors that name the file.
    const QString truncated = m_dir.filePath(QStringLiteral("truncated.docx"));
    QVERIFY(test::writeFile(truncated, test::makeZip(test::docxPackage(body, styles)).left(300)));
    const Result<ExtractedDocument> bad = extractDocument(truncated);
    QVERIFY(!bad);
    QVERIFY(bad.error().message.contains(truncated));
    const QString noBody = m_dir.filePath(QStringLiteral("nobody.docx"));
    QVERIFY(test::writeFile(noBody, test::makeZip(test::docxPackage({}))));
    QVERIFY(!extractDocument(noBody));
    const QString badXml = m_dir.filePath(QStringLiteral("badxml.docx"));
    QVERIFY(test::writeFile(badXml,
                            test::makeZip(test::docxPackage("<w:document><w:body>"
                                                            "<w:p></w:body>"))));
    const Result<ExtractedDocument> xmlError = extractDocument(badXml);
    QVERIFY(!xmlError);
    QCOMPARE(xmlError.error().kind, Error::Kind::Format);
}

void tst_Extractors::docxBomb_data()
{
    QTest::addColumn<bool>("lie");
    QTest::newRow("honest-size") << false;
    QTest::newRow("lying-size") << true;
}

void tst_Extractors::docxBomb()
{
    QFETCH(bool, lie);
    // 40 MiB of text from ~40 KiB of archive, against an 8 MiB part limit.
    const QString path = m_dir.filePath(QStringLiteral("bomb-%1.docx").arg(lie));
    const QByteArray bomb = test::makeDocxBomb(40, lie);
    QVERIFY(bomb.size() < 1024 * 1024);
    QVERIFY(test::writeFile(path, bomb));
    ExtractionOptions options;
    options.limits.maxArchivePartBytes = 8 * 1024 * 1024;
    const Result<ExtractedDocument> doc = extractDocument(path, options);
    QVERIFY(!doc);
    QVERIFY2(doc.error().message.contains(path), qPrintable(doc.error().message));
    qInfo("%s", qPrintable(doc.error().message));
}

void tst_Extractors::realPdfMatchesPdftotext_data()
{
    QTest::addColumn<QString>("debianPath");
    QTest::newRow("libtasn1") << QStringLiteral("/usr/share/doc/libtasn1-doc/libtasn1.pdf");
    QTest::newRow("bzip2") << QStringLiteral("/usr/share/doc/bzip2/manual.pdf.gz");
}

void tst_Extractors::realPdfMatchesPdftotext()
{
    QFETCH(QString, debianPath);
    const QString pdf = requirePdf(debianPath);
    if (pdf.isEmpty())
        QSKIP("documentation package not installed");
    const QStringList reference = test::pdftotextPages(pdf);
    if (reference.isEmpty())
        QSKIP("pdftotext (poppler-utils) is not installed");
    const Result<ExtractedDocument> doc = extractDocument(pdf);
    QVERIFY2(doc, doc ? "" : qPrintable(doc.error().message));
    QCOMPARE(doc->format, DocumentFormat::Pdf);
    QCOMPARE(doc->pages.size(), reference.size());
    test::Agreement total;
    for (int i = 0; i < doc->pages.size(); ++i) {
        QCOMPARE(doc->pages.at(i).number, i + 1);
        test::Agreement page;
        page.add(doc->pages.at(i).text, reference.at(i));
        total.add(doc->pages.at(i).text, reference.at(i));
        // Page by page too: text must not drift onto neighbouring pages.
        QVERIFY2(page.ratio() >= 0.95,
                 qPrintable(QStringLiteral("page %1: %2").arg(i + 1).arg(page.ratio())));
    }
    qInfo("%s: %lld pages, character agreement with pdftotext %.4f",
          qPrintable(pdf),
          qlonglong(doc->pages.size()),
          total.ratio());
    QVERIFY2(total.ratio() >= 0.98, qPrintable(QString::number(total.ratio())));

    // Several threads read the text layer: the same pages, in the same order, byte for byte.
    for (int threads : {2, 3}) {
        ExtractionOptions options;
        options.threads = threads;
        const Result<ExtractedDocument> parallel = extractDocument(pdf, options);
        QVERIFY2(parallel, parallel ? "" : qPrintable(parallel.error().message));
        QCOMPARE(parallel->pages.size(), doc->pages.size());
        for (int i = 0; i < doc->pages.size(); ++i) {
            QCOMPARE(parallel->pages.at(i).number, i + 1);
            QCOMPARE(parallel->pages.at(i).text, doc->pages.at(i).text);
        }
    }
}

void tst_Extractors::blankPages()
{
    const QString path = m_dir.filePath(QStringLiteral("blank.pdf"));
    QVERIFY(test::writeFile(path, test::makePdf(3)));
    const Result<ExtractedDocument> doc = extractDocument(path);
    QVERIFY2(doc, doc ? "" : qPrintable(doc.error().message));
    QCOMPARE(doc->pages.size(), 3);
    QCOMPARE(doc->pagesWithSource(PageTextSource::Blank), 3);
    QCOMPARE(doc->charCount(), 0);
    QVERIFY(doc->warnings.isEmpty());
}

namespace {

// RC4, as the PDF Standard security handler (revision 2) uses it.
QByteArray rc4(const QByteArray &key, const QByteArray &data)
{
    quint8 box[256];
    for (int i = 0; i < 256; ++i)
        box[i] = quint8(i);
    for (int i = 0, j = 0; i < 256; ++i) {
        j = (j + box[i] + quint8(key[i % key.size()])) & 0xff;
        std::swap(box[i], box[j]);
    }
    QByteArray out(data.size(), Qt::Uninitialized);
    for (int n = 0, i = 0, j = 0; n < data.size(); ++n) {
        i = (i + 1) & 0xff;
        j = (j + box[i]) & 0xff;
        std::swap(box[i], box[j]);
        out[n] = char(quint8(data[n]) ^ box[(box[i] + box[j]) & 0xff]);
    }
    return out;
}

QByteArray md5(const QByteArray &data)
{
    return QCryptographicHash::hash(data, QCryptographicHash::Md5);
}

/*
  A one-page PDF encrypted with the Standard security handler, revision 2 (40-bit RC4), written
  from the PDF 1.7 reference (7.6.3, algorithms 1-4): the page shows `text` in Helvetica. With an
  empty user password anyone may open it (only the owner password restricts it); with a user
  password nobody can without it.
*/
QByteArray makeEncryptedPdf(const QByteArray &userPassword,
                            const QByteArray &ownerPassword,
                            const QByteArray &text)
{
    static const QByteArray padding = QByteArray::fromHex(
        "28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A");
    auto pad = [](const QByteArray &password) { return (password + padding).left(32); };
    const QByteArray id = QByteArray::fromHex("00112233445566778899aabbccddeeff");
    const QByteArray permissions = QByteArray::fromHex("fcffffff"); // P = -4, little-endian
    const QByteArray owner = rc4(md5(pad(ownerPassword)).left(5), pad(userPassword)); // alg. 3
    const QByteArray key = md5(pad(userPassword) + owner + permissions + id).left(5); // alg. 2
    const QByteArray user = rc4(key, padding);                                        // alg. 4
    auto objectKey = [&](int number) { // algorithm 1, generation 0
        const QByteArray salt("\0\0\0\0\0", 5);
        QByteArray k = key + salt;
        k[5] = char(number & 0xff);
        k[6] = char((number >> 8) & 0xff);
        k[7] = char((number >> 16) & 0xff);
        return md5(k).left(10);
    };

    QByteArray pdf("%PDF-1.4\n");
    QList<qint64> offsets;
    auto object = [&](const QByteArray &body) {
        offsets.append(pdf.size());
        pdf += QByteArray::number(offsets.size()) + " 0 obj\n" + body + "\nendobj\n";
    };
    object("<< /Type /Catalog /Pages 2 0 R >>");
    object("<< /Type /Pages /Count 1 /Kids [5 0 R] >>");
    const QByteArray content = rc4(objectKey(3), "BT /F1 24 Tf 72 700 Td (" + text + ") Tj ET");
    object("<< /Length " + QByteArray::number(content.size()) + " >>\nstream\n" + content
           + "\nendstream");
    object("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    object("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R /Resources << "
           "/Font << /F1 4 0 R >> >> >>");
    object("<< /Filter /Standard /V 1 /R 2 /O <" + owner.toHex() + "> /U <" + user.toHex()
           + "> /P -4 >>");
    const qint64 xref = pdf.size();
    pdf += "xref\n0 7\n0000000000 65535 f \n";
    for (qint64 o : offsets)
        pdf += QByteArray::number(o).rightJustified(10, '0') + " 00000 n \n";
    pdf += "trailer\n<< /Size 7 /Root 1 0 R /Encrypt 6 0 R /ID [<" + id.toHex() + "> <" + id.toHex()
           + ">] >>\nstartxref\n" + QByteArray::number(xref) + "\n%%EOF\n";
    return pdf;
}

} // namespace

void tst_Extractors::encryptedPdf()
{
    const QByteArray sentence("Fathom reads encrypted documents");
    // Only an owner password: readable by anyone, as pdftotext reads it.
    const QString open = m_dir.filePath(QStringLiteral("owner-only.pdf"));
    QVERIFY(test::writeFile(open, makeEncryptedPdf("", "owner", sentence)));
    const Result<ExtractedDocument> doc = extractDocument(open);
    QVERIFY2(doc, doc ? "" : qPrintable(doc.error().message));
    QCOMPARE(doc->pages.size(), 1);
    QCOMPARE(doc->pages.at(0).source, PageTextSource::TextLayer);
    QCOMPARE(doc->pages.at(0).text.simplified(), QString::fromLatin1(sentence));
    if (!QStandardPaths::findExecutable(QStringLiteral("pdftotext")).isEmpty()) {
        const QStringList reference = test::pdftotextPages(open);
        QCOMPARE(reference.size(), 1);
        QCOMPARE(reference.at(0).simplified(), QString::fromLatin1(sentence));
    }

    // A user password: refused in words, not read and not crashed on.
    const QString locked = m_dir.filePath(QStringLiteral("locked.pdf"));
    QVERIFY(test::writeFile(locked, makeEncryptedPdf("secret", "owner", sentence)));
    const QString pdftotext = QStandardPaths::findExecutable(QStringLiteral("pdftotext"));
    if (!pdftotext.isEmpty()) { // the independent reader cannot open it either
        QProcess p;
        p.start(pdftotext, {locked, QStringLiteral("-")});
        QVERIFY(p.waitForFinished(60000));
        QVERIFY(p.exitCode() != 0);
        QVERIFY(p.readAllStandardOutput().isEmpty());
    }
    const Result<ExtractedDocument> refused = extractDocument(locked);
    QVERIFY(!refused);
    QCOMPARE(refused.error().kind, Error::Kind::Unsupported);
    QVERIFY2(refused.error().message.contains(QLatin1String("password")),
             qPrintable(refused.error().message));
}

void tst_Extractors::scannedPage()
{
    const QString pdf = requirePdf(QStringLiteral("/usr/share/doc/libtasn1-doc/libtasn1.pdf"));
    const QString pdftoppm = QStandardPaths::findExecutable(QStringLiteral("pdftoppm"));
    if (pdf.isEmpty() || pdftoppm.isEmpty())
        QSKIP("libtasn1-doc or pdftoppm (poppler-utils) missing");
    // A real page, rasterised by an independent tool and wrapped in a PDF without text: a scan.
    const int pageNo = 5;
    const QString prefix = m_dir.filePath(QStringLiteral("scan"));
    QCOMPARE(QProcess::execute(pdftoppm,
                               {QStringLiteral("-gray"),
                                QStringLiteral("-r"),
                                QStringLiteral("200"),
                                QStringLiteral("-f"),
                                QString::number(pageNo),
                                QStringLiteral("-l"),
                                QString::number(pageNo),
                                QStringLiteral("-singlefile"),
                                pdf,
                                prefix}),
             0);
    const test::PdfImage image = test::readPgm(prefix + QStringLiteral(".pgm"));
    QVERIFY(image.width > 0);
    const QString scanned = m_dir.filePath(QStringLiteral("scanned.pdf"));
    QVERIFY(test::writeFile(scanned, test::makePdf(1, &image)));

    ExtractionOptions off;
    off.ocr = OcrMode::Off;
    const Result<ExtractedDocument> noOcr = extractDocument(scanned, off);
    QVERIFY2(noOcr, noOcr ? "" : qPrintable(noOcr.error().message));
    QCOMPARE(noOcr->pages.size(), 1);
    QCOMPARE(noOcr->pages.at(0).source, PageTextSource::NoTextLayer);
    QCOMPARE(noOcr->warnings.size(), 1); // the user is told
    QVERIFY(noOcr->warnings.at(0).contains(QLatin1String("no text layer")));

    const Result<ExtractedDocument> doc = extractDocument(scanned);
    QVERIFY2(doc, doc ? "" : qPrintable(doc.error().message));
    OcrEngine probe;
    if (!probe.init(QStringLiteral("eng"))) {
        QCOMPARE(doc->pages.at(0).source, PageTextSource::NoTextLayer);
        QSKIP("Tesseract or its English data is not installed: page marked, not read");
    }
    QCOMPARE(doc->pages.at(0).source, PageTextSource::Ocr);
    const QStringList reference = test::pdftotextPages(pdf, pageNo, pageNo);
    QCOMPARE(reference.size(), 1);
    test::Agreement agreement;
    agreement.add(doc->pages.at(0).text, reference.at(0));
    qInfo("OCR agreement with pdftotext on page %d: %.4f", pageNo, agreement.ratio());
    QVERIFY2(agreement.ratio() >= 0.90, qPrintable(QString::number(agreement.ratio())));
}

void tst_Extractors::unsupportedFormat()
{
    const QString path = m_dir.filePath(QStringLiteral("image.png"));
    QVERIFY(test::writeFile(path, QByteArray("\x89PNG\r\n\x1a\n0000", 12)));
    const Result<ExtractedDocument> doc = extractDocument(path);
    QVERIFY(!doc);
    QCOMPARE(doc.error().kind, Error::Kind::Unsupported);
}

QTEST_GUILESS_MAIN(tst_Extractors)
#include "tst_extractors.moc"
