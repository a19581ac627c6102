// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

// The chat controllers end to end: the real CPU engine (golden tiny-bf16 checkpoint with the
// demo tokenizer, whose 512 ids and BOS/EOS match the checkpoint's) on the engine thread, the real
// database on the storage thread. Oracles: the same request run directly on a CpuBackend (greedy
// decoding is deterministic, so the UI pipeline must deliver exactly that text), and the database
// read back through a separate connection.

#include "uitestsupport.h"

#include "app/core/settings.h"
#include "app/storage/database.h"
#include "app/storage/messagestore.h"
#include "app/storage/storageservice.h"
#include "engine/cpu/cpubackend.h"
#include "testdata.h"
#include "ui/controllers/appcontroller.h"
#include "ui/controllers/chatcontroller.h"
#include "ui/controllers/conversationscontroller.h"
#include "ui/controllers/demomodel.h"
#include "ui/controllers/modelscontroller.h"
#include "ui/controllers/settingscontroller.h"

#include <QFile>
#include <QSignalSpy>
#include <QTest>

using namespace fathom;

namespace {

struct CollectingSink final : engine::TokenSink
{
    std::string content, reasoning;
    bool done = false;
    std::optional<engine::Error> error;
    void onText(engine::RequestId, const std::string &r, const std::string &c) override
    {
        reasoning += r;
        content += c;
    }
    void onFinished(engine::RequestId,
                    engine::FinishReason,
                    const engine::GenerationStats &) override
    {
        done = true;
    }
    void onError(engine::RequestId, const engine::Error &e) override
    {
        error = e;
        done = true;
    }
};

} // namespace

class tst_ChatController : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void sendMatchesEngineAndIsSaved();
    void regenerateEditAndSwitchBranches();
    void closingWhileGeneratingSavesPartialAnswer();
    void sendWithoutModelKeepsText();
    void demoTokenizerLoads();

private:
    std::unique_ptr<ui::AppController> makeApp(const QString &name, int maxTokens);
    QString directAnswer(const QString &question, int maxTokens);
    std::optional<storage::Message> storedMessage(const QString &db, MessageId id);

    QTemporaryDir m_dir;
    QString m_model;
};

void tst_ChatController::initTestCase()
{
    QCoreApplication::setOrganizationName(QStringLiteral("FathomTest"));
    QCoreApplication::setApplicationName(QStringLiteral("FathomTest"));
    QVERIFY(m_dir.isValid());
    qputenv("FATHOM_DATA_DIR", m_dir.path().toLocal8Bit());
    FATHOM_TESTDATA_PATH(tiny, "v4/tiny-bf16");
    m_model = m_dir.filePath(QStringLiteral("tiny-chat"));
    QVERIFY(QDir().mkpath(m_model));
    for (const QString &f :
         QDir(tiny).entryList({"config.json", "model*.safetensors*"}, QDir::Files))
        QVERIFY(QFile::link(QDir(tiny).filePath(f), QDir(m_model).filePath(f)));
    QFile tokenizer(QDir(m_model).filePath(QStringLiteral("tokenizer.json")));
    QVERIFY(tokenizer.open(QIODevice::WriteOnly));
    tokenizer.write(QByteArray::fromStdString(ui::demo::tokenizerJson()));
    tokenizer.close();
    QCOMPARE(ui::ModelsController::validateModelFolder(m_model), QString());
}

std::unique_ptr<ui::AppController> tst_ChatController::makeApp(const QString &name, int maxTokens)
{
    ui::AppController::Options options;
    options.databasePath = m_dir.filePath(name + QStringLiteral(".db"));
    options.settingsPath = m_dir.filePath(name + QStringLiteral(".ini"));
    options.loadModelOnStart = false;
    auto app = std::make_unique<ui::AppController>(options);
    app->settings()->setTemperature(0.0); // greedy: the oracle can reproduce it
    app->settings()->setMaxTokens(maxTokens);
    app->settings()->setReasoning(QStringLiteral("off"));
    app->settings()->setContextLength(128);
    app->chat()->setReasoningMode(QStringLiteral("off"));
    app->start();
    return app;
}

QString tst_ChatController::directAnswer(const QString &question, int maxTokens)
{
    engine::CpuBackend backend;
    engine::ModelSpec spec;
    spec.path = m_model.toStdString();
    if (auto r = backend.load(spec, {}); !r)
        qFatal("direct load failed: %s", r.error().message.c_str());
    engine::GenerationRequest request;
    request.id = 1;
    request.messages.push_back({engine::chat::Role::User, question.toStdString()});
    request.sampling.temperature = 0.0f;
    request.sampling.topP = float(Settings().topP());
    request.maxTokens = maxTokens;
    CollectingSink sink;
    if (auto r = backend.submit(request, sink); !r)
        qFatal("direct submit failed: %s", r.error().message.c_str());
    while (!sink.done && backend.step()) {
    }
    return QString::fromStdString(sink.content);
}

