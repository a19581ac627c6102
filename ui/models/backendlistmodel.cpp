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
    case ServerIdRole:
        return b.serverId;
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
            {DevicesRole, "devices"},
            {ServerIdRole, "serverId"}};
}

QList<BackendEntry> BackendListModel::remoteServerEntries(const QList<RemoteServerSettings> &servers,
                                                          bool available,
                                                          const QString &unavailableReason)
{
    QList<BackendEntry> out;
    for (const RemoteServerSettings &r : servers) {
        BackendEntry e;
        e.kind = QStringLiteral("remote");
        e.serverId = r.id;
        e.name = r.name.isEmpty() ? r.baseUrl : r.name;
        e.description = r.model.isEmpty() ? r.baseUrl : tr("%1, model %2").arg(r.baseUrl, r.model);
        e.available = available;
        e.unavailableReason = unavailableReason;
        out.append(e);
    }
    return out;
}

void BackendListModel::reset(QList<BackendEntry> entries)
{
    beginResetModel();
    m_rows = std::move(entries);
    endResetModel();
}

} // namespace fathom::ui
