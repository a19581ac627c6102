// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

// The documents panel and viewer end to end: real files attached through DocumentsController
// (parsed by the real fathom-ingest-worker, stored by the real storage thread in a temporary
// database), the viewer opened at a page with a passage highlighted, and PDF pages rendered by
// Poppler through PdfPageProvider and through the DocumentViewer QML view. Oracles are
// independent of our code: poppler-utils' pdfinfo (page count and size) and pdftotext (page text
// and word boxes), the bytes of the text file we wrote, and the database read back through a
// separate connection.

#include "uitestsupport.h"

#include "app/storage/database.h"
#include "app/storage/documentstore.h"
#include "app/storage/storageservice.h"
#include "tests/documents/testdocuments.h"
#include "ui/controllers/appcontroller.h"
#include "ui/controllers/chatcontroller.h"
#include "ui/controllers/documentscontroller.h"
#include "ui/models/documentlistmodel.h"
#include "ui/render/pdfpageprovider.h"

#include <QQuickItem>
#include <QQuickStyle>
#include <QQuickTextureFactory>
#include <QQuickView>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>
#include <QtQml/qqmlextensionplugin.h>

Q_IMPORT_QML_PLUGIN(FathomPlugin)

using namespace fathom;

namespace {

constexpr int kIngestTimeoutMs = 180000;

struct WordBox
{
    QString text;
    QRectF box; // points, origin top left
};

// pdftotext -bbox: every word of one page with its box.
QList<WordBox> pdftotextWords(const QString &pdf, int page)
{
    QProcess p;
    p.start(QStringLiteral("pdftotext"),
            {QStringLiteral("-bbox"),
             QStringLiteral("-f"),
             QString::number(page),
             QStringLiteral("-l"),
             QString::number(page),
             pdf,
             QStringLiteral("-")});
    if (!p.waitForFinished(60000) || p.exitCode() != 0)
        return {};
    static const QRegularExpression word(
        QStringLiteral("<word xMin=\"([\\d.]+)\" yMin=\"([\\d.]+)\" xMax=\"([\\d.]+)\" "
                       "yMax=\"([\\d.]+)\">([^<]*)</word>"));
    QList<WordBox> words;
    const QString html = QString::fromUtf8(p.readAllStandardOutput());
    for (auto it = word.globalMatch(html); it.hasNext();) {
        const QRegularExpressionMatch m = it.next();
        const QPointF topLeft(m.captured(1).toDouble(), m.captured(2).toDouble());
        const QPointF bottomRight(m.captured(3).toDouble(), m.captured(4).toDouble());
        words.append({m.captured(5), QRectF(topLeft, bottomRight)});
    }
    return words;
}

// pdfinfo's "Pages:" and "Page size:" lines.
bool pdfinfo(const QString &pdf, int *pages, QSizeF *pageSize)
{
    QProcess p;
    p.start(QStringLiteral("pdfinfo"), {pdf});
    if (!p.waitForFinished(60000) || p.exitCode() != 0)
        return false;
    const QString out = QString::fromUtf8(p.readAllStandardOutput());
    const QRegularExpressionMatch n = QRegularExpression(QStringLiteral("Pages:\\s+(\\d+)"))
                                          .match(out);
    const QRegularExpressionMatch s
        = QRegularExpression(QStringLiteral("Page size:\\s+([\\d.]+) x ([\\d.]+) pts")).match(out);
    if (!n.hasMatch() || !s.hasMatch())
        return false;
    *pages = n.captured(1).toInt();
    *pageSize = QSizeF(s.captured(1).toDouble(), s.captured(2).toDouble());
    return true;
}

// The highlight is translucent yellow over the page: clearly more red and green than blue.
// Black text, white paper and grey rules have equal channels; blue links have more blue.
bool isHighlight(QRgb c)
{
    return qRed(c) - qBlue(c) > 60 && qGreen(c) - qBlue(c) > 50;
}

int countHighlight(const QImage &image, const QRect &inside = {})
{
    const QImage img = image.convertToFormat(QImage::Format_RGB32);
    const QRect r = inside.isNull() ? img.rect() : inside.intersected(img.rect());
    int n = 0;
    for (int y = r.top(); y <= r.bottom(); ++y)
        for (int x = r.left(); x <= r.right(); ++x)
            n += isHighlight(img.pixel(x, y)) ? 1 : 0;
    return n;
}

double agreement(const QString &ours, const QString &reference)
{
    test::Agreement a;
    a.add(ours, reference);
    return a.ratio();
}

} // namespace

