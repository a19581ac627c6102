// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "chatcontroller.h"

#include "modelscontroller.h"
#include "settingscontroller.h"

#include "app/enginehost/enginehost.h"
#include "app/storage/storageservice.h"
#include "ui/models/documentlistmodel.h"

#include <QClipboard>
#include <QFutureWatcher>
#include <QGuiApplication>
#include <QLoggingCategory>
#include <QtConcurrent/QtConcurrentRun>

Q_LOGGING_CATEGORY(lcChat, "fathom.ui.chat")

namespace fathom::ui {

namespace {

QString userMessage(const Error &error)
{
    switch (error.kind) {
    case Error::Kind::OutOfMemory:
        return ChatController::tr("The model ran out of memory while answering. Remove documents "
                                  "from the conversation, lower the context length in Settings, "
                                  "or use more GPUs. (%1)")
            .arg(error.message);
    case Error::Kind::DiskFull:
        return ChatController::tr("The disk is full, so the answer could not be saved. Free some "
                                  "space; the text generated so far is kept. (%1)")
            .arg(error.message);
    case Error::Kind::Network:
    case Error::Kind::Timeout:
        return ChatController::tr("The model server could not be reached: %1. Check the server "
                                  "address in Models and try again.")
            .arg(error.message);
    case Error::Kind::Device:
        return ChatController::tr("The GPU reported an error: %1. Reload the model in Models.")
            .arg(error.message);
    case Error::Kind::Unavailable:
        return error.message;
    default:
        return ChatController::tr("The answer failed: %1").arg(error.message);
    }
}

storage::FinishReason toStorage(EngineFinish reason)
{
    switch (reason) {
    case EngineFinish::Stop:
        return storage::FinishReason::Stop;
    case EngineFinish::Length:
        return storage::FinishReason::Length;
    case EngineFinish::Cancelled:
        return storage::FinishReason::Cancelled;
    case EngineFinish::Error:
        return storage::FinishReason::Error;
    case EngineFinish::ToolCalls:
        return storage::FinishReason::ToolCalls;
    }
    return storage::FinishReason::Stop;
}

engine::chat::Role toEngineRole(storage::Role role)
{
    switch (role) {
    case storage::Role::System:
        return engine::chat::Role::System;
    case storage::Role::User:
        return engine::chat::Role::User;
    case storage::Role::Assistant:
        return engine::chat::Role::Assistant;
    case storage::Role::Tool:
        return engine::chat::Role::Tool;
    }
    return engine::chat::Role::User;
}

QString titleFrom(const QString &text)
{
    QString title = text.section(u'\n', 0, 0).simplified();
    if (title.size() > 60)
        title = title.left(57) + QStringLiteral("…");
    return title;
}

} // namespace

ChatController::ChatController(storage::StorageService *storage,
                               EngineHost *host,
                               ModelsController *models,
                               SettingsController *settings,
                               DocumentListModel *documents,
                               QObject *parent)
    : QObject(parent)
    , m_storage(storage)
    , m_host(host)
    , m_models(models)
    , m_settings(settings)
    , m_documents(documents)
    , m_messages(new MessageListModel(this))
    , m_reasoningMode(settings->reasoning())
{
    connect(m_host, &EngineHost::text, this, &ChatController::onText);
    connect(m_host, &EngineHost::finished, this, &ChatController::onFinished);
    connect(m_host, &EngineHost::failed, this, &ChatController::onFailed);
    connect(m_messages, &MessageListModel::countChanged, this, &ChatController::contextChanged);
    connect(m_messages, &MessageListModel::countChanged, this, &ChatController::countMessageTokens);
    connect(m_documents, &DocumentListModel::countChanged, this, &ChatController::contextChanged);
    connect(m_documents, &DocumentListModel::dataChanged, this, &ChatController::contextChanged);
    connect(m_models, &ModelsController::stateChanged, this, &ChatController::contextChanged);
    connect(m_settings, &SettingsController::changed, this, &ChatController::contextChanged);
}

void ChatController::setReasoningMode(const QString &mode)
{
    if (mode == m_reasoningMode || (mode != u"off" && mode != u"high" && mode != u"max"))
        return;
    m_reasoningMode = mode;
    m_settings->setReasoning(mode);
    emit reasoningModeChanged();
}

void ChatController::setSystemPrompt(const QString &prompt)
{
    if (prompt == m_conversation.systemPrompt)
        return;
    m_conversation.systemPrompt = prompt;
    emit systemPromptChanged();
    emit contextChanged();
    if (!m_conversation.id.isValid())
        return; // saved with the conversation when it is created
    const ConversationId id = m_conversation.id;
    m_storage
        ->run([id, prompt](storage::StorageWorker &w) {
            return w.conversations().setSystemPrompt(id, prompt);
        })
        .then(this, [this](const Result<void> &r) {
            if (!r)
                fail(tr("The system prompt could not be saved: %1").arg(r.error().message));
        });
}

int ChatController::estimateTokens(const QString &text)
{
    if (text.isEmpty())
        return 0;
    qsizetype wide = 0;
    for (QChar c : text) {
        if (c.unicode() >= 0x2E80)
            ++wide;
    }
    // CJK is about one token per character or two; the rest about 3.5 characters per token.
    return int(double(wide) / 1.5 + double(text.size() - wide) / 3.5) + 1;
}

int ChatController::systemTokens() const
{
    // A system prompt is short: counting it here costs microseconds.
    if (m_tokenizer)
        return int(m_tokenizer->encode(m_conversation.systemPrompt.toStdString()).size());
    return estimateTokens(m_conversation.systemPrompt);
}

int ChatController::documentTokens() const
{
    // Counted by the model's tokenizer at ingestion when there was one, else estimated.
    return int(std::min<qint64>(m_documents->totalTokens(), std::numeric_limits<int>::max()));
}

int ChatController::conversationTokens() const
{
    qint64 total = 0;
    for (const ChatMessage &m : m_messages->rows()) {
        const auto counted = m_messageTokens.constFind(m.message.id.value);
        total += (counted != m_messageTokens.cend() ? *counted : estimateTokens(m.message.content))
                 + 4;
    }
    return int(std::min<qint64>(total, std::numeric_limits<int>::max()));
}

void ChatController::setTokenizer(std::shared_ptr<const engine::tokenizer::Tokenizer> tokenizer)
{
    m_tokenizer = std::move(tokenizer);
    m_messageTokens.clear(); // counts belong to the tokenizer that made them
    emit contextChanged();
    countMessageTokens();
}

void ChatController::countMessageTokens()
{
    if (!m_tokenizer || m_counting)
        return;
    QList<QPair<qint64, QString>> pending;
    for (const ChatMessage &m : m_messages->rows()) {
        if (m.message.state != storage::MessageState::Streaming
            && !m_messageTokens.contains(m.message.id.value))
            pending.append({m.message.id.value, m.message.content});
    }
    if (pending.isEmpty())
        return;
    // Long conversations hold megabytes of text: counted on a pool thread, never the GUI's.
    m_counting = true;
    auto *watcher = new QFutureWatcher<QList<QPair<qint64, int>>>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, tok = m_tokenizer] {
        watcher->deleteLater();
        m_counting = false;
        if (tok != m_tokenizer)
            return countMessageTokens(); // the model changed meanwhile
        for (const auto &[id, tokens] : watcher->result())
            m_messageTokens.insert(id, tokens);
        emit contextChanged();
        countMessageTokens(); // messages that finished meanwhile
    });
    watcher->setFuture(QtConcurrent::run([tok = m_tokenizer, pending] {
        QList<QPair<qint64, int>> counts;
        counts.reserve(pending.size());
        for (const auto &[id, text] : pending)
            counts.append({id, int(tok->encode(text.toStdString()).size())});
        return counts;
    }));
}

