// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// Ingestion throughput against pdftotext on the same large real PDF in the same run (issue 2):
//   goal: one job >= 0.8x pdftotext's pages/s; a multi-document batch on both cores >= 1.6x;
//   text agreement with pdftotext >= 98% (character level, whitespace runs collapsed).
// Usage: bench_ingestion [--pdf FILE] [--batch N] [--runs N] [--markdown OUT.md]
//                        [--compare-worker PATH]
// --compare-worker runs another fathom-ingest-worker binary (e.g. an older build) through the
// same one-thread and batch measurements in the same run, alternating with ours.
// One document is measured with the worker's automatic thread count (all cores, at most 4) and
// with one thread (the per-core cost); the batch runs 2 jobs, one thread each. Medians decide the
// goals; the best runs and the load average before and after are printed too.
// Default PDF: the Valgrind manual (valgrind package, 397 pages), unpacked to a temporary folder.
// Our figure is end to end: hashing, the fathom-ingest-worker process with its limits, the pipe
// protocol and assembling the pages; pdftotext writes its text to a pipe we drain.

#include "../documents/testdocuments.h"

#include "app/documents/ingestor.h"

#include <QCoreApplication>
#include <QDate>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QTemporaryDir>

#include <algorithm>
#include <cstdio>

#include <sys/resource.h>

using namespace fathom;
using namespace fathom::documents;

namespace {

double median(QList<double> v)
{
    std::sort(v.begin(), v.end());
    return v.isEmpty() ? 0 : v.at(v.size() / 2);
}

double best(const QList<double> &v)
{
    return v.isEmpty() ? 0 : *std::min_element(v.begin(), v.end());
}

// CPU seconds (user + system) used so far by this process and its reaped children: the worker
// processes and pdftotext. Under load from elsewhere wall time says little; CPU time per
// document still compares the work each tool does.
double cpuSeconds(bool selfOnly = false)
{
    double total = 0;
    for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
        if (selfOnly && who == RUSAGE_CHILDREN)
            continue;
        rusage u{};
        getrusage(who, &u);
        total += double(u.ru_utime.tv_sec + u.ru_stime.tv_sec)
                 + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
    }
    return total;
}

QString loadAverage()
{
    QFile f(QStringLiteral("/proc/loadavg"));
    if (!f.open(QIODevice::ReadOnly))
        return QStringLiteral("n/a");
    return QString::fromLatin1(f.readAll()).section(QLatin1Char(' '), 0, 2);
}

// Seconds for one pdftotext run over the whole file, its text piped to us.
double runPdftotext(const QString &tool, const QString &pdf)
{
    QElapsedTimer t;
    t.start();
    QProcess p;
    p.start(tool, {QStringLiteral("-enc"), QStringLiteral("UTF-8"), pdf, QStringLiteral("-")});
    p.waitForFinished(-1);
    (void) p.readAllStandardOutput();
    return t.nsecsElapsed() / 1e9;
}

// Seconds to pdftotext `count` documents one after another (pdftotext has no parallel mode).
double runPdftotextBatch(const QString &tool, const QString &pdf, int count)
{
    double total = 0;
    for (int i = 0; i < count; ++i)
        total += runPdftotext(tool, pdf);
    return total;
}

