// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "engine/core/error.h"
#include "engine/core/expected.h"

#include <QString>

namespace fathom {

/**
  The app-level error value: what went wrong in words a user can act on (translated where it is
  built with tr()), naming the object (file, conversation, document) and the underlying library's
  message. Engine errors are converted at the EngineHost thread boundary with fromEngine().
*/
struct Error
{
    // NOTE: persisted in SQLite (documents.error_kind, messages.error_kind); never reuse values.
    enum class Kind {
        Internal = 0,
        InvalidArgument = 1,
        Io = 2,
        Format = 3,
        Unsupported = 4,
        OutOfMemory = 5,
        Device = 6,
        Cancelled = 7,
        Network = 8,
        Unavailable = 9,
        Database = 10,
        Timeout = 11,
        Crashed = 12, // an out-of-process helper crashed
        DiskFull = 13,
    };

    Kind kind = Kind::Internal;
    QString message;

    Error() = default;
    Error(Kind k, QString msg)
        : kind(k)
        , message(std::move(msg))
    {}

    static Error fromEngine(const engine::Error &e)
    {
        return Error(static_cast<Kind>(static_cast<int>(e.kind)), QString::fromStdString(e.message));
    }
};

template<typename T = void>
using Result = Expected<T, Error>;

inline Unexpected<Error> fail(Error::Kind kind, QString message)
{
    return Unexpected<Error>(Error(kind, std::move(message)));
}

} // namespace fathom