int ChatController::contextLimit() const
{
    return m_models->contextLimit();
}

void ChatController::setLoading(bool loading)
{
    if (loading == m_loading)
        return;
    m_loading = loading;
    emit loadingChanged();
}

void ChatController::fail(const QString &message)
{
    qCWarning(lcChat).noquote() << message;
    emit errorOccurred(message);
}

void ChatController::open(qint64 conversationId)
{
    if (conversationId == m_conversation.id.value && conversationId != 0)
        return;
    ++m_generation;
    m_messages->clear();
    m_conversation = {};
    emit conversationChanged();
    emit systemPromptChanged();
    emit contextChanged();
    if (conversationId <= 0)
        return;
    const int generation = m_generation;
    setLoading(true);
    m_storage->conversation(ConversationId(conversationId))
        .then(this, [this, generation](const Result<storage::Conversation> &c) {
            if (generation != m_generation)
                return;
            if (!c) {
                setLoading(false);
                fail(tr("The conversation could not be opened: %1").arg(c.error().message));
                return;
            }
            m_conversation = *c;
            emit conversationChanged();
            emit systemPromptChanged();
            reload();
        });
}

void ChatController::reload()
{
    const ConversationId conv = m_conversation.id;
    if (!conv.isValid())
        return;
    const int generation = m_generation;
    setLoading(true);
    m_storage
        ->run([conv](storage::StorageWorker &w) -> Result<QList<ChatMessage>> {
            // One query for every branch gives the siblings of each message on the path.
            FATHOM_TRY_ASSIGN(const QList<storage::Message> all, w.messages().allMessages(conv));
            FATHOM_TRY_ASSIGN(const QList<storage::Message> path, w.messages().activePath(conv));
            QHash<qint64, QList<MessageId>> children;
            for (const storage::Message &m : all)
                children[m.parentId.value].append(m.id);
            QList<ChatMessage> rows;
            rows.reserve(path.size());
            for (const storage::Message &m : path)
                rows.append(ChatMessage{m, children.value(m.parentId.value), -1});
            return rows;
        })
        .then(this, [this, generation](const Result<QList<ChatMessage>> &rows) {
            if (generation != m_generation)
                return;
            setLoading(false);
            if (!rows) {
                fail(tr("The messages could not be loaded: %1").arg(rows.error().message));
                return;
            }
            m_messages->reset(*rows);
            emit contextChanged();
        });
}

