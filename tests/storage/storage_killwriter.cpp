// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// A writer for tst_durability: writes to the database through the app's StorageService as fast
// as it can (messages, streamed answers, edits, documents) and prints one line per write that the
// service acknowledged, right after the acknowledgement. The test kills it with SIGKILL at a
// random moment and checks that every acknowledged write is in the database.
//
//   storage_killwriter DB SEED
//
// Lines (all ids are database ids; md5 is over the UTF-8 text):
//   C conv                      conversation created
//   M id md5                    message appended (content)
//   A id                        streaming answer started
//   X id length msecs           `length` characters handed to appendAnswer at wall time msecs
//   S id length md5             answer saved: its first `length` characters, md5 of them
//   F id md5                    answer finished (complete content)
//   E id original md5           edit of `original` stored as sibling `id`
//   D id pages md5              document with `pages` pages (md5 of the texts joined by \f)

#include "app/storage/storageservice.h"

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDateTime>
#include <QRandomGenerator>
#include <QTimer>

#include <unistd.h>

using namespace fathom;
using namespace fathom::storage;

namespace {

void ack(const QByteArray &line)
{
    // One write(2) per line: unbuffered, so a line is out as soon as the write is acknowledged.
    const QByteArray l = line + '\n';
    ssize_t ignored = ::write(STDOUT_FILENO, l.constData(), size_t(l.size()));
    Q_UNUSED(ignored);
}

QByteArray md5(const QString &text)
{
    return QCryptographicHash::hash(text.toUtf8(), QCryptographicHash::Md5).toHex();
}

class Driver : public QObject
{
public:
    Driver(StorageService *service, quint32 seed)
        : m_service(service)
        , m_random(seed)
    {
        connect(service,
                &StorageService::answerSaved,
                this,
                [this](MessageId id, qsizetype length, qsizetype) {
                    const QString text = m_streamed.value(id);
                    if (length <= text.size())
                        ack("S " + QByteArray::number(id.value) + ' ' + QByteArray::number(length)
                            + ' ' + md5(text.left(length)));
                });
    }

    void step()
    {
        if (!m_conversation.isValid())
            return newConversation();
        const int r = int(m_random.bounded(100));
        if (r < 40)
            appendMessage();
        else if (r < 60)
            streamAnswer();
        else if (r < 66)
            newConversation();
        else if (r < 80)
            edit();
        else
            document();
    }

private:
    QString randomText(int minLength, int maxLength)
    {
        static const QString alphabet = QStringLiteral(
            "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ 0123456789 .,;:!?\"'\n\u00e9\u00fc\u4e2d\u6587");
        const int length = minLength + int(m_random.bounded(maxLength - minLength + 1));
        QString s;
        s.reserve(length);
        for (int i = 0; i < length; ++i)
            s += alphabet.at(int(m_random.bounded(int(alphabet.size()))));
        return s;
    }

    void failed(const Error &e)
    {
        qWarning("write failed: %s", qPrintable(e.message));
        QCoreApplication::exit(3);
    }

    void newConversation()
    {
        NewConversation nc;
        nc.title = randomText(5, 30);
        m_service->createConversation(nc).then(this, [this](const Result<ConversationId> &r) {
            if (!r)
                return failed(r.error());
            m_conversation = *r;
            m_leaf = MessageId();
            ack("C " + QByteArray::number(r->value));
            step();
        });
    }

    void appendMessage()
    {
        NewMessage m;
        m.role = m_random.bounded(2) ? Role::User : Role::Assistant;
        m.content = randomText(1, 3000);
        m_service->appendMessage(m_conversation, m_leaf, m)
            .then(this, [this, content = m.content](const Result<MessageId> &r) {
                if (!r)
                    return failed(r.error());
                m_leaf = *r;
                m_acked << *r;
                ack("M " + QByteArray::number(r->value) + ' ' + md5(content));
                step();
            });
    }

