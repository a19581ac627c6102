// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

// The stable command lines of issue 3 end to end: `fathom-cli encode` on every official golden
// test and every extra case (bytes compared with the golden prompt), `tokenize`/`detokenize` on
// all 1,500 V4 reference encodings, `parse` on the golden parse cases.

#include "testdata.h"

#include <nlohmann/json.hpp>

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <sstream>

using OJson = nlohmann::ordered_json;

namespace {

std::string readAll(const QString &path)
{
    std::ifstream in(path.toStdString(), std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

QString cli()
{
    return QString::fromUtf8(FATHOM_BINARY_DIR) + QStringLiteral("/bin/fathom-cli");
}

struct Run
{
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

Run run(const QStringList &args, const QByteArray &input = {})
{
    QProcess p;
    p.start(cli(), args);
    Run r;
    if (!p.waitForStarted(10000))
        return r;
    p.write(input);
    p.closeWriteChannel();
    p.waitForFinished(120000);
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

} // namespace

class tst_CliChat : public QObject
{
    Q_OBJECT

private slots:
    void encodeMatchesGoldenPrompts()
    {
        FATHOM_TESTDATA_PATH(official, "encoding/official_tests.json");
        FATHOM_TESTDATA_PATH(casesPath, "encoding/cases.json");
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        struct Item
        {
            std::string name;
            OJson request;
            std::string expected;
        };
        std::vector<Item> items;
        // (Parsed documents are kept in variables: a range-for over a member of a temporary
        // would dangle.)
        const OJson officialTests = OJson::parse(readAll(official));
        const OJson cases = OJson::parse(readAll(casesPath));
        for (const OJson &t : officialTests["tests"]) {
            const QString dir = fathom::test::testdataPath(QStringLiteral("encoding/"));
            OJson input = OJson::parse(
                readAll(dir + QString::fromStdString(t["input"].get<std::string>())));
            OJson req = OJson::object();
            if (input.is_object()) { // test 1: the tools go onto the first message
                req["messages"] = input["messages"];
                req["tools"] = input["tools"];
            } else {
                req["messages"] = input;
            }
            req["thinking_mode"] = t["thinking_mode"];
            items.push_back({t["input"].get<std::string>(),
                             req,
                             readAll(dir + QString::fromStdString(t["output"].get<std::string>()))});
        }
        for (const OJson &c : cases["cases"]) {
            OJson req = OJson::object();
            for (const char *k : {"messages",
                                  "thinking_mode",
                                  "drop_thinking",
                                  "reasoning_effort",
                                  "add_default_bos_token"})
                req[k] = c[k];
            items.push_back(
                {c["id"].get<std::string>(), req, c["expected_prompt"].get<std::string>()});
        }
        QCOMPARE(items.size(), std::size_t(34));
        for (const Item &item : items) {
            const QString file = tmp.filePath(QString::fromStdString(item.name)
                                              + QStringLiteral(".request.json"));
            std::ofstream(file.toStdString(), std::ios::binary) << item.request.dump();
            const Run r = run({QStringLiteral("encode"), QStringLiteral("--request"), file});
            QVERIFY2(r.exitCode == 0, r.err.constData());
            QVERIFY2(r.out.toStdString() == item.expected, item.name.c_str());
        }
    }

    void tokenizeAndDetokenizeVectors()
    {
        const QString tokenizer = QString::fromUtf8(FATHOM_TOKENIZER_JSON);
        if (tokenizer.isEmpty() || !QFileInfo::exists(tokenizer)) {
            if (fathom::test::testdataRequired())
                QFAIL("tokenizer.json missing (FATHOM_REQUIRE_TESTDATA=ON); run "
                      "scripts/fetch-test-deps.sh");
            QSKIP("SKIPPED LOUDLY: no real tokenizer.json (set FATHOM_TOKENIZER_JSON)");
        }
        FATHOM_TESTDATA_PATH(vectors, "tokenizer/v4_vectors.json");
        FATHOM_TESTDATA_PATH(added, "tokenizer/v4_added_tokens.json");
        const OJson j = OJson::parse(readAll(vectors));
        QByteArray texts, idLines;
        std::vector<std::string> expectedIds, expectedTexts;
        for (const OJson &v : j["vectors"]) {
            texts += QByteArray::fromStdString(v["t"].dump()) + '\n';
            expectedIds.push_back(nlohmann::json(v["ids"]).dump());
            expectedTexts.push_back(v["t"].get<std::string>());
            idLines += QByteArray::fromStdString(expectedIds.back()) + '\n';
        }
        const QStringList common = {QStringLiteral("--tokenizer"),
                                    tokenizer,
                                    QStringLiteral("--added-tokens"),
                                    added};
        Run r = run(QStringList{QStringLiteral("tokenize")} + common, texts);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QList<QByteArray> lines = r.out.split('\n');
        QCOMPARE(lines.size(), int(expectedIds.size()) + 1); // trailing newline
        for (std::size_t i = 0; i < expectedIds.size(); ++i)
            QCOMPARE(lines[int(i)].toStdString(), expectedIds[i]);

        r = run(QStringList{QStringLiteral("detokenize")} + common, idLines);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        lines = r.out.split('\n');
        QCOMPARE(lines.size(), int(expectedTexts.size()) + 1);
        for (std::size_t i = 0; i < expectedTexts.size(); ++i)
            QCOMPARE(nlohmann::json::parse(lines[int(i)].toStdString()).get<std::string>(),
                     expectedTexts[i]);

        // Bad input is an error naming the line, not a crash.
        r = run(QStringList{QStringLiteral("tokenize")} + common, "\"ok\"\nnot json\n");
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.err.contains("line 2"));
    }

    void parseMatchesGoldenCases()
    {
        FATHOM_TESTDATA_PATH(casesPath, "encoding/cases.json");
        int n = 0;
        const OJson cases = OJson::parse(readAll(casesPath));
        for (const OJson &c : cases["cases"]) {
            if (!c.contains("parse_cases"))
                continue;
            for (const OJson &pc : c["parse_cases"]) {
                const Run r = run({QStringLiteral("parse"),
                                   QStringLiteral("--thinking-mode"),
                                   QString::fromStdString(pc["thinking_mode"].get<std::string>())},
                                  QByteArray::fromStdString(pc["completion"].get<std::string>()));
                QVERIFY2(r.exitCode == 0, r.err.constData());
                const OJson got = OJson::parse(r.out.toStdString());
                QCOMPARE(got.size(), std::size_t(3));
                for (const char *k : {"reasoning_content", "content", "tool_calls"})
                    QCOMPARE(QString::fromStdString(got[k].dump()),
                             QString::fromStdString(pc["expected"][k].dump()));
                ++n;
            }
        }
        QCOMPARE(n, 5);
    }
};

QTEST_GUILESS_MAIN(tst_CliChat)
#include "tst_clichat.moc"