QFuture<ConversationId> ChatController::ensureConversation(const QString &titleHint)
{
    if (m_conversation.id.isValid())
        return QtFuture::makeReadyFuture(m_conversation.id);
    storage::NewConversation nc;
    nc.title = titleFrom(titleHint);
    nc.systemPrompt = m_conversation.systemPrompt;
    nc.modelId = m_models->modelId();
    const int generation = m_generation;
    return m_storage->createConversation(nc)
        .then(this, [this, nc, generation](const Result<ConversationId> &id) -> ConversationId {
            if (!id) {
                fail(tr("The conversation could not be created: %1").arg(id.error().message));
                return ConversationId();
            }
            storage::Conversation c;
            c.id = *id;
            c.title = nc.title;
            c.systemPrompt = nc.systemPrompt;
            c.modelId = nc.modelId;
            c.createdAt = c.updatedAt = QDateTime::currentDateTimeUtc();
            if (generation == m_generation) {
                m_conversation = c;
                emit conversationChanged();
            }
            emit conversationCreated(c);
            return *id;
        });
}

bool ChatController::send(const QString &text)
{
    const QString trimmed = text.trimmed();
    if (trimmed.isEmpty() || generating())
        return false;
    if (!m_models->ready()) {
        fail(m_models->state() == u"loading" || m_models->state() == u"preparing"
                 ? tr("The model is still loading. Your message is kept; send it when loading "
                      "has finished.")
                 : tr("No model is loaded. Open Models and load one (or the demo model); your "
                      "message is kept."));
        return false;
    }
    // Marks the chat busy at once, so a second Enter does not send twice.
    m_answerId = MessageId(-1);
    emit generatingChanged();
    const int generation = m_generation;
    ensureConversation(trimmed).then(this, [this, trimmed, generation](ConversationId conv) {
        if (!conv.isValid() || generation != m_generation) {
            m_answerId = {};
            emit generatingChanged();
            return;
        }
        const MessageId parent = m_messages->rowCount() > 0
                                     ? m_messages->at(m_messages->rowCount() - 1).message.id
                                     : MessageId();
        storage::NewMessage nm;
        nm.role = storage::Role::User;
        nm.content = trimmed;
        m_storage->appendMessage(conv, parent, nm)
            .then(this, [this, nm, conv, generation](const Result<MessageId> &id) {
                if (!id) {
                    m_answerId = {};
                    emit generatingChanged();
                    fail(tr("Your message could not be saved: %1").arg(id.error().message));
                    return;
                }
                if (generation != m_generation)
                    return;
                storage::Message m;
                m.id = *id;
                m.conversationId = conv;
                m.role = storage::Role::User;
                m.content = nm.content;
                m.createdAt = QDateTime::currentDateTimeUtc();
                m_messages->append(ChatMessage{m, {m.id}, -1});
                emit conversationTouched(conv.value);
                startAnswer(*id);
            });
    });
    return true;
}