// Seconds to pdftotext `count` documents two at a time: what two processes of the reference tool
// get out of this machine (its parallel ceiling right now), for reading the batch row.
double runPdftotextPairs(const QString &tool, const QString &pdf, int count)
{
    QElapsedTimer t;
    t.start();
    for (int i = 0; i < count; i += 2) {
        QProcess a, b;
        const QStringList args{QStringLiteral("-enc"),
                               QStringLiteral("UTF-8"),
                               pdf,
                               QStringLiteral("-")};
        a.start(tool, args);
        if (i + 1 < count)
            b.start(tool, args);
        // Drain both pipes in turn: waiting on one process alone leaves the other blocked on
        // its full pipe (64 KiB, about 20 ms of pdftotext's output), i.e. the two ran mostly
        // one after the other and this row understated the machine's ceiling.
        while (a.state() != QProcess::NotRunning || b.state() != QProcess::NotRunning) {
            if (a.state() != QProcess::NotRunning)
                a.waitForFinished(2);
            if (b.state() != QProcess::NotRunning)
                b.waitForFinished(2);
            (void) a.readAllStandardOutput();
            (void) b.readAllStandardOutput();
        }
        (void) a.readAllStandardOutput();
        (void) b.readAllStandardOutput();
    }
    return t.nsecsElapsed() / 1e9;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QString pdf;
    QString markdown;
    QString otherWorker;
    int batch = 4;
    int runs = 5;
    const QStringList args = app.arguments();
    for (int i = 1; i < args.size(); ++i) {
        if (args[i] == QLatin1String("--pdf") && i + 1 < args.size())
            pdf = args[++i];
        else if (args[i] == QLatin1String("--batch") && i + 1 < args.size())
            batch = args[++i].toInt();
        else if (args[i] == QLatin1String("--runs") && i + 1 < args.size())
            runs = args[++i].toInt();
        else if (args[i] == QLatin1String("--markdown") && i + 1 < args.size())
            markdown = args[++i];
        else if (args[i] == QLatin1String("--compare-worker") && i + 1 < args.size())
            otherWorker = args[++i];
        else {
            std::fprintf(stderr,
                         "usage: bench_ingestion [--pdf FILE] [--batch N] [--runs N] "
                         "[--markdown OUT.md] [--compare-worker PATH]\n");
            return 2;
        }
    }
    QTemporaryDir scratch;
    if (pdf.isEmpty())
        pdf = test::debianPdf(QStringLiteral("/usr/share/doc/valgrind/valgrind_manual.pdf.gz"),
                              scratch.path());
    const QString tool = QStandardPaths::findExecutable(QStringLiteral("pdftotext"));
    if (pdf.isEmpty() || tool.isEmpty()) {
        std::fprintf(stderr,
                     "bench_ingestion: needs the valgrind package's manual (or --pdf) and "
                     "pdftotext (poppler-utils)\n");
        return 1;
    }

    IngestOptions options;
    options.workerPath = QCoreApplication::applicationDirPath()
                         + QStringLiteral("/fathom-ingest-worker");

    // Warm the page cache and check the text once.
    const QStringList reference = test::pdftotextPages(pdf);
    const IngestResult first = runIngestion(pdf, options);
    if (!first) {
        std::fprintf(stderr, "bench_ingestion: %s\n", qPrintable(first.error().message));
        return 1;
    }
    const int pages = int(first->content.pages.size());
    test::Agreement agreement;
    for (int i = 0; i < pages && i < reference.size(); ++i)
        agreement.add(first->content.pages.at(i).text, reference.at(i));
    const bool samePages = reference.size() == pages;

    // Alternate the tools run by run so that load from elsewhere hits both alike.
    const QString loadBefore = loadAverage();
    QList<double> ptSingle, ourSingle, ourSingle1, ptBatch, ptPairs, ourBatch, ptCpu, ourCpu1;
    QList<double> otherSingle1, otherCpu1, otherBatch, ourParentCpu1;
    IngestOptions oneThread = options;
    oneThread.threadsPerJob = 1;
    IngestOptions otherOneThread = oneThread;
    otherOneThread.workerPath = otherWorker;
    // Seconds to ingest `batch` documents with 2 jobs, one thread each; negative on failure.
    auto runBatch = [&](const IngestOptions &jobOptions) {
        DocumentIngestor ingestor(jobOptions, 2);
        QElapsedTimer t;
        t.start();
        QList<QFuture<IngestResult>> futures;
        for (int i = 0; i < batch; ++i)
            futures.append(ingestor.ingest(pdf));
        for (QFuture<IngestResult> &f : futures) {
            if (!f.result())
                return -1.0;
        }
        return t.nsecsElapsed() / 1e9;
    };
    for (int r = 0; r < runs; ++r) {
        double cpu = cpuSeconds();
        ptSingle.append(runPdftotext(tool, pdf));
        ptCpu.append(cpuSeconds() - cpu);
        QElapsedTimer t;
        t.start();
        const IngestResult one = runIngestion(pdf, options);
        ourSingle.append(t.nsecsElapsed() / 1e9);
        if (!one)
            return 1;
        cpu = cpuSeconds();
        const double parentCpu = cpuSeconds(true);
        t.restart();
        if (!runIngestion(pdf, oneThread))
            return 1;
        ourParentCpu1.append(cpuSeconds(true) - parentCpu);
        ourSingle1.append(t.nsecsElapsed() / 1e9);
        ourCpu1.append(cpuSeconds() - cpu);

        ptBatch.append(runPdftotextBatch(tool, pdf, batch));
        ptPairs.append(runPdftotextPairs(tool, pdf, batch));
        const double seconds = runBatch(oneThread);
        if (seconds < 0)
            return 1;
        ourBatch.append(seconds);

        if (!otherWorker.isEmpty()) {
            cpu = cpuSeconds();
            t.restart();
            if (!runIngestion(pdf, otherOneThread)) {
                std::fprintf(stderr, "bench_ingestion: %s failed\n", qPrintable(otherWorker));
                return 1;
            }
            otherSingle1.append(t.nsecsElapsed() / 1e9);
            otherCpu1.append(cpuSeconds() - cpu);
            const double otherSeconds = runBatch(otherOneThread);
            if (otherSeconds < 0)
                return 1;
            otherBatch.append(otherSeconds);
        }
    }

    const QString loadAfter = loadAverage();
    const double ptRate = pages / median(ptSingle);
    const double ourRate1 = pages / median(ourSingle1);
    const double ourRate = pages / median(ourSingle);
    const double ourBatchRate = pages * batch / median(ourBatch);
    const double singleRatio = ourRate / ptRate;
    const double batchRatio = ourBatchRate / ptRate;
    const bool singleOk = singleRatio >= 0.8, batchOk = batchRatio >= 1.6,
               textOk = agreement.ratio() >= 0.98 && samePages;

    QString table;
    table += QStringLiteral("PDF: %1 (%2 pages, %3 bytes); %4 runs, medians (best in brackets); "
                            "%5 cores online; load average %6 before, %7 after\n\n")
                 .arg(QFileInfo(pdf).fileName())
                 .arg(pages)
                 .arg(QFileInfo(pdf).size())
                 .arg(runs)
                 .arg(QThread::idealThreadCount())
                 .arg(loadBefore, loadAfter);
    auto rate = [&](const QList<double> &seconds, int docs) {
        return QStringLiteral("%1 (%2)")
            .arg(pages * docs / median(seconds), 0, 'f', 0)
            .arg(pages * docs / best(seconds), 0, 'f', 0);
    };
    table += QStringLiteral("| measure | pdftotext | fathom | ratio | goal | result |\n");
    table += QStringLiteral("|---|---|---|---|---|---|\n");
    table += QStringLiteral("| one document, pages/s | %1 | %2 | %3x | >= 0.8x | %4 |\n")
                 .arg(rate(ptSingle, 1), rate(ourSingle, 1))
                 .arg(singleRatio, 0, 'f', 2)
                 .arg(singleOk ? QStringLiteral("pass") : QStringLiteral("FAIL"));
    table += QStringLiteral("| one document, worker on 1 thread, pages/s | %1 | %2 | %3x | "
                            "(per-core cost) | |\n")
                 .arg(rate(ptSingle, 1), rate(ourSingle1, 1))
                 .arg(ourRate1 / ptRate, 0, 'f', 2);
    table += QStringLiteral("| one document, CPU seconds (user+sys; fathom: worker on 1 thread and "
                            "the parent's hashing and decoding) | %1 (%2) | %3 (%4) | %5x | "
                            "(pdftotext CPU / ours) | |\n")
                 .arg(median(ptCpu), 0, 'f', 3)
                 .arg(best(ptCpu), 0, 'f', 3)
                 .arg(median(ourCpu1), 0, 'f', 3)
                 .arg(best(ourCpu1), 0, 'f', 3)
                 .arg(median(ptCpu) / median(ourCpu1), 0, 'f', 2);
    table += QStringLiteral("| of which the parent (hashing, starting the worker, reading and "
                            "decoding frames) | | %1 (%2) | | | |\n")
                 .arg(median(ourParentCpu1), 0, 'f', 3)
                 .arg(best(ourParentCpu1), 0, 'f', 3);
    table += QStringLiteral("| batch of %1, 2 jobs, pages/s (pdftotext: one at a time) | %2 | %3 "
                            "| %4x of single pdftotext | >= 1.6x | %5 |\n")
                 .arg(batch)
                 .arg(rate(ptBatch, batch), rate(ourBatch, batch))
                 .arg(batchRatio, 0, 'f', 2)
                 .arg(batchOk ? QStringLiteral("pass") : QStringLiteral("FAIL"));
    table += QStringLiteral("| batch of %1, pdftotext two at a time (this machine's parallel "
                            "ceiling now) | %2 | | %3x of single pdftotext | | |\n")
                 .arg(batch)
                 .arg(rate(ptPairs, batch))
                 .arg(pages * batch / median(ptPairs) / ptRate, 0, 'f', 2);
    if (!otherWorker.isEmpty()) {
        table += QStringLiteral(
                     "| compared worker (%1): one document, 1 thread, pages/s | %2 | %3 | "
                     "%4x | | |\n")
                     .arg(otherWorker, rate(ptSingle, 1), rate(otherSingle1, 1))
                     .arg(pages / median(otherSingle1) / ptRate, 0, 'f', 2);
        table += QStringLiteral("| compared worker: CPU seconds per document | %1 (%2) | %3 (%4) | "
                                "%5x | | |\n")
                     .arg(median(ptCpu), 0, 'f', 3)
                     .arg(best(ptCpu), 0, 'f', 3)
                     .arg(median(otherCpu1), 0, 'f', 3)
                     .arg(best(otherCpu1), 0, 'f', 3)
                     .arg(median(ptCpu) / median(otherCpu1), 0, 'f', 2);
        table += QStringLiteral(
                     "| compared worker: batch of %1, 2 jobs, pages/s | %2 | %3 | %4x of "
                     "single pdftotext | | |\n")
                     .arg(batch)
                     .arg(rate(ptBatch, batch), rate(otherBatch, batch))
                     .arg(pages * batch / median(otherBatch) / ptRate, 0, 'f', 2);
    }
    table += QStringLiteral("| character agreement with pdftotext | | %1% (%2 vs %3 pages) | | "
                            ">= 98% | %4 |\n")
                 .arg(agreement.ratio() * 100, 0, 'f', 2)
                 .arg(pages)
                 .arg(reference.size())
                 .arg(textOk ? QStringLiteral("pass") : QStringLiteral("FAIL"));
    std::printf("%s", qPrintable(table));
    if (!markdown.isEmpty()) {
        QFile out(markdown);
        if (out.open(QIODevice::Append)) {
            out.write(QStringLiteral("\n## %1\n\n")
                          .arg(QDate::currentDate().toString(Qt::ISODate))
                          .toUtf8());
            out.write(table.toUtf8());
        }
    }
    return singleOk && batchOk && textOk ? 0 : 1;
}
