// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include <QDebug>
#include <QHashFunctions>
#include <QtGlobal>

#include <compare>

namespace fathom {

/**
  A strongly typed row id (conversation, message, document...), so that a DocumentId cannot be
  passed where a MessageId is expected. 0 means "none"; SQLite rowids start at 1.
*/
template<typename Tag>
struct Id
{
    qint64 value = 0;

    constexpr Id() = default;
    constexpr explicit Id(qint64 v)
        : value(v)
    {}
    constexpr bool isValid() const { return value > 0; }
    constexpr auto operator<=>(const Id &) const = default;
};

template<typename Tag>
size_t qHash(Id<Tag> id, size_t seed = 0) noexcept
{
    return ::qHash(id.value, seed);
}

template<typename Tag>
QDebug operator<<(QDebug debug, Id<Tag> id)
{
    QDebugStateSaver saver(debug);
    debug.nospace() << "Id(" << id.value << ')';
    return debug;
}

struct ConversationIdTag;
struct MessageIdTag;
struct DocumentIdTag;
struct FolderIdTag;
struct KvSnapshotIdTag;
using ConversationId = Id<ConversationIdTag>;
using MessageId = Id<MessageIdTag>;
using DocumentId = Id<DocumentIdTag>;
using FolderId = Id<FolderIdTag>;
using KvSnapshotId = Id<KvSnapshotIdTag>;

} // namespace fathom