std::optional<storage::Message> tst_ChatController::storedMessage(const QString &db, MessageId id)
{
    auto database = storage::Database::open(db);
    if (!database)
        return std::nullopt;
    storage::MessageStore store(**database);
    auto m = store.message(id);
    return m ? std::optional<storage::Message>(*m) : std::nullopt;
}

void tst_ChatController::sendMatchesEngineAndIsSaved()
{
    auto app = makeApp(QStringLiteral("send"), 12);
    QTRY_VERIFY(app->ready());
    app->models()->load(m_model);
    QTRY_VERIFY_WITH_TIMEOUT(app->models()->state() != u"loading", 120000);
    QCOMPARE(app->models()->state(), QStringLiteral("loaded"));

    ui::ChatController *chat = app->chat();
    QSignalSpy created(chat, &ui::ChatController::conversationCreated);
    QSignalSpy errors(chat, &ui::ChatController::errorOccurred);
    QVERIFY(chat->send(QStringLiteral("Hello there")));
    QVERIFY(chat->generating());
    QTRY_VERIFY_WITH_TIMEOUT(!chat->generating(), 120000);
    QVERIFY2(errors.isEmpty(),
             errors.isEmpty() ? "" : qPrintable(errors.first().first().toString()));
    QCOMPARE(created.count(), 1);
    QCOMPARE(chat->messages()->rowCount(), 2);
    // The conversation appeared in the sidebar, titled after the question.
    QCOMPARE(app->conversations()->model()->rowCount(), 1);
    QCOMPARE(app->conversations()
                 ->model()
                 ->index(0)
                 .data(ui::ConversationListModel::TitleRole)
                 .toString(),
             QStringLiteral("Hello there"));

    const QModelIndex answer = chat->messages()->index(1);
    const QString shown = answer.data(ui::MessageListModel::ContentRole).toString();
    QCOMPARE(shown, directAnswer(QStringLiteral("Hello there"), 12));
    QVERIFY(answer.data(ui::MessageListModel::CompletionTokensRole).toLongLong() > 0);
    QVERIFY(!answer.data(ui::MessageListModel::FailedRole).toBool());

    // What the user saw is what is on disk, with the figures.
    const MessageId answerId(answer.data(ui::MessageListModel::IdRole).toLongLong());
    QTRY_VERIFY(storedMessage(app->storage()->databasePath(), answerId)
                && storedMessage(app->storage()->databasePath(), answerId)->state
                       == storage::MessageState::Complete);
    const auto stored = storedMessage(app->storage()->databasePath(), answerId);
    QCOMPARE(stored->content, shown);
    QCOMPARE(stored->completionTokens,
             answer.data(ui::MessageListModel::CompletionTokensRole).toLongLong());
    QVERIFY(stored->promptTokens > 0);

    // The context meter counts finished messages with the model's tokenizer (off the GUI thread),
    // not with the characters-per-token estimate: the same tokenizer file, loaded here on its own.
    auto tok = engine::tokenizer::Tokenizer::fromModelDir(m_model.toStdString());
    QVERIFY(tok);
    int expected = 0;
    for (const QString &text : {QStringLiteral("Hello there"), shown})
        expected += int(tok->encode(text.toStdString()).size()) + 4;
    QVERIFY(expected
            != ui::ChatController::estimateTokens(QStringLiteral("Hello there"))
                   + ui::ChatController::estimateTokens(shown) + 8);
    QTRY_COMPARE(chat->conversationTokens(), expected);
    const QString system = QStringLiteral("Answer in one sentence, citing pages.");
    chat->setSystemPrompt(system);
    QCOMPARE(chat->systemTokens(), int(tok->encode(system.toStdString()).size()));
}

