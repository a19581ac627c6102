// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include <QThread>
#include <QtGlobal>

namespace fathom {
void logCheckFailure(const char *condition, const char *file, int line);
}

// Recoverable check (STYLE.md rule 6): evaluates cond exactly once in every build; on failure
// logs the condition and location, then runs action (e.g. `return fathom::fail(...)`).
#define FATHOM_CHECK(cond, action) \
    if (Q_LIKELY(cond)) { \
    } else { \
        ::fathom::logCheckFailure(#cond, __FILE__, __LINE__); \
        action; \
    } \
    do { \
    } while (0)

// Slots assert the thread they run on (STYLE.md rule 3): asserts in debug builds, logs in release.
#define FATHOM_ASSERT_THREAD(object) \
    FATHOM_CHECK(QThread::currentThread() == (object)->thread(), Q_ASSERT(false))
