// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "markdownblockmodel.h"

namespace fathom::ui {

MarkdownBlockModel::MarkdownBlockModel(QObject *parent)
    : QAbstractListModel(parent)
{}

int MarkdownBlockModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_blocks.size());
}

QVariant MarkdownBlockModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const MarkdownBlock &b = m_blocks.at(index.row());
    switch (role) {
    case KindRole:
        return b.kind == MarkdownBlock::Kind::Code ? QStringLiteral("code")
                                                   : QStringLiteral("text");
    case Qt::DisplayRole:
    case MarkdownRole:
        return b.kind == MarkdownBlock::Kind::Text ? b.text : QString();
    case CodeRole:
        return b.kind == MarkdownBlock::Kind::Code ? b.text : QString();
    case LanguageRole:
        return b.language;
    case HtmlRole:
        if (b.kind != MarkdownBlock::Kind::Code)
            return QString();
        if (m_html.at(index.row()).isNull())
            m_html[index.row()] = highlightCode(b.text,
                                                b.language,
                                                m_dark ? CodeTheme::Dark : CodeTheme::Light);
        return m_html.at(index.row());
    case ClosedRole:
        return b.closed;
    }
    return {};
}

QHash<int, QByteArray> MarkdownBlockModel::roleNames() const
{
    return {{KindRole, "kind"},
            {MarkdownRole, "markdown"},
            {CodeRole, "code"},
            {LanguageRole, "language"},
            {HtmlRole, "html"},
            {ClosedRole, "closed"}};
}

void MarkdownBlockModel::setText(const QString &text)
{
    if (text == m_text)
        return;
    m_text = text;
    QList<MarkdownBlock> blocks = m_plainText ? splitParagraphs(text) : splitMarkdown(text);
    // Only the rows that changed are reported, one row at a time, so the view updates just those
    // delegates (while an answer streams: the last block). A row that changes kind (a fence
    // opened) is reported like any other change; its delegate swaps its component.
    const qsizetype common = std::min(blocks.size(), m_blocks.size());
    for (qsizetype i = 0; i < common; ++i) {
        if (blocks.at(i) == m_blocks.at(i))
            continue;
        m_blocks[i] = blocks.at(i);
        m_html[i] = QString();
        emit dataChanged(index(int(i)), index(int(i)));
    }
    if (blocks.size() > m_blocks.size()) {
        beginInsertRows({}, int(m_blocks.size()), int(blocks.size()) - 1);
        for (qsizetype i = m_blocks.size(); i < blocks.size(); ++i) {
            m_blocks.append(blocks.at(i));
            m_html.append(QString());
        }
        endInsertRows();
    } else if (blocks.size() < m_blocks.size()) {
        beginRemoveRows({}, int(blocks.size()), int(m_blocks.size()) - 1);
        m_blocks.resize(blocks.size());
        m_html.resize(blocks.size());
        endRemoveRows();
    }
    emit textChanged();
}

void MarkdownBlockModel::setPlainText(bool plainText)
{
    if (plainText == m_plainText)
        return;
    m_plainText = plainText;
    const QString text = m_text;
    m_text.clear();
    if (!m_blocks.isEmpty()) {
        beginResetModel();
        m_blocks.clear();
        m_html.clear();
        endResetModel();
    }
    setText(text);
    emit plainTextChanged();
}

void MarkdownBlockModel::setDark(bool dark)
{
    if (dark == m_dark)
        return;
    m_dark = dark;
    m_html = QList<QString>(m_blocks.size());
    if (!m_blocks.isEmpty())
        emit dataChanged(index(0), index(int(m_blocks.size()) - 1), {HtmlRole});
    emit darkChanged();
}

} // namespace fathom::ui
