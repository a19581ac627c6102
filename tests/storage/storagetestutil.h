// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include <QTest>

// QVERIFY that a fathom::Result holds a value, printing its error otherwise.
#define VERIFY_OK(expr) \
    do { \
        const auto r_ = (expr); \
        QVERIFY2(r_.has_value(), qPrintable(r_ ? QString() : r_.error().message)); \
    } while (false)

// Declares `auto decl` from the value of a fathom::Result, or fails the test with its error.
#define TAKE(decl, expr) \
    auto decl##Result_ = (expr); \
    QVERIFY2(decl##Result_.has_value(), \
             qPrintable(decl##Result_ ? QString() : decl##Result_.error().message)); \
    auto decl = *decl##Result_
