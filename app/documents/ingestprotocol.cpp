// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "ingestprotocol.h"

#include <QCoreApplication>
#include <QDataStream>
#include <QIODevice>
#include <QtEndian>

namespace fathom::documents::protocol {

namespace {

QString tr(const char *text)
{
    return QCoreApplication::translate("fathom::documents", text);
}

template<typename Fn>
QByteArray frame(FrameType type, Fn writeFields)
{
    QByteArray bytes(4, '\0'); // length, patched below
    {
        QDataStream out(&bytes, QIODevice::WriteOnly | QIODevice::Append);
        out.setVersion(QDataStream::Qt_6_0);
        out << quint8(type);
        writeFields(out);
    }
    qToLittleEndian<quint32>(quint32(bytes.size() - 4), bytes.data());
    return bytes;
}

} // namespace

QByteArray encodeHello()
{
    return frame(FrameType::Hello, [](QDataStream &out) { out << kVersion; });
}

QByteArray encodeBegin(DocumentFormat format, const QString &mimeType, int pageCount)
{
    return frame(FrameType::Begin,
                 [&](QDataStream &out) { out << quint8(format) << mimeType << qint32(pageCount); });
}

QByteArray encodePage(const ExtractedPage &page)
{
    return frame(FrameType::Page, [&](QDataStream &out) {
        out << qint32(page.number) << quint8(page.source) << page.text;
    });
}

QByteArray encodeWarning(const QString &message)
{
    return frame(FrameType::Warning, [&](QDataStream &out) { out << message; });
}

QByteArray encodeDone()
{
    return frame(FrameType::Done, [](QDataStream &) {});
}

QByteArray encodeError(const fathom::Error &error)
{
    return frame(FrameType::Error,
                 [&](QDataStream &out) { out << qint32(error.kind) << error.message; });
}

void FrameDecoder::append(const QByteArray &bytes)
{
    if (m_offset > 0 && m_offset == m_buffer.size()) {
        m_buffer.clear();
        m_offset = 0;
    } else if (m_offset > 1024 * 1024) {
        m_buffer.remove(0, m_offset);
        m_offset = 0;
    }
    m_buffer.append(bytes);
}

fathom::Result<std::optional<Frame>> FrameDecoder::next()
{
    const qsizetype available = m_buffer.size() - m_offset;
    if (available < 4)
        return std::optional<Frame>();
    const quint32 length = qFromLittleEndian<quint32>(m_buffer.constData() + m_offset);
    if (length == 0 || length > kMaxFrameBytes)
        return fail(fathom::Error::Kind::Format,
                    tr("the ingestion worker sent a malformed frame (%1 bytes)").arg(length));
    if (available - 4 < qsizetype(length))
        return std::optional<Frame>();
    const QByteArray payload = QByteArray::fromRawData(m_buffer.constData() + m_offset + 4,
                                                       qsizetype(length));
    QDataStream in(payload);
    in.setVersion(QDataStream::Qt_6_0);
    quint8 type = 0;
    in >> type;
    Frame f;
    f.type = FrameType(type);
    switch (f.type) {
    case FrameType::Hello:
        in >> f.version;
        break;
    case FrameType::Begin: {
        quint8 format = 0;
        qint32 pages = -1;
        in >> format >> f.mimeType >> pages;
        f.format = DocumentFormat(format);
        f.pageCount = pages;
        break;
    }
    case FrameType::Page: {
        qint32 number = 0;
        quint8 source = 0;
        in >> number >> source >> f.page.text;
        f.page.number = number;
        f.page.source = PageTextSource(source);
        break;
    }
    case FrameType::Warning:
        in >> f.message;
        break;
    case FrameType::Done:
        break;
    case FrameType::Error: {
        qint32 kind = 0;
        in >> kind >> f.message;
        f.errorKind = fathom::Error::Kind(kind);
        break;
    }
    default:
        return fail(fathom::Error::Kind::Format,
                    tr("the ingestion worker sent an unknown frame type %1").arg(type));
    }
    if (in.status() != QDataStream::Ok || !in.atEnd())
        return fail(fathom::Error::Kind::Format,
                    tr("the ingestion worker sent a malformed frame of type %1").arg(type));
    m_offset += 4 + qsizetype(length);
    return std::optional<Frame>(std::move(f));
}

} // namespace fathom::documents::protocol
