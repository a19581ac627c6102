// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "app/storage/storageservice.h"
#include "storagetestutil.h"

#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QSignalSpy>
#include <QTemporaryDir>

using namespace fathom;
using namespace fathom::storage;

class tst_StorageService : public QObject
{
    Q_OBJECT

private slots:
    void callsRunInOrderOffTheCallerThread();
    void continuationRunsOnCallerThread();
    void streamedAnswerIsSavedWithinASecond();
    void answerCutOffIsInterruptedOnReopen();
    void notOpenIsAnError();
    void backupWhileStreaming();

private:
    // Waits for a future while spinning this thread's event loop (test only).
    template<typename T>
    static T await(QFuture<T> future)
    {
        QFutureWatcher<T> watcher;
        QEventLoop loop;
        QObject::connect(&watcher, &QFutureWatcher<T>::finished, &loop, &QEventLoop::quit);
        watcher.setFuture(future);
        if (!future.isFinished())
            loop.exec();
        return future.result();
    }

    QTemporaryDir m_dir;
};

void tst_StorageService::callsRunInOrderOffTheCallerThread()
{
    StorageService service(m_dir.filePath(QStringLiteral("order.db")));
    VERIFY_OK(await(service.open()));
    QThread *storageThread = await(
        service.run([](StorageWorker &) { return QThread::currentThread(); }));
    QVERIFY(storageThread != QThread::currentThread());
    TAKE(c, await(service.createConversation({QStringLiteral("order"), {}, {}, {}, {}, {}})));
    // Fire many appends without waiting; they must land in call order.
    QList<QFuture<Result<MessageId>>> futures;
    MessageId parent;
    for (int i = 0; i < 50; ++i) {
        NewMessage m;
        m.content = QString::number(i);
        futures << service.run(
            [c, m](StorageWorker &w) { return w.messages().appendToActivePath(c, m); });
    }
    qint64 previous = 0;
    for (auto &f : futures) {
        TAKE(id, await(f));
        QVERIFY(id.value > previous);
        previous = id.value;
    }
    TAKE(path, await(service.activePath(c)));
    QCOMPARE(path.size(), 50);
    for (int i = 0; i < 50; ++i)
        QCOMPARE(path.at(i).content, QString::number(i));
    Q_UNUSED(parent);
}

void tst_StorageService::continuationRunsOnCallerThread()
{
    StorageService service(m_dir.filePath(QStringLiteral("then.db")));
    VERIFY_OK(await(service.open()));
    QThread *ranOn = nullptr;
    bool done = false;
    QObject context;
    service.conversations().then(&context, [&](const Result<QList<Conversation>> &list) {
        ranOn = QThread::currentThread();
        done = list.has_value();
    });
    QTRY_VERIFY(done);
    QCOMPARE(ranOn, QThread::currentThread());
}

void tst_StorageService::streamedAnswerIsSavedWithinASecond()
{
    const QString path = m_dir.filePath(QStringLiteral("stream.db"));
    StorageService service(path);
    VERIFY_OK(await(service.open()));
    TAKE(c, await(service.createConversation({QStringLiteral("s"), {}, {}, {}, {}, {}})));
    NewMessage q;
    q.content = QStringLiteral("question");
    TAKE(u, await(service.appendMessage(c, {}, q)));
    TAKE(a, await(service.beginAnswer(c, u, QStringLiteral("m"))));

    QSignalSpy saved(&service, &StorageService::answerSaved);
    QElapsedTimer clock;
    clock.start();
    service.appendAnswer(a, QStringLiteral("Hello"), QStringLiteral("think"));
    // An independent reader (its own connection) sees the text within a second.
    auto reader = Database::open(path);
    QVERIFY(reader);
    MessageStore readerStore(**reader);
    QTRY_VERIFY_WITH_TIMEOUT(readerStore.message(a)->content == QStringLiteral("Hello"), 1000);
    QVERIFY2(clock.elapsed() <= 1000, qPrintable(QString::number(clock.elapsed())));
    QTRY_VERIFY(!saved.isEmpty());
    QCOMPARE(saved.last().at(1).value<qsizetype>(), qsizetype(5));
    QCOMPARE(readerStore.message(a)->reasoning, QStringLiteral("think"));
    QCOMPARE(readerStore.message(a)->state, MessageState::Streaming);

    service.appendAnswer(a, QStringLiteral(", world"));
    MessageStats stats;
    stats.completionTokens = 3;
    VERIFY_OK(await(service.finishAnswer(a, stats)));
    TAKE(m, readerStore.message(a));
    QCOMPARE(m.content, QStringLiteral("Hello, world"));
    QCOMPARE(m.state, MessageState::Complete);
    QCOMPARE(m.completionTokens, qint64(3));
}

void tst_StorageService::answerCutOffIsInterruptedOnReopen()
{
    const QString path = m_dir.filePath(QStringLiteral("cut.db"));
    MessageId a;
    {
        // Simulate a crash: a Streaming row left behind by a writer that never finished.
        auto db = Database::open(path);
        QVERIFY(db);
        ConversationStore conversations(**db);
        TAKE(c, conversations.create({QStringLiteral("c"), {}, {}, {}, {}, {}}));
        MessageStore messages(**db);
        NewMessage m;
        m.role = Role::Assistant;
        m.content = QStringLiteral("half an ans");
        m.state = MessageState::Streaming;
        TAKE(id, messages.appendToActivePath(c, m));
        a = id;
    }
    StorageService service(path);
    VERIFY_OK(await(service.open()));
    TAKE(m, await(service.run([a](StorageWorker &w) { return w.messages().message(a); })));
    QCOMPARE(m.state, MessageState::Interrupted);
    QCOMPARE(m.content, QStringLiteral("half an ans"));
}

void tst_StorageService::notOpenIsAnError()
{
    StorageService service(m_dir.filePath(QStringLiteral("never-opened.db")));
    auto r = await(service.conversations());
    QVERIFY(!r);
    QCOMPARE(r.error().kind, Error::Kind::Unavailable);
    // A file that cannot be a database fails to open with its name in the message.
    QFile bad(m_dir.filePath(QStringLiteral("bad.db")));
    QVERIFY(bad.open(QIODevice::WriteOnly));
    bad.write(QByteArray(4096, '\x7f'));
    bad.close();
    StorageService broken(bad.fileName());
    auto opened = await(broken.open());
    QVERIFY(!opened);
    QVERIFY(opened.error().message.contains(QStringLiteral("bad.db")));
}

void tst_StorageService::backupWhileStreaming()
{
    StorageService service(m_dir.filePath(QStringLiteral("live.db")));
    VERIFY_OK(await(service.open()));
    TAKE(c, await(service.createConversation({QStringLiteral("live"), {}, {}, {}, {}, {}})));
    TAKE(a, await(service.beginAnswer(c, {}, QStringLiteral("m"))));
    service.appendAnswer(a, QStringLiteral("buffered text"));
    const QString copy = m_dir.filePath(QStringLiteral("live-backup.db"));
    VERIFY_OK(await(service.backup(copy)));
    // The backup includes what was buffered when it was asked for.
    auto db = Database::open(copy);
    QVERIFY(db);
    MessageStore messages(**db);
    TAKE(m, messages.message(a));
    QCOMPARE(m.content, QStringLiteral("buffered text"));
}

QTEST_GUILESS_MAIN(tst_StorageService)
#include "tst_storageservice.moc"
