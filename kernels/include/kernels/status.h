// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Status returned by every kernel entry point. Plain (no <expected>, no std::string) so that
  nvcc-compiled .cu files can include it; the engine turns a failed Status into an Error.
*/

namespace fathom::kernels {

enum class StatusCode { Ok = 0, InvalidArgument, Unsupported, OutOfMemory, DeviceError };

struct Status
{
    StatusCode code = StatusCode::Ok;
    const char *message = ""; // static string; never owned

    constexpr bool ok() const { return code == StatusCode::Ok; }
    static constexpr Status success() { return {}; }
    static constexpr Status invalid(const char *what) { return {StatusCode::InvalidArgument, what}; }
    static constexpr Status unsupported(const char *what) { return {StatusCode::Unsupported, what}; }
};

} // namespace fathom::kernels
