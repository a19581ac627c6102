// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  Token sampling on the device (cuda_ops.h sample_cuda), the engine Sampler's rules
  (engine/runtime/sampler.cpp) with its RNG, one block of 1024 threads per row.

  Nothing vocab-sized is stored: every pass recomputes p_i = exp((l_i − max)/T) in double.
  - greedy / fallback: block arg-max over (value, lower id), NaN never wins;
  - candidates: non-NaN logits with p > 0;
  - top-k: an 8-bit radix select over the logits' order keys (counts, deterministic) gives the
    k-th key K; ties at K are taken by increasing id (ordered scan), matching (p desc, id asc);
  - top-p: the last included key is the largest K with mass(key >= K) >= top_p·mass, found by a
    bitwise search (32 block reductions of the mass, each in double and deterministic); ties at
    K are included in id order while the running mass stays below the target;
  - min-p: p >= min_p (p_max = 1);
  - draw: u = 53-bit uniform of the row's xoshiro256** state times the survivors' mass, found
    by an exclusive scan of per-thread chunk masses in id order.
  The CPU sums the masses sequentially; here they are block sums in double, so a draw can differ
  from the CPU only when u lands within ~1e-15 of a boundary.
  NOTE: with top-p on, the 32 passes over the vocabulary cost tens of µs per row; a radix
  histogram of masses (4 passes) is the faster variant once determinism of its sums is solved.
*/
#include "kernels/cuda_ops.h"

#include "cuda_common.cuh"

#include <cmath>

namespace fathom::kernels {

namespace {

constexpr int k_threads = 1024;

__host__ __device__ inline uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

__device__ uint64_t xoshiro_next(uint64_t *s)
{
    const uint64_t result = rotl64(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

struct Row
{
    const float *v;
    int vocab;
    float max_logit;
    double temperature;

    __device__ double prob(int i) const
    {
        const float x = v[i];
        if (isnan(x))
            return 0.0;
        return exp((static_cast<double>(x) - max_logit) / temperature);
    }
};

struct Filters
{
    bool use_k, use_p, use_min;
    uint32_t key_k;
    int id_k; // keys == key_k survive up to this id
    uint32_t key_p;
    int id_p;
    double min_p;
};

__device__ inline bool survives(const Row &row, const Filters &f, int i, double p)
{
    if (!(p > 0.0))
        return false;
    const uint32_t key = cuda::radix_key(row.v[i]);
    if (f.use_k && !(key > f.key_k || (key == f.key_k && i <= f.id_k)))
        return false;
    if (f.use_p && !(key > f.key_p || (key == f.key_p && i <= f.id_p)))
        return false;
    if (f.use_min && p < f.min_p)
        return false;
    return true;
}

__device__ int block_count(int c, int *scratch)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int o = 16; o > 0; o >>= 1)
        c += __shfl_xor_sync(0xFFFFFFFFu, c, o);
    __syncthreads();
    if (lane == 0)
        scratch[warp] = c;
    __syncthreads();
    c = scratch[lane];
    for (int o = 16; o > 0; o >>= 1)
        c += __shfl_xor_sync(0xFFFFFFFFu, c, o);
    return c;
}

// Exclusive scan of per-thread values over the block (thread order); *total gets the sum.
template<typename T>
__device__ T block_exclusive_scan(T v, T *scratch, T *total)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    T inc = v;
    for (int o = 1; o < 32; o <<= 1) {
        const T t = __shfl_up_sync(0xFFFFFFFFu, inc, o);
        if (lane >= o)
            inc += t;
    }
    __syncthreads();
    if (lane == 31)
        scratch[warp] = inc;
    __syncthreads();
    if (warp == 0) {
        T w = scratch[lane];
        for (int o = 1; o < 32; o <<= 1) {
            const T t = __shfl_up_sync(0xFFFFFFFFu, w, o);
            if (lane >= o)
                w += t;
        }
        scratch[lane] = w;
    }
    __syncthreads();
    const T base = warp > 0 ? scratch[warp - 1] : T(0);
    *total = scratch[31];
    __syncthreads();
    return base + inc - v;
}

__global__ void __launch_bounds__(k_threads) sample_kernel(SampleParams p, int64_t ld)
{
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    __shared__ double dscratch[32];
    __shared__ int iscratch[32];
    __shared__ float fscratch[32];
    __shared__ int hist[256];
    __shared__ int s_int[4];
    __shared__ uint32_t s_key;
    const int r = blockIdx.x;
    const SampleConfig cfg = p.config[r];
    Row row{p.logits + static_cast<int64_t>(r) * ld, p.vocab, 0.0f, cfg.temperature};
    const int vocab = p.vocab;
    const int chunk = (vocab + k_threads - 1) / k_threads;
    const int c0 = min(vocab, static_cast<int>(threadIdx.x) * chunk);
    const int c1 = min(vocab, c0 + chunk);

    // Arg-max (greedy and fallbacks): the lowest id whose value equals the largest non-NaN
    // value (the CPU keeps the first of equal maxima; -0.0 == +0.0 there too).
    float mx = -__int_as_float(0x7F800000);
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        const float x = row.v[i];
        if (!isnan(x))
            mx = fmaxf(mx, x);
    }
    mx = cuda::block_max(mx, fscratch);
    int argmax = 0;
    {
        int cand = 0x7FFFFFFF;
        for (int i = threadIdx.x; i < vocab; i += blockDim.x)
            if (!isnan(row.v[i]) && row.v[i] == mx && i < cand)
                cand = i;
        for (int o = 16; o > 0; o >>= 1)
            cand = min(cand, __shfl_xor_sync(0xFFFFFFFFu, cand, o));
        __syncthreads();
        if ((threadIdx.x & 31) == 0)
            iscratch[threadIdx.x >> 5] = cand;
        __syncthreads();
        cand = iscratch[threadIdx.x & 31];
        for (int o = 16; o > 0; o >>= 1)
            cand = min(cand, __shfl_xor_sync(0xFFFFFFFFu, cand, o));
        argmax = cand == 0x7FFFFFFF ? 0 : cand;
    }
    if (!(cfg.temperature > 0.0f)) {
        if (threadIdx.x == 0)
            p.out_ids[r] = argmax;
        return;
    }
    // One draw per sampled row, taken first so every exit below consumes it (as the CPU does).
    __shared__ double s_u;
    if (threadIdx.x == 0) {
        uint64_t *st = p.rng_state + static_cast<int64_t>(r) * 4;
        uint64_t s[4] = {st[0], st[1], st[2], st[3]};
        s_u = static_cast<double>(xoshiro_next(s) >> 11) * 0x1.0p-53;
        for (int i = 0; i < 4; ++i)
            st[i] = s[i];
    }
    __syncthreads();
    const double u01 = s_u;
    if (!isfinite(mx)) {
        if (threadIdx.x == 0)
            p.out_ids[r] = argmax;
        return;
    }
    row.max_logit = mx;

