// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// Crash durability: storage_killwriter writes through the app's StorageService and prints every
// acknowledged write; we SIGKILL it at random moments, many times, on the same database. After
// every kill the database must open, pass PRAGMA integrity_check and hold every acknowledged
// write; a streamed answer must have lost at most the last second of text.

#include "app/storage/conversationstore.h"
#include "app/storage/database.h"
#include "app/storage/documentstore.h"
#include "app/storage/messagestore.h"
#include "storagetestutil.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>

using namespace fathom;
using namespace fathom::storage;

class tst_Durability : public QObject
{
    Q_OBJECT

private slots:
    void survivesSigkill();

private:
    struct Appended
    {
        qint64 length;
        qint64 msecs;
        qint64 killedAt;
    };
};

static QByteArray md5(const QString &text)
{
    return QCryptographicHash::hash(text.toUtf8(), QCryptographicHash::Md5).toHex();
}

void tst_Durability::survivesSigkill()
{
    const int iterations = qEnvironmentVariableIsSet("FATHOM_KILL_ITERATIONS")
                               ? qEnvironmentVariableIntValue("FATHOM_KILL_ITERATIONS")
                               : 30;
    const quint32 seed = qEnvironmentVariableIsSet("FATHOM_KILL_SEED")
                             ? quint32(qEnvironmentVariableIntValue("FATHOM_KILL_SEED"))
                             : QRandomGenerator::global()->generate();
    qInfo("seed %u (FATHOM_KILL_SEED reproduces the kill times), %d kills", seed, iterations);
    QRandomGenerator random(seed);
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("durable.db"));

    QList<QList<QByteArray>> acks; // every acknowledged write of every run, in order
    QHash<qint64, QList<Appended>> appended;
    QSet<qint64> finished;
    int totalAcks = 0;
    int killedMidStream = 0;
    qint64 worstLossMs = 0;

    for (int i = 0; i < iterations; ++i) {
        QProcess writer;
        writer.setProcessChannelMode(QProcess::SeparateChannels);
        writer.start(QStringLiteral(FATHOM_KILLWRITER_PATH),
                     {path, QString::number(random.generate())});
        QVERIFY2(writer.waitForStarted(10000), qPrintable(writer.errorString()));
        // Let it open the database first (the first run creates it), then kill at random.
        QByteArray out;
        const QDeadlineTimer openDeadline(20000);
        while (!out.startsWith("O\n") && !openDeadline.hasExpired()
               && writer.state() == QProcess::Running) {
            writer.waitForReadyRead(100);
            out += writer.readAllStandardOutput();
        }
        QVERIFY2(out.startsWith("O\n"), writer.readAllStandardError().constData());
        QTest::qWait(50 + int(random.bounded(1200)));
        QCOMPARE(writer.state(), QProcess::Running); // it must not have stopped by itself
        const qint64 killedAt = QDateTime::currentMSecsSinceEpoch();
        writer.kill(); // SIGKILL
        QVERIFY(writer.waitForFinished(10000));
        QCOMPARE(writer.exitStatus(), QProcess::CrashExit);

        // Only complete lines count: a line is written in one write(2) after the ack.
        out += writer.readAllStandardOutput();
        const QList<QByteArray> lines = out.split('\n');
        for (int l = 0; l + 1 < lines.size(); ++l) {
            const QList<QByteArray> f = lines.at(l).split(' ');
            if (f.first() == "X")
                appended[f.at(1).toLongLong()]
                    << Appended{f.at(2).toLongLong(), f.at(3).toLongLong(), killedAt};
            else if (f.first() != "O")
                acks << f;
            if (f.first() == "F")
                finished.insert(f.at(1).toLongLong());
        }

        auto opened = Database::open(path);
        QVERIFY2(opened, qPrintable(opened ? QString() : opened.error().message));
        Database &db = **opened;
        TAKE(check, db.integrityCheck());
        QCOMPARE(check, QStringLiteral("ok"));
        MessageStore messages(db);
        ConversationStore conversations(db);
        DocumentStore documents(db);
        for (const QList<QByteArray> &f : std::as_const(acks)) {
            const QByteArray kind = f.first();
            const qint64 id = f.value(1).toLongLong();
            if (kind == "C") {
                QVERIFY2(conversations.conversation(ConversationId(id)), f.join(' ').constData());
            } else if (kind == "M" || kind == "F") {
                TAKE(m, messages.message(MessageId(id)));
                QCOMPARE(md5(m.content), f.at(2));
                if (kind == "F")
                    QCOMPARE(m.state, MessageState::Complete);
            } else if (kind == "A") {
                QVERIFY2(messages.message(MessageId(id)), f.join(' ').constData());
            } else if (kind == "S") {
                TAKE(m, messages.message(MessageId(id)));
                const qint64 length = f.at(2).toLongLong();
                QVERIFY2(m.content.size() >= length, f.join(' ').constData());
                QCOMPARE(md5(m.content.left(length)), f.at(3));
            } else if (kind == "E") {
                TAKE(edited, messages.message(MessageId(id)));
                TAKE(original, messages.message(MessageId(f.at(2).toLongLong())));
                QCOMPARE(edited.parentId, original.parentId);
                QCOMPARE(md5(edited.content), f.at(3));
            } else if (kind == "D") {
                TAKE(pages, documents.pages(DocumentId(id)));
                QStringList texts;
                for (const Page &p : pages)
                    texts << p.text;
                QCOMPARE(int(pages.size()), f.at(2).toInt());
                QCOMPARE(md5(texts.join(QChar(0x0c))), f.at(3));
            } else {
                QFAIL(f.join(' ').constData());
            }
        }
        totalAcks = int(acks.size());
        // At most the last second of a streamed answer may be lost: every delta handed over more
        // than a second before the kill is on disk.
        for (auto it = appended.cbegin(); it != appended.cend(); ++it) {
            if (finished.contains(it.key()) || it->isEmpty() || it->last().killedAt != killedAt)
                continue;
            TAKE(m, messages.message(MessageId(it.key())));
            ++killedMidStream;
            for (const Appended &a : *it) {
                if (a.length > m.content.size())
                    worstLossMs = std::max(worstLossMs, killedAt - a.msecs);
            }
        }
    }
    qInfo("%d acknowledged writes checked; %d kills during a streamed answer; oldest lost text "
          "was handed over %lld ms before the kill",
          totalAcks,
          killedMidStream,
          worstLossMs);
    QVERIFY(totalAcks > iterations); // the writer really wrote between kills
    QVERIFY2(worstLossMs <= 1000,
             qPrintable(QStringLiteral("lost text older than a second: %1 ms").arg(worstLossMs)));
}

QTEST_GUILESS_MAIN(tst_Durability)
#include "tst_durability.moc"
