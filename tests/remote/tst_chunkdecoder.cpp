// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "engine/remote/chunkdecoder.h"

#include <QTest>

using namespace fathom::engine;
using namespace fathom::engine::remote;

class tst_ChunkDecoder : public QObject
{
    Q_OBJECT

private slots:
    void reasoningAndContentApart();
    void usageChunkWithEmptyChoices();
    void deepSeekCacheFields();
    void toolCallFragments();
    void finishReasons_data();
    void finishReasons();
    void errorsInsideStream();
    void notJson();
    void wholeCompletion();
    void errorBodies_data();
    void errorBodies();
};

void tst_ChunkDecoder::reasoningAndContentApart()
{
    ChunkDecoder d;
    auto a = d.decodeChunk(
        R"({"model":"m1","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"think"},"finish_reason":null}]})");
    QVERIFY(a);
    QCOMPARE(a->reasoning, std::string("think"));
    QCOMPARE(a->content, std::string());
    QVERIFY(!a->finishReason);
    auto b = d.decodeChunk(R"({"choices":[{"index":0,"delta":{"reasoning":"vllm-new"}}]})");
    QCOMPARE(b->reasoning, std::string("vllm-new"));
    auto c = d.decodeChunk(
        R"({"choices":[{"index":0,"delta":{"content":"answer","reasoning_content":null}}]})");
    QCOMPARE(c->content, std::string("answer"));
    QCOMPARE(c->reasoning, std::string());
    QCOMPARE(d.model(), std::string("m1"));
    // Only choice 0 counts.
    auto other = d.decodeChunk(R"({"choices":[{"index":1,"delta":{"content":"x"}}]})");
    QVERIFY(other);
    QCOMPARE(other->content, std::string());
}

void tst_ChunkDecoder::usageChunkWithEmptyChoices()
{
    ChunkDecoder d;
    auto u = d.decodeChunk(
        R"({"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":{"reasoning_tokens":5}}})");
    QVERIFY(u);
    QVERIFY(d.usage());
    QCOMPARE(d.usage()->promptTokens, 12);
    QCOMPARE(d.usage()->completionTokens, 9);
    QCOMPARE(d.usage()->cachedPromptTokens, 8);
    QCOMPARE(d.usage()->reasoningTokens, 5);
    // "usage": null on ordinary chunks does not erase it.
    const char *json1 = R"({"choices":[{"index":0,"delta":{"content":"x"}}],"usage":null})";
    QVERIFY(d.decodeChunk(json1));
    QCOMPARE(d.usage()->promptTokens, 12);
}

void tst_ChunkDecoder::deepSeekCacheFields()
{
    ChunkDecoder d;
    const char *json2
        = R"({"choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":3,"prompt_cache_hit_tokens":64,"prompt_cache_miss_tokens":36}})";
    QVERIFY(d.decodeChunk(json2));
    QCOMPARE(d.usage()->cachedPromptTokens, 64);
}

void tst_ChunkDecoder::toolCallFragments()
{
    ChunkDecoder d;
    const char *json3
        = R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"b","type":"function","function":{"name":"g","arguments":"{\"y\""}}]}}]})";
    QVERIFY(d.decodeChunk(json3));
    const char *json4
        = R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"f","arguments":""}}]}}]})";
    QVERIFY(d.decodeChunk(json4));
    const char *json5
        = R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\"x\":1}"}}]}}]})";
    QVERIFY(d.decodeChunk(json5));
    auto last = d.decodeChunk(
        R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":":2}"}}]}}]})");
    QVERIFY(last && last->hasToolCallDelta);
    const auto calls = d.toolCalls();
    QCOMPARE(calls.size(), std::size_t(2));
    QCOMPARE(calls[0].id, std::string("a"));
    QCOMPARE(calls[0].name, std::string("f")); // a repeated name is not doubled
    const char *json6 = R"({"x":1})";
    QCOMPARE(calls[0].argumentsJson, std::string(json6));
    QCOMPARE(calls[1].id, std::string("b"));
    const char *json7 = R"({"y":2})";
    QCOMPARE(calls[1].argumentsJson, std::string(json7));
}

