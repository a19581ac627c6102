// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Where the golden data lives (CMake cache FATHOM_TESTDATA_DIR) and what to do when it is
  missing: skip loudly, or fail when FATHOM_REQUIRE_TESTDATA is ON (as in CI). Inside a QtTest
  slot:

    FATHOM_TESTDATA_PATH(dir, "v4/tiny-bf16");   // declares QString dir, or skips / fails
*/

#include <QDir>
#include <QFileInfo>
#include <QString>
#include <QTest>

namespace fathom::test {

inline QString testdataDir()
{
    return QString::fromUtf8(FATHOM_TESTDATA_DIR);
}

inline constexpr bool testdataRequired()
{
    return FATHOM_REQUIRE_TESTDATA != 0;
}

inline QString testdataPath(const QString &relative)
{
    return QDir(testdataDir()).filePath(relative);
}

} // namespace fathom::test

#define FATHOM_TESTDATA_PATH(var, relative) \
    const QString var = ::fathom::test::testdataPath(QStringLiteral(relative)); \
    if (!QFileInfo::exists(var)) { \
        if (::fathom::test::testdataRequired()) \
            QFAIL(qPrintable(QStringLiteral("golden data missing (FATHOM_REQUIRE_TESTDATA=ON): ") \
                             + var)); \
        QSKIP(qPrintable(QStringLiteral("SKIPPED LOUDLY: golden data not found at ") + var \
                         + QStringLiteral(" (set FATHOM_TESTDATA_DIR)"))); \
    }
