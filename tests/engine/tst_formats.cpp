// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// Numeric formats and block quantisers (kernels/formats.h, kernels/quant.h) against hand-computed
// cases from the spec (ties, subnormals, saturation, E8M0 edges) and against independent
// nearest-value table encoders written here.

#include "kernels/formats.h"
#include "kernels/quant.h"

#include <QTest>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace fathom::kernels;

namespace {

float bitsToFloat(uint32_t b)
{
    return std::bit_cast<float>(b);
}

// Independent definition: value of an e4m3fn code from the format description.
double e4m3Value(int code)
{
    const int e = (code >> 3) & 15, m = code & 7;
    const double mag = e == 0 ? m / 512.0 : (1.0 + m / 8.0) * std::ldexp(1.0, e - 7);
    return (code & 0x80) ? -mag : mag;
}

// Independent encoder: nearest finite e4m3 value, ties to the even code, saturating.
int e4m3TableEncode(float x)
{
    const double a = std::fabs(static_cast<double>(x));
    const int sign = std::signbit(x) ? 0x80 : 0;
    if (a >= 448.0)
        return sign | 0x7E;
    int best = 0;
    double bestDiff = 1e30;
    for (int c = 0; c <= 0x7E; ++c) {
        const double diff = std::fabs(e4m3Value(c) - a);
        if (diff < bestDiff || (diff == bestDiff && (c & 1) == 0)) {
            best = c;
            bestDiff = diff;
        }
    }
    return sign | best;
}

int e2m1TableEncode(float x)
{
    static const double values[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    const double a = std::fabs(static_cast<double>(x));
    const int sign = std::signbit(x) ? 8 : 0;
    if (a >= 6.0)
        return sign | 7; // saturate (differences to huge values would tie in double)
    int best = 0;
    double bestDiff = 1e30;
    for (int c = 0; c < 8; ++c) {
        const double diff = std::fabs(values[c] - a);
        if (diff < bestDiff || (diff == bestDiff && (c & 1) == 0)) {
            best = c;
            bestDiff = diff;
        }
    }
    return sign | best;
}

} // namespace

class tst_Formats : public QObject
{
    Q_OBJECT

private slots:
    void bf16Rounding();
    void bf16Rows();
    void e8m0Values();
    void e4m3Decode();
    void e4m3HandCases();
    void e4m3MatchesTableEncoder();
    void e2m1HandCases();
    void e2m1MatchesTableEncoder();
    void e2m1BranchlessAndWeightQuant();
    void pow2Scales();
    void fakeQuantE4m3();
    void fakeQuantE2m1();
    void actQuant();
    void weightQuantRoundTrip();
};

void tst_Formats::bf16Rounding()
{
    QCOMPARE(f32_to_bf16(1.0f), uint16_t(0x3F80));
    // Exactly half way: ties to even.
    QCOMPARE(f32_to_bf16(bitsToFloat(0x3F808000)), uint16_t(0x3F80));
    QCOMPARE(f32_to_bf16(bitsToFloat(0x3F818000)), uint16_t(0x3F82));
    QCOMPARE(f32_to_bf16(bitsToFloat(0x3F808001)), uint16_t(0x3F81));
    QCOMPARE(f32_to_bf16(bitsToFloat(0x3F807FFF)), uint16_t(0x3F80));
    // Overflow to infinity when rounding up past the largest finite bf16.
    QCOMPARE(f32_to_bf16(bitsToFloat(0x7F7FFFFF)), uint16_t(0x7F80));
    QCOMPARE(f32_to_bf16(-INFINITY), uint16_t(0xFF80));
    QVERIFY(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
    QCOMPARE(bf16_to_f32(0x4049), 3.140625f);
    // bf16 subnormal stays subnormal.
    QCOMPARE(f32_to_bf16(bitsToFloat(0x00010000)), uint16_t(0x0001));
}

void tst_Formats::bf16Rows()
{
    std::mt19937 rng(1);
    std::vector<float> src(1037);
    for (float &v : src)
        v = bitsToFloat(rng());
    src[3] = NAN;
    std::vector<uint16_t> dst(src.size());
    f32_to_bf16_row(src.data(), dst.data(), static_cast<int64_t>(src.size()));
    for (size_t i = 0; i < src.size(); ++i) {
        if (std::isnan(src[i]))
            QVERIFY(std::isnan(bf16_to_f32(dst[i])));
        else
            QCOMPARE(dst[i], f32_to_bf16(src[i]));
    }
    std::vector<float> back(src.size());
    bf16_to_f32_row(dst.data(), back.data(), static_cast<int64_t>(src.size()));
    for (size_t i = 0; i < src.size(); ++i)
        QCOMPARE(std::bit_cast<uint32_t>(back[i]), uint32_t(dst[i]) << 16);
}

void tst_Formats::e8m0Values()
{
    QCOMPARE(e8m0_to_f32(127), 1.0f);
    QCOMPARE(e8m0_to_f32(128), 2.0f);
    QCOMPARE(e8m0_to_f32(120), 0.0078125f);
    QCOMPARE(e8m0_to_f32(254), std::ldexp(1.0f, 127));
    QCOMPARE(e8m0_to_f32(1), std::ldexp(1.0f, -126));
    QCOMPARE(e8m0_to_f32(0), std::ldexp(1.0f, -127)); // an fp32 subnormal
    QVERIFY(std::isnan(e8m0_to_f32(255)));
    QCOMPARE(e8m0_inverse_f32(119), 256.0f);
}

void tst_Formats::e4m3Decode()
{
    for (int c = 0; c < 256; ++c) {
        if ((c & 0x7F) == 0x7F) {
            QVERIFY(std::isnan(e4m3_to_f32(uint8_t(c))));
            continue;
        }
        QCOMPARE(static_cast<double>(e4m3_to_f32(uint8_t(c))), e4m3Value(c));
    }
    QCOMPARE(e4m3_to_f32(0x7E), 448.0f);
    QCOMPARE(e4m3_to_f32(0xFE), -448.0f);
    QCOMPARE(e4m3_to_f32(0x01), 0.001953125f);  // 2^-9, smallest subnormal
    QCOMPARE(e4m3_to_f32(0x07), 7.0f / 512.0f); // largest subnormal
    QCOMPARE(e4m3_to_f32(0x08), 0.015625f);     // 2^-6, smallest normal
    QCOMPARE(e4m3_to_f32(0x38), 1.0f);
}

void tst_Formats::e4m3HandCases()
{
    QCOMPARE(f32_to_e4m3(1.0f), uint8_t(0x38));
    QCOMPARE(f32_to_e4m3(448.0f), uint8_t(0x7E));
    // Saturation (satfinite): beyond max, infinities.
    QCOMPARE(f32_to_e4m3(464.0f), uint8_t(0x7E)); // half way to the (NaN) 480 slot
    QCOMPARE(f32_to_e4m3(500.0f), uint8_t(0x7E));
    QCOMPARE(f32_to_e4m3(1e9f), uint8_t(0x7E));
    QCOMPARE(f32_to_e4m3(INFINITY), uint8_t(0x7E));
    QCOMPARE(f32_to_e4m3(-INFINITY), uint8_t(0xFE));
    QCOMPARE(f32_to_e4m3(-1000.0f), uint8_t(0xFE));
    // Ties to even between normals: 1.0625 is half way between 1.0 (m=0) and 1.125 (m=1).
    QCOMPARE(f32_to_e4m3(1.0625f), uint8_t(0x38));
    QCOMPARE(f32_to_e4m3(1.1875f), uint8_t(0x3A)); // 1.125 (m=1) .. 1.25 (m=2) -> 1.25
    QCOMPARE(f32_to_e4m3(1.0626f), uint8_t(0x39));
    QCOMPARE(f32_to_e4m3(432.0f), uint8_t(0x7E)); // 416 (m=5) .. 448 (m=6) tie -> 448
    // Subnormals: 2^-10 is half of the smallest subnormal -> 0 (even); 3 * 2^-10 -> 2^-8 (m=2).
    QCOMPARE(f32_to_e4m3(std::ldexp(1.0f, -10)), uint8_t(0x00));
    QCOMPARE(f32_to_e4m3(3.0f * std::ldexp(1.0f, -10)), uint8_t(0x02));
    QCOMPARE(f32_to_e4m3(std::ldexp(1.0f, -11)), uint8_t(0x00));
    // 7.5 * 2^-9 is half way between the largest subnormal and 2^-6: even code 0x08.
    QCOMPARE(f32_to_e4m3(7.5f / 512.0f), uint8_t(0x08));
    QCOMPARE(f32_to_e4m3(-0.0f), uint8_t(0x80));
    QCOMPARE(f32_to_e4m3(-3.0f * std::ldexp(1.0f, -10)), uint8_t(0x82));
    QCOMPARE(f32_to_e4m3(NAN) & 0x7F, 0x7F);
}

void tst_Formats::e4m3MatchesTableEncoder()
{
    // Every bf16 value (what act_quant / KV fake quant feed after an exact power-of-two scaling).
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float x = bf16_to_f32(uint16_t(h));
        if (std::isnan(x))
            continue;
        const int want = e4m3TableEncode(x);
        if (f32_to_e4m3(x) != want)
            QFAIL(qPrintable(QStringLiteral("bf16 0x%1 (%2): got 0x%3, want 0x%4")
                                 .arg(h, 4, 16, QLatin1Char('0'))
                                 .arg(double(x))
                                 .arg(f32_to_e4m3(x), 2, 16)
                                 .arg(want, 2, 16)));
    }
    // Random fp32 in the interesting range plus every exact midpoint between neighbours.
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-500.0f, 500.0f);
    for (int i = 0; i < 200000; ++i) {
        const float x = i % 2 ? u(rng) : std::ldexp(u(rng), -int(rng() % 16));
        QCOMPARE(int(f32_to_e4m3(x)), e4m3TableEncode(x));
    }
    for (int c = 0; c < 0x7E; ++c) {
        const float mid = static_cast<float>((e4m3Value(c) + e4m3Value(c + 1)) / 2);
        QCOMPARE(int(f32_to_e4m3(mid)), e4m3TableEncode(mid));
        QCOMPARE(int(f32_to_e4m3(-mid)), e4m3TableEncode(-mid));
        QCOMPARE(int(f32_to_e4m3(mid)) & 1, 0); // a tie always lands on the even code
    }
}