class tst_Documents : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void pdfIsIngestedAndOpensAtPageWithHighlight();
    void pdfPageRendersWithPassageHighlighted();
    void viewerShowsHighlightedPdfPage();
    void textDocumentShowsItsTextWithHighlight();
    void unreadableFileFailsInWords();
    void removeUnlinksFromConversation();

private:
    std::unique_ptr<ui::AppController> makeApp(const QString &name);
    // Attaches `path` and waits until it is stored; returns its row's database id (0: failed).
    qint64 attachAndWait(ui::AppController &app, const QString &path);
    // A word that occurs once on the page and inside no other word there (Poppler's search
    // matches substrings), with its box.
    static std::optional<WordBox> distinctiveWord(const QList<WordBox> &words);

    QTemporaryDir m_dir;
    QString m_pdf;
    int m_pdfPages = 0;
    QSizeF m_pageSize;
    static constexpr int kPage = 3;
    QString m_dbPath;
    std::unique_ptr<ui::AppController> m_app; // the PDF's session, shared by the PDF tests
    qint64 m_pdfId = 0;
};

void tst_Documents::initTestCase()
{
    QQuickWindow::setGraphicsApi(QSGRendererInterface::Software);
    QQuickStyle::setStyle(QStringLiteral("Fusion"));
    QCoreApplication::setOrganizationName(QStringLiteral("FathomTest"));
    QCoreApplication::setApplicationName(QStringLiteral("FathomTest"));
    QVERIFY(m_dir.isValid());
    qputenv("FATHOM_DATA_DIR", m_dir.path().toLocal8Bit());
    qputenv("FATHOM_INGEST_WORKER", FATHOM_INGEST_WORKER_PATH);
    m_pdf = test::debianPdf(QStringLiteral("/usr/share/doc/libtasn1-doc/libtasn1.pdf"),
                            m_dir.path());
    if (m_pdf.isEmpty()) {
        if (FATHOM_REQUIRE_TESTDATA)
            QFAIL("libtasn1-doc is not installed (scripts/install-deps.sh installs it)");
        QSKIP("SKIPPED LOUDLY: libtasn1-doc is not installed; no real PDF to test with");
    }
    if (QStandardPaths::findExecutable(QStringLiteral("pdftotext")).isEmpty()
        || QStandardPaths::findExecutable(QStringLiteral("pdfinfo")).isEmpty())
        QFAIL("poppler-utils (pdfinfo, pdftotext) is needed as the independent reference");
    QVERIFY(pdfinfo(m_pdf, &m_pdfPages, &m_pageSize));
    QVERIFY(m_pdfPages > kPage);
    m_dbPath = m_dir.filePath(QStringLiteral("pdf.db"));
    m_app = makeApp(QStringLiteral("pdf"));
}

std::unique_ptr<ui::AppController> tst_Documents::makeApp(const QString &name)
{
    ui::AppController::Options options;
    options.databasePath = m_dir.filePath(name + QStringLiteral(".db"));
    options.settingsPath = m_dir.filePath(name + QStringLiteral(".ini"));
    options.loadModelOnStart = false;
    auto app = std::make_unique<ui::AppController>(options);
    app->start();
    return app;
}

