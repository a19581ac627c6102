// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

// Block splitting of answers (CommonMark fences: ``` and ~~~, info strings, unterminated fences
// while streaming) and the code highlighter's escaping.

#include "ui/render/markdownblocks.h"

#include <QTest>

using namespace fathom::ui;

class tst_MarkdownBlocks : public QObject
{
    Q_OBJECT

private slots:
    void fences();
    void unterminatedFence();
    void paragraphsSplitButListsStay();
    void notAFence();
    void highlightEscapes();
};

void tst_MarkdownBlocks::fences()
{
    const QList<MarkdownBlock> b = splitMarkdown(
        QStringLiteral("Intro\n```cpp title\nint x = 1;\n\nint y;\n```\nAfter\n~~~\nplain\n~~~"));
    QCOMPARE(b.size(), 4);
    QCOMPARE(b[0].kind, MarkdownBlock::Kind::Text);
    QCOMPARE(b[0].text, QStringLiteral("Intro"));
    QCOMPARE(b[1].kind, MarkdownBlock::Kind::Code);
    QCOMPARE(b[1].language, QStringLiteral("cpp"));
    QCOMPARE(b[1].text, QStringLiteral("int x = 1;\n\nint y;"));
    QVERIFY(b[1].closed);
    QCOMPARE(b[2].text, QStringLiteral("After"));
    QCOMPARE(b[3].text, QStringLiteral("plain"));
    QCOMPARE(b[3].language, QString());
}

void tst_MarkdownBlocks::unterminatedFence()
{
    const QList<MarkdownBlock> b = splitMarkdown(
        QStringLiteral("Code:\n````js\nlet a = 1;\n```\nstill code"));
    QCOMPARE(b.size(), 2);
    QCOMPARE(b[1].kind, MarkdownBlock::Kind::Code);
    QVERIFY(!b[1].closed); // a ``` line does not close a ```` fence
    QCOMPARE(b[1].text, QStringLiteral("let a = 1;\n```\nstill code"));
}

void tst_MarkdownBlocks::paragraphsSplitButListsStay()
{
    const QList<MarkdownBlock> b = splitMarkdown(
        QStringLiteral("One.\n\nTwo.\n\n1. a\n\n2. b\n\n   continued\n\nThree."));
    QCOMPARE(b.size(), 4);
    QCOMPARE(b[0].text, QStringLiteral("One."));
    QCOMPARE(b[1].text, QStringLiteral("Two."));
    QCOMPARE(b[2].text, QStringLiteral("1. a\n\n2. b\n\n   continued"));
    QCOMPARE(b[3].text, QStringLiteral("Three."));
}

void tst_MarkdownBlocks::notAFence()
{
    // Two backticks, or backticks in a backtick fence's info string, are inline code.
    const QList<MarkdownBlock> b = splitMarkdown(QStringLiteral("``not``\n```a`b\ntext"));
    QCOMPARE(b.size(), 1);
    QCOMPARE(b[0].kind, MarkdownBlock::Kind::Text);
    // Indented by four spaces: an indented code block, which the Markdown renderer handles.
    QCOMPARE(splitMarkdown(QStringLiteral("    ```\n    x")).size(), 1);
    QCOMPARE(splitMarkdown(QStringLiteral("    ```\n    x")).at(0).kind, MarkdownBlock::Kind::Text);
}

void tst_MarkdownBlocks::highlightEscapes()
{
    const QString html = highlightCode(QStringLiteral("if (a < b && s == \"<x>\") return; // <c>"),
                                       QStringLiteral("cpp"),
                                       CodeTheme::Light);
    QVERIFY(!html.contains(QStringLiteral("<x>")));
    QVERIFY(!html.contains(QStringLiteral("<c>")));
    QVERIFY(html.contains(QStringLiteral("&lt;x&gt;")));
    QVERIFY(html.contains(QStringLiteral("a &lt; b &amp;&amp; s")));
    QVERIFY(html.contains(QStringLiteral(">if</span>")));
    QVERIFY(html.contains(QStringLiteral(">return</span>")));
    // Python: # starts a comment, // does not.
    const QString py = highlightCode(QStringLiteral("x = 1 // 2  # half"),
                                     QStringLiteral("python"),
                                     CodeTheme::Dark);
    QVERIFY(py.contains(QStringLiteral("># half</span>")));
    QVERIFY(!py.contains(QStringLiteral(">// 2")));
}

QTEST_GUILESS_MAIN(tst_MarkdownBlocks)
#include "tst_markdownblocks.moc"
