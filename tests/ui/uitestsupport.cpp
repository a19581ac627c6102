// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "uitestsupport.h"

#include <QDateTime>
#include <QMutexLocker>

namespace fathom::test {

QmlWarningCatcher *QmlWarningCatcher::s_instance = nullptr;

QmlWarningCatcher::QmlWarningCatcher()
{
    s_instance = this;
    m_previous = qInstallMessageHandler(&QmlWarningCatcher::handler);
}

QmlWarningCatcher::~QmlWarningCatcher()
{
    qInstallMessageHandler(m_previous);
    s_instance = nullptr;
}

QStringList QmlWarningCatcher::warnings() const
{
    QMutexLocker lock(&m_mutex);
    return m_warnings;
}

void QmlWarningCatcher::clear()
{
    QMutexLocker lock(&m_mutex);
    m_warnings.clear();
}

void QmlWarningCatcher::handler(QtMsgType type,
                                const QMessageLogContext &context,
                                const QString &text)
{
    if (s_instance && type != QtDebugMsg && type != QtInfoMsg) {
        const QByteArray category = context.category ? QByteArray(context.category) : QByteArray();
        const bool qml = category == "qml" || category == "js" || category.startsWith("qt.qml")
                         || category.startsWith("qt.quick")
                         || text.contains(QStringLiteral(".qml:"))
                         || text.contains(QStringLiteral("qrc:/"));
        if (qml) {
            QMutexLocker lock(&s_instance->m_mutex);
            s_instance->m_warnings.append(text);
        }
    }
    if (s_instance && s_instance->m_previous)
        s_instance->m_previous(type, context, text);
    else
        fprintf(stderr, "%s\n", qPrintable(text));
}

bool seedDatabase(const QString &dbPath, const SeedOptions &options, QString *error)
{
    auto db = storage::Database::open(dbPath);
    if (!db) {
        if (error)
            *error = db.error().message;
        return false;
    }
    storage::ConversationStore conversations(**db);
    storage::MessageStore messages(**db);
    const QDateTime now = QDateTime::currentDateTimeUtc();
    const QString answer
        = options.chinese
              ? QStringLiteral(
                  "## 摘要\n\n报告的主要结论如下：\n\n1. 收入增长了 **12%**。\n2. "
                  "成本保持稳定。\n\n"
                  "| 季度 | 收入 |\n|---|---|\n| 第一季度 | 120 |\n| 第二季度 | 134 |\n\n"
                  "```python\ndef growth(a, b):\n    return (b - a) / a  # 增长率\n```\n\n参见第 3 "
                  "页。")
              : QStringLiteral(
                  "## Summary\n\nThe report's main findings:\n\n1. Revenue grew by **12%**.\n"
                  "2. Costs stayed flat.\n\n| Quarter | Revenue |\n|---|---|\n| Q1 | 120 |\n"
                  "| Q2 | 134 |\n\n```python\ndef growth(a, b):\n    return (b - a) / a  # "
                  "rate\n```\n\n"
                  "See page 3 of *annual-report.pdf*.");
    const QString question = options.chinese
                                 ? QStringLiteral("请总结这份年度报告的要点。")
                                 : QStringLiteral("Summarise the key points of the annual report.");
    const QString reasoning = options.chinese
                                  ? QStringLiteral("用户想要报告的摘要。我先看收入，然后看成本。")
                                  : QStringLiteral(
                                      "The user wants a summary. Revenue first, then costs.");
    const QStringList titles = options.chinese
                                   ? QStringList{QStringLiteral("年度报告摘要"),
                                                 QStringLiteral("合同条款审查"),
                                                 QStringLiteral("市场分析")}
                                   : QStringList{QStringLiteral("Annual report summary"),
                                                 QStringLiteral("Contract clause review"),
                                                 QStringLiteral("Market analysis")};
    for (int c = 0; c < options.conversations; ++c) {
        storage::NewConversation nc;
        nc.title = c < titles.size() ? titles.at(c) : QStringLiteral("Conversation %1").arg(c + 1);
        nc.createdAt = now.addDays(-c * 3);
        auto id = conversations.create(nc);
        if (!id) {
            if (error)
                *error = id.error().message;
            return false;
        }
        conversations.touch(*id, now.addDays(-c * 3).toMSecsSinceEpoch());
        MessageId parent;
        for (int m = 0; m < options.messagesPerConversation; ++m) {
            storage::NewMessage nm;
            nm.role = m % 2 == 0 ? storage::Role::User : storage::Role::Assistant;
            nm.content = m % 2 == 0 ? question : answer;
            if (nm.role == storage::Role::Assistant)
                nm.reasoning = reasoning;
            nm.createdAt = now.addDays(-c * 3).addSecs(m);
            auto mid = messages.append(*id, parent, nm);
            if (!mid) {
                if (error)
                    *error = mid.error().message;
                return false;
            }
            if (nm.role == storage::Role::Assistant) {
                storage::MessageStats stats;
                stats.completionTokens = 182;
                stats.promptTokens = 40;
                stats.ttftMs = 420;
                stats.tokensPerSecond = 31.5;
                messages.finish(*mid, stats);
            }
            parent = *mid;
        }
        if (c == 0 && options.messagesPerConversation >= 2) {
            // A second branch of the first question, so the branch arrows show.
            auto roots = messages.roots(*id);
            if (roots && !roots->isEmpty())
                messages.editMessage(roots->first().id, question + QStringLiteral(" (short)"));
            if (roots && !roots->isEmpty())
                messages.selectBranch(roots->first().id);
        }
        if (c == 1)
            conversations.setPinned(*id, true);
    }
    return true;
}

} // namespace fathom::test
