// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// LINEAR (kernels/linear.h): hand-computed cases from the spec's numerics, the fast paths (AVX2
// and portable, 1-3 threads) bit-identical to the scalar reference, and the reference against
// an independent dequantise-and-sum computation.

#include "engine/core/threadpool.h"
#include "kernels/cpu_features.h"
#include "kernels/formats.h"
#include "kernels/linear.h"
#include "kernels/quant.h"

#include <QTest>

#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace fathom::kernels;
using fathom::engine::ThreadPool;

Q_DECLARE_METATYPE(fathom::kernels::linear_weight_type)

namespace {

struct Problem
{
    int m, n, k;
    linear_weight_type type;
    std::vector<uint16_t> xb; // bf16 x
    std::vector<float> xf;    // f32 x
    std::vector<uint8_t> w;   // raw weight bytes
    std::vector<uint8_t> s;   // scales
    std::vector<float> wDeq;  // dequantised weight (independent check)
};

Problem makeProblem(int m, int n, int k, linear_weight_type type, unsigned seed)
{
    Problem p{m, n, k, type, {}, {}, {}, {}, {}};
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    p.xb.resize(size_t(m) * k);
    p.xf.resize(size_t(m) * k);
    for (size_t i = 0; i < p.xb.size(); ++i) {
        // Varying magnitudes per block make the activation scales differ.
        const float v = nd(rng) * (1.0f + float((i / 128) % 5));
        p.xb[i] = f32_to_bf16(v);
        p.xf[i] = v;
    }
    std::vector<float> w(size_t(n) * k);
    for (float &v : w)
        v = nd(rng) / std::sqrt(float(k)) * (1.0f + float(rng() % 4));
    p.wDeq.resize(w.size());
    switch (type) {
    case linear_weight_type::bf16:
        p.w.resize(w.size() * 2);
        for (size_t i = 0; i < w.size(); ++i) {
            const uint16_t b = f32_to_bf16(w[i]);
            std::memcpy(p.w.data() + 2 * i, &b, 2);
            p.wDeq[i] = bf16_to_f32(b);
        }
        break;
    case linear_weight_type::f32:
        p.w.resize(w.size() * 4);
        std::memcpy(p.w.data(), w.data(), p.w.size());
        p.wDeq = w;
        break;
    case linear_weight_type::fp8_e4m3:
        p.w.resize(w.size());
        p.s.resize(size_t((n + 127) / 128) * ((k + 127) / 128));
        quantize_weight_e4m3(w.data(), n, k, p.w.data(), p.s.data());
        dequantize_weight_e4m3(p.w.data(), p.s.data(), n, k, p.wDeq.data());
        break;
    case linear_weight_type::fp4_e2m1:
        p.w.resize(w.size() / 2);
        p.s.resize(w.size() / 32);
        quantize_weight_e2m1(w.data(), n, k, p.w.data(), p.s.data());
        dequantize_weight_e2m1(p.w.data(), p.s.data(), n, k, p.wDeq.data());
        break;
    }
    return p;
}

// The fp32 mode's guarantee (linear.h) against the exact reference: per weight block the fp32
// block sum of the code products (order unspecified, <= block - 1 roundings per term path), then
// fma(block, sA sW, acc) in block order (one rounding per block), vs the reference's block sums
// rounded once and added in fp32. Both differ from the real sum by at most
// (terms of a block + 2 x blocks + a few) x 2^-24 x sum_k |x_k w_k| (x after activation
// quantisation, w dequantised), to first order; a bf16 y adds one bf16 ulp. Returns the number
// of outputs outside that bound and describes the first in `first`.
int fp32BoundViolations(const Problem &pr,
                        act_type xt,
                        act_type yt,
                        const void *got,
                        const std::vector<float> &exact,
                        QString *first)
{
    const int m = pr.m, n = pr.n, k = pr.k;
    const bool quantized = pr.type == linear_weight_type::fp8_e4m3
                           || pr.type == linear_weight_type::fp4_e2m1;
    const int block = pr.type == linear_weight_type::fp8_e4m3   ? 128
                      : pr.type == linear_weight_type::fp4_e2m1 ? 32
                                                                : k;
    const int blocks = (k + block - 1) / block;
    const double c = double(block + 2 * blocks + 4) * std::ldexp(1.0, -24);
    int bad = 0;
    std::vector<double> xr(static_cast<size_t>(k));
    for (int r = 0; r < m; ++r) {
        if (quantized) {
            std::vector<uint8_t> q(static_cast<size_t>(k)), s(static_cast<size_t>((k + 127) / 128));
            if (xt == act_type::bf16)
                act_quant_e4m3_bf16(pr.xb.data() + size_t(r) * k, k, 128, q.data(), s.data());
            else
                act_quant_e4m3_f32(pr.xf.data() + size_t(r) * k, k, 128, q.data(), s.data());
            for (int i = 0; i < k; ++i)
                xr[size_t(i)] = double(e4m3_to_f32(q[size_t(i)])) * e8m0_to_f32(s[size_t(i / 128)]);
        } else {
            for (int i = 0; i < k; ++i)
                xr[size_t(i)] = xt == act_type::bf16 ? bf16_to_f32(pr.xb[size_t(r) * k + i])
                                                     : pr.xf[size_t(r) * k + i];
        }
        for (int j = 0; j < n; ++j) {
            double mag = 0;
            for (int i = 0; i < k; ++i)
                mag += std::fabs(xr[size_t(i)] * pr.wDeq[size_t(j) * k + i]);
            const double e = exact[size_t(r) * n + j];
            double tol = c * mag;
            double y;
            if (yt == act_type::bf16) {
                y = bf16_to_f32(static_cast<const uint16_t *>(got)[size_t(r) * n + j]);
                const double big = std::fabs(e) + tol;
                tol += big > 0 ? std::ldexp(1.0, std::ilogb(big) - 7) : 0.0;
            } else {
                y = static_cast<const float *>(got)[size_t(r) * n + j];
            }
            if (!(std::fabs(y - e) <= tol)) {
                if (bad++ == 0 && first)
                    *first = QStringLiteral("y[%1][%2] = %3, exact %4, bound %5")
                                 .arg(r)
                                 .arg(j)
                                 .arg(y, 0, 'g', 9)
                                 .arg(e, 0, 'g', 9)
                                 .arg(tol, 0, 'g', 3);
            }
        }
    }
    return bad;
}

linear_params paramsFor(const Problem &pr, act_type xt, act_type yt, void *y)
{
    linear_params p;
    p.x = xt == act_type::bf16 ? static_cast<const void *>(pr.xb.data()) : pr.xf.data();
    p.x_type = xt;
    p.w = pr.w.data();
    p.w_scale = pr.s.empty() ? nullptr : pr.s.data();
    p.w_type = pr.type;
    p.y = y;
    p.y_type = yt;
    p.m = pr.m;
    p.n = pr.n;
    p.k = pr.k;
    return p;
}

} // namespace

