// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "processlimits.h"

#include <QCoreApplication>

#ifdef Q_OS_WIN
#include <qt_windows.h>

#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#else
#include <csignal>
#include <cstring>
#include <sys/resource.h>
#endif
#ifdef Q_OS_LINUX
#include <sys/prctl.h>
#endif

namespace fathom::documents {

static QString tr(const char *text)
{
    return QCoreApplication::translate("fathom::documents", text);
}

#ifdef Q_OS_WIN

Result<void> applyLimitsToCurrentProcess(const ProcessLimits &limits)
{
    // No "program has stopped working" dialog: a crash must end the process at once.
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
    HANDLE job = CreateJobObjectW(nullptr, nullptr);
    if (!job)
        return fail(Error::Kind::Internal,
                    tr("CreateJobObject failed (error %1)").arg(GetLastError()));
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION info = {};
    info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
    if (limits.memoryBytes > 0) {
        info.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_PROCESS_MEMORY;
        info.ProcessMemoryLimit = SIZE_T(limits.memoryBytes);
    }
    if (limits.cpuSeconds > 0) {
        info.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_PROCESS_TIME;
        info.BasicLimitInformation.PerProcessUserTimeLimit.QuadPart = LONGLONG(limits.cpuSeconds)
                                                                      * 10000000; // 100 ns units
    }
    if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation, &info, sizeof info)
        || !AssignProcessToJobObject(job, GetCurrentProcess()))
        return fail(Error::Kind::Internal,
                    tr("Cannot limit the ingestion worker (error %1)").arg(GetLastError()));
    // The handle stays open for the life of the process: closing the last one ends the job.
    return {};
}

void setStdoutBinary()
{
    _setmode(_fileno(stdout), _O_BINARY);
}

void ignoreBrokenPipeSignal() {}

CrashCause classifyCrash(int exitCode)
{
    const DWORD status = DWORD(exitCode);
    if (status == 0xC0000044 /* STATUS_QUOTA_EXCEEDED */ || status == 0xC0000017 /* NO_MEMORY */)
        return CrashCause::OutOfMemory;
    if (status == 0xC000012D /* STATUS_COMMITMENT_LIMIT */)
        return CrashCause::OutOfMemory;
    if (status == 0xf291) // QProcess::kill() ends the process with this code
        return CrashCause::Killed;
    return CrashCause::Crash;
}

QString describeCrash(int exitCode)
{
    return tr("exception 0x%1").arg(quint32(exitCode), 8, 16, QLatin1Char('0'));
}

#else // POSIX

Result<void> applyLimitsToCurrentProcess(const ProcessLimits &limits)
{
    auto set = [](int resource, rlim_t value, const char *name) -> Result<void> {
        struct rlimit current;
        if (getrlimit(resource, &current) != 0)
            return fail(Error::Kind::Internal,
                        tr("getrlimit(%1) failed: %2")
                            .arg(QLatin1String(name), QString::fromLocal8Bit(strerror(errno))));
        // Only ever lower a limit: raising the hard limit needs privileges we should not have.
        struct rlimit wanted;
        wanted.rlim_cur = current.rlim_max == RLIM_INFINITY ? value : qMin(value, current.rlim_max);
        wanted.rlim_max = current.rlim_max;
        if (setrlimit(resource, &wanted) != 0)
            return fail(Error::Kind::Internal,
                        tr("setrlimit(%1) failed: %2")
                            .arg(QLatin1String(name), QString::fromLocal8Bit(strerror(errno))));
        return {};
    };
#ifdef Q_OS_LINUX
    // A worker sleeping in a hang uses no CPU time; make sure it dies with its parent.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    FATHOM_TRY(set(RLIMIT_CORE, 0, "RLIMIT_CORE")); // a crash on hostile input leaves no core file
    if (limits.memoryBytes > 0)
        FATHOM_TRY(set(RLIMIT_AS, rlim_t(limits.memoryBytes), "RLIMIT_AS"));
    if (limits.cpuSeconds > 0)
        FATHOM_TRY(set(RLIMIT_CPU, rlim_t(limits.cpuSeconds), "RLIMIT_CPU"));
    return {};
}

void setStdoutBinary() {}

void ignoreBrokenPipeSignal()
{
    std::signal(SIGPIPE, SIG_IGN);
}

CrashCause classifyCrash(int exitCode)
{
    switch (exitCode) {
    case SIGXCPU:
        return CrashCause::CpuLimit;
    case SIGKILL:
        return CrashCause::Killed;
    default:
        return CrashCause::Crash;
    }
}

QString describeCrash(int exitCode)
{
    const char *name = strsignal(exitCode);
    return tr("signal %1 (%2)").arg(exitCode).arg(QString::fromLocal8Bit(name ? name : "?"));
}

#endif

} // namespace fathom::documents
