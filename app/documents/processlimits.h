// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/core/error.h"

#include <QString>

/*
  The platform layer of out-of-process parsing: the only file with POSIX or Win32 calls.
  POSIX: setrlimit (address space, CPU seconds, no core files). Windows: a Job Object with a
  process memory limit, a CPU-time limit and no crash dialog. The worker applies the limits to
  itself before it touches the untrusted file; the parent adds a wall-clock limit and kills.
*/

namespace fathom::documents {

struct ProcessLimits
{
    qint64 memoryBytes = 0; // address space (POSIX) / committed memory (Windows); 0 = none
    int cpuSeconds = 0;     // 0 = none
};

// Thread: the worker's main thread, before anything else runs.
Result<void> applyLimitsToCurrentProcess(const ProcessLimits &limits);

// A command-line tool whose reader goes away (`| head`) gets EPIPE instead of dying of SIGPIPE.
void ignoreBrokenPipeSignal();

// Makes stdout binary (Windows translates "\n" in text mode); no-op elsewhere.
void setStdoutBinary();

// What an abnormal exit means, from QProcess's exit code of a CrashExit (the signal number on
// POSIX, the NTSTATUS on Windows).
enum class CrashCause { Crash, CpuLimit, OutOfMemory, Killed };
CrashCause classifyCrash(int exitCode);
QString describeCrash(int exitCode);

} // namespace fathom::documents