class tst_Linear : public QObject
{
    Q_OBJECT

private slots:
    void fp8HandComputed();
    void fp8TwoBlocks();
    void fp4HandComputed();
    void bf16SingleRounding();
    void fastMatchesReference_data();
    void fastMatchesReference();
    void referenceMatchesDequantised_data();
    void referenceMatchesDequantised();
    void fp32AccumulationIsClose();
    void fp32GemvWithinBound_data();
    void fp32GemvWithinBound();
    void fp32GemvAllCodes();
    void fp32GemmWithinBound_data();
    void fp32GemmWithinBound();
    void fp32GemmBoundCatchesWrongScale();
    void fp32GemmAllFp8Codes();
    void fp32GemmAllFp4Codes();
    void fp32GemmStridesAndSplits();
    void stridesAndErrors();
    void edgeActivations();
    void weightBytes();
    void threadPoolCoversRangeOnce();
};

void tst_Linear::fp8HandComputed()
{
    // k = 128, n = 2. x = 1.0 except x[0] = bf16(0.3) = 0.30078125: amax 1 -> sA = 2^-8;
    // 0.30078125 * 256 = 77 -> e4m3 80; 1.0 * 256 = 256 exact.
    std::vector<uint16_t> x(128, f32_to_bf16(1.0f));
    x[0] = f32_to_bf16(0.3f);
    std::vector<uint8_t> w(256);
    std::fill(w.begin(), w.begin() + 128, 0x38); // row 0: +1.0
    std::fill(w.begin() + 128, w.end(), 0xB0);   // row 1: -0.5
    // One 128x128 scale block covers both rows: scale 2.0 applies to both.
    const uint8_t s[1] = {128};
    // Row 0: (80 + 127 * 256) * 2^-8 * 2 = 254.625; row 1: -(80 + 127 * 256) * 0.5 * 2^-8 * 2.
    for (int pass = 0; pass < 2; ++pass) {
        float yf[2];
        uint16_t yb[2];
        linear_params p;
        p.x = x.data();
        p.w = w.data();
        p.w_scale = s;
        p.w_type = linear_weight_type::fp8_e4m3;
        p.m = 1;
        p.n = 2;
        p.k = 128;
        p.y = yf;
        p.y_type = act_type::f32;
        QVERIFY(pass == 0 ? linear_ref(p).ok() : linear_cpu(p, nullptr).ok());
        QCOMPARE(yf[0], 254.625f);
        QCOMPARE(yf[1], -127.3125f);
        p.y = yb;
        p.y_type = act_type::bf16;
        QVERIFY(pass == 0 ? linear_ref(p).ok() : linear_cpu(p, nullptr).ok());
        // bf16 keeps 8 significant bits: 254.625 -> 255 (step 1), -127.3125 -> -127.5 (step .5).
        QCOMPARE(bf16_to_f32(yb[0]), 255.0f);
        QCOMPARE(bf16_to_f32(yb[1]), -127.5f);
    }
}

void tst_Linear::fp8TwoBlocks()
{
    // Block 0: x = 2 (sA = 2^-7, codes 256), w = 1.0 with sW = 2; block 1: x = 0.25
    // (sA = 2^-10, codes 256), w = 2.0 with sW = 0.5.
    // y = 128*256*1 * 2^-7 * 2 + 128*256*2 * 2^-10 * 0.5 = 512 + 32 = 544.
    std::vector<uint16_t> x(256);
    std::fill(x.begin(), x.begin() + 128, f32_to_bf16(2.0f));
    std::fill(x.begin() + 128, x.end(), f32_to_bf16(0.25f));
    std::vector<uint8_t> w(256);
    std::fill(w.begin(), w.begin() + 128, 0x38);
    std::fill(w.begin() + 128, w.end(), 0x40);
    const uint8_t s[2] = {128, 126};
    float y = 0;
    linear_params p;
    p.x = x.data();
    p.w = w.data();
    p.w_scale = s;
    p.w_type = linear_weight_type::fp8_e4m3;
    p.m = 1;
    p.n = 1;
    p.k = 256;
    p.y = &y;
    p.y_type = act_type::f32;
    QVERIFY(linear_ref(p).ok());
    QCOMPARE(y, 544.0f);
    y = 0;
    QVERIFY(linear_cpu(p, nullptr).ok());
    QCOMPARE(y, 544.0f);
}

