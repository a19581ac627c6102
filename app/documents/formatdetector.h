// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "documenttypes.h"

#include <QByteArray>
#include <QString>

namespace fathom::documents {

struct DetectedFormat
{
    DocumentFormat format = DocumentFormat::Unknown;
    QString mimeType; // e.g. "application/pdf", "text/x-c++src"
};

/**
  Decides how a file is parsed from its first bytes (magic numbers win) and its name. `head`
  should hold at least the first 4 KiB. Unknown means "not a supported document".
  Thread: any.
*/
DetectedFormat detectFormat(const QString &fileName, const QByteArray &head);

} // namespace fathom::documents
