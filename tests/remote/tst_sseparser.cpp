// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "engine/remote/sseparser.h"

#include <QTest>

#include <random>
#include <string>
#include <vector>

using fathom::engine::remote::SseEvent;
using fathom::engine::remote::SseParser;

namespace {

std::vector<SseEvent> parseWhole(std::string_view bytes, bool *clean = nullptr)
{
    SseParser p;
    std::vector<SseEvent> out;
    p.feed(bytes, out);
    const bool c = p.finish();
    if (clean)
        *clean = c;
    return out;
}

std::vector<SseEvent> parseSplit(std::string_view bytes,
                                 std::mt19937 &rng,
                                 int maxPiece,
                                 bool *clean = nullptr)
{
    SseParser p;
    std::vector<SseEvent> out;
    std::size_t i = 0;
    while (i < bytes.size()) {
        const std::size_t n = std::min<std::size_t>(bytes.size() - i,
                                                    std::uniform_int_distribution<int>(0, maxPiece)(
                                                        rng));
        p.feed(bytes.substr(i, n), out); // zero-length pieces included on purpose
        i += n;
    }
    const bool c = p.finish();
    if (clean)
        *clean = c;
    return out;
}

bool sameEvents(const std::vector<SseEvent> &a, const std::vector<SseEvent> &b)
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].data != b[i].data || a[i].type != b[i].type || a[i].id != b[i].id)
            return false;
    return true;
}

QByteArray describe(const std::vector<SseEvent> &events)
{
    QByteArray s;
    for (const SseEvent &e : events)
        s += "[" + QByteArray::fromStdString(e.type) + "|" + QByteArray::fromStdString(e.data) + "|"
             + QByteArray::fromStdString(e.id) + "]";
    return s;
}

} // namespace

class tst_SseParser : public QObject
{
    Q_OBJECT

private slots:
    void basics_data();
    void basics();
    void cutMidEvent();
    void crAtPieceBoundary();
    void byteOrderMarkSplit();
    void eventSizeLimit();
    void fuzzRandomSplits();
    void fuzzGarbageIsSplitInvariant();
};

void tst_SseParser::basics_data()
{
    QTest::addColumn<QByteArray>("stream");
    QTest::addColumn<QByteArray>("expected"); // describe() of the events
    QTest::addColumn<bool>("clean");

    QTest::newRow("lf") << QByteArray("data: a\n\ndata: b\n\n") << QByteArray("[|a|][|b|]") << true;
    QTest::newRow("crlf") << QByteArray("data: a\r\n\r\ndata: b\r\n\r\n")
                          << QByteArray("[|a|][|b|]") << true;
    QTest::newRow("cr") << QByteArray("data: a\r\rdata: b\r\r") << QByteArray("[|a|][|b|]") << true;
    QTest::newRow("mixed terminators")
        << QByteArray("data: a\r\ndata: b\n\r\n") << QByteArray("[|a\nb|]") << true;
    QTest::newRow("multi-line data")
        << QByteArray("data: {\"a\":\ndata: 1}\n\n") << QByteArray("[|{\"a\":\n1}|]") << true;
    QTest::newRow("comments and keep-alives")
        << QByteArray(": keep-alive\n\n:\n\ndata: x\n: in the middle\n\n") << QByteArray("[|x|]")
        << true;
    QTest::newRow("no space after colon")
        << QByteArray("data:x\n\n") << QByteArray("[|x|]") << true;
    QTest::newRow("only one space stripped")
        << QByteArray("data:  x\n\n") << QByteArray("[| x|]") << true;
    QTest::newRow("field without colon") << QByteArray("data\n\n") << QByteArray("[||]") << true;
    QTest::newRow("empty data dispatches")
        << QByteArray("data:\ndata:\n\n") << QByteArray("[|\n|]") << true;
    QTest::newRow("no data, no event")
        << QByteArray("event: ping\n\nid: 7\n\n") << QByteArray() << true;
    QTest::newRow("event type and id") << QByteArray("event: delta\nid: 42\ndata: x\n\ndata: y\n\n")
                                       << QByteArray("[delta|x|42][|y|42]") << true;
    QTest::newRow("unknown fields ignored")
        << QByteArray("retry: 100\nfoo: bar\ndata: x\n\n") << QByteArray("[|x|]") << true;
    QTest::newRow("colon in value")
        << QByteArray("data: a: b\n\n") << QByteArray("[|a: b|]") << true;
    QTest::newRow("done marker") << QByteArray("data: [DONE]\n\n") << QByteArray("[|[DONE]|]")
                                 << true;
    QTest::newRow("data field name is case-sensitive")
        << QByteArray("Data: x\n\n") << QByteArray() << true;
    QTest::newRow("utf-8 kept") << QByteArray("data: \xc3\xa9\xe2\x82\xac\n\n")
                                << QByteArray("[|\xc3\xa9\xe2\x82\xac|]") << true;
    QTest::newRow("trailing undispatched")
        << QByteArray("data: a\n\ndata: b\n") << QByteArray("[|a|]") << false;
    QTest::newRow("trailing partial line")
        << QByteArray("data: a\n\ndata: b") << QByteArray("[|a|]") << false;
}

