// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  A scripted HTTP/1.1 server on 127.0.0.1 for the remote backend tests. It runs in its own thread
  (RemoteBackend::load() blocks the test thread while it asks for /v1/models), records every
  request, and answers each with a list of steps: write these bytes (after a delay), abort the
  connection, close it gracefully, or hold it open. Every response carries "Connection: close",
  so one connection carries one request and the counts are easy to reason about.
*/

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QMutex>
#include <QPointer>
#include <QSslConfiguration>
#include <QSslServer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>
#include <QTimer>

#include <functional>
#include <memory>
#include <optional>

namespace fathom::test {

class TestServer
{
public:
    struct Request
    {
        QByteArray method;
        QByteArray path;
        QHash<QByteArray, QByteArray> headers; // lower-case names
        QByteArray body;
    };

    struct Step
    {
        enum Kind { Write, Abort, Close, Hold };
        Kind kind = Write;
        QByteArray bytes;
        int delayMs = 0;
    };
    using Script = QList<Step>;
    using Handler = std::function<Script(const Request &)>;

    TestServer()
    {
        m_context = new QObject;
        m_context->moveToThread(&m_thread);
        m_thread.start();
    }

    ~TestServer()
    {
        runInThread([this] {
            delete m_server;
            m_server = nullptr;
        });
        m_thread.quit();
        m_thread.wait();
        delete m_context; // its thread has finished: safe from here
    }

    // With `tls`, connections are TLS (QSslServer hands them over after the handshake).
    bool listen(quint16 port = 0, std::optional<QSslConfiguration> tls = std::nullopt)
    {
        bool ok = false;
        runInThread([&] {
            if (!m_server) {
                if (tls) {
                    auto *ssl = new QSslServer;
                    ssl->setSslConfiguration(*tls);
                    m_server = ssl;
                } else {
                    m_server = new QTcpServer;
                }
                watch();
            }
            ok = m_server->listen(QHostAddress::LocalHost, port);
            if (ok)
                m_port = m_server->serverPort();
        });
        return ok;
    }

    void close()
    {
        runInThread([&] {
            if (m_server)
                m_server->close();
        });
    }

    // Starts listening on `port` after `ms` milliseconds, without blocking the caller.
    void listenLater(quint16 port, int ms)
    {
        QMetaObject::invokeMethod(m_context, [this, port, ms] {
            QTimer::singleShot(ms, m_context, [this, port] {
                if (!m_server) {
                    m_server = new QTcpServer;
                    watch();
                }
                m_server->listen(QHostAddress::LocalHost, port);
            });
        });
    }

    quint16 port() const { return m_port; }
    QByteArray baseUrl(bool https = false) const
    {
        return (https ? "https://127.0.0.1:" : "http://127.0.0.1:") + QByteArray::number(m_port);
    }

    void setHandler(Handler handler)
    {
        QMutexLocker lock(&m_mutex);
        m_handler = std::move(handler);
    }

    QList<Request> requests() const
    {
        QMutexLocker lock(&m_mutex);
        return m_requests;
    }
    int connections() const
    {
        QMutexLocker lock(&m_mutex);
        return m_connections;
    }
    // Connections the client closed before the script had finished.
    int clientAborts() const
    {
        QMutexLocker lock(&m_mutex);
        return m_clientAborts;
    }

    // ---- Response builders ----
    static QByteArray head(int status,
                           const QByteArray &contentType,
                           const QByteArray &extra = {},
                           qint64 contentLength = -1)
    {
        QByteArray h = "HTTP/1.1 " + QByteArray::number(status) + " " + reasonPhrase(status)
                       + "\r\n";
        h += "Content-Type: " + contentType + "\r\n";
        if (contentLength >= 0)
            h += "Content-Length: " + QByteArray::number(contentLength) + "\r\n";
        else
            h += "Transfer-Encoding: chunked\r\n";
        h += "Connection: close\r\n" + extra + "\r\n";
        return h;
    }
    static QByteArray chunk(const QByteArray &bytes)
    {
        return QByteArray::number(bytes.size(), 16) + "\r\n" + bytes + "\r\n";
    }
    static Script json(int status, const QByteArray &body, const QByteArray &extraHeaders = {})
    {
        return {Step{Step::Write,
                     head(status, "application/json", extraHeaders, body.size()) + body,
                     0}};
    }
    // An event stream sent as one chunk per piece, `delayMs` apart, properly terminated.
    static Script sse(const QList<QByteArray> &pieces, int delayMs = 0)
    {
        Script s{Step{Step::Write, head(200, "text/event-stream; charset=utf-8"), 0}};
        for (const QByteArray &p : pieces)
            s.append(Step{Step::Write, chunk(p), delayMs});
        s.append(Step{Step::Write, "0\r\n\r\n", delayMs});
        return s;
    }
    static QByteArray reasonPhrase(int status)
    {
        switch (status) {
        case 200:
            return "OK";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 404:
            return "Not Found";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        default:
            return "Status";
        }
    }

private:
    template<typename F>
    void runInThread(F &&f)
    {
        QMetaObject::invokeMethod(m_context, std::forward<F>(f), Qt::BlockingQueuedConnection);
    }

