// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// Sampler: the properties of each truncation rule, seeded determinism, and the empirical
// frequencies of a small known distribution (chi-square, bounded and seeded).

#include "engine/runtime/sampler.h"

#include <QTest>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

using namespace fathom::engine;

namespace {

// Logits whose softmax is exactly `probs` (up to rounding).
std::vector<float> logitsOf(const std::vector<double> &probs)
{
    std::vector<float> l;
    for (double p : probs)
        l.push_back(static_cast<float>(std::log(p)));
    return l;
}

std::vector<float> randomLogits(int n, uint32_t seed)
{
    std::mt19937 gen(seed);
    std::normal_distribution<float> d(0.0f, 3.0f);
    std::vector<float> l(static_cast<size_t>(n));
    for (float &x : l)
        x = d(gen);
    return l;
}

SamplingParams params(
    float temperature, int topK = 0, float topP = 1.0f, float minP = 0.0f, uint64_t seed = 0)
{
    SamplingParams p;
    p.temperature = temperature;
    p.topK = topK;
    p.topP = topP;
    p.minP = minP;
    p.seed = seed;
    return p;
}

std::set<int32_t> ids(const std::vector<Sampler::Candidate> &c)
{
    std::set<int32_t> s;
    for (const auto &x : c)
        s.insert(x.id);
    return s;
}

// Pearson chi-square of `counts` against `probs` for `n` draws.
double chiSquare(const std::vector<int> &counts, const std::vector<double> &probs, int n)
{
    double chi = 0.0;
    for (size_t i = 0; i < probs.size(); ++i) {
        const double e = probs[i] * n;
        chi += (counts[i] - e) * (counts[i] - e) / e;
    }
    return chi;
}

} // namespace

class tst_Sampler : public QObject
{
    Q_OBJECT

private slots:
    void defaultsAreTheModelCard()
    {
        const SamplingParams p;
        QCOMPARE(p.temperature, 1.0f);
        QCOMPARE(p.topP, 1.0f);
        QCOMPARE(p.topK, 0);
        QCOMPARE(p.minP, 0.0f);
    }

    void greedyPicksTheArgmaxLowestIdOnTies()
    {
        const std::vector<float> l = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
        Sampler s(params(0.0f));
        QVERIFY(s.greedy());
        for (int i = 0; i < 5; ++i)
            QCOMPARE(s.sample(l.data(), 5), 1);
        std::vector<float> withNan = {NAN, 0.0f, 3.0f, NAN};
        QCOMPARE(Sampler::argmax(withNan.data(), 4), 2);
    }

    void temperatureScalesTheSoftmax()
    {
        const std::vector<float> l = {1.0f, 2.0f, 0.0f, -1.5f};
        for (float t : {0.5f, 1.0f, 2.0f}) {
            Sampler s(params(t));
            const auto dist = s.distribution(l.data(), 4);
            QCOMPARE(dist.size(), size_t(4));
            double z = 0.0;
            for (float x : l)
                z += std::exp(double(x) / t);
            for (const auto &c : dist)
                QVERIFY(std::abs(c.p - std::exp(double(l[c.id]) / t) / z) < 1e-9);
        }
    }

    void topKNeverPicksOutsideTheKBest()
    {
        const int n = 1000, k = 7;
        const std::vector<float> l = randomLogits(n, 11);
        std::vector<int32_t> order(n);
        for (int i = 0; i < n; ++i)
            order[i] = i;
        std::sort(order.begin(), order.end(), [&](int a, int b) { return l[a] > l[b]; });
        const std::set<int32_t> best(order.begin(), order.begin() + k);
        Sampler s(params(1.5f, k, 1.0f, 0.0f, 5));
        const auto dist = s.distribution(l.data(), n);
        QCOMPARE(ids(dist), best);
        double sum = 0.0;
        for (const auto &c : dist)
            sum += c.p;
        QVERIFY(std::abs(sum - 1.0) < 1e-12);
        std::set<int32_t> seen;
        for (int i = 0; i < 3000; ++i) {
            const int32_t t = s.sample(l.data(), n);
            QVERIFY2(best.count(t), qPrintable(QStringLiteral("picked %1").arg(t)));
            seen.insert(t);
        }
        QCOMPARE(seen.size(), size_t(k)); // and every one of them can come up
    }

    void topPKeepsTheSmallestPrefixReachingP()
    {
        const std::vector<double> probs = {0.05, 0.5, 0.15, 0.3}; // sorted: 1, 3, 2, 0
        const std::vector<float> l = logitsOf(probs);
        QCOMPARE(ids(Sampler(params(1.0f, 0, 0.45f)).distribution(l.data(), 4)),
                 (std::set<int32_t>{1}));
        QCOMPARE(ids(Sampler(params(1.0f, 0, 0.75f)).distribution(l.data(), 4)),
                 (std::set<int32_t>{1, 3}));
        QCOMPARE(ids(Sampler(params(1.0f, 0, 0.85f)).distribution(l.data(), 4)),
                 (std::set<int32_t>{1, 3, 2}));
        QCOMPARE(ids(Sampler(params(1.0f, 0, 1.0f)).distribution(l.data(), 4)),
                 (std::set<int32_t>{0, 1, 2, 3}));
        // Renormalised over the survivors.
        const auto d = Sampler(params(1.0f, 0, 0.75f)).distribution(l.data(), 4);
        for (const auto &c : d)
            QVERIFY(std::abs(c.p - probs[c.id] / 0.8) < 1e-6);

        // A large vocabulary where the nucleus is bigger than the first sorted prefix.
        const int n = 5000;
        const std::vector<float> flat(n, 0.0f);
        QCOMPARE(Sampler(params(1.0f, 0, 0.5f)).distribution(flat.data(), n).size(), size_t(2500));
    }

