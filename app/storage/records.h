// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Plain value types read from and written to the database. Times are UTC QDateTimes stored as
  milliseconds since the epoch. Every enum here is persisted as an integer.
*/

#include "app/core/error.h"
#include "app/core/id.h"

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

namespace fathom::storage {

// NOTE: persisted in SQLite (messages.role), never reuse values.
enum class Role { System = 0, User = 1, Assistant = 2, Tool = 3 };

// NOTE: persisted in SQLite (messages.finish_reason), never reuse values.
enum class FinishReason { None = 0, Stop = 1, Length = 2, Cancelled = 3, Error = 4, ToolCalls = 5 };

// NOTE: persisted in SQLite (messages.state), never reuse values.
enum class MessageState {
    Complete = 0,
    Streaming = 1,   // an answer being generated; persisted at least every second
    Interrupted = 2, // was Streaming when the app stopped (crash, kill): text kept as far as saved
    Failed = 3,      // generation failed; error_kind / error_text say why
};

// NOTE: persisted in SQLite (documents.status), never reuse values.
enum class DocumentStatus {
    Pending = 0,   // recorded, not yet parsed
    Ingesting = 1, // being parsed
    Ready = 2,     // pages stored
    Failed = 3,    // error_kind / error_text say why; no usable pages
    Partial = 4,   // pages stored, but some had no text layer (see PageFlag::NoTextLayer)
};

// NOTE: persisted in SQLite (document_pages.flags), never reuse values.
enum PageFlag : int {
    PageFlagNone = 0,
    PageFlagNoTextLayer = 1, // scanned page without text and no OCR available
    PageFlagOcr = 2,         // text comes from OCR
};

QString roleName(Role role); // "system", "user", "assistant", "tool"
std::optional<Role> roleFromName(const QString &text);
QString finishReasonName(
    FinishReason reason); // "", "stop", "length", "cancelled", "error", "tool_calls"
FinishReason finishReasonFromName(const QString &text);
QString messageStateName(MessageState state); // "complete", "streaming", "interrupted", "failed"
MessageState messageStateFromName(const QString &text);
QString documentStatusName(
    DocumentStatus status); // "pending", "ingesting", "ready", "failed", "partial"

struct Folder
{
    FolderId id;
    FolderId parentId; // invalid: top level
    QString name;
    QDateTime createdAt;
};

struct Conversation
{
    ConversationId id;
    QString title;
    QDateTime createdAt;
    QDateTime updatedAt;
    bool pinned = false;
    bool archived = false;
    QString modelId;
    QString systemPrompt;
    QJsonObject settings; // generation settings (temperature, top_p, max_tokens, ...)
    FolderId folderId;    // invalid: no folder
    QStringList tags;
    MessageId activeRootId;
};

// What a caller supplies to create a conversation.
struct NewConversation
{
    QString title;
    QString modelId;
    QString systemPrompt;
    QJsonObject settings;
    FolderId folderId;
    QDateTime createdAt; // invalid: now
};

struct Message
{
    MessageId id;
    ConversationId conversationId;
    MessageId parentId;      // invalid: a root
    MessageId activeChildId; // invalid: a leaf (or no child chosen)
    Role role = Role::User;
    QString content;
    QString reasoning;
    QString modelId;
    qint64 promptTokens = 0;
    qint64 completionTokens = 0;
    qint64 reasoningTokens = 0;
    std::optional<double> ttftMs;
    std::optional<double> tokensPerSecond;
    FinishReason finishReason = FinishReason::None;
    MessageState state = MessageState::Complete;
    std::optional<Error::Kind> errorKind;
    QString errorText;
    QDateTime createdAt;
    QDateTime updatedAt;
};

// What a caller supplies to add a message (ids, active child and times are set by the store).
struct NewMessage
{
    Role role = Role::User;
    QString content;
    QString reasoning;
    QString modelId;
    MessageState state = MessageState::Complete;
    QDateTime createdAt; // invalid: now
};

// The figures of a finished (or failed) answer.
struct MessageStats
{
    FinishReason finishReason = FinishReason::Stop;
    qint64 promptTokens = 0;
    qint64 completionTokens = 0;
    qint64 reasoningTokens = 0;
    std::optional<double> ttftMs;
    std::optional<double> tokensPerSecond;
    std::optional<Error> error; // set: state becomes Failed
    QString modelId;            // the model that produced it; empty: keep the one at the start
};

struct Document
{
    DocumentId id;
    QString contentHash; // lower-case hex SHA-256 of the file bytes
    QString name;
    QString sourcePath;
    QString mimeType;
    qint64 byteSize = 0;
    int pageCount = 0;
    qint64 charCount = 0;
    std::optional<qint64> tokenCount;
    DocumentStatus status = DocumentStatus::Pending;
    std::optional<Error::Kind> errorKind;
    QString errorText;
    QDateTime createdAt;
    QDateTime updatedAt;
};

struct NewDocument
{
    QString contentHash;
    QString name;
    QString sourcePath;
    QString mimeType;
    qint64 byteSize = 0;
    DocumentStatus status = DocumentStatus::Pending;
};

// One page of text as an ingestion job produces it.
struct PageText
{
    int pageNumber = 0; // 1-based
    QString text;
    int flags = PageFlagNone;
};

struct Page
{
    DocumentId documentId;
    int pageNumber = 0;
    QString text;
    qint64 charOffset = 0; // in the document's text (pages concatenated in order), UTF-16 units
    qint64 charCount = 0;
    int flags = PageFlagNone;
};

struct KvSnapshot
{
    KvSnapshotId id;
    QString filePath;
    QString modelFingerprint;
    qint64 tokenCount = 0;
    QString prefixHash;
    qint64 byteSize = 0;
    QDateTime createdAt;
    QDateTime lastUsedAt;
    ConversationId conversationId;
    DocumentId documentId;
};

// A full-text search hit: either a message or a document page.
struct SearchHit
{
    enum class Kind { Message, Page };
    Kind kind = Kind::Message;
    double rank = 0; // bm25: lower is better
    QString snippet; // plain text, matches wrapped in the markers of SearchOptions
    // Kind::Message
    ConversationId conversationId;
    QString conversationTitle;
    MessageId messageId;
    Role role = Role::User;
    // Kind::Page
    DocumentId documentId;
    QString documentName;
    int pageNumber = 0;
};

struct SearchOptions
{
    bool messages = true;
    bool pages = true;
    int limit = 50;
    QString highlightOpen = QStringLiteral("\u00ab");  // «
    QString highlightClose = QStringLiteral("\u00bb"); // »
    QString ellipsis = QStringLiteral("\u2026");
    int snippetTokens = 16;
    DocumentId documentId;         // valid: only this document's pages
    ConversationId conversationId; // valid: only this conversation's messages
};

} // namespace fathom::storage