    struct Connection
    {
        QPointer<QTcpSocket> socket;
        QByteArray buffer;
        bool requestDone = false;
        bool scriptDone = false;
        Script script;
        int next = 0;
    };

    // pendingConnectionAvailable, not newConnection: QSslServer queues a socket only once its
    // handshake is done.
    void watch()
    {
        QObject::connect(m_server, &QTcpServer::pendingConnectionAvailable, m_server, [this] {
            accept();
        });
    }

    void accept()
    {
        while (QTcpSocket *socket = m_server->nextPendingConnection()) {
            {
                QMutexLocker lock(&m_mutex);
                ++m_connections;
            }
            auto c = std::make_shared<Connection>();
            c->socket = socket;
            QObject::connect(socket, &QTcpSocket::readyRead, socket, [this, c] { onRead(c); });
            QObject::connect(socket, &QTcpSocket::disconnected, socket, [this, c] {
                if (!c->scriptDone) {
                    c->scriptDone = true;
                    QMutexLocker lock(&m_mutex);
                    ++m_clientAborts;
                }
                if (c->socket)
                    c->socket->deleteLater();
            });
        }
    }

    void onRead(const std::shared_ptr<Connection> &c)
    {
        if (!c->socket || c->requestDone)
            return;
        c->buffer += c->socket->readAll();
        const int headerEnd = c->buffer.indexOf("\r\n\r\n");
        if (headerEnd < 0)
            return;
        Request r;
        const QList<QByteArray> lines = c->buffer.left(headerEnd).split('\n');
        const QList<QByteArray> requestLine = lines.value(0).trimmed().split(' ');
        r.method = requestLine.value(0);
        r.path = requestLine.value(1);
        for (int i = 1; i < lines.size(); ++i) {
            const int colon = lines[i].indexOf(':');
            if (colon > 0)
                r.headers.insert(lines[i].left(colon).trimmed().toLower(),
                                 lines[i].mid(colon + 1).trimmed());
        }
        const qint64 length = r.headers.value("content-length", "0").toLongLong();
        if (c->buffer.size() - headerEnd - 4 < length)
            return;
        r.body = c->buffer.mid(headerEnd + 4, length);
        c->requestDone = true;
        Handler handler;
        {
            QMutexLocker lock(&m_mutex);
            m_requests.append(r);
            handler = m_handler;
        }
        c->script = handler ? handler(r) : json(404, R"({"error":{"message":"no handler"}})");
        runStep(c);
    }

    void runStep(const std::shared_ptr<Connection> &c)
    {
        if (c->scriptDone || !c->socket)
            return;
        if (c->next >= c->script.size()) {
            c->scriptDone = true;
            c->socket->disconnectFromHost();
            return;
        }
        const Step step = c->script[c->next];
        auto act = [this, c, step] {
            if (c->scriptDone || !c->socket || c->socket->state() != QAbstractSocket::ConnectedState)
                return;
            ++c->next;
            switch (step.kind) {
            case Step::Write:
                c->socket->write(step.bytes);
                c->socket->flush();
                runStep(c);
                break;
            case Step::Abort:
                c->scriptDone = true;
                c->socket->abort();
                break;
            case Step::Close:
                c->scriptDone = true;
                c->socket->disconnectFromHost();
                break;
            case Step::Hold:
                break; // the client decides when it ends
            }
        };
        if (step.delayMs > 0)
            QTimer::singleShot(step.delayMs, c->socket.data(), act);
        else
            act();
    }

    QThread m_thread;
    QObject *m_context = nullptr;
    QTcpServer *m_server = nullptr;
    quint16 m_port = 0;
    mutable QMutex m_mutex;
    Handler m_handler;
    QList<Request> m_requests;
    int m_connections = 0;
    int m_clientAborts = 0;
};

} // namespace fathom::test