void tst_Formats::e2m1HandCases()
{
    // The spec's tie list (v4-model-spec.md §6.3).
    QCOMPARE(f32_to_e2m1(0.25f), uint8_t(0));
    QCOMPARE(f32_to_e2m1(0.75f), uint8_t(2)); // 1.0
    QCOMPARE(f32_to_e2m1(1.25f), uint8_t(2)); // 1.0
    QCOMPARE(f32_to_e2m1(1.75f), uint8_t(4)); // 2.0
    QCOMPARE(f32_to_e2m1(2.5f), uint8_t(4));  // 2.0
    QCOMPARE(f32_to_e2m1(3.5f), uint8_t(6));  // 4.0
    QCOMPARE(f32_to_e2m1(5.0f), uint8_t(6));  // 4.0
    QCOMPARE(f32_to_e2m1(6.0f), uint8_t(7));
    QCOMPARE(f32_to_e2m1(7.0f), uint8_t(7)); // saturate
    QCOMPARE(f32_to_e2m1(INFINITY), uint8_t(7));
    QCOMPARE(f32_to_e2m1(-100.0f), uint8_t(15));
    QCOMPARE(f32_to_e2m1(-0.3f), uint8_t(9)); // -0.5
    QCOMPARE(f32_to_e2m1(-0.0f), uint8_t(8));
    QCOMPARE(e2m1_to_f32(7), 6.0f);
    QCOMPARE(e2m1_to_f32(13), -3.0f);
    const uint8_t packed[2] = {0x21, 0xF7};
    QCOMPARE(e2m1_unpack(packed, 0), uint8_t(1)); // low nibble first
    QCOMPARE(e2m1_unpack(packed, 1), uint8_t(2));
    QCOMPARE(e2m1_unpack(packed, 2), uint8_t(7));
    QCOMPARE(e2m1_unpack(packed, 3), uint8_t(15));
}