void tst_Linear::fp4HandComputed()
{
    // k = 32: x = 1.0 (codes 256 with sA = 2^-8). Weight codes i % 8 -> values
    // 0,.5,1,1.5,2,3,4,6 four times, sum 72; sW = 0.5 -> y = 256 * 72 * 2^-8 * 0.5 = 36.
    std::vector<uint16_t> x(32, f32_to_bf16(1.0f));
    std::vector<uint8_t> w(16);
    for (int j = 0; j < 16; ++j)
        w[j] = uint8_t(((2 * j) % 8) | (((2 * j + 1) % 8) << 4));
    uint8_t s[1] = {126};
    float y = 0;
    linear_params p;
    p.x = x.data();
    p.w = w.data();
    p.w_scale = s;
    p.w_type = linear_weight_type::fp4_e2m1;
    p.m = 1;
    p.n = 1;
    p.k = 32;
    p.y = &y;
    p.y_type = act_type::f32;
    QVERIFY(linear_ref(p).ok());
    QCOMPARE(y, 36.0f);
    QVERIFY(linear_cpu(p, nullptr).ok());
    QCOMPARE(y, 36.0f);
    // Nibble order: byte 0 = 0x71 holds element 0 = code 1 (0.5) and element 1 = code 7 (6).
    std::fill(w.begin(), w.end(), 0);
    w[0] = 0x71;
    s[0] = 127;
    std::fill(x.begin(), x.end(), f32_to_bf16(0.0f));
    x[0] = f32_to_bf16(1.0f);
    QVERIFY(linear_cpu(p, nullptr).ok());
    QCOMPARE(y, 0.5f);
    x[0] = f32_to_bf16(0.0f);
    x[1] = f32_to_bf16(1.0f);
    QVERIFY(linear_cpu(p, nullptr).ok());
    QCOMPARE(y, 6.0f);
    QVERIFY(linear_ref(p).ok());
    QCOMPARE(y, 6.0f);
}

void tst_Linear::bf16SingleRounding()
{
    // Exact sum rounded once: 1 + 2^-30 - 1 = 2^-30 (sequential fp32 would give 0).
    const float xs[3] = {1.0f, std::ldexp(1.0f, -30), -1.0f};
    std::vector<uint16_t> x(3), w(3, f32_to_bf16(1.0f));
    for (int i = 0; i < 3; ++i)
        x[i] = f32_to_bf16(xs[i]);
    float y = 0;
    linear_params p;
    p.x = x.data();
    p.w = w.data();
    p.w_type = linear_weight_type::bf16;
    p.m = 1;
    p.n = 1;
    p.k = 3;
    p.y = &y;
    p.y_type = act_type::f32;
    QVERIFY(linear_ref(p).ok());
    QCOMPARE(y, std::ldexp(1.0f, -30));
    QVERIFY(linear_cpu(p, nullptr).ok());
    QCOMPARE(y, std::ldexp(1.0f, -30));
    // bf16 output: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 -> even (1.0).
    x[1] = f32_to_bf16(std::ldexp(1.0f, -8));
    x[2] = f32_to_bf16(0.0f);
    uint16_t yb = 0;
    p.y = &yb;
    p.y_type = act_type::bf16;
    QVERIFY(linear_cpu(p, nullptr).ok());
    QCOMPARE(yb, f32_to_bf16(1.0f));
}

void tst_Linear::fastMatchesReference_data()
{
    QTest::addColumn<linear_weight_type>("type");
    QTest::addColumn<int>("m");
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("k");
    const struct
    {
        const char *name;
        linear_weight_type t;
    } types[] = {{"bf16", linear_weight_type::bf16},
                 {"f32", linear_weight_type::f32},
                 {"fp8", linear_weight_type::fp8_e4m3},
                 {"fp4", linear_weight_type::fp4_e2m1}};
    const int shapes[][3]
        = {{1, 1, 128},
           {1, 300, 256},
           {3, 130, 384},
           {5, 257, 224},
           {17, 64, 1024},
           {1, 129, 96},
           // The exact GEMM (m >= 4): every remainder of its 6-row and 8-column blocking, a
           // partial FP8 128-block at the end of k, and more rows than one tile.
           {4, 8, 64},
           {6, 16, 128},
           {7, 33, 160},
           {12, 9, 32},
           {40, 100, 256},
           {23, 130, 416}};
    for (const auto &t : types)
        for (const auto &s : shapes)
            QTest::addRow("%s m%d n%d k%d", t.name, s[0], s[1], s[2])
                << t.t << s[0] << s[1] << s[2];
}

void tst_Linear::fastMatchesReference()
{
    QFETCH(linear_weight_type, type);
    QFETCH(int, m);
    QFETCH(int, n);
    QFETCH(int, k);
    const Problem pr = makeProblem(m, n, k, type, unsigned(m * 7919 + n * 31 + k));
    ThreadPool pool2(2), pool3(3);
    for (act_type xt : {act_type::bf16, act_type::f32}) {
        for (act_type yt : {act_type::bf16, act_type::f32}) {
            const size_t bytes = size_t(m) * n * (yt == act_type::f32 ? 4 : 2);
            std::vector<uint8_t> ref(bytes), got(bytes);
            QVERIFY(linear_ref(paramsFor(pr, xt, yt, ref.data())).ok());
            struct Variant
            {
                const char *name;
                Status (*fn)(const linear_params &, parallel_runner *);
                parallel_runner *pool;
            };
            const Variant variants[] = {{"cpu/1", linear_cpu, nullptr},
                                        {"cpu/2", linear_cpu, &pool2},
                                        {"cpu/3", linear_cpu, &pool3},
                                        {"no-vnni/2", linear_cpu_avx512_no_vnni, &pool2},
                                        {"avx2/1", linear_cpu_avx2, nullptr},
                                        {"avx2/2", linear_cpu_avx2, &pool2},
                                        {"portable/1", linear_cpu_portable, nullptr},
                                        {"portable/2", linear_cpu_portable, &pool2}};
            for (const Variant &v : variants) {
                std::fill(got.begin(), got.end(), 0xCD);
                QVERIFY(v.fn(paramsFor(pr, xt, yt, got.data()), v.pool).ok());
                if (std::memcmp(got.data(), ref.data(), bytes) != 0)
                    QFAIL(qPrintable(QStringLiteral("%1 differs from linear_ref (x %2, y %3)")
                                         .arg(QLatin1String(v.name))
                                         .arg(xt == act_type::bf16 ? "bf16" : "f32")
                                         .arg(yt == act_type::bf16 ? "bf16" : "f32")));
            }
        }
    }
    if (!cpu_has_avx2_fma())
        qWarning("no AVX2+FMA on this CPU: only the portable path was compared");
    if (type == linear_weight_type::fp4_e2m1 && m >= 4 && !cpu_has_avx512_vnni())
        qWarning("no AVX-512 VNNI on this CPU: the integer FP4 GEMM was not compared");
}

