// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  Sampler: picks the next token from one row of logits (spec §9).

  temperature <= 0 is greedy (argmax, the lowest id among equal maxima). Otherwise the logits are
  divided by the temperature and turned into probabilities, then truncated in this order (the
  Hugging Face warper order): top-k (the k most probable ids), top-p (the smallest prefix of the
  ids sorted by probability whose mass reaches top_p), min-p (ids with p >= min_p * p_max). The
  survivors are renormalised and one is drawn with a uniform number from the request's own RNG.
  Defaults are the model card's (temperature 1.0, top-p 1.0, no top-k, no min-p).

  Determinism: each request owns a Sampler seeded from its seed; one draw consumes exactly one
  64-bit number, so the tokens depend only on the seed and the logits, never on which other
  requests share a batch. Ties in sorting are broken by id so the result is platform-independent.

  Thread: one Sampler per request, used by one thread at a time.
*/

#include "engine/api/backend.h"

#include <cstdint>
#include <vector>

namespace fathom::engine {

// splitmix64-seeded xoshiro256** (small, fast, identical on every platform).
class Rng
{
public:
    explicit Rng(uint64_t seed = 0);
    uint64_t next();
    // Uniform in [0, 1) with 53 random bits.
    double uniform();

private:
    uint64_t m_s[4];
};

class Sampler
{
public:
    explicit Sampler(const SamplingParams &params = {});

    const SamplingParams &params() const { return m_params; }
    bool greedy() const { return m_params.temperature <= 0.0f; }

    // logits: [vocab] fp32. Returns the chosen id.
    int32_t sample(const float *logits, int64_t vocab);

    // The truncated, renormalised distribution sample() draws from (ids ascending by id; for
    // tests and for clients that want probabilities). Greedy: the argmax with probability 1.
    struct Candidate
    {
        int32_t id;
        double p;
    };
    std::vector<Candidate> distribution(const float *logits, int64_t vocab) const;

    static int32_t argmax(const float *logits, int64_t vocab);

private:
    SamplingParams m_params;
    Rng m_rng;
    // Scratch reused between calls (vocab-sized).
    std::vector<Candidate> m_scratch;
    void candidates(const float *logits, int64_t vocab, std::vector<Candidate> &out) const;
};

} // namespace fathom::engine
