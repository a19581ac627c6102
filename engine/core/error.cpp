// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "error.h"

namespace fathom::engine {

const char *errorKindName(Error::Kind kind)
{
    switch (kind) {
    case Error::Kind::Internal:
        return "internal";
    case Error::Kind::InvalidArgument:
        return "invalid argument";
    case Error::Kind::Io:
        return "i/o";
    case Error::Kind::Format:
        return "format";
    case Error::Kind::Unsupported:
        return "unsupported";
    case Error::Kind::OutOfMemory:
        return "out of memory";
    case Error::Kind::Device:
        return "device";
    case Error::Kind::Cancelled:
        return "cancelled";
    case Error::Kind::Network:
        return "network";
    case Error::Kind::Unavailable:
        return "unavailable";
    }
    return "unknown";
}

} // namespace fathom::engine