void ChatController::startAnswer(MessageId parent)
{
    const ConversationId conv = m_conversation.id;
    const int generation = m_generation;
    m_answerId = MessageId(-1);
    emit generatingChanged();
    m_storage->beginAnswer(conv, parent, m_models->modelId())
        .then(this, [this, conv, generation](const Result<MessageId> &id) {
            if (!id) {
                m_answerId = {};
                emit generatingChanged();
                fail(tr("The answer could not be started: %1").arg(id.error().message));
                return;
            }
            storage::Message m;
            m.id = *id;
            m.conversationId = conv;
            m.role = storage::Role::Assistant;
            m.modelId = m_models->modelId();
            m.state = storage::MessageState::Streaming;
            m.createdAt = QDateTime::currentDateTimeUtc();
            if (generation == m_generation)
                m_messages->append(ChatMessage{m, {m.id}, -1});
            QList<storage::Message> path;
            for (const ChatMessage &row : m_messages->rows()) {
                if (row.message.id == m.id)
                    break;
                path.append(row.message);
            }
            m_answerId = *id;
            m_answerConversation = conv;
            gatherAndSubmit(*id, path);
        });
}

void ChatController::gatherAndSubmit(MessageId answer, const QList<storage::Message> &path)
{
    m_answerId = answer;
    emit generatingChanged();
    const ConversationId conv = m_conversation.id;
    m_storage
        ->run([conv](storage::StorageWorker &w) -> Result<QString> {
            // The documents' text, page by page, so the model can cite pages.
            FATHOM_TRY_ASSIGN(const QList<storage::Document> docs,
                              w.documents().conversationDocuments(conv));
            QString text;
            for (const storage::Document &d : docs) {
                if (d.status != storage::DocumentStatus::Ready
                    && d.status != storage::DocumentStatus::Partial)
                    continue;
                FATHOM_TRY_ASSIGN(const QList<storage::Page> pages, w.documents().pages(d.id));
                text += QStringLiteral("<document name=\"%1\">\n").arg(d.name);
                for (const storage::Page &p : pages)
                    text += QStringLiteral("[page %1]\n%2\n").arg(p.pageNumber).arg(p.text);
                text += QStringLiteral("</document>\n");
            }
            return text;
        })
        .then(this, [this, path, answer](const Result<QString> &documents) {
            if (answer != m_answerId)
                return; // stopped meanwhile
            if (!documents) {
                onFailed(0, documents.error());
                return;
            }
            submit(answer, path, *documents);
        });
}

void ChatController::submit(MessageId answerId,
                            const QList<storage::Message> &path,
                            const QString &documents)
{
    engine::GenerationRequest request;
    QString system = m_conversation.systemPrompt;
    if (!documents.isEmpty()) {
        if (!system.isEmpty())
            system += QStringLiteral("\n\n");
        system += tr("The user attached these documents. Cite pages as [document, page N].")
                  + QStringLiteral("\n\n") + documents;
    }
    if (!system.isEmpty()) {
        engine::chat::Message systemMessage;
        systemMessage.role = engine::chat::Role::System;
        systemMessage.content = system.toStdString();
        request.messages.push_back(std::move(systemMessage));
    }
    for (const storage::Message &m : path) {
        if (m.state == storage::MessageState::Failed || m.content.isEmpty())
            continue;
        engine::chat::Message em;
        em.role = toEngineRole(m.role);
        em.content = m.content.toStdString();
        request.messages.push_back(std::move(em));
    }
    if (m_reasoningMode == u"off") {
        request.thinkingMode = engine::chat::ThinkingMode::Chat;
    } else {
        request.thinkingMode = engine::chat::ThinkingMode::Thinking;
        request.reasoningEffort = m_reasoningMode == u"max" ? engine::chat::ReasoningEffort::Max
                                                            : engine::chat::ReasoningEffort::High;
    }
    request.sampling.temperature = float(m_settings->temperature());
    request.sampling.topP = float(m_settings->topP());
    request.sampling.topK = m_settings->topK();
    request.sampling.minP = float(m_settings->minP());
    request.maxTokens = m_settings->maxTokens();
    request.model = m_models->modelId().toStdString();
    m_answerId = answerId;
    m_firstReasoningMs = m_firstContentMs = -1;
    m_answerClock.start();
    m_requestId = m_host->submit(std::move(request));
    emit generatingChanged();
}