    void minPDropsBelowTheThreshold()
    {
        const std::vector<double> probs = {0.5, 0.3, 0.15, 0.05};
        const std::vector<float> l = logitsOf(probs);
        // threshold = min_p * p_max: 0.2 * 0.5 = 0.1, 0.5 * 0.5 = 0.25, 0.02 * 0.5 = 0.01
        QCOMPARE(ids(Sampler(params(1.0f, 0, 1.0f, 0.2f)).distribution(l.data(), 4)),
                 (std::set<int32_t>{0, 1, 2}));
        QCOMPARE(ids(Sampler(params(1.0f, 0, 1.0f, 0.5f)).distribution(l.data(), 4)),
                 (std::set<int32_t>{0, 1}));
        QCOMPARE(ids(Sampler(params(1.0f, 0, 1.0f, 0.02f)).distribution(l.data(), 4)),
                 (std::set<int32_t>{0, 1, 2, 3}));
        const std::vector<float> big = randomLogits(2000, 3);
        Sampler s(params(1.0f, 0, 1.0f, 0.3f, 9));
        const float maxLogit = *std::max_element(big.begin(), big.end());
        for (int i = 0; i < 500; ++i) {
            const int32_t t = s.sample(big.data(), 2000);
            QVERIFY(std::exp(double(big[t]) - maxLogit) >= 0.3 - 1e-9);
        }
    }

    void sameSeedSameTokens()
    {
        const std::vector<float> l = randomLogits(300, 4);
        auto run = [&](uint64_t seed) {
            Sampler s(params(1.0f, 50, 0.95f, 0.0f, seed));
            std::vector<int32_t> out;
            for (int i = 0; i < 64; ++i)
                out.push_back(s.sample(l.data(), 300));
            return out;
        };
        QCOMPARE(run(42), run(42));
        QVERIFY(run(42) != run(43));
    }

    void frequenciesMatchTheDistribution()
    {
        // Chi-square with 3 degrees of freedom: 16.27 is the 0.1 % quantile. Seeded, so the test
        // is deterministic; a biased sampler (off-by-one in the cumulative walk, a wrong
        // renormalisation) lands far beyond it at this many draws.
        const std::vector<double> probs = {0.5, 0.3, 0.15, 0.05};
        const std::vector<float> l = logitsOf(probs);
        const int n = 40000;
        Sampler s(params(1.0f, 0, 1.0f, 0.0f, 123));
        std::vector<int> counts(4, 0);
        for (int i = 0; i < n; ++i)
            ++counts[s.sample(l.data(), 4)];
        const double chi = chiSquare(counts, probs, n);
        QVERIFY2(chi < 16.27, qPrintable(QStringLiteral("chi2 %1").arg(chi)));

        // Top-k 2: renormalised to 0.625 / 0.375, never 2 or 3 (1 degree of freedom: 10.83).
        Sampler k2(params(1.0f, 2, 1.0f, 0.0f, 77));
        std::vector<int> c2(4, 0);
        for (int i = 0; i < n; ++i)
            ++c2[k2.sample(l.data(), 4)];
        QCOMPARE(c2[2] + c2[3], 0);
        const double chi2 = chiSquare({c2[0], c2[1]}, {0.625, 0.375}, n);
        QVERIFY2(chi2 < 10.83, qPrintable(QStringLiteral("chi2 %1").arg(chi2)));

        // Temperature 2 flattens: p ~ sqrt(probs).
        std::vector<double> flat;
        double z = 0.0;
        for (double p : probs)
            z += std::sqrt(p);
        for (double p : probs)
            flat.push_back(std::sqrt(p) / z);
        Sampler t2(params(2.0f, 0, 1.0f, 0.0f, 99));
        std::vector<int> c3(4, 0);
        for (int i = 0; i < n; ++i)
            ++c3[t2.sample(l.data(), 4)];
        const double chi3 = chiSquare(c3, flat, n);
        QVERIFY2(chi3 < 16.27, qPrintable(QStringLiteral("chi2 %1").arg(chi3)));
    }

    void rngIsUniform()
    {
        Rng r(2026);
        double sum = 0.0;
        const int n = 100000;
        for (int i = 0; i < n; ++i) {
            const double u = r.uniform();
            QVERIFY(u >= 0.0 && u < 1.0);
            sum += u;
        }
        QVERIFY(std::abs(sum / n - 0.5) < 0.005);
        QCOMPARE(Rng(5).next(), Rng(5).next());
        QVERIFY(Rng(5).next() != Rng(6).next());
    }
};

QTEST_GUILESS_MAIN(tst_Sampler)
#include "tst_sampler.moc"