void tst_Formats::e2m1MatchesTableEncoder()
{
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float x = bf16_to_f32(uint16_t(h));
        if (std::isnan(x))
            continue;
        if (int(f32_to_e2m1(x)) != e2m1TableEncode(x))
            QFAIL(qPrintable(QStringLiteral("bf16 0x%1 (%2): got %3, want %4")
                                 .arg(h, 4, 16, QLatin1Char('0'))
                                 .arg(double(x))
                                 .arg(f32_to_e2m1(x))
                                 .arg(e2m1TableEncode(x))));
    }
}

void tst_Formats::e2m1BranchlessAndWeightQuant()
{
    // f32_to_e2m1_branchless == f32_to_e2m1 on every float's upper 24 bits (both signs, zeros,
    // subnormals, every tie point, infinities, NaNs) with low bytes 00, 01, 7F, 80, FF.
    for (uint32_t h = 0; h < (1u << 24); ++h)
        for (uint32_t low : {0x00u, 0x01u, 0x7Fu, 0x80u, 0xFFu}) {
            const float x = std::bit_cast<float>((h << 8) | low);
            if (f32_to_e2m1_branchless(x) != f32_to_e2m1(x))
                QFAIL(qPrintable(QStringLiteral("0x%1: got %2, want %3")
                                     .arg((h << 8) | low, 8, 16, QLatin1Char('0'))
                                     .arg(f32_to_e2m1_branchless(x))
                                     .arg(f32_to_e2m1(x))));
        }
    // quantize_weight_e2m1 (branch-free amax and codes) == the scalar definition, on rows with
    // zeros, negative zeros, infinities, NaNs, subnormals and exact tie multiples.
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const int n = 64, k = 256;
    std::vector<float> w(n * k);
    for (int i = 0; i < n * k; ++i) {
        const uint32_t r = rng() % 64;
        w[i] = r == 0   ? 0.0f
               : r == 1 ? -0.0f
               : r == 2 ? (rng() % 2 ? INFINITY : -INFINITY)
               : r == 3 ? std::bit_cast<float>(uint32_t(0x7FC00000u | (rng() & 0x80000000u)))
               : r == 4 ? std::bit_cast<float>(uint32_t(rng() & 0x807FFFFFu))
               : r == 5 ? e2m1_to_f32(uint8_t(rng() % 16)) * 0.25f + 0.0625f * float(rng() % 3)
               : r < 16 ? nd(rng) * 1e-3f
                        : nd(rng);
    }
    for (int i = 0; i < 32 * 4; ++i) // a few blocks without specials
        w[i] = nd(rng);
    std::vector<uint8_t> p(n * k / 2), s(n * k / 32);
    quantize_weight_e2m1(w.data(), n, k, p.data(), s.data());
    for (int i = 0; i < n; ++i)
        for (int b = 0; b < k / 32; ++b) {
            const float *src = w.data() + i * k + b * 32;
            float amax = 0.0f;
            for (int j = 0; j < 32; ++j)
                amax = std::max(amax, std::fabs(src[j]));
            const uint8_t want = pow2_scale_e8m0(std::max(amax, k_e2m1_amax_floor) / k_e2m1_max,
                                                 1.0f,
                                                 0.0f);
            QCOMPARE(int(s[i * (k / 32) + b]), int(want));
            const float inv = e8m0_inverse_f32(want);
            for (int j = 0; j < 32; ++j)
                QCOMPARE(int(e2m1_unpack(p.data() + i * (k / 2), b * 32 + j)),
                         int(f32_to_e2m1(src[j] * inv)));
        }
}