void ChatController::onText(quint64 id, const QString &reasoning, const QString &content)
{
    if (id != m_requestId || !m_answerId.isValid())
        return;
    if (!reasoning.isEmpty() && m_firstReasoningMs < 0)
        m_firstReasoningMs = m_answerClock.elapsed();
    if (!content.isEmpty() && m_firstContentMs < 0) {
        m_firstContentMs = m_answerClock.elapsed();
        if (m_firstReasoningMs >= 0)
            m_messages->setThinkingSeconds(m_answerId,
                                           (m_firstContentMs - m_firstReasoningMs) / 1000.0);
    }
    m_storage->appendAnswer(m_answerId, content, reasoning);
    m_messages->appendText(m_answerId, reasoning, content);
}

void ChatController::onFinished(quint64 id, EngineFinish reason, const EngineStats &stats)
{
    if (id != m_requestId)
        return;
    storage::MessageStats s;
    s.finishReason = toStorage(reason);
    s.promptTokens = stats.promptTokens;
    s.completionTokens = stats.completionTokens;
    if (stats.timeToFirstTokenMs > 0)
        s.ttftMs = stats.timeToFirstTokenMs;
    if (stats.tokensPerSecond > 0)
        s.tokensPerSecond = stats.tokensPerSecond;
    s.modelId = stats.modelId; // the model that produced it (a remote server's reported id)
    if (m_firstReasoningMs >= 0 && m_firstContentMs < 0)
        m_messages->setThinkingSeconds(m_answerId,
                                       (m_answerClock.elapsed() - m_firstReasoningMs) / 1000.0);
    finishAnswer(s);
}

void ChatController::onFailed(quint64 id, const Error &error)
{
    if (id != m_requestId && id != 0)
        return;
    storage::MessageStats s;
    s.finishReason = storage::FinishReason::Error;
    s.error = error;
    const QString message = userMessage(error);
    finishAnswer(s);
    fail(message);
}

void ChatController::finishAnswer(const storage::MessageStats &stats)
{
    const MessageId answer = m_answerId;
    m_requestId = 0;
    m_answerId = {};
    emit generatingChanged();
    if (!answer.isValid())
        return;
    const int row = m_messages->rowOf(answer);
    if (row >= 0) {
        ChatMessage updated = m_messages->at(row);
        storage::Message &m = updated.message;
        m.finishReason = stats.finishReason;
        m.promptTokens = stats.promptTokens;
        m.completionTokens = stats.completionTokens;
        m.ttftMs = stats.ttftMs;
        m.tokensPerSecond = stats.tokensPerSecond;
        m.state = stats.error ? storage::MessageState::Failed : storage::MessageState::Complete;
        if (stats.error) {
            m.errorKind = stats.error->kind;
            m.errorText = userMessage(*stats.error);
        }
        m_messages->update(updated);
    }
    m_storage->finishAnswer(answer, stats).then(this, [this, answer](const Result<void> &r) {
        if (!r)
            fail(tr("The answer could not be saved: %1").arg(r.error().message));
        emit answerFinished(answer.value);
    });
    emit conversationTouched(m_answerConversation.value);
    emit contextChanged();
    countMessageTokens(); // the answer is final now
}

void ChatController::stop()
{
    if (m_requestId != 0) {
        m_host->cancel(m_requestId);
        return;
    }
    if (m_answerId.isValid()) {
        // Still gathering context: nothing was submitted yet.
        storage::MessageStats s;
        s.finishReason = storage::FinishReason::Cancelled;
        finishAnswer(s);
    }
}

