// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "records.h"

namespace fathom::storage {

QString roleName(Role role)
{
    switch (role) {
    case Role::System:
        return QStringLiteral("system");
    case Role::User:
        return QStringLiteral("user");
    case Role::Assistant:
        return QStringLiteral("assistant");
    case Role::Tool:
        return QStringLiteral("tool");
    }
    return QStringLiteral("user");
}

std::optional<Role> roleFromName(const QString &text)
{
    for (Role r : {Role::System, Role::User, Role::Assistant, Role::Tool}) {
        if (roleName(r) == text)
            return r;
    }
    return std::nullopt;
}

QString finishReasonName(FinishReason reason)
{
    switch (reason) {
    case FinishReason::None:
        return QString();
    case FinishReason::Stop:
        return QStringLiteral("stop");
    case FinishReason::Length:
        return QStringLiteral("length");
    case FinishReason::Cancelled:
        return QStringLiteral("cancelled");
    case FinishReason::Error:
        return QStringLiteral("error");
    case FinishReason::ToolCalls:
        return QStringLiteral("tool_calls");
    }
    return QString();
}

FinishReason finishReasonFromName(const QString &text)
{
    for (FinishReason r : {FinishReason::Stop,
                           FinishReason::Length,
                           FinishReason::Cancelled,
                           FinishReason::Error,
                           FinishReason::ToolCalls}) {
        if (finishReasonName(r) == text)
            return r;
    }
    return FinishReason::None;
}

QString messageStateName(MessageState state)
{
    switch (state) {
    case MessageState::Complete:
        return QStringLiteral("complete");
    case MessageState::Streaming:
        return QStringLiteral("streaming");
    case MessageState::Interrupted:
        return QStringLiteral("interrupted");
    case MessageState::Failed:
        return QStringLiteral("failed");
    }
    return QStringLiteral("complete");
}

MessageState messageStateFromName(const QString &text)
{
    for (MessageState s :
         {MessageState::Streaming, MessageState::Interrupted, MessageState::Failed}) {
        if (messageStateName(s) == text)
            return s;
    }
    return MessageState::Complete;
}

QString documentStatusName(DocumentStatus status)
{
    switch (status) {
    case DocumentStatus::Pending:
        return QStringLiteral("pending");
    case DocumentStatus::Ingesting:
        return QStringLiteral("ingesting");
    case DocumentStatus::Ready:
        return QStringLiteral("ready");
    case DocumentStatus::Failed:
        return QStringLiteral("failed");
    case DocumentStatus::Partial:
        return QStringLiteral("partial");
    }
    return QStringLiteral("pending");
}

} // namespace fathom::storage
