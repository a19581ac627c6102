// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

// V4 prompt encoding byte-exact against the official golden tests and the 30 extra cases made
// with the official encoder (testdata/encoding), and completion parsing (whole and streamed).

#include "engine/chat/encoding.h"
#include "engine/chat/pyjson.h"
#include "testdata.h"

#include <nlohmann/json.hpp>

#include <QtTest>

#include <fstream>
#include <random>
#include <sstream>

using namespace fathom::engine::chat;
using OJson = nlohmann::ordered_json;

namespace {

std::string readAll(const QString &path)
{
    std::ifstream in(path.toStdString(), std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

QByteArray firstDifference(const std::string &got, const std::string &expected)
{
    std::size_t i = 0;
    while (i < got.size() && i < expected.size() && got[i] == expected[i])
        ++i;
    const std::size_t from = i > 40 ? i - 40 : 0;
    return QByteArray("at byte ") + QByteArray::number(qulonglong(i))
           + "\n  got:      " + QByteArray::fromStdString(got.substr(from, 120))
           + "\n  expected: " + QByteArray::fromStdString(expected.substr(from, 120));
}

ThinkingMode modeOf(const std::string &s)
{
    return s == "chat" ? ThinkingMode::Chat : ThinkingMode::Thinking;
}

// Splits at code-point boundaries into chunks of 1..maxLen code points.
std::vector<std::string> chunks(const std::string &s, std::mt19937 &rng, int maxLen)
{
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < s.size()) {
        int n = 1 + int(rng() % unsigned(maxLen));
        std::size_t j = i;
        while (n-- > 0 && j < s.size()) {
            ++j;
            while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80)
                ++j;
        }
        out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

} // namespace

class tst_ChatEncoding : public QObject
{
    Q_OBJECT

private slots:
    void officialGoldenTests()
    {
        FATHOM_TESTDATA_PATH(dir, "encoding/official_tests.json");
        const OJson spec = OJson::parse(readAll(dir));
        int n = 0;
        for (const OJson &t : spec["tests"]) {
            const QString in = fathom::test::testdataPath(
                QStringLiteral("encoding/") + QString::fromStdString(t["input"].get<std::string>()));
            const QString outFile = fathom::test::testdataPath(
                QStringLiteral("encoding/")
                + QString::fromStdString(t["output"].get<std::string>()));
            OJson input = OJson::parse(readAll(in));
            OJson messages;
            if (input.is_object()) { // test 1: tools attached to the first message
                messages = input["messages"];
                messages[0]["tools"] = input["tools"];
            } else {
                messages = input;
            }
            auto msgs = messagesFromJson(messages);
            QVERIFY2(msgs.has_value(), msgs ? "" : msgs.error().message.c_str());
            EncodeOptions options;
            options.thinkingMode = modeOf(t["thinking_mode"].get<std::string>());
            const std::string got = encodeMessages(*msgs, options);
            const std::string expected = readAll(outFile);
            QVERIFY2(got == expected, firstDifference(got, expected).constData());
            ++n;
        }
        QCOMPARE(n, 4);
    }

    void extraCases_data()
    {
        QTest::addColumn<int>("index");
        const QString path = fathom::test::testdataPath(QStringLiteral("encoding/cases.json"));
        if (!QFileInfo::exists(path))
            return;
        const OJson cases = OJson::parse(readAll(path))["cases"];
        for (std::size_t i = 0; i < cases.size(); ++i)
            QTest::newRow(cases[i]["id"].get<std::string>().c_str()) << int(i);
    }
    void extraCases()
    {
        QFETCH(int, index);
        FATHOM_TESTDATA_PATH(path, "encoding/cases.json");
        const OJson c = OJson::parse(readAll(path))["cases"][std::size_t(index)];
        auto msgs = messagesFromJson(c["messages"]);
        QVERIFY2(msgs.has_value(), msgs ? "" : msgs.error().message.c_str());
        QVERIFY(c["context"].is_null());
        EncodeOptions options;
        options.thinkingMode = modeOf(c["thinking_mode"].get<std::string>());
        options.dropThinking = c["drop_thinking"].get<bool>();
        options.addBos = c["add_default_bos_token"].get<bool>();
        const OJson &effort = c["reasoning_effort"];
        options.reasoningEffort = effort.is_null()  ? ReasoningEffort::None
                                  : effort == "max" ? ReasoningEffort::Max
                                                    : ReasoningEffort::High;
        const std::string got = encodeMessages(*msgs, options);
        const std::string expected = c["expected_prompt"].get<std::string>();
        QVERIFY2(got == expected, firstDifference(got, expected).constData());
    }

    void allCasesCounted()
    {
        FATHOM_TESTDATA_PATH(path, "encoding/cases.json");
        const OJson cases = OJson::parse(readAll(path))["cases"];
        QCOMPARE(cases.size(), std::size_t(30));
        int parseCases = 0;
        for (const OJson &c : cases)
            if (c.contains("parse_cases"))
                parseCases += int(c["parse_cases"].size());
        QCOMPARE(parseCases, 5);
    }

    void parseCases()
    {
        FATHOM_TESTDATA_PATH(path, "encoding/cases.json");
        const OJson cases = OJson::parse(readAll(path))["cases"];
        std::mt19937 rng(11);
        int checked = 0;
        for (const OJson &c : cases) {
            if (!c.contains("parse_cases"))
                continue;
            for (const OJson &pc : c["parse_cases"]) {
                const std::string completion = pc["completion"].get<std::string>();
                const ThinkingMode mode = modeOf(pc["thinking_mode"].get<std::string>());
                OJson expected = pc["expected"];
                expected.erase("role");
                QCOMPARE(expected.size(), std::size_t(3));

                auto whole = parseCompletion(completion, mode);
                QVERIFY2(whole.has_value(), whole ? "" : whole.error().message.c_str());
                QVERIFY(whole->finished);
                const OJson got = completionToJson(*whole);
                QCOMPARE(QString::fromStdString(got.dump()),
                         QString::fromStdString(
                             OJson{{"reasoning_content", expected["reasoning_content"]},
                                   {"content", expected["content"]},
                                   {"tool_calls", expected["tool_calls"]}}
                                 .dump()));

                // Streamed in pieces of 1..k code points: the deltas add up to the same result
                // and never contain markup.
                for (int maxLen : {1, 2, 3, 7, 1000}) {
                    for (int rep = 0; rep < 5; ++rep) {
                        CompletionParser p(mode);
                        std::string reasoning, content;
                        std::vector<ToolCall> calls;
                        auto take = [&](const CompletionParser::Delta &d) {
                            reasoning += d.reasoningContent;
                            content += d.content;
                            calls.insert(calls.end(), d.toolCalls.begin(), d.toolCalls.end());
                            for (const std::string *s : {&d.reasoningContent, &d.content}) {
                                QVERIFY(s->find("</think>") == std::string::npos);
                                QVERIFY(s->find(std::string(kDsml)) == std::string::npos);
                                QVERIFY(s->find(std::string(kEos)) == std::string::npos);
                            }
                        };
                        for (const std::string &piece : chunks(completion, rng, maxLen))
                            take(p.push(piece));
                        take(p.finish());
                        QVERIFY(p.error().empty());
                        QCOMPARE(reasoning, whole->reasoningContent);
                        QCOMPARE(content, whole->content);
                        QCOMPARE(calls.size(), whole->toolCalls.size());
                        for (std::size_t i = 0; i < calls.size(); ++i) {
                            QCOMPARE(calls[i].name, whole->toolCalls[i].name);
                            QCOMPARE(calls[i].argumentsJson, whole->toolCalls[i].argumentsJson);
                        }
                    }
                }
                ++checked;
            }
        }
        QCOMPARE(checked, 5);
    }

    // Round trip: what the encoder renders for an assistant turn parses back to the same turn.
    void renderedAssistantTurnsParseBack()
    {
        FATHOM_TESTDATA_PATH(path, "encoding/cases.json");
        const OJson cases = OJson::parse(readAll(path))["cases"];
        int checked = 0;
        for (const OJson &c : cases) {
            auto msgs = messagesFromJson(c["messages"]);
            QVERIFY(msgs.has_value());
            for (const Message &m : *msgs) {
                if (m.role != Role::Assistant || m.toolCalls.empty())
                    continue;
                Message copy = m;
                copy.reasoningContent.clear();
                const std::string rendered = encodeMessages({copy},
                                                            EncodeOptions{ThinkingMode::Chat,
                                                                          true,
                                                                          ReasoningEffort::None,
                                                                          false});
                auto parsed = parseCompletion(rendered, ThinkingMode::Chat);
                QVERIFY2(parsed.has_value(), rendered.c_str());
                QCOMPARE(parsed->content, m.content);
                QCOMPARE(parsed->toolCalls.size(), m.toolCalls.size());
                for (std::size_t i = 0; i < m.toolCalls.size(); ++i) {
                    QCOMPARE(parsed->toolCalls[i].name, m.toolCalls[i].name);
                    const OJson a = OJson::parse(m.toolCalls[i].argumentsJson, nullptr, false);
                    const OJson b = OJson::parse(parsed->toolCalls[i].argumentsJson);
                    if (a.is_object())
                        QCOMPARE(QString::fromStdString(b.dump()), QString::fromStdString(a.dump()));
                    else
                        QCOMPARE(b["arguments"].get<std::string>(), m.toolCalls[i].argumentsJson);
                }
                ++checked;
            }
        }
        QVERIFY(checked >= 6);
    }

    void malformedToolBlocksAreReported()
    {
        const std::string open = "\n\n<\xEF\xBD\x9C"
                                 "DSML\xEF\xBD\x9C"
                                 "tool_calls>\n";
        // Unterminated block.
        auto r = parseCompletion("hi" + open
                                     + "<\xEF\xBD\x9C"
                                       "DSML\xEF\xBD\x9C"
                                       "invoke name=\"f\">\n",
                                 ThinkingMode::Chat);
        QVERIFY(!r.has_value());
        // Garbage inside.
        r = parseCompletion("hi" + open
                                + "oops</\xEF\xBD\x9C"
                                  "DSML\xEF\xBD\x9C"
                                  "tool_calls>",
                            ThinkingMode::Chat);
        QVERIFY(!r.has_value());
        // Text after the block.
        r = parseCompletion("hi" + open
                                + "</\xEF\xBD\x9C"
                                  "DSML\xEF\xBD\x9C"
                                  "tool_calls>more",
                            ThinkingMode::Chat);
        QVERIFY(!r.has_value());
        // No EOS is fine (cut-off stream), and thinking without </think> is all reasoning.
        r = parseCompletion("partial", ThinkingMode::Thinking);
        QVERIFY(r.has_value());
        QCOMPARE(r->reasoningContent, std::string("partial"));
        QVERIFY(!r->finished);
    }

    // `context` stays refused (encoding.h says why); null is the default and is accepted.
    void contextIsRefusedExplicitly()
    {
        const std::string base = "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                                 "\"thinking_mode\":\"chat\"";
        auto ok = parseEncodeRequest(base + ",\"context\":null}");
        QVERIFY2(ok.has_value(), ok ? "" : ok.error().message.c_str());
        QCOMPARE(encodeMessages(ok->messages, ok->options),
                 std::string(kBos)
                     + "<\xEF\xBD\x9CUser\xEF\xBD\x9C>Hi<\xEF\xBD\x9C"
                       "Assistant\xEF\xBD\x9C></think>");
        for (const char *context : {"[{\"role\":\"user\",\"content\":\"Earlier\"}]",
                                    "\"<\xEF\xBD\x9C"
                                    "User\xEF\xBD\x9C>x\""}) {
            auto r = parseEncodeRequest(base + ",\"context\":" + context + "}");
            QVERIFY(!r.has_value());
            QVERIFY(r.error().kind == fathom::engine::Error::Kind::Unsupported);
            QVERIFY(r.error().message.find("context") != std::string::npos);
        }
    }

    void pythonJsonLayout()
    {
        // Expected strings are what CPython 3.11's json.dumps(..., ensure_ascii=False) prints.
        QCOMPARE(pythonFloatRepr(0.25), std::string("0.25"));
        QCOMPARE(pythonFloatRepr(1.0), std::string("1.0"));
        QCOMPARE(pythonFloatRepr(-0.0), std::string("-0.0"));
        QCOMPARE(pythonFloatRepr(1e16), std::string("1e+16"));
        QCOMPARE(pythonFloatRepr(1.5e16), std::string("1.5e+16"));
        QCOMPARE(pythonFloatRepr(123456789012345.6), std::string("123456789012345.6"));
        QCOMPARE(pythonFloatRepr(1e-4), std::string("0.0001"));
        QCOMPARE(pythonFloatRepr(1e-5), std::string("1e-05"));
        QCOMPARE(pythonFloatRepr(0.1 + 0.2), std::string("0.30000000000000004"));
        QCOMPARE(pythonFloatRepr(5e-324), std::string("5e-324"));
        QCOMPARE(pythonFloatRepr(1.7976931348623157e308), std::string("1.7976931348623157e+308"));
        QCOMPARE(pythonFloatRepr(100.0), std::string("100.0"));
        // (A plain string literal: moc cannot read this one as a raw string.)
        const OJson v = OJson::parse("{\"a\":\"\\u0001\xC3\xA9\\u007f\\t\\\"\\\\\","
                                     "\"b\":[1,2.5,null,true],\"c\":{}}");
        QCOMPARE(pythonJsonDumps(v),
                 std::string("{\"a\": \"\\u0001\xC3\xA9\x7f\\t\\\"\\\\\", \"b\": [1, 2.5, null, "
                             "true], \"c\": {}}"));
    }
};

QTEST_GUILESS_MAIN(tst_ChatEncoding)
#include "tst_chatencoding.moc"
