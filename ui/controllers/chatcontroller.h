// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/enginehost/enginetypes.h"
#include "app/storage/records.h"
#include "engine/tokenizer/tokenizer.h"
#include "ui/models/messagelistmodel.h"

#include <QElapsedTimer>
#include <QFuture>
#include <QHash>
#include <QObject>
#include <QQmlEngine>

#include <memory>

namespace fathom {
class EngineHost;
namespace storage {
class StorageService;
}
} // namespace fathom

namespace fathom::ui {

class ModelsController;
class SettingsController;
class DocumentListModel;

/**
  The chat view of the open conversation: its active path (MessageListModel), sending, stop,
  regenerate, edit (both make branches), branch switching, copying, the reasoning mode, the
  per-conversation system prompt and the context meter.

  Generation: the controller gathers the context first (path, system prompt, documents' text,
  from the storage thread), submits to EngineHost, streams the coalesced text into the model and
  into storage (buffered there, saved at least every 500 ms), and records the figures at the end.
  Failures become a message on the answer and a notification, never answer text.

  Thread: GUI.
*/
class ChatController : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("owned by AppController")

    Q_PROPERTY(MessageListModel *messages READ messages CONSTANT)
    Q_PROPERTY(qint64 conversationId READ conversationId NOTIFY conversationChanged)
    Q_PROPERTY(QString title READ title NOTIFY conversationChanged)
    Q_PROPERTY(bool generating READ generating NOTIFY generatingChanged)
    Q_PROPERTY(bool loading READ loading NOTIFY loadingChanged)
    Q_PROPERTY(
        QString reasoningMode READ reasoningMode WRITE setReasoningMode NOTIFY reasoningModeChanged)
    Q_PROPERTY(
        QString systemPrompt READ systemPrompt WRITE setSystemPrompt NOTIFY systemPromptChanged)
    Q_PROPERTY(int systemTokens READ systemTokens NOTIFY contextChanged)
    Q_PROPERTY(int documentTokens READ documentTokens NOTIFY contextChanged)
    Q_PROPERTY(int conversationTokens READ conversationTokens NOTIFY contextChanged)
    Q_PROPERTY(int contextLimit READ contextLimit NOTIFY contextChanged)

public:
    ChatController(storage::StorageService *storage,
                   EngineHost *host,
                   ModelsController *models,
                   SettingsController *settings,
                   DocumentListModel *documents,
                   QObject *parent = nullptr);

    MessageListModel *messages() { return m_messages; }
    qint64 conversationId() const { return m_conversation.id.value; }
    QString title() const { return m_conversation.title; }
    bool generating() const { return m_requestId != 0 || m_answerId.value != 0; }
    bool loading() const { return m_loading; }
    QString reasoningMode() const { return m_reasoningMode; }
    void setReasoningMode(const QString &mode);
    QString systemPrompt() const { return m_conversation.systemPrompt; }
    void setSystemPrompt(const QString &prompt);
    int systemTokens() const;
    int documentTokens() const;
    int conversationTokens() const;
    int contextLimit() const;

    // Opens a conversation (0: a new, empty chat; it is created on the first send).
    Q_INVOKABLE void open(qint64 conversationId);
    // Sends a user message. False (and the text stays in the composer) when it cannot be sent.
    Q_INVOKABLE bool send(const QString &text);
    Q_INVOKABLE void stop();
    Q_INVOKABLE void regenerate(int row);
    Q_INVOKABLE bool editMessage(int row, const QString &text);
    Q_INVOKABLE void switchBranch(int row, int delta);
    Q_INVOKABLE void copyMessage(int row);
    Q_INVOKABLE void copyText(const QString &text);
    // The conversation, created if this is a new chat (documents attached before the first
    // message need one).
    QFuture<ConversationId> ensureConversation(const QString &titleHint);

    // Before exit: ends a running answer as cancelled, keeping its text, and waits for storage.
    void shutdown();

    // Rough token count when no tokenizer is at hand (about 3.5 characters per token in
    // English prose, fewer in code and CJK).
    static int estimateTokens(const QString &text);

    // The loaded model's tokenizer (null: none). With one, finished messages are counted exactly
    // for the context meter, on a pool thread, and cached by message id; a message still
    // streaming, or not counted yet, is estimated.
    void setTokenizer(std::shared_ptr<const engine::tokenizer::Tokenizer> tokenizer);

signals:
    void conversationChanged();
    void conversationCreated(const fathom::storage::Conversation &conversation);
    void conversationTouched(qint64 conversationId);
    void generatingChanged();
    void loadingChanged();
    void reasoningModeChanged();
    void systemPromptChanged();
    void contextChanged();
    void errorOccurred(const QString &message);
    void answerFinished(qint64 messageId);

private:
    void reload();
    void startAnswer(MessageId parent);
    void gatherAndSubmit(MessageId answer, const QList<storage::Message> &path);
    void submit(MessageId answerId, const QList<storage::Message> &path, const QString &documents);
    void onText(quint64 id, const QString &reasoning, const QString &content);
    void onFinished(quint64 id, EngineFinish reason, const EngineStats &stats);
    void onFailed(quint64 id, const Error &error);
    void finishAnswer(const storage::MessageStats &stats);
    void setLoading(bool loading);
    void fail(const QString &message);
    void countMessageTokens();

    storage::StorageService *m_storage;
    EngineHost *m_host;
    ModelsController *m_models;
    SettingsController *m_settings;
    DocumentListModel *m_documents;
    MessageListModel *m_messages;

    std::shared_ptr<const engine::tokenizer::Tokenizer> m_tokenizer;
    QHash<qint64, int> m_messageTokens; // message id -> exact count (finished messages)
    bool m_counting = false;

    storage::Conversation m_conversation;
    QString m_reasoningMode;
    bool m_loading = false;
    int m_documentChars = 0;

    // The running answer.
    quint64 m_requestId = 0;
    MessageId m_answerId;
    ConversationId m_answerConversation;
    QElapsedTimer m_answerClock;
    qint64 m_firstReasoningMs = -1;
    qint64 m_firstContentMs = -1;
    int m_generation = 0; // bumps on open(), so late storage results for another chat are dropped
};

} // namespace fathom::ui
