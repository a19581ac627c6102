// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "engine/remote/modelrouting.h"

#include <QTest>

using namespace fathom::engine;
using namespace fathom::engine::remote;

class tst_ModelRouting : public QObject
{
    Q_OBJECT

private slots:
    void rules_data();
    void rules();
    void customIds();
};

void tst_ModelRouting::rules_data()
{
    QTest::addColumn<QString>("choice");
    QTest::addColumn<bool>("thinking");
    QTest::addColumn<int>("effort");
    QTest::addColumn<qulonglong>("docTokens");
    QTest::addColumn<qulonglong>("threshold");
    QTest::addColumn<bool>("askPro");
    QTest::addColumn<QString>("model");
    QTest::addColumn<int>("rule");

    const int none = int(chat::ReasoningEffort::None);
    const int high = int(chat::ReasoningEffort::High);
    const int max = int(chat::ReasoningEffort::Max);
    // The table: auto = Flash by default; Pro for thinking + max, for documents past the
    // user's size, or on "ask again with Pro"; an explicit choice always wins.
    QTest::newRow("auto default") << "auto" << false << none << 0ull << 0ull << false
                                  << "deepseek-v4-flash" << int(RoutingRule::DefaultFlash);
    QTest::newRow("empty choice is auto") << "" << false << none << 0ull << 0ull << false
                                          << "deepseek-v4-flash" << int(RoutingRule::DefaultFlash);
    QTest::newRow("thinking high stays flash")
        << "auto" << true << high << 0ull << 0ull << false << "deepseek-v4-flash"
        << int(RoutingRule::DefaultFlash);
    QTest::newRow("thinking max") << "auto" << true << max << 0ull << 0ull << false
                                  << "deepseek-v4-pro" << int(RoutingRule::ThinkingMax);
    QTest::newRow("max effort without thinking")
        << "auto" << false << max << 0ull << 0ull << false << "deepseek-v4-flash"
        << int(RoutingRule::DefaultFlash);
    QTest::newRow("documents over threshold")
        << "auto" << false << none << 200000ull << 100000ull << false << "deepseek-v4-pro"
        << int(RoutingRule::LargeDocuments);
    QTest::newRow("documents at threshold")
        << "auto" << false << none << 100000ull << 100000ull << false << "deepseek-v4-flash"
        << int(RoutingRule::DefaultFlash);
    QTest::newRow("no threshold set") << "auto" << false << none << 900000ull << 0ull << false
                                      << "deepseek-v4-flash" << int(RoutingRule::DefaultFlash);
    QTest::newRow("ask again with pro") << "auto" << false << none << 0ull << 0ull << true
                                        << "deepseek-v4-pro" << int(RoutingRule::AskAgainWithPro);
    QTest::newRow("ask pro beats other reasons")
        << "auto" << true << max << 5ull << 1ull << true << "deepseek-v4-pro"
        << int(RoutingRule::AskAgainWithPro);
    QTest::newRow("user picked flash") << "deepseek-v4-flash" << true << max << 0ull << 0ull << true
                                       << "deepseek-v4-flash" << int(RoutingRule::UserChoice);
    QTest::newRow("user picked other") << "my-finetune" << false << none << 0ull << 0ull << false
                                       << "my-finetune" << int(RoutingRule::UserChoice);
}

void tst_ModelRouting::rules()
{
    QFETCH(QString, choice);
    QFETCH(bool, thinking);
    QFETCH(int, effort);
    QFETCH(qulonglong, docTokens);
    QFETCH(qulonglong, threshold);
    QFETCH(bool, askPro);
    QFETCH(QString, model);
    QFETCH(int, rule);
    RoutingInput in;
    in.choice = choice.toStdString();
    in.thinkingMode = thinking ? chat::ThinkingMode::Thinking : chat::ThinkingMode::Chat;
    in.reasoningEffort = static_cast<chat::ReasoningEffort>(effort);
    in.documentTokens = docTokens;
    in.documentThresholdTokens = threshold;
    in.askAgainWithPro = askPro;
    const RoutingDecision d = routeModel(in);
    QCOMPARE(QString::fromStdString(d.modelId), model);
    QCOMPARE(int(d.rule), rule);
    QVERIFY(!d.ruleText.empty());
    if (d.rule == RoutingRule::LargeDocuments)
        QVERIFY(d.ruleText.find(std::to_string(threshold)) != std::string::npos);
}

void tst_ModelRouting::customIds()
{
    // A server that names the models differently (vLLM serving the HF repo names).
    RoutingInput in;
    in.flashModelId = "deepseek-ai/DeepSeek-V4-Flash";
    in.proModelId = "deepseek-ai/DeepSeek-V4-Pro";
    QCOMPARE(routeModel(in).modelId, in.flashModelId);
    in.askAgainWithPro = true;
    QCOMPARE(routeModel(in).modelId, in.proModelId);
}

QTEST_GUILESS_MAIN(tst_ModelRouting)
#include "tst_modelrouting.moc"
