// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include <QQuickAsyncImageProvider>

namespace fathom::ui {

/**
  "image://pdfpage/<page>/<highlight>?<file path>" : a PDF page rendered by Poppler at the
  requested width, with every occurrence of the (URL-encoded) highlight text marked. Each request
  opens its own Poppler document on a pool thread (Poppler documents are not thread-safe).
*/
class PdfPageProvider final : public QQuickAsyncImageProvider
{
public:
    PdfPageProvider();
    ~PdfPageProvider() override;
    QQuickImageResponse *requestImageResponse(const QString &id,
                                              const QSize &requestedSize) override;

    // Renders synchronously (tests, the pool job).
    static QImage render(const QString &path,
                         int page,
                         const QString &highlight,
                         int width,
                         QString *error = nullptr);
};

} // namespace fathom::ui