void tst_ChunkDecoder::finishReasons_data()
{
    QTest::addColumn<QString>("raw");
    QTest::addColumn<int>("reason");
    QTest::newRow("stop") << "stop" << int(FinishReason::Stop);
    QTest::newRow("length") << "length" << int(FinishReason::Length);
    QTest::newRow("tool_calls") << "tool_calls" << int(FinishReason::ToolCalls);
    QTest::newRow("content_filter") << "content_filter" << int(FinishReason::Stop);
    QTest::newRow("insufficient_system_resource")
        << "insufficient_system_resource" << int(FinishReason::Stop);
}

void tst_ChunkDecoder::finishReasons()
{
    QFETCH(QString, raw);
    QFETCH(int, reason);
    ChunkDecoder d;
    auto r = d.decodeChunk(R"({"choices":[{"index":0,"delta":{},"finish_reason":")"
                           + raw.toStdString() + "\"}]}");
    QVERIFY(r && r->finishReason);
    QCOMPARE(int(*r->finishReason), reason);
    QCOMPARE(r->rawFinishReason, raw.toStdString());
}

void tst_ChunkDecoder::errorsInsideStream()
{
    ChunkDecoder d;
    auto a = d.decodeChunk(R"({"error":{"message":"overloaded","type":"server_error"}})");
    QVERIFY(!a);
    QCOMPARE(a.error().kind, Error::Kind::Network);
    QVERIFY(a.error().message.find("overloaded") != std::string::npos);
    auto b = d.decodeChunk(
        R"({"object":"error","message":"KV cache full","type":"InternalServerError","code":500})");
    QVERIFY(!b);
    QVERIFY(b.error().message.find("KV cache full") != std::string::npos);
    // "error": null is not an error.
    const char *json8 = R"({"error":null,"choices":[]})";
    QVERIFY(d.decodeChunk(json8));
}

void tst_ChunkDecoder::notJson()
{
    ChunkDecoder d;
    for (const char *bad : {"", "{", "[1,2]", "garbage", "\"str\"", "{\"choices\": [ }"}) {
        auto r = d.decodeChunk(bad);
        QVERIFY2(!r, bad);
        QCOMPARE(r.error().kind, Error::Kind::Format);
    }
    // Wrong types are ignored, not crashed on.
    auto odd = d.decodeChunk(
        R"({"choices":[{"index":0,"delta":{"content":5,"tool_calls":"x"},"finish_reason":7}],"usage":[]})");
    QVERIFY(odd);
    QCOMPARE(odd->content, std::string());
    QVERIFY(!odd->finishReason);
}

void tst_ChunkDecoder::wholeCompletion()
{
    ChunkDecoder d;
    auto r = d.decodeCompletion(
        R"({"choices":[{"index":0,"message":{"role":"assistant","content":"","reasoning_content":"r","tool_calls":[{"id":"c","type":"function","function":{"name":"n","arguments":"{}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1,"completion_tokens":2}})");
    QVERIFY(r);
    QCOMPARE(r->reasoning, std::string("r"));
    QCOMPARE(*r->finishReason, FinishReason::ToolCalls);
    QCOMPARE(d.toolCalls().size(), std::size_t(1));
    QCOMPARE(d.toolCalls()[0].name, std::string("n"));
    const char *json9 = R"({"choices":[]})";
    QVERIFY(!d.decodeCompletion(json9));
}

void tst_ChunkDecoder::errorBodies_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("expected");
    QTest::newRow("openai") << QByteArray(
        R"({"error":{"message":"Invalid model","type":"invalid_request_error","code":null}})")
                            << "Invalid model [invalid_request_error]";
    QTest::newRow("vllm") << QByteArray(
        R"({"object":"error","message":"bad","type":"BadRequestError","param":null,"code":400})")
                          << "bad [BadRequestError]";
    QTest::newRow("fastapi") << QByteArray(R"({"detail":"Not Found"})") << "Not Found";
    QTest::newRow("string error") << QByteArray(R"({"error":"nope"})") << "nope";
    QTest::newRow("plain text") << QByteArray("  upstream timed out\n") << "upstream timed out";
    QTest::newRow("empty") << QByteArray() << "";
}

void tst_ChunkDecoder::errorBodies()
{
    QFETCH(QByteArray, body);
    QFETCH(QString, expected);
    QCOMPARE(QString::fromStdString(errorMessageFromBody(body.toStdString())), expected);
    // Long bodies are shortened.
    QVERIFY(errorMessageFromBody(std::string(5000, 'x')).size() < 600);
}

QTEST_GUILESS_MAIN(tst_ChunkDecoder)
#include "tst_chunkdecoder.moc"
