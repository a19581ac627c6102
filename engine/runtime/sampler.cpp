// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "engine/runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fathom::engine {

namespace {

uint64_t splitmix64(uint64_t &x)
{
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

// Descending probability, ties by ascending id: a total order, so every platform's sort agrees.
bool byProbability(const Sampler::Candidate &a, const Sampler::Candidate &b)
{
    return a.p > b.p || (a.p == b.p && a.id < b.id);
}

} // namespace

Rng::Rng(uint64_t seed)
{
    uint64_t x = seed;
    for (uint64_t &s : m_s)
        s = splitmix64(x);
}

uint64_t Rng::next()
{
    const uint64_t result = rotl(m_s[1] * 5, 7) * 9;
    const uint64_t t = m_s[1] << 17;
    m_s[2] ^= m_s[0];
    m_s[3] ^= m_s[1];
    m_s[1] ^= m_s[2];
    m_s[0] ^= m_s[3];
    m_s[2] ^= t;
    m_s[3] = rotl(m_s[3], 45);
    return result;
}

double Rng::uniform()
{
    return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

Sampler::Sampler(const SamplingParams &params)
    : m_params(params)
    , m_rng(params.seed)
{}

int32_t Sampler::argmax(const float *logits, int64_t vocab)
{
    int64_t best = 0;
    float bestValue = -std::numeric_limits<float>::infinity();
    bool found = false;
    for (int64_t i = 0; i < vocab; ++i) {
        const float v = logits[i];
        if (std::isnan(v))
            continue; // a NaN never wins (it would poison every comparison)
        if (!found || v > bestValue) {
            best = i;
            bestValue = v;
            found = true;
        }
    }
    return static_cast<int32_t>(best);
}

void Sampler::candidates(const float *logits, int64_t vocab, std::vector<Candidate> &out) const
{
    out.clear();
    if (vocab <= 0)
        return;
    const double temperature = m_params.temperature;
    float maxLogit = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < vocab; ++i)
        if (!std::isnan(logits[i]))
            maxLogit = std::max(maxLogit, logits[i]);
    if (!std::isfinite(maxLogit)) {
        // No usable logit (all NaN / -inf, or +inf): fall back to the argmax alone.
        out.push_back({argmax(logits, vocab), 1.0});
        return;
    }
    // Unnormalised probabilities relative to the maximum (p_max = 1).
    out.reserve(static_cast<size_t>(vocab));
    double mass = 0.0;
    for (int64_t i = 0; i < vocab; ++i) {
        const float v = logits[i];
        if (std::isnan(v))
            continue;
        const double p = std::exp((static_cast<double>(v) - maxLogit) / temperature);
        if (p > 0.0) {
            out.push_back({static_cast<int32_t>(i), p});
            mass += p;
        }
    }

    const int topK = m_params.topK;
    const double topP = m_params.topP;
    const double minP = m_params.minP;
    const bool useTopK = topK > 0 && static_cast<size_t>(topK) < out.size();
    const bool useTopP = topP > 0.0 && topP < 1.0;
    const bool useMinP = minP > 0.0;
    if (!useTopK && !useTopP && !useMinP)
        return; // already in id order

    // Only the most probable ids can survive top-k / top-p: sort a growing prefix instead of the
    // whole vocabulary (decode samples every step).
    size_t keep = out.size();
    if (useTopK) {
        keep = static_cast<size_t>(topK);
        std::nth_element(out.begin(),
                         out.begin() + static_cast<std::ptrdiff_t>(keep) - 1,
                         out.end(),
                         byProbability);
        out.resize(keep);
        std::sort(out.begin(), out.end(), byProbability);
        mass = 0.0;
        for (const Candidate &c : out)
            mass += c.p;
    }
    if (useTopP) {
        const double target = topP * mass;
        size_t sorted = useTopK ? out.size() : 0;
        size_t prefix = 64;
        for (;;) {
            if (sorted < out.size()) {
                prefix = std::min(prefix, out.size());
                std::partial_sort(out.begin(),
                                  out.begin() + static_cast<std::ptrdiff_t>(prefix),
                                  out.end(),
                                  byProbability);
                sorted = prefix;
            }
            double cum = 0.0;
            size_t n = 0;
            while (n < sorted && cum < target)
                cum += out[n++].p;
            if (cum >= target || sorted == out.size()) {
                out.resize(std::max<size_t>(n, 1));
                break;
            }
            prefix *= 4;
        }
    }
    if (useMinP) {
        // p_max is 1 here (relative to the maximum logit), so the threshold is min_p itself.
        out.erase(std::remove_if(out.begin(),
                                 out.end(),
                                 [minP](const Candidate &c) { return c.p < minP; }),
                  out.end());
        if (out.empty())
            out.push_back({argmax(logits, vocab), 1.0});
    }
    std::sort(out.begin(), out.end(), [](const Candidate &a, const Candidate &b) {
        return a.id < b.id;
    });
}

std::vector<Sampler::Candidate> Sampler::distribution(const float *logits, int64_t vocab) const
{
    std::vector<Candidate> out;
    if (greedy()) {
        out.push_back({argmax(logits, vocab), 1.0});
        return out;
    }
    candidates(logits, vocab, out);
    double mass = 0.0;
    for (const Candidate &c : out)
        mass += c.p;
    for (Candidate &c : out)
        c.p /= mass;
    return out;
}

int32_t Sampler::sample(const float *logits, int64_t vocab)
{
    if (greedy())
        return argmax(logits, vocab);
    candidates(logits, vocab, m_scratch);
    double mass = 0.0;
    for (const Candidate &c : m_scratch)
        mass += c.p;
    const double u = m_rng.uniform() * mass;
    double cum = 0.0;
    for (const Candidate &c : m_scratch) {
        cum += c.p;
        if (u < cum)
            return c.id;
    }
    return m_scratch.back().id; // rounding: u landed on the total
}

} // namespace fathom::engine
