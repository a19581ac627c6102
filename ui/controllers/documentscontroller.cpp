// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "documentscontroller.h"

#include "chatcontroller.h"

#include "app/documents/ingestor.h"
#include "app/storage/storageservice.h"

#include <QFileInfo>
#include <QFutureWatcher>
#include <QtConcurrent/QtConcurrentRun>

namespace fathom::ui {

namespace {

QList<storage::PageText> toPages(const documents::ExtractedDocument &content)
{
    QList<storage::PageText> pages;
    pages.reserve(content.pages.size());
    for (const documents::ExtractedPage &p : content.pages) {
        int flags = storage::PageFlagNone;
        if (p.source == documents::PageTextSource::Ocr)
            flags = storage::PageFlagOcr;
        else if (p.source == documents::PageTextSource::NoTextLayer)
            flags = storage::PageFlagNoTextLayer;
        pages.append({p.number, p.text, flags});
    }
    return pages;
}

} // namespace

DocumentsController::DocumentsController(storage::StorageService *storage, QObject *parent)
    : QObject(parent)
    , m_storage(storage)
    , m_model(new DocumentListModel(this))
    , m_ingestor(std::make_unique<documents::DocumentIngestor>())
{}

DocumentsController::~DocumentsController()
{
    m_ingestor->cancelAll();
}

void DocumentsController::setModelFolder(const QString &modelFolder)
{
    if (modelFolder == m_modelFolder)
        return;
    m_modelFolder = modelFolder;
    const int generation = ++m_tokenizerGeneration;
    if (modelFolder.isEmpty()) {
        m_ingestor->setTokenizer({});
        emit tokenizerChanged(nullptr);
        return;
    }
    // Parsing a tokenizer.json takes a moment: never on the GUI thread.
    QtConcurrent::run([modelFolder] {
        return engine::tokenizer::Tokenizer::fromModelDir(modelFolder.toStdString());
    }).then(this, [this, generation](const engine::Result<engine::tokenizer::Tokenizer> &tokenizer) {
        if (generation != m_tokenizerGeneration)
            return; // another model was loaded meanwhile
        // Without one, documents are still ingested; their token counts are estimated.
        m_ingestor->setTokenizer(tokenizer ? *tokenizer : engine::tokenizer::Tokenizer());
        emit tokenizerChanged(
            tokenizer ? std::make_shared<const engine::tokenizer::Tokenizer>(*tokenizer) : nullptr);
    });
}

void DocumentsController::openConversation(qint64 conversationId)
{
    if (conversationId == m_conversationId)
        return;
    if (m_conversationId == 0 && conversationId > 0 && m_model->rowCount() > 0) {
        // The new chat was just created for documents attached to it: they stay listed.
        m_conversationId = conversationId;
        return;
    }
    ++m_generation;
    m_conversationId = conversationId;
    m_model->reset({});
    closeViewer();
    if (conversationId <= 0)
        return;
    const int generation = m_generation;
    const ConversationId conv(conversationId);
    m_storage
        ->run(
            [conv](storage::StorageWorker &w) { return w.documents().conversationDocuments(conv); })
        .then(this, [this, generation](const Result<QList<storage::Document>> &docs) {
            if (generation != m_generation)
                return;
            if (!docs) {
                emit errorOccurred(
                    tr("The documents could not be loaded: %1").arg(docs.error().message));
                return;
            }
            m_model->reset(*docs);
        });
}

void DocumentsController::attach(const QList<QUrl> &urls)
{
    for (const QUrl &url : urls)
        attachPath(url.isLocalFile() ? url.toLocalFile() : url.toString());
}

void DocumentsController::attachPath(const QString &path)
{
    const QFileInfo info(path);
    if (!info.isFile()) {
        emit errorOccurred(tr("%1 is not a file that can be attached.").arg(path));
        return;
    }
    const qint64 temporaryId = m_nextTemporaryId--;
    storage::Document pending;
    pending.id = DocumentId(temporaryId);
    pending.name = info.fileName();
    pending.sourcePath = info.absoluteFilePath();
    pending.byteSize = info.size();
    pending.status = storage::DocumentStatus::Ingesting;
    m_model->upsert(pending, -1.0);
    ingest(info.absoluteFilePath(), temporaryId);
}

void DocumentsController::ingest(const QString &path, qint64 temporaryId)
{
    const int generation = m_generation;
    QFuture<documents::IngestResult> future = m_ingestor->ingest(path);
    auto *watcher = new QFutureWatcher<documents::IngestResult>(this);
    connect(watcher,
            &QFutureWatcherBase::progressValueChanged,
            this,
            [this, watcher, temporaryId, generation](int value) {
                if (generation != m_generation)
                    return;
                const int max = watcher->progressMaximum();
                m_model->setProgress(temporaryId, max > 0 ? double(value) / max : -1.0);
            });
    // The result is taken from the watcher, not from a then() continuation: the ingestor keeps
    // the job's future and cancels it at shutdown, and Qt 6.4's QFuture::cancel() walks the
    // continuation chain, whose data is freed once the continuation has run (a crash on exit).
    connect(
        watcher, &QFutureWatcherBase::finished, this, [this, watcher, temporaryId, generation, path] {
            watcher->deleteLater();
            if (watcher->future().isCanceled() || watcher->future().resultCount() == 0)
                return;
            const documents::IngestResult result = watcher->result();
            auto failRow = [this, temporaryId, generation](const QString &message) {
                if (generation != m_generation)
                    return;
                if (auto d = m_model->document(temporaryId)) {
                    d->status = storage::DocumentStatus::Failed;
                    d->errorText = message;
                    m_model->upsert(*d, 1.0);
                }
            };
            if (!result) {
                failRow(result.error().message);
                emit errorOccurred(tr("%1 could not be read: %2")
                                       .arg(QFileInfo(path).fileName(), result.error().message));
                return;
            }
            m_chat->ensureConversation(QFileInfo(path).fileName())
                .then(this, [this, result, temporaryId, generation, failRow](ConversationId conv) {
                    if (!conv.isValid())
                        return;
                    const documents::IngestedDocument doc = *result;
                    m_storage
                        ->run([conv, doc](storage::StorageWorker &w) -> Result<storage::Document> {
                            storage::DocumentStore &store = w.documents();
                            FATHOM_TRY_ASSIGN(const std::optional<storage::Document> existing,
                                              store.findByHash(doc.contentHash));
                            DocumentId id;
                            if (existing) {
                                id = existing->id; // the same file dropped twice is stored once
                            } else {
                                storage::NewDocument nd;
                                nd.contentHash = doc.contentHash;
                                nd.name = doc.fileName;
                                nd.sourcePath = doc.path;
                                nd.mimeType = doc.content.mimeType;
                                nd.byteSize = doc.byteSize;
                                nd.status = storage::DocumentStatus::Ingesting;
                                FATHOM_TRY_ASSIGN(id, store.insertDocument(nd));
                                FATHOM_TRY(store.replacePages(id, toPages(doc.content)));
                                const bool partial = doc.content.pagesWithSource(
                                                         documents::PageTextSource::NoTextLayer)
                                                     > 0;
                                FATHOM_TRY(store.setStatus(id,
                                                           partial
                                                               ? storage::DocumentStatus::Partial
                                                               : storage::DocumentStatus::Ready));
                                // Counted by the loaded model's tokenizer in the ingestion job;
                                // none without a model (the panel then shows an estimate).
                                FATHOM_TRY(store.setTokenCount(id, doc.tokenCount));
                            }
                            FATHOM_TRY(store.linkToConversation(conv, id));
                            emit w.documentsChanged();
                            return store.document(id);
                        })
                        .then(this,
                              [this, temporaryId, generation, failRow](
                                  const Result<storage::Document> &stored) {
                                  if (!stored) {
                                      failRow(stored.error().message);
                                      emit errorOccurred(tr("The document could not be saved: %1")
                                                             .arg(stored.error().message));
                                      return;
                                  }
                                  if (generation == m_generation)
                                      m_model->replaceId(temporaryId, *stored);
                              });
                });
        });
    watcher->setFuture(future);
}

void DocumentsController::remove(qint64 documentId)
{
    if (documentId < 0) {
        m_model->remove(documentId); // a failed or running ingestion, never stored
        return;
    }
    const ConversationId conv(m_conversationId);
    m_model->remove(documentId);
    if (m_viewerId == documentId)
        closeViewer();
    m_storage
        ->run([conv, documentId](storage::StorageWorker &w) {
            return w.documents().unlinkFromConversation(conv, DocumentId(documentId));
        })
        .then(this, [this](const Result<void> &r) {
            if (!r)
                emit errorOccurred(
                    tr("The document could not be removed: %1").arg(r.error().message));
        });
}

bool DocumentsController::viewerIsPdf() const
{
    return m_viewerDoc.mimeType == u"application/pdf"
           || m_viewerDoc.name.endsWith(QStringLiteral(".pdf"), Qt::CaseInsensitive);
}

void DocumentsController::openViewer(qint64 documentId, int page, const QString &highlight)
{
    m_storage
        ->run([documentId](storage::StorageWorker &w) {
            return w.documents().document(DocumentId(documentId));
        })
        .then(this, [this, page, highlight](const Result<storage::Document> &doc) {
            if (!doc) {
                emit errorOccurred(
                    tr("The document could not be opened: %1").arg(doc.error().message));
                return;
            }
            m_viewerDoc = *doc;
            m_viewerId = doc->id.value;
            m_viewerHighlight = highlight;
            m_viewerPage = std::clamp(page, 1, std::max(1, doc->pageCount));
            emit viewerChanged();
            emit viewerPageChanged();
            loadViewerText();
        });
}

void DocumentsController::closeViewer()
{
    if (m_viewerId == 0)
        return;
    m_viewerId = 0;
    m_viewerDoc = {};
    m_viewerText.clear();
    emit viewerChanged();
    emit viewerPageChanged();
}

void DocumentsController::setViewerPage(int page)
{
    page = std::clamp(page, 1, std::max(1, m_viewerDoc.pageCount));
    if (page == m_viewerPage)
        return;
    m_viewerPage = page;
    emit viewerPageChanged();
    loadViewerText();
}

void DocumentsController::loadViewerText()
{
    const DocumentId id(m_viewerId);
    const int page = m_viewerPage;
    m_storage->run([id, page](storage::StorageWorker &w) { return w.documents().page(id, page); })
        .then(this, [this, id, page](const Result<storage::Page> &p) {
            if (id.value != m_viewerId || page != m_viewerPage)
                return;
            m_viewerText = p ? p->text : QString();
            emit viewerPageChanged();
        });
}

} // namespace fathom::ui