    Filters f{};
    f.min_p = cfg.min_p;
    // Candidate count and mass.
    int n_cand = 0;
    double mass = 0.0;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        const double pi = row.prob(i);
        if (pi > 0.0) {
            ++n_cand;
            mass += pi;
        }
    }
    n_cand = block_count(n_cand, iscratch);
    f.use_k = cfg.top_k > 0 && cfg.top_k < n_cand;
    f.use_p = cfg.top_p > 0.0f && cfg.top_p < 1.0f;
    f.use_min = cfg.min_p > 0.0f;

    // Ordered selection helper: id of the `nth` (1-based) element with key == key_eq that
    // passes the filters so far, in id order.
    auto nth_equal_id = [&](uint32_t key_eq, int nth) -> int {
        int c = 0;
        for (int i = c0; i < c1; ++i)
            if (cuda::radix_key(row.v[i]) == key_eq && survives(row, f, i, row.prob(i)))
                ++c;
        int total;
        const int before = block_exclusive_scan<int>(c, iscratch, &total);
        if (threadIdx.x == 0)
            s_int[0] = vocab - 1;
        __syncthreads();
        if (nth > before && nth <= before + c) {
            int seen = before;
            for (int i = c0; i < c1; ++i) {
                if (cuda::radix_key(row.v[i]) == key_eq && survives(row, f, i, row.prob(i))) {
                    if (++seen == nth) {
                        s_int[0] = i;
                        break;
                    }
                }
            }
        }
        __syncthreads();
        const int id = s_int[0];
        __syncthreads();
        return id;
    };

    if (f.use_k) {
        // Radix select of the k-th largest key among the candidates.
        f.use_k = false; // filters apply only once their thresholds are known
        uint32_t prefix = 0;
        int remaining = cfg.top_k;
        for (int shift = 24; shift >= 0; shift -= 8) {
            for (int i = threadIdx.x; i < 256; i += blockDim.x)
                hist[i] = 0;
            __syncthreads();
            const uint32_t hi_mask = shift == 24 ? 0u : (0xFFFFFFFFu << (shift + 8));
            for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
                if (!(row.prob(i) > 0.0))
                    continue;
                const uint32_t key = cuda::radix_key(row.v[i]);
                if ((key & hi_mask) == (prefix & hi_mask))
                    atomicAdd(&hist[(key >> shift) & 0xFFu], 1);
            }
            __syncthreads();
            if (threadIdx.x == 0) {
                int rem = remaining, d = 255;
                for (; d > 0; --d) {
                    if (hist[d] >= rem)
                        break;
                    rem -= hist[d];
                }
                s_int[1] = rem;
                s_key = prefix | (static_cast<uint32_t>(d) << shift);
            }
            __syncthreads();
            remaining = s_int[1];
            prefix = s_key;
            __syncthreads();
        }
        f.id_k = nth_equal_id(prefix, remaining);
        f.key_k = prefix;
        f.use_k = true;
    }
    // Mass of the survivors of top-k (min-p applies after top-p).
    const bool use_min = f.use_min;
    f.use_min = false;
    mass = 0.0;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        const double pi = row.prob(i);
        if (survives(row, f, i, pi))
            mass += pi;
    }
    mass = cuda::block_sum(mass, dscratch);
    if (f.use_p) {
        f.use_p = false;
        const double target = static_cast<double>(cfg.top_p) * mass;
        auto mass_at_least = [&](uint32_t kmin) -> double {
            double s = 0.0;
            for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
                const double pi = row.prob(i);
                if (cuda::radix_key(row.v[i]) >= kmin && survives(row, f, i, pi))
                    s += pi;
            }
            return cuda::block_sum(s, dscratch);
        };
        uint32_t kp = 0;
        for (int bit = 31; bit >= 0; --bit) {
            const uint32_t cand = kp | (1u << bit);
            if (mass_at_least(cand) >= target)
                kp = cand;
        }
        const double mass_gt = kp == 0xFFFFFFFFu ? 0.0 : mass_at_least(kp + 1);
        // Ties at kp in id order while the running mass is below the target.
        int n_eq = 0;
        double p_eq = 0.0;
        for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
            const double pi = row.prob(i);
            if (cuda::radix_key(row.v[i]) == kp && survives(row, f, i, pi)) {
                ++n_eq;
                p_eq = pi;
            }
        }
        n_eq = block_count(n_eq, iscratch);
        // Equal keys are equal logits, hence equal probabilities: any thread's p_eq will do.
        __shared__ double s_peq;
        if (threadIdx.x == 0)
            s_peq = 0.0;
        __syncthreads();
        if (p_eq > 0.0)
            s_peq = p_eq;
        __syncthreads();
        if (threadIdx.x == 0) {
            double cum = mass_gt;
            int take = 0;
            while (take < n_eq && cum < target) {
                cum += s_peq;
                ++take;
            }
            s_int[2] = take < 1 ? 1 : take;
        }
        __syncthreads();
        const int take = s_int[2];
        f.id_p = nth_equal_id(kp, take);
        f.key_p = kp;
        f.use_p = true;
    }
    f.use_min = use_min;
    // Final survivors: chunk masses in id order, exclusive scan, draw.
    double cm = 0.0;
    int cn = 0;
    for (int i = c0; i < c1; ++i) {
        const double pi = row.prob(i);
        if (survives(row, f, i, pi)) {
            cm += pi;
            ++cn;
        }
    }
    int n_surv;
    block_exclusive_scan<int>(cn, iscratch, &n_surv);
    if (n_surv == 0) { // min-p removed everything
        if (threadIdx.x == 0)
            p.out_ids[r] = argmax;
        return;
    }
    double total;
    const double before = block_exclusive_scan<double>(cm, dscratch, &total);
    const double u = u01 * total;
    if (threadIdx.x == 0)
        s_int[3] = -1;
    __syncthreads();
    if (cn > 0 && u >= before && u < before + cm) {
        double cum = before;
        int last = -1;
        for (int i = c0; i < c1; ++i) {
            const double pi = row.prob(i);
            if (!survives(row, f, i, pi))
                continue;
            last = i;
            cum += pi;
            if (u < cum)
                break;
        }
        s_int[3] = last;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        int id = s_int[3];
        if (id < 0) // rounding: u landed on the total; take the last survivor
            for (int i = vocab - 1; i >= 0 && id < 0; --i)
                if (survives(row, f, i, row.prob(i)))
                    id = i;
        p.out_ids[r] = id;
    }
}

uint64_t splitmix64(uint64_t &x)
{
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

} // namespace

void sample_rng_seed(uint64_t seed, uint64_t state[4])
{
    uint64_t x = seed;
    for (int i = 0; i < 4; ++i)
        state[i] = splitmix64(x);
}

Status sample_cuda(const SampleParams &p, CUstream_st *stream)
{
    if (!p.logits || !p.config || !p.rng_state || !p.out_ids || p.rows < 0 || p.vocab <= 0
        || (p.ld != 0 && p.ld < p.vocab))
        return Status::invalid("sample_cuda: bad arguments");
    if (p.rows == 0)
        return Status::success();
    FATHOM_LAUNCH(p.rows, k_threads, 0, stream, sample_kernel)(p, p.ld ? p.ld : p.vocab);
    return cuda::launch_status();
}

} // namespace fathom::kernels
