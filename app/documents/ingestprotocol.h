// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "app/core/error.h"
#include "documenttypes.h"

#include <QByteArray>

#include <optional>

/*
  The pipe between DocumentIngestor and fathom-ingest-worker (the worker's stdout). A stream of
  frames, each a little-endian quint32 payload length followed by the payload: a quint8 frame
  type and its fields in QDataStream (Qt 6.0) encoding.

    Hello   version:quint32                        first, as soon as the worker runs
    Begin   format:quint8 mime:QString pages:qint32 pages is -1 when unknown up front
    Page    number:qint32 source:quint8 text:QString one per page, in order
    Warning message:QString
    Done                                           the document is complete; exit status 0
    Error   kind:qint32 message:QString            extraction failed; exit status 1

  Anything else (a crash, a kill, a missing Done) is the parent's to interpret. The worker's
  stderr is free text for diagnostics.
*/

namespace fathom::documents::protocol {

constexpr quint32 kVersion = 1;
// A page's text is capped by ExtractionLimits::maxChars (64 Mi UTF-16 units = 128 MiB).
constexpr quint32 kMaxFrameBytes = 160u * 1024 * 1024;

// NOTE: wire values; never reuse.
enum class FrameType : quint8 {
    Hello = 1,
    Begin = 2,
    Page = 3,
    Warning = 4,
    Done = 5,
    Error = 6,
};

struct Frame
{
    FrameType type = FrameType::Done;
    quint32 version = 0;
    DocumentFormat format = DocumentFormat::Unknown;
    QString mimeType;
    int pageCount = -1;
    ExtractedPage page;
    QString message; // Warning, Error
    fathom::Error::Kind errorKind = fathom::Error::Kind::Internal;
};

QByteArray encodeHello();
QByteArray encodeBegin(DocumentFormat format, const QString &mimeType, int pageCount);
QByteArray encodePage(const ExtractedPage &page);
QByteArray encodeWarning(const QString &message);
QByteArray encodeDone();
QByteArray encodeError(const fathom::Error &error);

// Splits the byte stream back into frames. Thread: one at a time.
class FrameDecoder
{
public:
    void append(const QByteArray &bytes);
    // The next complete frame, nothing when more bytes are needed, or an error when the stream
    // is not this protocol (a corrupted or foreign worker): the caller stops reading.
    fathom::Result<std::optional<Frame>> next();
    // Bytes received but not yet returned as frames (a torn last frame after a crash).
    qsizetype pendingBytes() const { return m_buffer.size() - m_offset; }

private:
    QByteArray m_buffer;
    qsizetype m_offset = 0;
};

} // namespace fathom::documents::protocol
