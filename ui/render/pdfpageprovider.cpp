// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "pdfpageprovider.h"

#include <QCoreApplication>
#include <QPainter>
#include <QRunnable>
#include <QThreadPool>
#include <QUrl>

#include <poppler-qt6.h>

namespace fathom::ui {

namespace {

class PageResponse final : public QQuickImageResponse, public QRunnable
{
public:
    PageResponse(QString path, int page, QString highlight, int width)
        : m_path(std::move(path))
        , m_page(page)
        , m_highlight(std::move(highlight))
        , m_width(width)
    {
        setAutoDelete(false);
    }
    QQuickTextureFactory *textureFactory() const override
    {
        return QQuickTextureFactory::textureFactoryForImage(m_image);
    }
    QString errorString() const override { return m_error; }
    void run() override
    {
        m_image = PdfPageProvider::render(m_path, m_page, m_highlight, m_width, &m_error);
        emit finished();
    }

private:
    QString m_path;
    int m_page;
    QString m_highlight;
    int m_width;
    QImage m_image;
    QString m_error;
};

} // namespace

PdfPageProvider::PdfPageProvider() = default;
PdfPageProvider::~PdfPageProvider() = default;

QQuickImageResponse *PdfPageProvider::requestImageResponse(const QString &id,
                                                           const QSize &requestedSize)
{
    const qsizetype q = id.indexOf(u'?');
    const QString head = q < 0 ? id : id.left(q);
    const QString path = q < 0 ? QString() : QUrl::fromPercentEncoding(id.mid(q + 1).toUtf8());
    const int page = head.section(u'/', 0, 0).toInt();
    const QString highlight = QUrl::fromPercentEncoding(head.section(u'/', 1).toUtf8());
    auto *response = new PageResponse(path,
                                      page,
                                      highlight,
                                      requestedSize.width() > 0 ? requestedSize.width() : 900);
    QThreadPool::globalInstance()->start(response);
    return response;
}

QImage PdfPageProvider::render(
    const QString &path, int page, const QString &highlight, int width, QString *error)
{
    std::unique_ptr<Poppler::Document> doc = Poppler::Document::load(path);
    if (!doc || doc->isLocked()) {
        if (error)
            *error = QCoreApplication::translate("PdfPageProvider", "Cannot open the PDF file %1.")
                         .arg(path);
        return {};
    }
    doc->setRenderHint(Poppler::Document::Antialiasing);
    doc->setRenderHint(Poppler::Document::TextAntialiasing);
    std::unique_ptr<Poppler::Page> p = doc->page(page - 1);
    if (!p) {
        if (error)
            *error = QCoreApplication::translate("PdfPageProvider", "%1 has no page %2.")
                         .arg(path)
                         .arg(page);
        return {};
    }
    const QSizeF points = p->pageSizeF();
    const double dpi = points.width() > 0 ? 72.0 * width / points.width() : 96.0;
    QImage image = p->renderToImage(dpi, dpi);
    if (!highlight.isEmpty() && !image.isNull()) {
        QPainter painter(&image);
        painter.setPen(Qt::NoPen);
        painter.setBrush(QColor(255, 220, 0, 110));
        const double scale = dpi / 72.0;
        const QList<QRectF> hits = p->search(highlight, Poppler::Page::IgnoreCase);
        for (const QRectF &r : hits)
            painter.drawRect(
                QRectF(r.x() * scale, r.y() * scale, r.width() * scale, r.height() * scale));
    }
    return image;
}

} // namespace fathom::ui
