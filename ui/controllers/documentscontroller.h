// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "engine/tokenizer/tokenizer.h"
#include "ui/models/documentlistmodel.h"

#include <QObject>
#include <QQmlEngine>
#include <QUrl>

#include <memory>

namespace fathom::documents {
class DocumentIngestor;
}
namespace fathom::storage {
class StorageService;
}

namespace fathom::ui {

class ChatController;

/**
  The documents panel and viewer: attaching files (button or drag and drop) to the open
  conversation, ingestion progress, page and token counts, errors in words, removal; the viewer
  opens a document at a page and highlights a passage (PDF pages come from PdfPageProvider).

  Ingestion runs in fathom-ingest-worker processes (app/documents); the stored pages are written
  by the storage thread. Thread: GUI.
*/
class DocumentsController : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("owned by AppController")

    Q_PROPERTY(DocumentListModel *model READ model CONSTANT)
    Q_PROPERTY(bool viewerOpen READ viewerOpen NOTIFY viewerChanged)
    Q_PROPERTY(qint64 viewerDocumentId READ viewerDocumentId NOTIFY viewerChanged)
    Q_PROPERTY(QString viewerName READ viewerName NOTIFY viewerChanged)
    Q_PROPERTY(QString viewerPath READ viewerPath NOTIFY viewerChanged)
    Q_PROPERTY(bool viewerIsPdf READ viewerIsPdf NOTIFY viewerChanged)
    Q_PROPERTY(int viewerPageCount READ viewerPageCount NOTIFY viewerChanged)
    Q_PROPERTY(int viewerPage READ viewerPage WRITE setViewerPage NOTIFY viewerPageChanged)
    Q_PROPERTY(QString viewerText READ viewerText NOTIFY viewerPageChanged)
    Q_PROPERTY(QString viewerHighlight READ viewerHighlight NOTIFY viewerChanged)

public:
    explicit DocumentsController(storage::StorageService *storage, QObject *parent = nullptr);
    // Attaching before the first message creates the conversation through the chat.
    void setChat(ChatController *chat) { m_chat = chat; }
    ~DocumentsController() override;

    DocumentListModel *model() { return m_model; }

    // The loaded model's folder (empty: none): documents attached from now on are counted with
    // its tokenizer, loaded off the GUI thread.
    void setModelFolder(const QString &modelFolder);
    // Loads the documents of a conversation (0: none).
    void openConversation(qint64 conversationId);
    Q_INVOKABLE void attach(const QList<QUrl> &urls);
    Q_INVOKABLE void attachPath(const QString &path);
    Q_INVOKABLE void remove(qint64 documentId);
    Q_INVOKABLE void openViewer(qint64 documentId, int page = 1, const QString &highlight = {});
    Q_INVOKABLE void closeViewer();

    bool viewerOpen() const { return m_viewerId != 0; }
    qint64 viewerDocumentId() const { return m_viewerId; }
    QString viewerName() const { return m_viewerDoc.name; }
    QString viewerPath() const { return m_viewerDoc.sourcePath; }
    bool viewerIsPdf() const;
    int viewerPageCount() const { return m_viewerDoc.pageCount; }
    int viewerPage() const { return m_viewerPage; }
    void setViewerPage(int page);
    QString viewerText() const { return m_viewerText; }
    QString viewerHighlight() const { return m_viewerHighlight; }

signals:
    void viewerChanged();
    void viewerPageChanged();
    void errorOccurred(const QString &message);
    // The tokenizer documents are counted with (null: none), shared with the context meter.
    void tokenizerChanged(std::shared_ptr<const fathom::engine::tokenizer::Tokenizer> tokenizer);

private:
    void ingest(const QString &path, qint64 temporaryId);
    void loadViewerText();

    storage::StorageService *m_storage;
    ChatController *m_chat = nullptr;
    DocumentListModel *m_model;
    std::unique_ptr<documents::DocumentIngestor> m_ingestor;
    qint64 m_conversationId = 0;
    QString m_modelFolder;
    int m_tokenizerGeneration = 0;
    qint64 m_nextTemporaryId = -1;
    int m_generation = 0;

    qint64 m_viewerId = 0;
    storage::Document m_viewerDoc;
    int m_viewerPage = 1;
    QString m_viewerText;
    QString m_viewerHighlight;
};

} // namespace fathom::ui