void tst_Formats::pow2Scales()
{
    // Expected bytes computed independently (fp32 arithmetic in Python): fl32(amax * fl32(1/448)).
    const float amax[] = {0.0f, 1.0f, 448.0f, 896.0f, 447.0f, 449.0f, 1e-5f, 3.5f, 224.0f, 0.5f};
    const int want[] = {105, 119, 127, 128, 127, 128, 105, 120, 126, 118};
    for (int i = 0; i < 10; ++i)
        QCOMPARE(int(pow2_scale_e8m0(amax[i], k_e4m3_inv_max, k_e4m3_amax_floor)), want[i]);
    const float amax4[] = {0.0f, 6.0f, 1.0f, 12.0f, 3.0f};
    const int want4[] = {1, 127, 125, 128, 126};
    for (int i = 0; i < 5; ++i)
        QCOMPARE(int(pow2_scale_e8m0(amax4[i], k_e2m1_inv_max, k_e2m1_amax_floor)), want4[i]);
}

void tst_Formats::fakeQuantE4m3()
{
    // One block of 64 with amax 1.0: s = 2^-8, x/s = 256 x on the e4m3 grid.
    std::vector<uint16_t> x(64, f32_to_bf16(0.0f));
    x[0] = f32_to_bf16(1.0f);
    x[1] = f32_to_bf16(0.3f);     // 76.8 -> 80 (step 8 in [64,128)) -> 0.3125
    x[2] = f32_to_bf16(-0.01f);   // -2.56 -> -2.5 (step .25 in [2,4)) -> -0.009765625
    x[3] = f32_to_bf16(0.00001f); // 0.00256 -> 1.31 * 2^-9 -> 2^-9 (subnormal) -> 2^-17
    // A second block: all below the amax floor 1e-4 -> s = 2^-22.
    x.resize(128, f32_to_bf16(0.0f));
    x[64] = f32_to_bf16(1e-6f); // 1e-6 * 2^22 = 4.194 -> 4.0 -> 9.5367e-7
    fake_quant_e4m3_bf16(x.data(), 128, 64);
    QCOMPARE(bf16_to_f32(x[0]), 1.0f);
    QCOMPARE(bf16_to_f32(x[1]), 0.3125f);
    QCOMPARE(bf16_to_f32(x[2]), -0.009765625f);
    QCOMPARE(bf16_to_f32(x[3]), std::ldexp(1.0f, -17));
    QCOMPARE(bf16_to_f32(x[64]), std::ldexp(1.0f, -20));
}

