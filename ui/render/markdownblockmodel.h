// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "markdownblocks.h"

#include <QAbstractListModel>
#include <QQmlEngine>

namespace fathom::ui {

/**
  The blocks of one message (see markdownblocks.h) as a list model for the message delegate.
  Setting `text` re-splits and reports only the blocks that changed, so streaming an answer
  re-renders its last block, not the whole answer.

  Thread: GUI only.
*/
class MarkdownBlockModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(QString text READ text WRITE setText NOTIFY textChanged)
    Q_PROPERTY(bool dark READ dark WRITE setDark NOTIFY darkChanged)
    // Plain text split into paragraphs (splitParagraphs), for the reasoning block. Set it first.
    Q_PROPERTY(bool plainText READ plainText WRITE setPlainText NOTIFY plainTextChanged)

public:
    enum Roles {
        KindRole = Qt::UserRole + 1, // "text" or "code"
        MarkdownRole,                // Text: the Markdown
        CodeRole,                    // Code: the raw code (what the copy button copies)
        LanguageRole,
        HtmlRole, // Code: highlighted HTML
        ClosedRole,
    };

    explicit MarkdownBlockModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    QString text() const { return m_text; }
    void setText(const QString &text);
    bool dark() const { return m_dark; }
    void setDark(bool dark);
    bool plainText() const { return m_plainText; }
    void setPlainText(bool plainText);

signals:
    void textChanged();
    void darkChanged();
    void plainTextChanged();

private:
    QString m_text;
    bool m_dark = false;
    bool m_plainText = false;
    QList<MarkdownBlock> m_blocks;
    mutable QList<QString> m_html; // highlighted code per row, computed on first use
};

} // namespace fathom::ui