void tst_Linear::referenceMatchesDequantised_data()
{
    fastMatchesReference_data();
}

void tst_Linear::referenceMatchesDequantised()
{
    // Independent check of the reference: activation quantisation via quant.h, dequantised
    // weights, one double sum. Per-block fp32 rounding allows a few fp32 ulps of the terms.
    QFETCH(linear_weight_type, type);
    QFETCH(int, m);
    QFETCH(int, n);
    QFETCH(int, k);
    const Problem pr = makeProblem(m, n, k, type, 99u + unsigned(n));
    std::vector<float> y(size_t(m) * n);
    QVERIFY(linear_ref(paramsFor(pr, act_type::bf16, act_type::f32, y.data())).ok());
    const bool quantized = type == linear_weight_type::fp8_e4m3
                           || type == linear_weight_type::fp4_e2m1;
    for (int r = 0; r < m; ++r) {
        std::vector<double> xr(k);
        if (quantized) {
            std::vector<uint8_t> q(k), s((k + 127) / 128);
            act_quant_e4m3_bf16(pr.xb.data() + size_t(r) * k, k, 128, q.data(), s.data());
            for (int i = 0; i < k; ++i)
                xr[i] = double(e4m3_to_f32(q[i])) * e8m0_to_f32(s[i / 128]);
        } else {
            for (int i = 0; i < k; ++i)
                xr[i] = bf16_to_f32(pr.xb[size_t(r) * k + i]);
        }
        for (int j = 0; j < n; ++j) {
            double sum = 0, mag = 0;
            for (int i = 0; i < k; ++i) {
                sum += xr[i] * pr.wDeq[size_t(j) * k + i];
                mag += std::fabs(xr[i] * pr.wDeq[size_t(j) * k + i]);
            }
            const double got = y[size_t(r) * n + j];
            const double tol = mag * 1e-6 + 1e-30;
            if (std::fabs(got - sum) > tol)
                QFAIL(qPrintable(
                    QStringLiteral("row %1 col %2: %3 vs %4").arg(r).arg(j).arg(got).arg(sum)));
        }
    }
}

void tst_Linear::fp32AccumulationIsClose()
{
    ThreadPool pool(2);
    for (linear_weight_type t :
         {linear_weight_type::bf16, linear_weight_type::fp8_e4m3, linear_weight_type::fp4_e2m1}) {
        const Problem pr = makeProblem(6, 200, 512, t, 5);
        std::vector<float> exact(6 * 200), fast(6 * 200);
        linear_params p = paramsFor(pr, act_type::bf16, act_type::f32, exact.data());
        QVERIFY(linear_cpu(p, &pool).ok());
        p.y = fast.data();
        p.accum = linear_accum::fp32;
        QVERIFY(linear_cpu(p, &pool).ok());
        double err = 0, ref = 0;
        for (size_t i = 0; i < exact.size(); ++i) {
            err += double(fast[i] - exact[i]) * (fast[i] - exact[i]);
            ref += double(exact[i]) * exact[i];
        }
        QVERIFY2(std::sqrt(err / ref) < 1e-6, qPrintable(QString::number(std::sqrt(err / ref))));
        std::vector<float> refFast(6 * 200);
        p.y = refFast.data();
        QVERIFY(linear_ref(p).ok());
        err = 0;
        for (size_t i = 0; i < exact.size(); ++i)
            err += double(refFast[i] - exact[i]) * (refFast[i] - exact[i]);
        QVERIFY(std::sqrt(err / ref) < 1e-6);
    }
}

void tst_Linear::fp32GemmWithinBound_data()
{
    QTest::addColumn<linear_weight_type>("type");
    QTest::addColumn<int>("m");
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("k");
    const struct
    {
        const char *name;
        linear_weight_type t;
    } types[] = {{"bf16", linear_weight_type::bf16},
                 {"f32", linear_weight_type::f32},
                 {"fp8", linear_weight_type::fp8_e4m3},
                 {"fp4", linear_weight_type::fp4_e2m1}};
    // GEMM shapes (m >= 4): partial 16-row vectors (every group of 1-3 vectors, 16 vectors as
    // 3,3,3,3,2,2), 8-column groups and 32-column tiles with remainders, partial FP8 blocks, odd k
    // (a zero-padded k-pair), k over several 256-pair slabs with a partial last one, an expert
    // of the benchmark model (48 x 512 x 1024).
    const int shapes[][3] = {{4, 40, 64},
                             {5, 33, 200},
                             {7, 65, 333},
                             {13, 100, 1024},
                             {64, 96, 544},
                             {97, 31, 129},
                             {300, 70, 256},
                             {6, 257, 1000},
                             {17, 24, 1536},
                             {33, 8, 2050},
                             {64, 16, 1027},
                             {250, 41, 96},
                             {48, 512, 1024}};
    for (const auto &t : types)
        for (const auto &s : shapes) {
            const int k = t.t == linear_weight_type::fp4_e2m1 ? std::max(32, s[2] / 32 * 32) : s[2];
            QTest::addRow("%s m%d n%d k%d", t.name, s[0], s[1], k) << t.t << s[0] << s[1] << k;
        }
}