void tst_Formats::fakeQuantE2m1()
{
    // amax 1.0: s = 2^ceil(log2(1/6)) = 0.25; x/s = 4x on the e2m1 grid.
    std::vector<uint16_t> x(32, f32_to_bf16(0.0f));
    x[0] = f32_to_bf16(1.0f);    // 4 -> 4
    x[1] = f32_to_bf16(0.3f);    // 1.2 -> 1 -> 0.25
    x[2] = f32_to_bf16(0.65f);   // 2.6 -> 3 -> 0.75
    x[3] = f32_to_bf16(-0.875f); // -3.5 -> -4 (tie to even) -> -1.0
    x[4] = f32_to_bf16(0.0625f); // 0.25 -> 0 (tie to even)
    fake_quant_e2m1_bf16(x.data(), 32, 32);
    QCOMPARE(bf16_to_f32(x[0]), 1.0f);
    QCOMPARE(bf16_to_f32(x[1]), 0.25f);
    QCOMPARE(bf16_to_f32(x[2]), 0.75f);
    QCOMPARE(bf16_to_f32(x[3]), -1.0f);
    QCOMPARE(bf16_to_f32(x[4]), 0.0f);
}

void tst_Formats::actQuant()
{
    // k = 200: one full block of 128 and a partial one of 72.
    std::vector<uint16_t> x(200, f32_to_bf16(0.0f));
    x[5] = f32_to_bf16(3.5f);   // block 0 amax 3.5 -> s = 2^-7; 3.5 * 128 = 448 -> 0x7E
    x[6] = f32_to_bf16(-0.3f);  // -38.4 -> -40 (step 4 in [32,64)) -> code 0xCA
    x[150] = f32_to_bf16(0.5f); // block 1 amax 0.5 -> s = 2^-9; 256 -> 0x78
    std::vector<uint8_t> q(200), s(2);
    act_quant_e4m3_bf16(x.data(), 200, 128, q.data(), s.data());
    QCOMPARE(int(s[0]), 120);
    QCOMPARE(int(s[1]), 118);
    QCOMPARE(int(q[5]), 0x7E);
    QCOMPARE(e4m3_to_f32(q[6]), -40.0f);
    QCOMPARE(int(q[150]), 0x78); // 256 = 2^8: e = 15, m = 0
    QCOMPARE(int(q[0]), 0);
    std::vector<float> xf(200);
    bf16_to_f32_row(x.data(), xf.data(), 200);
    std::vector<uint8_t> q2(200), s2(2);
    act_quant_e4m3_f32(xf.data(), 200, 128, q2.data(), s2.data());
    QCOMPARE(q2, q);
    QCOMPARE(s2, s);
}

