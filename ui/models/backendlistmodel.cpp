// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "backendlistmodel.h"

namespace fathom::ui {

BackendListModel::BackendListModel(QObject *parent)
    : QAbstractListModel(parent)
{}

int BackendListModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant BackendListModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const BackendEntry &b = m_rows.at(index.row());
    switch (role) {
    case KindRole:
        return b.kind;
    case Qt::DisplayRole:
    case NameRole:
        return b.name;
    case DescriptionRole:
        return b.description;
    case AvailableRole:
        return b.available;
    case ReasonRole:
        return b.unavailableReason;
    case DevicesRole:
        return b.devices;
    }
    return {};
}

QHash<int, QByteArray> BackendListModel::roleNames() const
{
    return {{KindRole, "kind"},
            {NameRole, "name"},
            {DescriptionRole, "description"},
            {AvailableRole, "available"},
            {ReasonRole, "unavailableReason"},
            {DevicesRole, "devices"}};
}

void BackendListModel::reset(QList<BackendEntry> entries)
{
    beginResetModel();
    m_rows = std::move(entries);
    endResetModel();
}

} // namespace fathom::ui
