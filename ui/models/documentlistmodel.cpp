// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "documentlistmodel.h"

namespace fathom::ui {

DocumentListModel::DocumentListModel(QObject *parent)
    : QAbstractListModel(parent)
{}

int DocumentListModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant DocumentListModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const storage::Document &d = m_rows.at(index.row());
    switch (role) {
    case IdRole:
        return d.id.value;
    case Qt::DisplayRole:
    case NameRole:
        return d.name;
    case StatusRole:
        return storage::documentStatusName(d.status);
    case ProgressRole:
        return m_progress.value(d.id.value, 1.0);
    case PageCountRole:
        return d.pageCount;
    case TokenCountRole:
        return tokenCount(d);
    case TokensEstimatedRole:
        return !d.tokenCount.has_value();
    case ErrorTextRole:
        return d.errorText;
    case PathRole:
        return d.sourcePath;
    case MimeTypeRole:
        return d.mimeType;
    }
    return {};
}

QHash<int, QByteArray> DocumentListModel::roleNames() const
{
    return {{IdRole, "documentId"},
            {NameRole, "name"},
            {StatusRole, "status"},
            {ProgressRole, "progress"},
            {PageCountRole, "pageCount"},
            {TokenCountRole, "tokenCount"},
            {TokensEstimatedRole, "tokensEstimated"},
            {ErrorTextRole, "errorText"},
            {PathRole, "path"},
            {MimeTypeRole, "mimeType"}};
}

void DocumentListModel::reset(QList<storage::Document> documents)
{
    const bool countChanges = documents.size() != m_rows.size();
    beginResetModel();
    m_rows = std::move(documents);
    m_progress.clear();
    endResetModel();
    if (countChanges)
        emit countChanged();
}

void DocumentListModel::upsert(const storage::Document &document, double progress)
{
    const int row = rowOf(document.id.value);
    m_progress.insert(document.id.value, progress);
    if (row >= 0) {
        m_rows[row] = document;
        emit dataChanged(index(row), index(row));
        return;
    }
    const int at = int(m_rows.size());
    beginInsertRows({}, at, at);
    m_rows.append(document);
    endInsertRows();
    emit countChanged();
}

void DocumentListModel::setProgress(qint64 id, double progress)
{
    const int row = rowOf(id);
    if (row < 0)
        return;
    m_progress.insert(id, progress);
    emit dataChanged(index(row), index(row), {ProgressRole});
}

void DocumentListModel::remove(qint64 id)
{
    const int row = rowOf(id);
    if (row < 0)
        return;
    beginRemoveRows({}, row, row);
    m_rows.removeAt(row);
    m_progress.remove(id);
    endRemoveRows();
    emit countChanged();
}

void DocumentListModel::replaceId(qint64 temporaryId, const storage::Document &stored)
{
    const int row = rowOf(temporaryId);
    if (row < 0) {
        upsert(stored);
        return;
    }
    // The same file may already be listed (dropped twice): keep one row.
    if (const int existing = rowOf(stored.id.value); existing >= 0 && existing != row) {
        remove(temporaryId);
        upsert(stored);
        return;
    }
    m_progress.remove(temporaryId);
    m_progress.insert(stored.id.value, 1.0);
    m_rows[row] = stored;
    emit dataChanged(index(row), index(row));
}

std::optional<storage::Document> DocumentListModel::document(qint64 id) const
{
    const int row = rowOf(id);
    if (row < 0)
        return std::nullopt;
    return m_rows.at(row);
}

int DocumentListModel::rowOf(qint64 id) const
{
    for (int i = 0; i < m_rows.size(); ++i) {
        if (m_rows.at(i).id.value == id)
            return i;
    }
    return -1;
}

qint64 DocumentListModel::tokenCount(const storage::Document &document)
{
    if (document.tokenCount)
        return *document.tokenCount;
    if (document.charCount > 0)
        return qint64(double(document.charCount) / 3.5) + 1;
    return -1;
}

qint64 DocumentListModel::totalTokens() const
{
    qint64 total = 0;
    for (const storage::Document &d : m_rows)
        total += std::max<qint64>(0, tokenCount(d));
    return total;
}

} // namespace fathom::ui