void tst_Formats::weightQuantRoundTrip()
{
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 0.05f);
    const int n = 200, k = 320;
    std::vector<float> w(n * k);
    for (float &v : w)
        v = nd(rng);
    std::vector<uint8_t> q(n * k), s(((n + 127) / 128) * ((k + 127) / 128));
    quantize_weight_e4m3(w.data(), n, k, q.data(), s.data());
    std::vector<float> back(n * k);
    dequantize_weight_e4m3(q.data(), s.data(), n, k, back.data());
    double err = 0, ref = 0;
    for (int i = 0; i < n * k; ++i) {
        err += (back[i] - w[i]) * double(back[i] - w[i]);
        ref += double(w[i]) * w[i];
    }
    // e4m3 has 3 mantissa bits: relative RMS error about 2^-4 / sqrt(3) at most.
    QVERIFY2(std::sqrt(err / ref) < 0.04, qPrintable(QString::number(std::sqrt(err / ref))));
    // Every block's largest value maps to the top binade of e4m3: 224 <= max|code| <= 448.
    for (int bi = 0; bi < 2; ++bi)
        for (int bj = 0; bj < 3; ++bj) {
            float mx = 0;
            for (int i = bi * 128; i < std::min(n, bi * 128 + 128); ++i)
                for (int j = bj * 128; j < std::min(k, bj * 128 + 128); ++j)
                    mx = std::max(mx, std::fabs(e4m3_to_f32(q[i * k + j])));
            QVERIFY(mx > 224.0f && mx <= 448.0f);
        }
    // bf16 dequantisation is exact.
    std::vector<uint16_t> bf(n * k);
    dequantize_weight_e4m3_bf16(q.data(), s.data(), n, k, bf.data());
    for (int i = 0; i < n * k; ++i)
        QCOMPARE(bf16_to_f32(bf[i]), back[i]);

    std::vector<uint8_t> p(n * k / 2), s4(n * k / 32);
    quantize_weight_e2m1(w.data(), n, k, p.data(), s4.data());
    dequantize_weight_e2m1(p.data(), s4.data(), n, k, back.data());
    err = 0;
    for (int i = 0; i < n * k; ++i)
        err += (back[i] - w[i]) * double(back[i] - w[i]);
    QVERIFY2(std::sqrt(err / ref) < 0.25, qPrintable(QString::number(std::sqrt(err / ref))));
    // Values already on the FP4 grid with a power-of-two scale come back exactly.
    std::vector<float> grid(32);
    for (int j = 0; j < 32; ++j)
        grid[j] = e2m1_to_f32(uint8_t(j % 16)) * 0.125f;
    std::vector<uint8_t> gp(16), gs(1);
    quantize_weight_e2m1(grid.data(), 1, 32, gp.data(), gs.data());
    QCOMPARE(int(gs[0]), 124); // amax 0.75 -> 0.125 = 2^-3
    std::vector<float> gb(32);
    dequantize_weight_e2m1(gp.data(), gs.data(), 1, 32, gb.data());
    for (int j = 0; j < 32; ++j)
        QCOMPARE(gb[j], grid[j]);
}

QTEST_GUILESS_MAIN(tst_Formats)
#include "tst_formats.moc"