void tst_ChatController::regenerateEditAndSwitchBranches()
{
    auto app = makeApp(QStringLiteral("branches"), 6);
    QTRY_VERIFY(app->ready());
    app->models()->load(m_model);
    QTRY_VERIFY_WITH_TIMEOUT(app->models()->state() == u"loaded", 120000);
    ui::ChatController *chat = app->chat();
    ui::MessageListModel *messages = chat->messages();

    QVERIFY(chat->send(QStringLiteral("First question")));
    QTRY_VERIFY_WITH_TIMEOUT(!chat->generating() && messages->rowCount() == 2, 120000);
    const QString firstAnswer = messages->index(1).data(ui::MessageListModel::ContentRole).toString();

    // Regenerate: a sibling answer, arrows show 2 of 2; greedy decoding gives the same text.
    chat->regenerate(1);
    QTRY_VERIFY_WITH_TIMEOUT(!chat->generating(), 120000);
    QCOMPARE(messages->rowCount(), 2);
    QCOMPARE(messages->index(1).data(ui::MessageListModel::SiblingCountRole).toInt(), 2);
    QCOMPARE(messages->index(1).data(ui::MessageListModel::SiblingIndexRole).toInt(), 1);
    QCOMPARE(messages->index(1).data(ui::MessageListModel::ContentRole).toString(), firstAnswer);

    // Edit the question: a sibling question with its own answer.
    QVERIFY(chat->editMessage(0, QStringLiteral("Second question")));
    QTRY_VERIFY_WITH_TIMEOUT(!chat->generating() && messages->rowCount() == 2
                                 && !messages->index(1)
                                         .data(ui::MessageListModel::StreamingRole)
                                         .toBool(),
                             120000);
    QCOMPARE(messages->index(0).data(ui::MessageListModel::ContentRole).toString(),
             QStringLiteral("Second question"));
    QCOMPARE(messages->index(0).data(ui::MessageListModel::SiblingCountRole).toInt(), 2);
    QCOMPARE(messages->index(1).data(ui::MessageListModel::ContentRole).toString(),
             directAnswer(QStringLiteral("Second question"), 6));

    // Back to the first branch: its question and its (second, regenerated) answer.
    chat->switchBranch(0, -1);
    QTRY_COMPARE(messages->index(0).data(ui::MessageListModel::ContentRole).toString(),
                 QStringLiteral("First question"));
    QCOMPARE(messages->rowCount(), 2);
    QCOMPARE(messages->index(1).data(ui::MessageListModel::SiblingCountRole).toInt(), 2);
    QCOMPARE(messages->index(1).data(ui::MessageListModel::ContentRole).toString(), firstAnswer);
}

void tst_ChatController::closingWhileGeneratingSavesPartialAnswer()
{
    auto app = makeApp(QStringLiteral("close"), 100);
    QTRY_VERIFY(app->ready());
    app->models()->load(m_model);
    QTRY_VERIFY_WITH_TIMEOUT(app->models()->state() == u"loaded", 120000);
    ui::ChatController *chat = app->chat();
    QVERIFY(chat->send(QStringLiteral("Tell me a long story")));
    QTRY_VERIFY_WITH_TIMEOUT(chat->messages()->rowCount() == 2, 60000);
    const MessageId answerId(chat->messages()->idAt(1));
    QVERIFY(answerId.isValid());
    const QString db = app->storage()->databasePath();
    // Closing the window: the running answer ends as cancelled (or finished just before) with
    // every character the user saw on disk.
    app->shutdown();
    const QString shown
        = chat->messages()->index(1).data(ui::MessageListModel::ContentRole).toString();
    app.reset();
    const auto stored = storedMessage(db, answerId);
    QVERIFY(stored);
    QVERIFY(stored->state != storage::MessageState::Streaming);
    QCOMPARE(stored->content, shown);
}

void tst_ChatController::sendWithoutModelKeepsText()
{
    auto app = makeApp(QStringLiteral("nomodel"), 8);
    QTRY_VERIFY(app->ready());
    QSignalSpy errors(app->chat(), &ui::ChatController::errorOccurred);
    QVERIFY(!app->chat()->send(QStringLiteral("anything")));
    QCOMPARE(errors.count(), 1);
    QVERIFY(errors.first().first().toString().contains(QStringLiteral("Models")));
    QCOMPARE(app->chat()->messages()->rowCount(), 0);
}

void tst_ChatController::demoTokenizerLoads()
{
    // The generated tokenizer is a valid byte-level BPE for our tokenizer: round trip, and V4's
    // chat markers are single tokens.
    auto tok = engine::tokenizer::Tokenizer::fromJsonText(ui::demo::tokenizerJson());
    QVERIFY2(tok, tok ? "" : tok.error().message.c_str());
    QCOMPARE(int(tok->vocabSize()), ui::demo::kVocabSize);
    const std::string text = "the analyst reads 中文 pages ✓";
    QCOMPARE(tok->decode(tok->encode(text)), text);
    QVERIFY(tok->encode(text).size() < text.size()); // merges were learnt
    QCOMPARE(tok->tokenId("<\xEF\xBD\x9CUser\xEF\xBD\x9C>").value_or(-1), 498);
    QCOMPARE(tok->tokenId("</think>").value_or(-1), 502);
    QCOMPARE(tok->encode("<think>").size(), size_t(1));
}

QTEST_MAIN(tst_ChatController)
#include "tst_chatcontroller.moc"
