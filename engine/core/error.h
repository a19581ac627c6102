// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "expected.h"

#include <string>

namespace fathom::engine {

/**
  The engine's error value (Qt-free). EngineHost converts it to the app-level fathom::Error at
  the thread boundary. `message` says what went wrong in words a user can act on and names the
  object (file, tensor, field, device); `where` is the code location or operation, for logs.
*/
struct Error
{
    // NOTE: values may be persisted in logs and messages; never reuse them.
    enum class Kind {
        Internal = 0,
        InvalidArgument = 1, // the caller passed something impossible
        Io = 2,              // a file could not be opened, read, mapped or written
        Format = 3,          // a file or message is malformed (config, safetensors, JSON, SSE)
        Unsupported = 4,     // valid, but not something this build can do
        OutOfMemory = 5,     // host or device allocation failed
        Device = 6,          // CUDA / NCCL / driver failure
        Cancelled = 7,       // the user or caller cancelled
        Network = 8,         // connection, TLS or HTTP failure
        Unavailable = 9,     // a backend or resource is not usable here (with the reason)
    };

    Kind kind = Kind::Internal;
    std::string message;
    std::string where;

    Error() = default;
    Error(Kind k, std::string msg, std::string loc = {})
        : kind(k)
        , message(std::move(msg))
        , where(std::move(loc))
    {}

    // "message (where)" for logs; the UI shows message alone.
    std::string toString() const { return where.empty() ? message : message + " (" + where + ")"; }
};

const char *errorKindName(Error::Kind kind);

template<typename T = void>
using Result = ::fathom::Expected<T, Error>;

inline ::fathom::Unexpected<Error> fail(Error::Kind kind, std::string message, std::string where = {})
{
    return ::fathom::Unexpected<Error>(Error(kind, std::move(message), std::move(where)));
}

} // namespace fathom::engine
