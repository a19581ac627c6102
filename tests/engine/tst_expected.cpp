// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "engine/core/error.h"

#include <QTest>

#include <memory>

using fathom::engine::Error;
using fathom::engine::Result;

namespace {
Result<int> parsePositive(int v)
{
    if (v <= 0)
        return fathom::engine::fail(Error::Kind::InvalidArgument, "not positive: " + std::to_string(v));
    return v;
}

Result<int> twice(int v)
{
    FATHOM_TRY_ASSIGN(const int x, parsePositive(v));
    return 2 * x;
}

Result<void> checkOnly(int v)
{
    FATHOM_TRY(parsePositive(v));
    return {};
}
} // namespace

class tst_Expected : public QObject
{
    Q_OBJECT
private slots:
    void valueAndError()
    {
        QCOMPARE(*parsePositive(3), 3);
        const auto bad = parsePositive(-1);
        QVERIFY(!bad);
        QCOMPARE(bad.error().kind, Error::Kind::InvalidArgument);
        QCOMPARE(QString::fromStdString(bad.error().message), QStringLiteral("not positive: -1"));
        QCOMPARE(bad.value_or(7), 7);
    }
    void propagation()
    {
        QCOMPARE(*twice(4), 8);
        QVERIFY(!twice(0));
        QVERIFY(checkOnly(1).has_value());
        QCOMPARE(checkOnly(0).error().kind, Error::Kind::InvalidArgument);
    }
    void moveOnlyValues()
    {
        Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
        QVERIFY(r);
        std::unique_ptr<int> p = std::move(r).value();
        QCOMPARE(*p, 5);
    }
};

QTEST_GUILESS_MAIN(tst_Expected)
#include "tst_expected.moc"