qint64 tst_Documents::attachAndWait(ui::AppController &app, const QString &path)
{
    ui::DocumentListModel *model = app.documents()->model();
    const int before = model->rowCount();
    app.documents()->attachPath(path);
    // The row appears at once, before the worker has read anything.
    if (model->rowCount() != before + 1)
        return 0;
    const QModelIndex row = model->index(before);
    if (row.data(ui::DocumentListModel::StatusRole).toString() != u"ingesting")
        return 0;
    const auto settled = [&] {
        const QString status
            = model->index(before).data(ui::DocumentListModel::StatusRole).toString();
        const qint64 id = model->index(before).data(ui::DocumentListModel::IdRole).toLongLong();
        return status == u"failed" || (id > 0 && (status == u"ready" || status == u"partial"));
    };
    if (!QTest::qWaitFor(settled, kIngestTimeoutMs))
        return 0;
    return model->index(before).data(ui::DocumentListModel::IdRole).toLongLong();
}

std::optional<WordBox> tst_Documents::distinctiveWord(const QList<WordBox> &words)
{
    std::optional<WordBox> best;
    for (const WordBox &w : words) {
        static const QRegularExpression letters(QStringLiteral("^[A-Za-z]{7,}$"));
        if (!letters.match(w.text).hasMatch())
            continue;
        int containing = 0;
        for (const WordBox &other : words)
            containing += other.text.contains(w.text, Qt::CaseInsensitive) ? 1 : 0;
        if (containing == 1 && (!best || w.text.size() > best->text.size()))
            best = w;
    }
    return best;
}

void tst_Documents::pdfIsIngestedAndOpensAtPageWithHighlight()
{
    ui::DocumentsController *docs = m_app->documents();
    QSignalSpy errors(docs, &ui::DocumentsController::errorOccurred);
    m_pdfId = attachAndWait(*m_app, m_pdf);
    QVERIFY2(m_pdfId > 0, qPrintable(errors.value(0).value(0).toString()));
    QCOMPARE(errors.count(), 0);

    // The panel's row: page count as pdfinfo has it, a token count, the stored id.
    ui::DocumentListModel *model = docs->model();
    const QModelIndex row = model->index(model->rowOf(m_pdfId));
    QCOMPARE(row.data(ui::DocumentListModel::NameRole).toString(), QFileInfo(m_pdf).fileName());
    QCOMPARE(row.data(ui::DocumentListModel::PageCountRole).toInt(), m_pdfPages);
    QVERIFY(row.data(ui::DocumentListModel::TokenCountRole).toLongLong() > 0);
    QCOMPARE(row.data(ui::DocumentListModel::ProgressRole).toDouble(), 1.0);

    // Attaching to an empty chat created the conversation; the document is linked to it in the
    // database (read through a connection of our own).
    const ConversationId conv(m_app->chat()->conversationId());
    QVERIFY(conv.isValid());
    {
        auto db = storage::Database::open(m_app->storage()->databasePath());
        QVERIFY(db.has_value());
        storage::DocumentStore store(**db);
        const auto linked = store.conversationDocuments(conv);
        QVERIFY(linked.has_value());
        QCOMPARE(linked->size(), 1);
        QCOMPARE(linked->first().id.value, m_pdfId);
        QCOMPARE(linked->first().pageCount, m_pdfPages);
    }

    // The viewer opens at the page with the passage, showing that page's text.
    const QList<WordBox> words = pdftotextWords(m_pdf, kPage);
    const std::optional<WordBox> word = distinctiveWord(words);
    QVERIFY(word);
    QSignalSpy viewer(docs, &ui::DocumentsController::viewerChanged);
    docs->openViewer(m_pdfId, kPage, word->text);
    QTRY_VERIFY(docs->viewerOpen());
    QCOMPARE(docs->viewerDocumentId(), m_pdfId);
    QCOMPARE(docs->viewerPage(), kPage);
    QVERIFY(docs->viewerIsPdf());
    QCOMPARE(docs->viewerPageCount(), m_pdfPages);
    QCOMPARE(docs->viewerHighlight(), word->text);
    QCOMPARE(QFileInfo(docs->viewerPath()).canonicalFilePath(),
             QFileInfo(m_pdf).canonicalFilePath());
    const QStringList reference = test::pdftotextPages(m_pdf, kPage, kPage + 1);
    QCOMPARE(reference.size(), 2);
    QTRY_VERIFY(!docs->viewerText().isEmpty());
    QVERIFY(docs->viewerText().contains(word->text));
    QVERIFY2(agreement(docs->viewerText(), reference.at(0)) > 0.9,
             qPrintable(QStringLiteral("agreement %1")
                            .arg(agreement(docs->viewerText(), reference.at(0)))));

    // Paging: the next page's text; out-of-range pages are clamped.
    docs->setViewerPage(kPage + 1);
    QCOMPARE(docs->viewerPage(), kPage + 1);
    QTRY_VERIFY(agreement(docs->viewerText(), reference.at(1)) > 0.9);
    docs->setViewerPage(0);
    QCOMPARE(docs->viewerPage(), 1);
    docs->setViewerPage(m_pdfPages + 10);
    QCOMPARE(docs->viewerPage(), m_pdfPages);
    docs->closeViewer();
    QVERIFY(!docs->viewerOpen());
}