    void edit()
    {
        if (m_acked.isEmpty())
            return appendMessage();
        const MessageId original = m_acked.at(int(m_random.bounded(int(m_acked.size()))));
        const QString content = randomText(1, 500);
        m_service->editMessage(original, content)
            .then(this, [this, original, content](const Result<MessageId> &r) {
                if (!r)
                    return failed(r.error());
                ack("E " + QByteArray::number(r->value) + ' ' + QByteArray::number(original.value)
                    + ' ' + md5(content));
                // The edit may sit in another conversation: continue in a fresh one.
                m_conversation = ConversationId();
                step();
            });
    }

    void document()
    {
        const int pages = 1 + int(m_random.bounded(20));
        QList<PageText> texts;
        QStringList joined;
        for (int p = 1; p <= pages; ++p) {
            texts << PageText{p, randomText(0, 2000), PageFlagNone};
            joined << texts.last().text;
        }
        const QString hash = QString::fromLatin1(
            md5(joined.join(QChar(0x0c)) + QString::number(m_random.generate64())));
        m_service
            ->run([hash, texts](StorageWorker &w) -> Result<DocumentId> {
                FATHOM_TRY(w.checkOpen());
                Transaction tx(w.database());
                FATHOM_TRY_ASSIGN(const DocumentId id,
                                  w.documents().insertDocument({hash,
                                                                QStringLiteral("doc"),
                                                                {},
                                                                {},
                                                                1,
                                                                DocumentStatus::Ingesting}));
                FATHOM_TRY(w.documents().replacePages(id, texts));
                FATHOM_TRY(w.documents().setStatus(id, DocumentStatus::Ready));
                FATHOM_TRY(tx.commit());
                return id;
            })
            .then(this, [this, pages, joined](const Result<DocumentId> &r) {
                if (!r)
                    return failed(r.error());
                ack("D " + QByteArray::number(r->value) + ' ' + QByteArray::number(pages) + ' '
                    + md5(joined.join(QChar(0x0c))));
                step();
            });
    }

    void streamAnswer()
    {
        m_service->beginAnswer(m_conversation, m_leaf, QStringLiteral("killwriter"))
            .then(this, [this](const Result<MessageId> &r) {
                if (!r)
                    return failed(r.error());
                const MessageId id = *r;
                ack("A " + QByteArray::number(id.value));
                m_leaf = id;
                m_streamed.insert(id, QString());
                const int ticks = 20 + int(m_random.bounded(300));
                auto *timer = new QTimer(this);
                timer->setInterval(1 + int(m_random.bounded(8)));
                auto remaining = std::make_shared<int>(ticks);
                connect(timer, &QTimer::timeout, this, [this, id, timer, remaining] {
                    if ((*remaining)-- > 0) {
                        const QString delta = randomText(1, 40);
                        m_streamed[id] += delta;
                        m_service->appendAnswer(id, delta);
                        ack("X " + QByteArray::number(id.value) + ' '
                            + QByteArray::number(m_streamed.value(id).size()) + ' '
                            + QByteArray::number(QDateTime::currentMSecsSinceEpoch()));
                        return;
                    }
                    timer->stop();
                    timer->deleteLater();
                    MessageStats stats;
                    stats.completionTokens = m_streamed.value(id).size();
                    m_service->finishAnswer(id, stats).then(this, [this, id](const Result<void> &f) {
                        if (!f)
                            return failed(f.error());
                        ack("F " + QByteArray::number(id.value) + ' ' + md5(m_streamed.value(id)));
                        m_acked << id;
                        step();
                    });
                });
                timer->start();
            });
    }

    StorageService *m_service;
    QRandomGenerator m_random;
    ConversationId m_conversation;
    MessageId m_leaf;
    QList<MessageId> m_acked;
    QHash<MessageId, QString> m_streamed;
};

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc < 3) {
        std::fprintf(stderr, "usage: storage_killwriter DB SEED\n");
        return 2;
    }
    StorageService service(QString::fromLocal8Bit(argv[1]));
    Driver driver(&service, quint32(QByteArray(argv[2]).toUInt()));
    service.open().then(&driver, [&driver](const Result<void> &r) {
        if (!r) {
            std::fprintf(stderr, "open failed: %s\n", qPrintable(r.error().message));
            QCoreApplication::exit(3);
            return;
        }
        ack("O");
        driver.step();
    });
    return app.exec();
}
