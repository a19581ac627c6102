// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/core/settings.h"

#include <QAbstractListModel>
#include <QQmlEngine>

namespace fathom::ui {

// One backend kind as the Models screen shows it.
struct BackendEntry
{
    QString kind; // "cpu", "cuda", "remote"
    QString name;
    QString description;
    bool available = true;
    QString unavailableReason;
    QStringList devices; // CUDA: "GPU 0: NVIDIA H200, 139 GiB"
    QString serverId;    // a configured remote server (Settings::remoteServers()), else empty
};

/**
  The backends this build and machine offer, with the reason when one is unavailable, followed
  by the remote servers configured in Settings (one row each, kind "remote", with serverId).

  Thread: GUI only.
*/
class BackendListModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("owned by ModelsController")

public:
    enum Roles {
        KindRole = Qt::UserRole + 1,
        NameRole,
        DescriptionRole,
        AvailableRole,
        ReasonRole,
        DevicesRole,
        ServerIdRole,
    };

    explicit BackendListModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    void reset(QList<BackendEntry> entries);

    // One row per configured remote server; `available` is what the build's remote kind says.
    static QList<BackendEntry> remoteServerEntries(const QList<RemoteServerSettings> &servers,
                                                   bool available,
                                                   const QString &unavailableReason);

private:
    QList<BackendEntry> m_rows;
};

} // namespace fathom::ui