void tst_Linear::fp32GemmWithinBound()
{
    QFETCH(linear_weight_type, type);
    QFETCH(int, m);
    QFETCH(int, n);
    QFETCH(int, k);
    const Problem pr = makeProblem(m, n, k, type, unsigned(m * 131 + n * 17 + k));
    ThreadPool pool(2);
    for (act_type xt : {act_type::bf16, act_type::f32}) {
        std::vector<float> exact(size_t(m) * n);
        QVERIFY(linear_ref(paramsFor(pr, xt, act_type::f32, exact.data())).ok());
        for (act_type yt : {act_type::bf16, act_type::f32}) {
            const size_t bytes = size_t(m) * n * (yt == act_type::f32 ? 4 : 2);
            std::vector<uint8_t> got(bytes, 0xCD), got1(bytes, 0xCD);
            linear_params p = paramsFor(pr, xt, yt, got.data());
            p.accum = linear_accum::fp32;
            QVERIFY(linear_cpu(p, &pool).ok());
            QString first;
            const int bad = fp32BoundViolations(pr, xt, yt, got.data(), exact, &first);
            if (bad)
                QFAIL(qPrintable(QStringLiteral("x %1 y %2: %3 outputs outside the bound, first %4")
                                     .arg(xt == act_type::bf16 ? "bf16" : "f32")
                                     .arg(yt == act_type::bf16 ? "bf16" : "f32")
                                     .arg(bad)
                                     .arg(first)));
            // The vdpbf16ps GEMM splits only columns over threads: the same bits on one thread.
            p.y = got1.data();
            QVERIFY(linear_cpu(p, nullptr).ok());
            if (cpu_has_avx512_bf16() && type != linear_weight_type::f32
                && (type != linear_weight_type::bf16 || xt == act_type::bf16))
                QVERIFY(std::memcmp(got.data(), got1.data(), bytes) == 0);
        }
    }
    if (type == linear_weight_type::bf16) {
        // f32 x holding bf16 values (how CpuExecutor passes activations): the same bits as bf16 x
        // (the vdpbf16ps GEMM takes both; anything else would be a different summation).
        Problem same = pr;
        for (size_t i = 0; i < same.xf.size(); ++i)
            same.xf[i] = bf16_to_f32(same.xb[i]);
        std::vector<float> a(size_t(m) * n), b(size_t(m) * n);
        linear_params p = paramsFor(same, act_type::bf16, act_type::f32, a.data());
        p.accum = linear_accum::fp32;
        QVERIFY(linear_cpu(p, &pool).ok());
        p = paramsFor(same, act_type::f32, act_type::f32, b.data());
        p.accum = linear_accum::fp32;
        QVERIFY(linear_cpu(p, &pool).ok());
        QVERIFY(std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
    }
    // The exact mode is untouched by the fp32 kernels.
    std::vector<float> ref(size_t(m) * n), cpu(size_t(m) * n);
    QVERIFY(linear_ref(paramsFor(pr, act_type::bf16, act_type::f32, ref.data())).ok());
    QVERIFY(linear_cpu(paramsFor(pr, act_type::bf16, act_type::f32, cpu.data()), &pool).ok());
    QVERIFY(std::memcmp(ref.data(), cpu.data(), ref.size() * 4) == 0);
    if (type != linear_weight_type::f32 && !cpu_has_avx512_bf16())
        qWarning("no AVX-512 BF16 on this CPU: the vdpbf16ps GEMM was not exercised");
}

// The bound above is tight enough to see a wrong scale: one weight-scale byte of the weights the
// fp32 mode reads off by one (a factor 2 on one block) must put outputs outside it.
void tst_Linear::fp32GemmBoundCatchesWrongScale()
{
    for (linear_weight_type type : {linear_weight_type::fp8_e4m3, linear_weight_type::fp4_e2m1}) {
        const int m = 37, n = 70, k = 512;
        const Problem pr = makeProblem(m, n, k, type, 4242);
        std::vector<float> exact(size_t(m) * n), got(size_t(m) * n);
        QVERIFY(linear_ref(paramsFor(pr, act_type::bf16, act_type::f32, exact.data())).ok());
        Problem wrong = pr;
        wrong.s[1] = uint8_t(wrong.s[1] + 1);
        linear_params p = paramsFor(wrong, act_type::bf16, act_type::f32, got.data());
        p.accum = linear_accum::fp32;
        QVERIFY(linear_cpu(p, nullptr).ok());
        const int bad
            = fp32BoundViolations(pr, act_type::bf16, act_type::f32, got.data(), exact, nullptr);
        QVERIFY2(bad > 0, "a doubled weight block scale stayed within the fp32-mode bound");
        // And the right scales pass on the same problem.
        p = paramsFor(pr, act_type::bf16, act_type::f32, got.data());
        p.accum = linear_accum::fp32;
        QVERIFY(linear_cpu(p, nullptr).ok());
        QCOMPARE(fp32BoundViolations(pr, act_type::bf16, act_type::f32, got.data(), exact, nullptr),
                 0);
    }
}

// Every finite e4m3 code (subnormals, both zeros, the largest) as a weight, with unit scales: the
// fp32 mode's decoding of the weight codes (to bf16 in the vdpbf16ps GEMM) must be exact. Sums
// of a few terms here are exact in fp32 either way, so the results are compared bit for bit.
void tst_Linear::fp32GemmAllFp8Codes()
{
    const int m = 64, n = 256, k = 64; // k >= 32: the vectorised decoding
    std::vector<uint8_t> w(size_t(n) * k, 0), s(size_t((n + 127) / 128) * 1, 127);
    for (int j = 0; j < n; ++j)
        w[size_t(j) * k + (j % k)] = uint8_t(j == 0x7F || j == 0xFF ? 0 : j); // no NaN codes
    std::vector<float> x(size_t(m) * k);
    for (int r = 0; r < m; ++r)
        for (int i = 0; i < k; ++i)
            x[size_t(r) * k + i] = i == r ? 1.0f : 0.0f; // picks weight column r of each row
    std::vector<float> ref(size_t(m) * n), got(size_t(m) * n);
    linear_params p;
    p.x = x.data();
    p.x_type = act_type::f32;
    p.w = w.data();
    p.w_scale = s.data();
    p.w_type = linear_weight_type::fp8_e4m3;
    p.y = ref.data();
    p.y_type = act_type::f32;
    p.m = m;
    p.n = n;
    p.k = k;
    QVERIFY(linear_ref(p).ok());
    p.y = got.data();
    p.accum = linear_accum::fp32;
    QVERIFY(linear_cpu(p, nullptr).ok());
    for (int r = 0; r < m; ++r)
        for (int j = 0; j < n; ++j) {
            const float want = (j % k) == r ? ref[size_t(r) * n + j] : 0.0f;
            QCOMPARE(ref[size_t(r) * n + j], want);
            if (std::memcmp(&got[size_t(r) * n + j], &ref[size_t(r) * n + j], 4) != 0)
                QFAIL(qPrintable(QStringLiteral("code 0x%1: %2 vs %3")
                                     .arg(j, 2, 16, QLatin1Char('0'))
                                     .arg(double(got[size_t(r) * n + j]))
                                     .arg(double(ref[size_t(r) * n + j]))));
        }
}

// Every e2m1 code in both nibbles of a byte (even and odd k), with unit scales: the decoding of
// the FP4 weights (one word-table lookup per byte in the vdpbf16ps GEMM) must be exact, bit for
// bit against the reference (sums of one term).
void tst_Linear::fp32GemmAllFp4Codes()
{
    const int m = 32, n = 16, k = 64; // column j holds code j at even k = 2r, odd k = 2r + 1
    std::vector<uint8_t> w(size_t(n) * k / 2, 0), s(size_t(n) * k / 32, 127);
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < k / 2; ++i)
            w[size_t(j) * k / 2 + i] = uint8_t(j | (((j + i) % 16) << 4));
    std::vector<float> x(size_t(m) * k, 0.0f);
    for (int r = 0; r < m; ++r)
        x[size_t(r) * k + r] = 1.0f; // picks element r: the low nibble for even r, else the high
    std::vector<float> ref(size_t(m) * n), got(size_t(m) * n);
    linear_params p;
    p.x = x.data();
    p.x_type = act_type::f32;
    p.w = w.data();
    p.w_scale = s.data();
    p.w_type = linear_weight_type::fp4_e2m1;
    p.y = ref.data();
    p.y_type = act_type::f32;
    p.m = m;
    p.n = n;
    p.k = k;
    QVERIFY(linear_ref(p).ok());
    p.y = got.data();
    p.accum = linear_accum::fp32;
    QVERIFY(linear_cpu(p, nullptr).ok());
    static const float e2m1[16]
        = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
    for (int r = 0; r < m; ++r)
        for (int j = 0; j < n; ++j) {
            const int code = r % 2 == 0 ? j : (j + r / 2) % 16;
            // The reference against the spec's table (x = 1 is act-quantised with scale 2^-8:
            // 448 * 2^-8 = 1.75 is the largest code value; 1 = code 256 * 2^-8 exactly).
            QCOMPARE(ref[size_t(r) * n + j] == 0.0f, e2m1[code] == 0.0f);
            if (std::memcmp(&got[size_t(r) * n + j], &ref[size_t(r) * n + j], 4) != 0)
                QFAIL(qPrintable(QStringLiteral("row %1 code %2: %3 vs %4")
                                     .arg(r)
                                     .arg(code)
                                     .arg(double(got[size_t(r) * n + j]))
                                     .arg(double(ref[size_t(r) * n + j]))));
        }
}