void tst_SseParser::basics()
{
    QFETCH(QByteArray, stream);
    QFETCH(QByteArray, expected);
    QFETCH(bool, clean);
    bool wasClean = !clean;
    const auto events = parseWhole(stream.toStdString(), &wasClean);
    QCOMPARE(describe(events), expected);
    QCOMPARE(wasClean, clean);
    // The same stream one byte at a time.
    SseParser p;
    std::vector<SseEvent> bytewise;
    for (char c : stream)
        p.feed(std::string_view(&c, 1), bytewise);
    QCOMPARE(p.finish(), clean);
    QCOMPARE(describe(bytewise), expected);
}

void tst_SseParser::cutMidEvent()
{
    SseParser p;
    std::vector<SseEvent> out;
    QVERIFY(p.feed("data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"choi", out));
    QCOMPARE(out.size(), std::size_t(1));
    QVERIFY(p.hasPendingEvent());
    QVERIFY(!p.finish());
    QCOMPARE(out.size(), std::size_t(1)); // the cut event is discarded, not half-delivered
}

void tst_SseParser::crAtPieceBoundary()
{
    // CR ends a piece and LF starts the next: one line terminator, not two (which would
    // dispatch the event early and split "a" from "b").
    SseParser p;
    std::vector<SseEvent> out;
    p.feed("data: a\r", out);
    p.feed("\ndata: b\r", out);
    p.feed("\n\r", out);
    p.feed("\n", out);
    QCOMPARE(describe(out), QByteArray("[|a\nb|]"));
    QVERIFY(p.finish());
}

void tst_SseParser::byteOrderMarkSplit()
{
    SseParser p;
    std::vector<SseEvent> out;
    p.feed("\xEF", out);
    p.feed("\xBB", out);
    p.feed("\xBF"
           "data: x\n\n",
           out);
    QCOMPARE(describe(out), QByteArray("[|x|]"));
    // A BOM is only skipped at the very start.
    const auto later = parseWhole("data: a\n\n\xEF\xBB\xBF"
                                  "data: b\n\n");
    QCOMPARE(describe(later), QByteArray("[|a|]")); // "\xEF\xBB\xBF" "data" is an unknown field
}

void tst_SseParser::eventSizeLimit()
{
    SseParser p(1024);
    std::vector<SseEvent> out;
    const std::string big(600, 'x');
    QVERIFY(p.feed("data: " + big + "\n", out));
    QVERIFY(!p.feed("data: " + big + "\n", out)); // two lines together exceed 1 KiB
    QVERIFY(p.failed());
    QVERIFY(!p.errorMessage().empty());
    QVERIFY(!p.feed("data: small\n\n", out)); // stays failed
    QVERIFY(out.empty());
    // One endless line without a terminator fails too, in small pieces.
    SseParser q(1024);
    bool ok = true;
    for (int i = 0; i < 200 && ok; ++i)
        ok = q.feed("yyyyyyyyyy", out);
    QVERIFY(!ok);
}

void tst_SseParser::fuzzRandomSplits()
{
    // Streams built from known events with random terminators, comments and fields; every
    // random split must give back exactly the events that were put in.
    std::mt19937 rng(20261128);
    const char *terminators[] = {"\n", "\r\n", "\r"};
    const std::string alphabet = "abcXYZ019 :{}\"[],.\xc3\xa9\xe4\xb8\xad"; // incl. UTF-8 bytes
    for (int round = 0; round < 300; ++round) {
        std::string stream;
        std::vector<SseEvent> expected;
        std::string lastId;
        const int nEvents = std::uniform_int_distribution<int>(0, 12)(rng);
        // Appends a line end. After a lone CR it must not be a bare LF: CR LF is one line end.
        auto term = [&] {
            const bool afterCr = !stream.empty() && stream.back() == '\r';
            stream += terminators[std::uniform_int_distribution<int>(afterCr ? 1 : 0, 2)(rng)];
        };
        auto randomText = [&](int maxLen) {
            std::string s;
            const int len = std::uniform_int_distribution<int>(0, maxLen)(rng);
            for (int i = 0; i < len; ++i)
                s += alphabet[std::uniform_int_distribution<std::size_t>(0,
                                                                         alphabet.size() - 1)(rng)];
            return s;
        };
        for (int e = 0; e < nEvents; ++e) {
            if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) {
                stream += ": keep-alive"; // a bare comment "event"
                term();
                term();
            }
            SseEvent ev;
            if (std::uniform_int_distribution<int>(0, 4)(rng) == 0) {
                ev.type = "t" + std::to_string(e);
                stream += "event: " + ev.type;
                term();
            }
            if (std::uniform_int_distribution<int>(0, 4)(rng) == 0) {
                lastId = std::to_string(round * 100 + e);
                stream += "id: " + lastId;
                term();
            }
            ev.id = lastId;
            const int lines = std::uniform_int_distribution<int>(1, 3)(rng);
            for (int l = 0; l < lines; ++l) {
                const std::string text = randomText(60);
                if (l)
                    ev.data += '\n';
                ev.data += text;
                stream += "data: " + text;
                term();
                if (std::uniform_int_distribution<int>(0, 5)(rng) == 0) {
                    stream += ":comment " + randomText(10);
                    term();
                }
            }
            term();
            expected.push_back(ev);
        }
        for (int split = 0; split < 5; ++split) {
            bool clean = false;
            const auto got = parseSplit(stream, rng, split == 0 ? 1 : 1 << (split * 2), &clean);
            if (!sameEvents(got, expected))
                QFAIL(qPrintable(QStringLiteral("round %1 split %2: got %3, expected %4")
                                     .arg(round)
                                     .arg(split)
                                     .arg(QString::fromUtf8(describe(got)),
                                          QString::fromUtf8(describe(expected)))));
            QVERIFY(clean);
        }
        // Cut the stream at a random point: never more events than were complete, never a
        // half event, and the same result with any split.
        if (!stream.empty()) {
            const std::size_t cut = std::uniform_int_distribution<std::size_t>(0, stream.size() - 1)(
                rng);
            const auto whole = parseWhole(std::string_view(stream).substr(0, cut));
            const auto pieces = parseSplit(std::string_view(stream).substr(0, cut), rng, 7);
            QVERIFY(sameEvents(whole, pieces));
            QVERIFY(whole.size() <= expected.size());
            for (std::size_t i = 0; i < whole.size(); ++i)
                QVERIFY(whole[i].data == expected[i].data);
        }
    }
}

void tst_SseParser::fuzzGarbageIsSplitInvariant()
{
    // Random bytes (biased towards the characters the format cares about): the parser must
    // neither crash nor depend on how the bytes were split, and must stay within its limit.
    std::mt19937 rng(4242);
    const std::string special = "\r\n:data event id \xEF\xBB\xBF";
    for (int round = 0; round < 500; ++round) {
        std::string stream;
        const int len = std::uniform_int_distribution<int>(0, 2000)(rng);
        for (int i = 0; i < len; ++i) {
            if (std::uniform_int_distribution<int>(0, 2)(rng) == 0)
                stream += static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
            else
                stream += special[std::uniform_int_distribution<std::size_t>(0, special.size() - 1)(
                    rng)];
        }
        bool cleanWhole = false;
        bool cleanSplit = true;
        const auto whole = parseWhole(stream, &cleanWhole);
        const auto split = parseSplit(stream, rng, 1 + round % 64, &cleanSplit);
        QVERIFY2(sameEvents(whole, split), qPrintable(QStringLiteral("round %1").arg(round)));
        QCOMPARE(cleanWhole, cleanSplit);
        for (const SseEvent &e : whole)
            QVERIFY(e.data.size() <= SseParser::defaultMaxEventBytes);
    }
}

QTEST_GUILESS_MAIN(tst_SseParser)
#include "tst_sseparser.moc"
