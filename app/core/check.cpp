// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "check.h"

#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcCheck, "fathom.check")

namespace fathom {

void logCheckFailure(const char *condition, const char *file, int line)
{
    qCCritical(lcCheck, "check failed: %s at %s:%d", condition, file, line);
}

} // namespace fathom