// Row strides of x and y (y padding untouched), bf16 and f32 y, and row ranges of a thread pool
// that do not start on 16-row vectors: the same bits as packed rows on one thread.
void tst_Linear::fp32GemmStridesAndSplits()
{
    for (linear_weight_type type :
         {linear_weight_type::fp8_e4m3, linear_weight_type::fp4_e2m1, linear_weight_type::bf16}) {
        for (int m : {20, 37, 200}) {
            const int n = 40, k = 512, ldx = k + 7, ldy = n + 9;
            const Problem pr = makeProblem(m, n, k, type, unsigned(m + 7));
            std::vector<uint16_t> xs(size_t(m) * ldx, 0x7FC0); // NaN between the rows
            for (int r = 0; r < m; ++r)
                std::memcpy(xs.data() + size_t(r) * ldx,
                            pr.xb.data() + size_t(r) * k,
                            size_t(k) * 2);
            for (act_type yt : {act_type::f32, act_type::bf16}) {
                const size_t es = yt == act_type::f32 ? 4 : 2;
                std::vector<uint8_t> packed(size_t(m + 1) * n * es, 0xAB),
                    strided(size_t(m + 1) * ldy * es, 0xAB); // + a guard row
                linear_params p = paramsFor(pr, act_type::bf16, yt, packed.data());
                p.accum = linear_accum::fp32;
                QVERIFY(linear_cpu(p, nullptr).ok());
                std::vector<float> exact(size_t(m) * n);
                QVERIFY(linear_ref(paramsFor(pr, act_type::bf16, act_type::f32, exact.data())).ok());
                QCOMPARE(fp32BoundViolations(pr, act_type::bf16, yt, packed.data(), exact, nullptr),
                         0);
                ThreadPool pool(3); // 12 chunks: 200 rows split every 17
                p.x = xs.data();
                p.ldx = ldx;
                p.y = strided.data();
                p.ldy = ldy;
                QVERIFY(linear_cpu(p, &pool).ok());
                for (int r = 0; r < m; ++r) {
                    QVERIFY(std::memcmp(strided.data() + size_t(r) * ldy * es,
                                        packed.data() + size_t(r) * n * es,
                                        size_t(n) * es)
                            == 0);
                    for (size_t b = size_t(n) * es; b < size_t(ldy) * es; ++b)
                        QCOMPARE(int(strided[size_t(r) * ldy * es + b]), 0xAB);
                }
                for (size_t b = 0; b < size_t(ldy) * es; ++b)
                    QCOMPARE(int(strided[size_t(m) * ldy * es + b]), 0xAB);
                for (size_t b = 0; b < size_t(n) * es; ++b)
                    QCOMPARE(int(packed[size_t(m) * n * es + b]), 0xAB);
            }
        }
    }
}