void tst_Documents::pdfPageRendersWithPassageHighlighted()
{
    const QList<WordBox> words = pdftotextWords(m_pdf, kPage);
    const std::optional<WordBox> word = distinctiveWord(words);
    QVERIFY(word);
    const int width = 800;
    QString error;
    const QImage plain = ui::PdfPageProvider::render(m_pdf, kPage, QString(), width, &error);
    QVERIFY2(!plain.isNull(), qPrintable(error));
    // The page at the requested width, with pdfinfo's aspect ratio.
    QCOMPARE(plain.width(), width);
    QVERIFY(qAbs(plain.height() - width * m_pageSize.height() / m_pageSize.width()) <= 2);
    QCOMPARE(countHighlight(plain), 0);

    const QImage marked = ui::PdfPageProvider::render(m_pdf, kPage, word->text, width, &error);
    QCOMPARE(marked.size(), plain.size());
    // The highlight covers pdftotext's box of the word (in pixels) and nothing else.
    const double scale = width / m_pageSize.width();
    const QRectF px(word->box.x() * scale,
                    word->box.y() * scale,
                    word->box.width() * scale,
                    word->box.height() * scale);
    const QRect inside = px.toAlignedRect().adjusted(-3, -3, 3, 3);
    const int all = countHighlight(marked);
    const int within = countHighlight(marked, inside);
    qInfo("\"%s\": %d highlighted pixels, %d inside pdftotext's box (%d px)",
          qPrintable(word->text),
          all,
          within,
          int(px.width() * px.height()));
    QVERIFY(within > 0.5 * px.width() * px.height());
    QCOMPARE(within, all);

    // Case is ignored; a passage that is not on the page marks nothing; a missing page is an
    // error in words.
    QCOMPARE(countHighlight(
                 ui::PdfPageProvider::render(m_pdf, kPage, word->text.toUpper(), width, &error)),
             all);
    QCOMPARE(countHighlight(ui::PdfPageProvider::render(m_pdf,
                                                        kPage,
                                                        QStringLiteral("zqxjkvw-not-on-the-page"),
                                                        width,
                                                        &error)),
             0);
    QVERIFY(ui::PdfPageProvider::render(m_pdf, m_pdfPages + 1, QString(), width, &error).isNull());
    QVERIFY2(error.contains(QString::number(m_pdfPages + 1)), qPrintable(error));
    QVERIFY(ui::PdfPageProvider::render(m_dir.filePath(QStringLiteral("missing.pdf")),
                                        1,
                                        QString(),
                                        width,
                                        &error)
                .isNull());
    QVERIFY2(error.contains(QStringLiteral("missing.pdf")), qPrintable(error));

    // The asynchronous provider QML uses, with the id DocumentViewer.qml composes: the same image.
    ui::PdfPageProvider provider;
    const QString id = QStringLiteral("%1/%2?%3")
                           .arg(kPage)
                           .arg(QString::fromUtf8(QUrl::toPercentEncoding(word->text)),
                                QString::fromUtf8(QUrl::toPercentEncoding(m_pdf)));
    std::unique_ptr<QQuickImageResponse> response(
        provider.requestImageResponse(id, QSize(width, 0)));
    QSignalSpy finished(response.get(), &QQuickImageResponse::finished);
    QVERIFY(finished.wait(60000));
    QCOMPARE(response->errorString(), QString());
    std::unique_ptr<QQuickTextureFactory> texture(response->textureFactory());
    QVERIFY(texture);
    QCOMPARE(texture->image().convertToFormat(QImage::Format_RGB32),
             marked.convertToFormat(QImage::Format_RGB32));
}