void ChatController::regenerate(int row)
{
    if (generating() || row < 0 || row >= m_messages->rowCount())
        return;
    const ChatMessage old = m_messages->at(row);
    if (old.message.role != storage::Role::Assistant)
        return;
    if (!m_models->ready()) {
        fail(tr("No model is loaded. Open Models and load one to regenerate."));
        return;
    }
    m_answerId = MessageId(-1);
    emit generatingChanged();
    const int generation = m_generation;
    m_storage->regenerate(old.message.id, m_models->modelId())
        .then(this, [this, row, old, generation](const Result<MessageId> &id) {
            if (!id || generation != m_generation) {
                m_answerId = {};
                emit generatingChanged();
                if (!id)
                    fail(tr("Could not regenerate: %1").arg(id.error().message));
                return;
            }
            QList<storage::Message> path;
            for (int i = 0; i < row; ++i)
                path.append(m_messages->at(i).message);
            m_messages->truncate(row);
            ChatMessage fresh;
            fresh.message.id = *id;
            fresh.message.conversationId = old.message.conversationId;
            fresh.message.parentId = old.message.parentId;
            fresh.message.role = storage::Role::Assistant;
            fresh.message.modelId = m_models->modelId();
            fresh.message.state = storage::MessageState::Streaming;
            fresh.siblings = old.siblings;
            fresh.siblings.append(*id);
            m_messages->append(fresh);
            m_answerConversation = old.message.conversationId;
            gatherAndSubmit(*id, path);
        });
}

bool ChatController::editMessage(int row, const QString &text)
{
    if (generating() || row < 0 || row >= m_messages->rowCount() || text.trimmed().isEmpty())
        return false;
    const ChatMessage old = m_messages->at(row);
    if (old.message.role != storage::Role::User)
        return false;
    if (!m_models->ready()) {
        fail(tr("No model is loaded. Open Models and load one; your edit is kept."));
        return false;
    }
    m_answerId = MessageId(-1);
    emit generatingChanged();
    const int generation = m_generation;
    m_storage->editMessage(old.message.id, text.trimmed())
        .then(this, [this, row, old, text, generation](const Result<MessageId> &id) {
            if (!id || generation != m_generation) {
                m_answerId = {};
                emit generatingChanged();
                if (!id)
                    fail(tr("Your edit could not be saved: %1").arg(id.error().message));
                return;
            }
            m_messages->truncate(row);
            ChatMessage fresh = old;
            fresh.message.id = *id;
            fresh.message.content = text.trimmed();
            fresh.siblings.append(*id);
            m_messages->append(fresh);
            startAnswer(*id);
        });
    return true;
}

void ChatController::switchBranch(int row, int delta)
{
    if (generating() || row < 0 || row >= m_messages->rowCount())
        return;
    const ChatMessage &current = m_messages->at(row);
    const int index = int(current.siblings.indexOf(current.message.id)) + delta;
    if (index < 0 || index >= current.siblings.size())
        return;
    m_storage->selectBranch(current.siblings.at(index)).then(this, [this](const Result<void> &r) {
        if (!r) {
            fail(tr("Could not switch to that branch: %1").arg(r.error().message));
            return;
        }
        reload();
    });
}

void ChatController::copyMessage(int row)
{
    if (row >= 0 && row < m_messages->rowCount())
        copyText(m_messages->at(row).message.content);
}

void ChatController::copyText(const QString &text)
{
    if (QClipboard *clipboard = QGuiApplication::clipboard())
        clipboard->setText(text);
}

void ChatController::shutdown()
{
    if (!m_answerId.isValid())
        return;
    if (m_requestId != 0)
        m_host->cancel(m_requestId);
    const MessageId answer = m_answerId;
    storage::MessageStats s;
    s.finishReason = storage::FinishReason::Cancelled;
    m_requestId = 0;
    m_answerId = {};
    // Exit path only: the storage thread is independent of this one, so waiting cannot deadlock,
    // and the partial answer must be on disk before the process ends.
    QFuture<Result<void>> saved = m_storage->finishAnswer(answer, s);
    saved.waitForFinished();
}

} // namespace fathom::ui
