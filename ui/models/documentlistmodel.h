// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/storage/records.h"

#include <QAbstractListModel>
#include <QQmlEngine>

namespace fathom::ui {

/**
  The open conversation's documents: the stored ones and the ones still being ingested (those
  have no database id yet; they are keyed by a negative temporary id until stored).

  Thread: GUI only.
*/
class DocumentListModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("owned by DocumentsController")
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)

public:
    enum Roles {
        IdRole = Qt::UserRole + 1,
        NameRole,
        StatusRole,   // "pending", "ingesting", "ready", "failed", "partial"
        ProgressRole, // 0..1, -1 while the page count is unknown
        PageCountRole,
        TokenCountRole,      // counted by the model's tokenizer, else estimated; -1: no text yet
        TokensEstimatedRole, // TokenCountRole is an estimate (no tokenizer when it was ingested)
        ErrorTextRole,
        PathRole,
        MimeTypeRole,
    };

    explicit DocumentListModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    void reset(QList<storage::Document> documents);
    // Adds or updates by id (negative ids: in-flight ingestion).
    void upsert(const storage::Document &document, double progress = 1.0);
    void setProgress(qint64 id, double progress);
    void remove(qint64 id);
    // An in-flight row becomes the stored document.
    void replaceId(qint64 temporaryId, const storage::Document &stored);

    std::optional<storage::Document> document(qint64 id) const;
    const QList<storage::Document> &documents() const { return m_rows; }
    Q_INVOKABLE int rowOf(qint64 id) const;
    qint64 totalTokens() const; // counted, else estimated
    // The document's token count, or an estimate from its characters (about 3.5 per token) when
    // it was ingested without a tokenizer; -1 while nothing is known.
    static qint64 tokenCount(const storage::Document &document);

signals:
    void countChanged();

private:
    QList<storage::Document> m_rows;
    QHash<qint64, double> m_progress;
};

} // namespace fathom::ui