void tst_Documents::viewerShowsHighlightedPdfPage()
{
    QVERIFY(m_pdfId > 0);
    test::QmlWarningCatcher catcher;
    QQmlEngine engine;
    engine.addImportPath(QStringLiteral("qrc:/qt/qml"));
    engine.addImageProvider(QStringLiteral("pdfpage"), new ui::PdfPageProvider);
    QQuickView view(&engine, nullptr);
    view.setInitialProperties({{QStringLiteral("app"), QVariant::fromValue(m_app.get())}});
    view.setResizeMode(QQuickView::SizeRootObjectToView);
    view.resize(700, 1000);
    view.setSource(QUrl(QStringLiteral("qrc:/qt/qml/Fathom/qml/DocumentViewer.qml")));
    QCOMPARE(view.status(), QQuickView::Ready);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));

    const std::optional<WordBox> word = distinctiveWord(pdftotextWords(m_pdf, kPage));
    QVERIFY(word);
    m_app->documents()->openViewer(m_pdfId, kPage, word->text);
    auto *image = view.rootObject()->findChild<QQuickItem *>(QStringLiteral("pageImage"));
    QVERIFY(image);
    // QQuickImageBase::Ready
    QTRY_COMPARE_WITH_TIMEOUT(image->property("status").toInt(), 1, 60000);
    QVERIFY(image->isVisible());
    QCOMPARE(image->property("sourceSize").toSize().width(), int(image->width()));
    QTRY_VERIFY(countHighlight(view.grabWindow()) > 0.3 * word->box.width() * word->box.height());
    const QImage shot = view.grabWindow();
    shot.save(QStringLiteral(FATHOM_BINARY_DIR "/tests/ui/screenshots/document-viewer-pdf.png"));
    QCOMPARE(catcher.warnings(), QStringList());
    m_app->documents()->closeViewer();
}