void tst_Linear::fp32GemvWithinBound_data()
{
    QTest::addColumn<linear_weight_type>("type");
    QTest::addColumn<int>("m");
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("k");
    const struct
    {
        const char *name;
        linear_weight_type t;
    } types[] = {{"bf16", linear_weight_type::bf16},
                 {"f32", linear_weight_type::f32},
                 {"fp8", linear_weight_type::fp8_e4m3},
                 {"fp4", linear_weight_type::fp4_e2m1}};
    // Partial 128-blocks and 64-element chunks at the end of k (FP4: k % 32 == 0), a partial
    // 128-row FP8 scale block, more than one scale row, a single column.
    const int shapes[][2] = {{1, 32}, {37, 96}, {130, 224}, {257, 200}, {64, 1000}, {300, 1024}};
    std::mt19937 rng(11);
    for (const auto &t : types)
        for (const auto &s : shapes)
            for (int m = 1; m <= 3; ++m) {
                const int k = t.t == linear_weight_type::fp4_e2m1 ? s[1] / 32 * 32 : s[1];
                QTest::addRow("%s m%d n%d k%d", t.name, m, s[0], k) << t.t << m << s[0] << k;
            }
}

// fp32 mode for decode rows (m < 4: the vdpbf16ps GEMV of linear_bf16dot_gemv.cpp where the CPU
// has AVX-512 BF16) against the exact reference, within the bound of fp32BoundViolations().
void tst_Linear::fp32GemvWithinBound()
{
    QFETCH(linear_weight_type, type);
    QFETCH(int, m);
    QFETCH(int, n);
    QFETCH(int, k);
    const Problem pr = makeProblem(m, n, k, type, unsigned(7 * n + k + m));
    for (act_type xt : {act_type::bf16, act_type::f32}) {
        std::vector<float> exact(size_t(m) * n);
        QVERIFY(linear_ref(paramsFor(pr, xt, act_type::f32, exact.data())).ok());
        for (act_type yt : {act_type::bf16, act_type::f32}) {
            const size_t bytes = size_t(m) * n * (yt == act_type::f32 ? 4 : 2);
            std::vector<uint8_t> got(bytes, 0xCD), got1(bytes, 0xCD);
            for (int threads : {1, 3}) {
                ThreadPool pool(threads);
                linear_params p = paramsFor(pr, xt, yt, (threads == 1 ? got1 : got).data());
                p.accum = linear_accum::fp32;
                QVERIFY(linear_cpu(p, &pool).ok());
            }
            QString first;
            const int bad = fp32BoundViolations(pr, xt, yt, got.data(), exact, &first);
            if (bad)
                QFAIL(qPrintable(QStringLiteral("x %1 y %2: %3 outputs outside the bound, first %4")
                                     .arg(int(xt))
                                     .arg(int(yt))
                                     .arg(bad)
                                     .arg(first)));
            // Columns split over threads: the same bits as one thread.
            QVERIFY(std::memcmp(got.data(), got1.data(), bytes) == 0);
        }
    }
    if (!cpu_has_avx512_bf16())
        qWarning("no AVX-512 BF16 on this CPU: the vdpbf16ps GEMV was not exercised");
}

// Every e4m3 code (subnormals, both zeros, the largest; no NaN) and every e2m1 nibble as the
// weight that a one-hot x picks, for m = 1..3 and each position of a 64-element chunk: the fp32
// GEMV's decoding tables (bf16 in registers) must give the reference's value bit for bit (a
// one-term sum is exact in either mode). A wrong table entry or lane order fails here.
void tst_Linear::fp32GemvAllCodes()
{
    for (linear_weight_type type : {linear_weight_type::fp8_e4m3, linear_weight_type::fp4_e2m1}) {
        const bool fp8 = type == linear_weight_type::fp8_e4m3;
        const int n = fp8 ? 256 : 16, k = 192; // a partial 64-chunk / 128-block at the end
        for (int m = 1; m <= 3; ++m)
            for (int pos : {0, 5, 8, 17, 33, 63, 64, 130, 191}) {
                std::vector<uint8_t> w(fp8 ? size_t(n) * k : size_t(n) * k / 2, 0);
                std::vector<uint8_t> s(fp8 ? size_t((n + 127) / 128) * ((k + 127) / 128)
                                           : size_t(n) * k / 32,
                                       127);
                for (int j = 0; j < n; ++j) {
                    const int code = fp8 && (j == 0x7F || j == 0xFF) ? 0 : j; // no NaN codes
                    if (fp8)
                        w[size_t(j) * k + pos] = uint8_t(code);
                    else
                        w[size_t(j) * k / 2 + pos / 2] = uint8_t(pos % 2 ? code << 4 : code);
                }
                std::vector<float> x(size_t(m) * k, 0.0f);
                for (int r = 0; r < m; ++r)
                    x[size_t(r) * k + pos] = float(r + 1); // rows differ: 1, 2, 3
                std::vector<float> ref(size_t(m) * n), got(size_t(m) * n);
                linear_params p;
                p.x = x.data();
                p.x_type = act_type::f32;
                p.w = w.data();
                p.w_scale = s.data();
                p.w_type = type;
                p.y = ref.data();
                p.y_type = act_type::f32;
                p.m = m;
                p.n = n;
                p.k = k;
                QVERIFY(linear_ref(p).ok());
                p.y = got.data();
                p.accum = linear_accum::fp32;
                QVERIFY(linear_cpu(p, nullptr).ok());
                for (int i = 0; i < m * n; ++i)
                    if (std::memcmp(&ref[size_t(i)], &got[size_t(i)], 4) != 0)
                        QFAIL(qPrintable(QStringLiteral("%1 m %2 pos %3 row %4 code %5: %6 vs %7")
                                             .arg(fp8 ? "fp8" : "fp4")
                                             .arg(m)
                                             .arg(pos)
                                             .arg(i / n)
                                             .arg(i % n)
                                             .arg(got[size_t(i)])
                                             .arg(ref[size_t(i)])));
            }
    }
}

// Activations that hit every branch of the e4m3 activation quantisation (vectorised on AVX2):
// zeros of both signs, values on the subnormal grid and halfway between its points, the
// largest block value (saturates to 448 after scaling), ties of the normal grid, infinities.
void tst_Linear::edgeActivations()
{
    const int k = 256, n = 24;
    for (linear_weight_type type : {linear_weight_type::fp8_e4m3, linear_weight_type::fp4_e2m1}) {
        for (int m : {1, 5}) {
            Problem pr = makeProblem(m, n, k, type, 77);
            for (int r = 0; r < m; ++r) {
                float *x = pr.xf.data() + size_t(r) * k;
                x[0] = 0.0f;
                x[1] = -0.0f;
                x[2] = 1000.0f;              // block amax: scale 2^2 (fl32(1000/448) rounds up)
                for (int i = 3; i < 40; ++i) // subnormal grid of the scaled values: i * 2^-11
                    x[i] = (i % 2 ? -1.0f : 1.0f) * std::ldexp(float(i - 3), -12) * 4.0f;
                for (int i = 40; i < 80; ++i) // ties between e4m3 normals: (8 + m + 0.5) * 2^e
                    x[i] = std::ldexp(8.5f + float(i % 8), (i % 5) - 4) * 4.0f;
                x[128] = 3.0e38f; // second block: the largest value sets the scale
                x[129] = -3.0e38f;
                x[130] = 1e-30f; // flushed to zero after scaling
                if (r == 4) {
                    // An infinity makes the block scale NaN (the whole row NaN): one row only.
                    x[128] = std::numeric_limits<float>::infinity();
                }
                if (r == 0 && m == 5)
                    for (int i = 131; i < k; ++i)
                        x[i] = 0.0f; // a block that is almost all zeros
            }
            std::vector<float> ref(size_t(m) * n), got(size_t(m) * n);
            QVERIFY(linear_ref(paramsFor(pr, act_type::f32, act_type::f32, ref.data())).ok());
            ThreadPool pool(2);
            QVERIFY(linear_cpu(paramsFor(pr, act_type::f32, act_type::f32, got.data()), &pool).ok());
            for (size_t i = 0; i < ref.size(); ++i)
                if (std::memcmp(&ref[i], &got[i], 4) != 0
                    && !(std::isnan(ref[i]) && std::isnan(got[i])))
                    QFAIL(qPrintable(QStringLiteral("type %1 m %2: y[%3] %4 vs reference %5")
                                         .arg(int(type))
                                         .arg(m)
                                         .arg(i)
                                         .arg(double(got[i]))
                                         .arg(double(ref[i]))));
        }
    }
}

void tst_Linear::stridesAndErrors()
{
    const Problem pr = makeProblem(3, 40, 256, linear_weight_type::fp8_e4m3, 11);
    // x rows 300 apart, y rows 50 apart.
    std::vector<uint16_t> xs(3 * 300, 0);
    for (int r = 0; r < 3; ++r)
        std::memcpy(xs.data() + r * 300, pr.xb.data() + r * 256, 256 * 2);
    std::vector<float> packed(3 * 40), strided(3 * 50, -1.0f);
    QVERIFY(linear_ref(paramsFor(pr, act_type::bf16, act_type::f32, packed.data())).ok());
    linear_params p = paramsFor(pr, act_type::bf16, act_type::f32, strided.data());
    p.x = xs.data();
    p.ldx = 300;
    p.ldy = 50;
    QVERIFY(linear_cpu(p, nullptr).ok());
    for (int r = 0; r < 3; ++r) {
        for (int j = 0; j < 40; ++j)
            QCOMPARE(strided[r * 50 + j], packed[r * 40 + j]);
        QCOMPARE(strided[r * 50 + 45], -1.0f); // untouched
    }
    p.w_scale = nullptr;
    QVERIFY(!linear_cpu(p, nullptr).ok());
    QVERIFY(!linear_ref(p).ok());
    linear_params q = paramsFor(makeProblem(1, 4, 64, linear_weight_type::fp4_e2m1, 1),
                                act_type::bf16,
                                act_type::f32,
                                packed.data());
    q.k = 48; // not a multiple of 32
    QVERIFY(!linear_cpu(q, nullptr).ok());
    q.m = 0; // nothing to do
    QVERIFY(linear_cpu(q, nullptr).ok());
}

void tst_Linear::weightBytes()
{
    QCOMPARE(linear_weight_bytes(linear_weight_type::fp8_e4m3, 1024, 4096),
             int64_t(1024 * 4096 + 8 * 32));
    QCOMPARE(linear_weight_bytes(linear_weight_type::fp4_e2m1, 2048, 4096),
             int64_t(2048 * 2048 + 2048 * 128));
    QCOMPARE(linear_weight_bytes(linear_weight_type::bf16, 10, 20), int64_t(400));
}

void tst_Linear::threadPoolCoversRangeOnce()
{
    for (int threads : {1, 2, 3, 5}) {
        ThreadPool pool(threads);
        QCOMPARE(pool.thread_count(), threads);
        for (int64_t n : {int64_t(1), int64_t(7), int64_t(100), int64_t(12345)}) {
            for (int rep = 0; rep < 50; ++rep) {
                std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
                for (auto &h : hits)
                    h.store(0);
                std::atomic<int> empty{0};
                parallel_for(&pool, n, 3, [&](int64_t b, int64_t e) {
                    if (b >= e)
                        empty.fetch_add(1); // QtTest macros are not for worker threads
                    for (int64_t i = b; i < e; ++i)
                        hits[size_t(i)].fetch_add(1);
                });
                QCOMPARE(empty.load(), 0);
                for (auto &h : hits)
                    QCOMPARE(h.load(), 1);
            }
        }
    }
}

QTEST_GUILESS_MAIN(tst_Linear)
#include "tst_linear.moc"