void tst_Documents::textDocumentShowsItsTextWithHighlight()
{
    const QString path = m_dir.filePath(QStringLiteral("notes.txt"));
    const QString content = QStringLiteral(
        "Quarterly notes\n\nRevenue rose in the northern region while costs <stayed> flat.\n"
        "The auditors flagged one invoice & asked for the ledger.\n");
    {
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(content.toUtf8());
    }
    auto app = makeApp(QStringLiteral("text"));
    const qint64 id = attachAndWait(*app, path);
    QVERIFY(id > 0);
    ui::DocumentsController *docs = app->documents();
    const QModelIndex row = docs->model()->index(docs->model()->rowOf(id));
    QCOMPARE(row.data(ui::DocumentListModel::PageCountRole).toInt(), 1);
    QCOMPARE(row.data(ui::DocumentListModel::StatusRole).toString(), QStringLiteral("ready"));

    QQmlEngine engine;
    engine.addImportPath(QStringLiteral("qrc:/qt/qml"));
    QQuickView view(&engine, nullptr);
    view.setInitialProperties({{QStringLiteral("app"), QVariant::fromValue(app.get())}});
    view.setResizeMode(QQuickView::SizeRootObjectToView);
    view.resize(700, 600);
    view.setSource(QUrl(QStringLiteral("qrc:/qt/qml/Fathom/qml/DocumentViewer.qml")));
    QCOMPARE(view.status(), QQuickView::Ready);
    view.show();

    docs->openViewer(id, 1, QStringLiteral("invoice"));
    QTRY_VERIFY(docs->viewerOpen());
    QVERIFY(!docs->viewerIsPdf());
    QTRY_COMPARE(docs->viewerText().trimmed(), content.trimmed());
    auto *text = view.rootObject()->findChild<QQuickItem *>(QStringLiteral("pageText"));
    QVERIFY(text);
    QVERIFY(text->isVisible());
    // The rich text escapes the document's markup characters and marks the passage.
    const QString html = text->property("text").toString();
    QVERIFY2(html.contains(QStringLiteral("&lt;stayed&gt;")), qPrintable(html));
    QVERIFY(html.contains(QStringLiteral("&amp;")));
    // (Reading `text` back gives the document's HTML as Qt writes it, not the source.)
    QCOMPARE(html.count(QStringLiteral("#ffe066")), 1);
    QVERIFY2(QRegularExpression(QStringLiteral("#ffe066[^>]*>invoice</span>")).match(html).hasMatch(),
             qPrintable(html));
    // What is displayed is the document's text: the TextArea's plain text has every character.
    QTRY_COMPARE(text->property("length").toInt(), int(content.trimmed().size()));
    view.grabWindow().save(
        QStringLiteral(FATHOM_BINARY_DIR "/tests/ui/screenshots/document-viewer-text.png"));
}

void tst_Documents::unreadableFileFailsInWords()
{
    const QString path = m_dir.filePath(QStringLiteral("broken.pdf"));
    {
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("%PDF-1.7\nthis is not a PDF body at all\n%%EOF\n");
    }
    auto app = makeApp(QStringLiteral("broken"));
    QSignalSpy errors(app->documents(), &ui::DocumentsController::errorOccurred);
    ui::DocumentListModel *model = app->documents()->model();
    const qint64 id = attachAndWait(*app, path);
    QVERIFY(id < 0); // never stored: it keeps its temporary id
    const QModelIndex row = model->index(model->rowOf(id));
    QCOMPARE(row.data(ui::DocumentListModel::StatusRole).toString(), QStringLiteral("failed"));
    const QString errorText = row.data(ui::DocumentListModel::ErrorTextRole).toString();
    QVERIFY(!errorText.isEmpty());
    QTRY_COMPARE(errors.count(), 1);
    QVERIFY2(errors.at(0).at(0).toString().contains(QStringLiteral("broken.pdf")),
             qPrintable(errors.at(0).at(0).toString()));
    // Nothing reached the database; the failed row can be dismissed.
    QCOMPARE(app->chat()->conversationId(), 0);
    app->documents()->remove(id);
    QCOMPARE(model->rowCount(), 0);

    // Not a file at all: refused at once, in words.
    app->documents()->attachPath(m_dir.path());
    QCOMPARE(errors.count(), 2);
    QCOMPARE(model->rowCount(), 0);
}

void tst_Documents::removeUnlinksFromConversation()
{
    QVERIFY(m_pdfId > 0);
    ui::DocumentsController *docs = m_app->documents();
    docs->openViewer(m_pdfId, 1);
    QTRY_VERIFY(docs->viewerOpen());
    const int before = docs->model()->rowCount();
    docs->remove(m_pdfId);
    QCOMPARE(docs->model()->rowCount(), before - 1);
    QVERIFY(!docs->viewerOpen()); // the viewer of a removed document closes
    const ConversationId conv(m_app->chat()->conversationId());
    QTRY_VERIFY([&] {
        auto db = storage::Database::open(m_app->storage()->databasePath());
        if (!db)
            return false;
        storage::DocumentStore store(**db);
        const auto linked = store.conversationDocuments(conv);
        return linked && linked->isEmpty();
    }());
}

QTEST_MAIN(tst_Documents)
#include "tst_documents.moc"
