// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "cudaexecutor.h"

#include "cudaglue.h"
#ifndef FATHOM_CUDA_EMULATION
#include "cublaslt_linear.h" // cublaslt
#endif
#include "engine/core/threadpool.h"
#include "engine/runtime/v4model.h"
#include "kernels/cuda_ops.h"
#include "kernels/fp4_fold_e4m3.h"       // ltexperts
#include "kernels/linear_fp8_cublaslt.h" // ltexperts
#include "kernels/linear_group.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <source_location>
#include <string_view>
#include <utility>

namespace fathom::engine {

namespace {

std::string gib(uint64_t bytes)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1ull << 30));
    return buf;
}

// Arena granularity: small blocks by 512 bytes, large ones by 2 MiB, so that the same request
// sizes of successive steps land on the same cached blocks.
size_t roundedSize(size_t bytes)
{
    if (bytes == 0)
        bytes = 1;
    const size_t g = bytes < (1u << 20) ? 512 : (2u << 20);
    return (bytes + g - 1) / g * g;
}

// Bytes of a projection's weight and scale tensors (kernels/linear.h layouts).
void linearRanges(const LinearWeight &w, std::vector<std::pair<const void *, size_t>> &out)
{
    if (!w.valid())
        return;
    const size_t n = static_cast<size_t>(w.outFeatures), k = static_cast<size_t>(w.inFeatures);
    switch (w.type) {
    case kernels::linear_weight_type::bf16:
        out.push_back({w.weight, n * k * 2});
        break;
    case kernels::linear_weight_type::f32:
        out.push_back({w.weight, n * k * 4});
        break;
    case kernels::linear_weight_type::fp8_e4m3:
        out.push_back({w.weight, n * k});
        if (w.scale)
            out.push_back({w.scale, ((n + 127) / 128) * ((k + 127) / 128)});
        break;
    case kernels::linear_weight_type::fp4_e2m1:
        out.push_back({w.weight, n * k / 2});
        if (w.scale)
            out.push_back({w.scale, n * (k / 32)});
        break;
    }
}

template<typename T>
void vectorRange(const std::vector<T> &v, std::vector<std::pair<const void *, size_t>> &out)
{
    if (!v.empty())
        out.push_back({v.data(), v.size() * sizeof(T)});
}

void floatsRange(const float *p, size_t n, std::vector<std::pair<const void *, size_t>> &out)
{
    if (p && n)
        out.push_back({p, n * sizeof(float)});
}

void hcRanges(const HcWeights &hc,
              int rowsFn,
              int nBase,
              int nScale,
              int64_t cols,
              std::vector<std::pair<const void *, size_t>> &out)
{
    floatsRange(hc.fn, static_cast<size_t>(rowsFn) * cols, out);
    floatsRange(hc.base, nBase, out);
    floatsRange(hc.scale, nScale, out);
}

// Every host range the forward pass hands to ops as a model constant.
std::vector<std::pair<const void *, size_t>> modelRanges(const V4Model &model)
{
    const ModelConfig &c = model.config();
    const int n = c.hcMult;
    const int64_t nd = static_cast<int64_t>(n) * c.hiddenSize;
    std::vector<std::pair<const void *, size_t>> r;
    r.push_back({model.embed(), static_cast<size_t>(c.vocabSize) * c.hiddenSize * 2});
    linearRanges(model.head(), r);
    vectorRange(model.norm(), r);
    hcRanges(model.hcHead(), n, n, 1, nd, r);
    vectorRange(model.ropePlain(), r);
    vectorRange(model.ropeCompressed(), r);
    for (int i = 0; i < model.blockCount(); ++i) {
        const BlockWeights &b = model.block(i);
        const int mix = (2 + n) * n;
        hcRanges(b.hcAttn, mix, mix, 3, nd, r);
        hcRanges(b.hcFfn, mix, mix, 3, nd, r);
        for (const auto *v : {&b.attnNorm,
                              &b.ffnNorm,
                              &b.qNorm,
                              &b.kvNorm,
                              &b.compNorm,
                              &b.idxCompNorm,
                              &b.enorm,
                              &b.hnorm,
                              &b.norm})
            vectorRange(*v, r);
        floatsRange(b.attnSink, c.numAttentionHeads, r);
        for (const LinearWeight *w : {&b.wqA,
                                      &b.wqB,
                                      &b.wkv,
                                      &b.woA,
                                      &b.woB,
                                      &b.compWkv,
                                      &b.compWgate,
                                      &b.idxWqB,
                                      &b.idxWeights,
                                      &b.idxCompWkv,
                                      &b.idxCompWgate,
                                      &b.gate,
                                      &b.eProj,
                                      &b.hProj})
            linearRanges(*w, r);
        if (b.ratio) {
            const int cc = b.ratio == 4 ? 2 : 1;
            floatsRange(b.compApe, static_cast<size_t>(b.ratio) * cc * c.headDim, r);
        }
        if (b.ratio == 4)
            floatsRange(b.idxApe, static_cast<size_t>(4) * 2 * c.indexHeadDim, r);
        floatsRange(b.gateBias, c.nRoutedExperts, r);
        vectorRange(b.tid2eid, r);
        for (const ExpertWeights &e : b.experts)
            for (const LinearWeight *w : {&e.w1, &e.w2, &e.w3})
                linearRanges(*w, r);
        for (const LinearWeight *w : {&b.shared.w1, &b.shared.w2, &b.shared.w3})
            linearRanges(*w, r);
        if (b.isMtp)
            hcRanges(b.hcHead, n, n, 1, nd, r);
    }
    return r;
}

// An executor switch of the environment (read once, at create()): on unless set to "0".
bool switchOn(const char *name)
{
    const char *v = std::getenv(name);
    return !v || std::strcmp(v, "0") != 0;
}

} // namespace

Result<std::unique_ptr<CudaExecutor>> CudaExecutor::create(int device)
{
    int count = 0;
    if (cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess)
        return fail(Error::Kind::Unavailable,
                    std::string("CUDA is not usable: ") + cudaGetErrorString(e));
    if (device < 0 || device >= count)
        return fail(Error::Kind::InvalidArgument,
                    "no CUDA device " + std::to_string(device) + " (this machine has "
                        + std::to_string(count) + ")");
    std::unique_ptr<CudaExecutor> x(new CudaExecutor());
    x->m_device = device;
    cudaDeviceProp prop{};
    if (cudaError_t e = cudaGetDeviceProperties(&prop, device); e != cudaSuccess)
        return fail(Error::Kind::Device,
                    "GPU " + std::to_string(device) + ": " + cudaGetErrorString(e));
    x->m_deviceName = "GPU " + std::to_string(device) + " (" + prop.name + ")";
    FATHOM_TRY(x->makeCurrent());
    cudaStream_t s = nullptr;
    FATHOM_TRY(
        x->cudaCheck(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "creating a stream"));
    x->m_stream = s;
    const char *poison = std::getenv("FATHOM_CUDA_POISON");
    x->m_poison = poison && *poison && std::strcmp(poison, "0") != 0;
    x->m_stepGraphs = switchOn("FATHOM_CUDA_STEP_GRAPHS");
    // pdl: FATHOM_CUDA_PDL=0 launches without programmatic dependent launch (process-wide; on by
    // default, effective on sm_90+ devices only).
    if (const char *pdl = std::getenv("FATHOM_CUDA_PDL"); pdl && *pdl)
        kernels::set_cuda_pdl(std::strcmp(pdl, "0") != 0 ? 1 : 0);
#ifdef FATHOM_CUDA_EMULATION
    const char *verify = std::getenv("FATHOM_CUDA_VERIFY_REPLAY");
    x->m_verifyReplay = verify && std::strcmp(verify, "1") == 0;
#endif
    // cublaslt: FATHOM_CUDA_EXACT_LINEAR=0 starts in the non-exact mode (setExactLinear).
    x->m_exactLinear = switchOn("FATHOM_CUDA_EXACT_LINEAR");
    // linfuse: FATHOM_CUDA_GROUP_LINEAR=0 runs linearGroup()'s linears one launch each.
    x->m_groupLinear = switchOn("FATHOM_CUDA_GROUP_LINEAR");
    // nodes2: FATHOM_CUDA_MHC_POST_PRE=0 launches mhcPostPreNorm()'s post and pre apart (A/B: the
    // fused launch recomputes the post's values in each of a token's blocks).
    x->m_mhcPostPre = switchOn("FATHOM_CUDA_MHC_POST_PRE");
    // prefillother: FATHOM_CUDA_POOL_RUNS=0 pools a prefill's compressor windows one launch (and
    // one upload) each, as before, instead of one launch a run (compressorPoolEntries).
    x->m_poolRuns = switchOn("FATHOM_CUDA_POOL_RUNS");
    // appends: FATHOM_CUDA_FUSED_APPENDS=0 appends a decode step's state rows one launch each
    // (appendStateRows: window, compressor kv, gate + ape as one launch per block by default).
    // FATHOM_CUDA_FUSED_APPENDS=2: the appends as a launch of their own, not in the kv chain's.
    const char *fusedAppends = std::getenv("FATHOM_CUDA_FUSED_APPENDS");
    x->m_fusedAppends = !fusedAppends || std::strcmp(fusedAppends, "0") != 0;
    x->m_chainAppends = !fusedAppends || std::strcmp(fusedAppends, "2") != 0;
    // rowchains: FATHOM_CUDA_ROW_CHAINS_FUSED=0 runs the queries' (and the indexer queries') row
    // chains a launch each, not in the kv chain's and appends' launch (rowChainAppend's `with`).
    x->m_rowChainsFused = switchOn("FATHOM_CUDA_ROW_CHAINS_FUSED");
    // rowchains: that launch asks L2 for the first FATHOM_CUDA_L2_AHEAD_MB MiB (default 24, 0:
    // none) of the block's wo_a, then wo_b (ChainsWith::prefetch), while no weights stream.
    if (const char *ahead = std::getenv("FATHOM_CUDA_L2_AHEAD_MB"))
        x->m_l2AheadBytes = std::max(0L, std::strtol(ahead, nullptr, 10)) * (int64_t(1) << 20);
    // packedkv: the packed §5.2 state by default; FATHOM_CUDA_KV_LAYOUT=bf16 keeps session 7's
    // bf16 rows, FATHOM_CUDA_FP32_STATE=1 (or FATHOM_CUDA_KV_LAYOUT=fp32) the fp32 ones.
    const char *fp32State = std::getenv("FATHOM_CUDA_FP32_STATE");
    const char *kvLayout = std::getenv("FATHOM_CUDA_KV_LAYOUT");
    if (fp32State && std::strcmp(fp32State, "1") == 0)
        x->m_kvLayout = KvLayout::Fp32;
    else if (kvLayout && std::strcmp(kvLayout, "bf16") == 0)
        x->m_kvLayout = KvLayout::Bf16;
    else if (kvLayout && std::strcmp(kvLayout, "fp32") == 0)
        x->m_kvLayout = KvLayout::Fp32;
    // Every device counter in one zeroed block (the kernels leave them at 0 for the next
    // launch or replay): the state-row inexact count, the mHC last-block counters plus
    // moe_route_group_cuda's (m_mhcCounters[kMhcCounterTokens]), the MoE combine's, the
    // attention merge's and the decode indexer's top-k (idxtopk).
    constexpr int64_t kCounterInts = 1 + (kMhcCounterTokens + 1) + kCombineCounters + kAttnCounters
                                     + kIdxTopkCounters + kChainBarrierInts;
    void *counters = nullptr;
    FATHOM_TRY(x->cudaCheck(cudaMalloc(&counters, sizeof(int) * kCounterInts),
                            "allocating the device counters"));
    x->m_counters = static_cast<int *>(counters);
    FATHOM_TRY(x->cudaCheck(cudaMemset(counters, 0, sizeof(int) * kCounterInts),
                            "clearing the device counters"));
    x->m_stateInexact = x->m_counters;
    x->m_mhcCounters = x->m_stateInexact + 1;
    x->m_combineCounters = x->m_mhcCounters + kMhcCounterTokens + 1;
    x->m_attnCounters = x->m_combineCounters + kCombineCounters;
    x->m_idxTopkCounters = x->m_attnCounters + kAttnCounters; // idxtopk
    static_assert(sizeof(int) * kChainBarrierInts == kernels::k_linear_chain_barrier_bytes);
    x->m_chainBarrier = reinterpret_cast<unsigned *>(x->m_idxTopkCounters + kIdxTopkCounters);
    // Cooperative GEMV chains: FATHOM_CUDA_GEMV_CHAINS=0 launches linearChain()'s steps one by one
    // (the attention's projections of x then of cq, wo_a then wo_b).
    x->m_gemvChains = switchOn("FATHOM_CUDA_GEMV_CHAINS");
    if (x->m_gemvChains) {
        void *flag = nullptr;
        FATHOM_TRY(x->cudaCheck(cudaMallocHost(&flag, sizeof(int)),
                                "allocating the GEMV chains' pinned flag"));
        x->m_chainFlagHost = static_cast<int *>(flag);
        *x->m_chainFlagHost = 0;
    }
    // ltexperts: FATHOM_CUDA_EXPERTS_LT=0 keeps the prefill's FP4 experts on the grouped kernel.
    x->m_expertsLt = switchOn("FATHOM_CUDA_EXPERTS_LT");
    if (const char *r = std::getenv("FATHOM_CUDA_EXPERTS_RESIDENT"); r && *r)
        x->m_expertsResident = std::strcmp(r, "0") == 0 ? 0 : 1;
#ifdef FATHOM_CUDA_EMULATION
    if (const char *emu = std::getenv("FATHOM_CUDA_EXPERTS_LT_EMU"))
        x->m_expertsLtEmu = std::strcmp(emu, "1") == 0;
#endif
    // ltstreams: FATHOM_CUDA_EXPERT_STREAMS=K runs expertsViaLt's GEMMs on K side streams
    // (default 4; 1 keeps them on the executor's stream, the A/B).
    if (const char *k = std::getenv("FATHOM_CUDA_EXPERT_STREAMS"); k && *k)
        x->m_expertStreams = std::clamp(std::atoi(k), 1, kMaxExpertStreams);
    // ffnnodes: FATHOM_CUDA_GEMV_PRENORM=0 runs normLinearGroup() as rmsnorm + the linears;
    // FATHOM_CUDA_MOE_COMBINE_FUSED=0 launches moeOnDevice()'s combine after the w2 launch.
    x->m_gemvPreNorm = switchOn("FATHOM_CUDA_GEMV_PRENORM");
    x->m_moeCombineFused = switchOn("FATHOM_CUDA_MOE_COMBINE_FUSED");
    // moeprefetch: FATHOM_CUDA_MOE_PREFETCH=0 drops the decode MoE launches' L2 prefetches
    // before their wait (the shared expert's weights; the w2 half's routed experts).
    x->m_moePrefetch = switchOn("FATHOM_CUDA_MOE_PREFETCH");
    // moechain: FATHOM_CUDA_MOE_CHAIN=0 launches the decode MoE's gate + routing, w1/w3 and w2
    // one by one (the chain also needs FATHOM_CUDA_GEMV_CHAINS: its barrier state and checks).
    x->m_moeChain = switchOn("FATHOM_CUDA_MOE_CHAIN");
    // mhcchain: FATHOM_CUDA_MHC_CHAIN=0 launches the mHC post + pre handed to linearChain() /
    // gateMoeOnDevice() on its own instead of as their chain's first phase. So does
    // FATHOM_CUDA_MHC_FAST=0: the chains' mHC phase has the fast mHC code only, and that switch
    // asks for the previous code (mhc.cu's launches read it too; the same bits either way).
    x->m_mhcChain = switchOn("FATHOM_CUDA_MHC_CHAIN") && switchOn("FATHOM_CUDA_MHC_FAST");
    // gate: FATHOM_CUDA_GATE_ROUTE_FUSED=0 launches the MoE gate GEMV apart from the routing.
    x->m_gateRouteFused = switchOn("FATHOM_CUDA_GATE_ROUTE_FUSED");
    // idxchain: FATHOM_CUDA_INDEXER_FUSED=0 keeps the indexer's head-weight scaling and the CSA
    // index rows as launches of their own (linearGroup's scaleRound, indexerSparseOnExecutor).
    x->m_indexerFused = switchOn("FATHOM_CUDA_INDEXER_FUSED");
    // idxtopk: FATHOM_CUDA_IDX_TOPK_FUSED=0 launches the decode indexer's top-k (and index rows)
    // apart from its scores (indexerSparseOnExecutor).
    x->m_idxTopkFused = switchOn("FATHOM_CUDA_IDX_TOPK_FUSED");
    x->m_denseFp32 = switchOn("FATHOM_CUDA_DENSE_FP32");
    x->m_denseLt = switchOn("FATHOM_CUDA_DENSE_LT");
    // attnnodes: FATHOM_CUDA_ATTN_FUSED_TAIL=0 launches the attention's split merge and the
    // output's inverse RoPE apart; 1 merges in the attention launch always; unset merges there
    // only when one row and head group's partials are small (sparseAttention): the fused merge
    // runs in one block per row and head group.
    const char *attnTail = std::getenv("FATHOM_CUDA_ATTN_FUSED_TAIL");
    x->m_attnFusedTail = !attnTail || std::strcmp(attnTail, "0") != 0;
    x->m_attnMergeAlways = attnTail && std::strcmp(attnTail, "1") == 0;
    return x;
}

CudaExecutor::~CudaExecutor()
{
    if (cudaSetDevice(m_device) != cudaSuccess)
        return;
    if (m_stream)
        cudaStreamSynchronize(m_stream);
    for (auto &[rows, execs] : m_stepExecs)
        for (StepExec &e : execs) {
            cudaGraphExecDestroy(e.exec);
            for (auto &[size, p] : e.blocks)
                cudaFree(p);
        }
    freeStaging(m_up);
    freeStaging(m_down);
    for (auto &[p, size] : m_live)
        cudaFree(p);
    for (auto &[size, p] : m_free)
        cudaFree(p);
    for (auto &[exec, blocks] : m_graphBlocks) {
        cudaGraphExecDestroy(exec);
        for (auto &[size, p] : blocks)
            cudaFree(p);
    }
    if (m_weights)
        cudaFree(m_weights);
    if (m_chainFlagHost)
        cudaFreeHost(m_chainFlagHost);
    for (auto &[key, f] : m_folded)
        cudaFree(f.block);
    if (m_counters)
        cudaFree(m_counters);
    for (const Timed &t : m_timed) {
        cudaEventDestroy(static_cast<cudaEvent_t>(t.start));
        cudaEventDestroy(static_cast<cudaEvent_t>(t.stop));
    }
    for (void *e : m_eventPool)
        cudaEventDestroy(static_cast<cudaEvent_t>(e));
    // Their work was joined into m_stream (synchronised above).
    for (void *e : m_sideEvents)
        cudaEventDestroy(static_cast<cudaEvent_t>(e));
    for (CUstream_st *s : m_sideStreams)
        cudaStreamDestroy(s);
    if (m_stream)
        cudaStreamDestroy(m_stream);
}

Result<void> CudaExecutor::makeCurrent() const
{
    return cudaCheck(cudaSetDevice(m_device), "selecting the device");
}

Result<void> CudaExecutor::cudaCheck(int err, const std::string &what) const
{
    if (err == cudaSuccess)
        return {};
    const auto e = static_cast<cudaError_t>(err);
    cudaGetLastError(); // clear a sticky launch error so the next call reports its own
    return fail(e == cudaErrorMemoryAllocation ? Error::Kind::OutOfMemory : Error::Kind::Device,
                what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")",
                m_deviceName);
}

Result<void> CudaExecutor::opCheck(const char *op, int code, const char *message) const
{
    const auto c = static_cast<kernels::StatusCode>(code);
    if (c == kernels::StatusCode::Ok)
        return {};
    const Error::Kind kind = c == kernels::StatusCode::Unsupported   ? Error::Kind::Unsupported
                             : c == kernels::StatusCode::OutOfMemory ? Error::Kind::OutOfMemory
                             : c == kernels::StatusCode::DeviceError ? Error::Kind::Device
                                                                     : Error::Kind::InvalidArgument;
    return fail(kind, std::string(op) + ": " + message, "CudaExecutor on " + m_deviceName);
}

// Entered by every op: makes the executor's device current (several executors, one per GPU, may
// share the engine thread) and brackets the op with events while profiling is on.
class CudaOpTimer
{
public:
    CudaOpTimer(CudaExecutor &x,
                const char *category,
                const std::source_location where = std::source_location::current())
        : m_x(x)
    {
        cudaSetDevice(x.m_device); // cheap when already current; a failure shows at the launch
        if (!x.m_profiling)
            return;
        m_t.category = category;
        m_t.op = where.function_name();
        m_t.start = event();
        m_t.stop = event();
        if (m_t.start && m_t.stop)
            cudaEventRecord(static_cast<cudaEvent_t>(m_t.start), x.m_stream);
    }
    // Whether the op is being timed (callers skip building a note()'s text otherwise).
    bool on() const { return m_x.m_profiling; }
    // What the op ran on (profiling only): appended to the op's name in the profile, with the
    // weight bytes it read.
    void note(std::string_view what, double bytes)
    {
        if (!m_x.m_profiling)
            return;
        if (!m_t.detail.empty())
            m_t.detail += " + ";
        m_t.detail += what;
        m_t.bytes += bytes;
    }
    // A suffix of the op's name in the profile (a literal): "+mhc" where the op's launch ran
    // an mHC post + pre as its chain's first phase (its time is in this op's).
    void suffix(const char *s)
    {
        if (m_x.m_profiling)
            m_t.suffix = s;
    }
    ~CudaOpTimer()
    {
        if (!m_x.m_profiling || !m_t.start || !m_t.stop)
            return;
        cudaEventRecord(static_cast<cudaEvent_t>(m_t.stop), m_x.m_stream);
        m_x.m_timed.push_back(m_t);
    }

private:
    void *event()
    {
        if (!m_x.m_eventPool.empty()) {
            void *e = m_x.m_eventPool.back();
            m_x.m_eventPool.pop_back();
            return e;
        }
        cudaEvent_t e = nullptr;
        return cudaEventCreate(&e) == cudaSuccess ? e : nullptr;
    }
    CudaExecutor &m_x;
    CudaExecutor::Timed m_t{};
};

// gemvtc: the non-exact mode's decode GEMVs (<= 4 rows) - the attention's projections, the head,
// the MoE experts - on the tensor-core GEMV (accum fp32: the reference's products, fp32 sums in
// the mma's order) unless FATHOM_CUDA_GEMV_TC=0. The MoE gate keeps its exact GEMV (the fused
// gate + routing launch takes exact accumulation only: routing decides on its bits).
static void gemvTcAccum(kernels::linear_params &p, bool exactLinear)
{
    if (!exactLinear && p.m <= 4 && kernels::linear_gemv_tc_enabled())
        p.accum = kernels::linear_accum::fp32;
}

// A linear's weight bytes (its scales apart) and its name, for the profile.
static double weightBytes(const kernels::linear_params &p)
{
    const double e = p.w_type == kernels::linear_weight_type::fp4_e2m1   ? 0.5
                     : p.w_type == kernels::linear_weight_type::fp8_e4m3 ? 1.0
                     : p.w_type == kernels::linear_weight_type::bf16     ? 2.0
                                                                         : 4.0;
    return e * double(p.n) * double(p.k);
}

static std::string_view weightName(const LinearWeight &w)
{
    return w.view ? std::string_view(w.view->name) : std::string_view("linear");
}

// "CudaExecutor::linear" out of a compiler's function signature ("Result<void>
// fathom::engine::CudaExecutor::linear(const LinearWeight&, ...)").
static std::string opName(const char *signature)
{
    std::string s = signature ? signature : "?";
    const size_t paren = s.find('(');
    if (paren != std::string::npos)
        s.resize(paren);
    const size_t at = s.rfind("CudaExecutor::");
    if (at != std::string::npos)
        return s.substr(at + 14);
    const size_t space = s.rfind(' ');
    return space == std::string::npos ? s : s.substr(space + 1);
}

void CudaExecutor::setProfiling(bool on)
{
    m_profiling = on;
}

Result<CudaExecutor::Profile> CudaExecutor::takeProfile()
{
    FATHOM_TRY(synchronize());
    Profile p;
    for (const Timed &t : m_timed) {
        float ms = 0;
        if (cudaEventElapsedTime(&ms,
                                 static_cast<cudaEvent_t>(t.start),
                                 static_cast<cudaEvent_t>(t.stop))
            == cudaSuccess) {
            p.ms[t.category] += ms;
            auto &op
                = p.byOp[opName(t.op) + t.suffix + (t.detail.empty() ? "" : " [" + t.detail + "]")];
            op.ms += ms;
            ++op.calls;
            op.bytes += t.bytes;
        }
        m_eventPool.push_back(t.start);
        m_eventPool.push_back(t.stop);
    }
    m_timed.clear();
    p.gemmFlops = m_gemmFlops;
    m_gemmFlops = 0;
    return p;
}

#define FATHOM_CUDA_OP(op, call) \
    do { \
        if (skipLaunch(op)) \
            break; \
        const kernels::Status st_ = (call); \
        FATHOM_TRY(opCheck(op, static_cast<int>(st_.code), st_.message)); \
    } while (false)

// A glue launch or runtime call returning cudaError_t: hashed inside a step, skipped by a
// replay's walk.
#define FATHOM_CUDA_GLUE(call, what) (skipLaunch(what) ? Result<void>{} : cudaCheck((call), (what)))

// ---- memory -------------------------------------------------------------------------------------

Result<void *> CudaExecutor::allocate(size_t bytes, const char *what)
{
    const size_t size = roundedSize(bytes);
    void *p = nullptr;
    if (m_replaying) {
        // A replay's walk gets the recording's block of the same place (reserved for the graph).
        if (m_replayNext < m_replay->allocations.size()
            && m_replay->allocations[m_replayNext].first == size) {
            p = m_replay->allocations[m_replayNext++].second;
            m_replayLive.push_back(p);
            walk(size, reinterpret_cast<uintptr_t>(p));
            if (m_verifying && m_poison) // as the recording did
                FATHOM_TRY(cudaCheck(cudaglue::poison(p, size, m_stream), "poisoning a buffer"));
            return p;
        }
        m_replayDiverged = true; // a fresh block below; endStep() fails the step
    }
    const std::pair<size_t, void *> lowest(size, nullptr);
    if (auto it = m_capturePool.lower_bound(lowest);
        m_capturing && it != m_capturePool.end() && it->first == size) {
        p = it->second;
        m_capturePool.erase(it);
        m_graphBytes -= size;
    } else if (auto it = m_free.lower_bound(lowest); it != m_free.end() && it->first == size) {
        p = it->second;
        m_free.erase(it);
        m_cachedBytes -= size;
    } else {
        FATHOM_TRY(makeCurrent());
        cudaError_t e = cudaMalloc(&p, size);
        if (e == cudaErrorMemoryAllocation && (!m_free.empty() || !m_folded.empty())) {
            cudaGetLastError();
            trimCache();
            e = cudaMalloc(&p, size);
        }
        if (e != cudaSuccess) {
            cudaGetLastError();
            size_t freeB = 0, totalB = 0;
            cudaMemGetInfo(&freeB, &totalB);
            return fail(e == cudaErrorMemoryAllocation ? Error::Kind::OutOfMemory
                                                       : Error::Kind::Device,
                        std::string("out of memory on ") + m_deviceName + " allocating " + gib(size)
                            + " for " + what + " (" + gib(freeB) + " free of " + gib(totalB) + ", "
                            + gib(m_weightBytes) + " model, " + gib(m_liveBytes)
                            + " in use): " + cudaGetErrorString(e),
                        "CudaExecutor");
        }
    }
    m_live[p] = size;
    m_liveBytes += size;
    if (m_inStep && !m_replaying) {
        m_stepAllocations.emplace_back(size, p);
        walk(size, reinterpret_cast<uintptr_t>(p));
    }
    m_peakBytes = std::max(m_peakBytes,
                           m_liveBytes + m_cachedBytes + m_graphBytes + m_weightBytes
                               + m_foldedBytes);
    if (m_poison)
        FATHOM_TRY(cudaCheck(cudaglue::poison(p, size, m_stream), "poisoning a buffer"));
    return p;
}

void CudaExecutor::release(void *p)
{
    if (!p)
        return;
    if (m_replaying) {
        // Searched from the most recent: releases mostly come in reverse allocation order.
        for (size_t i = m_replayLive.size(); i-- > 0;)
            if (m_replayLive[i] == p) {
                m_replayLive[i] = m_replayLive.back();
                m_replayLive.pop_back();
                return; // stays the kept graph's
            }
    }
    auto it = m_live.find(p);
    if (it == m_live.end())
        return;
    // Stream order: work already queued on m_stream that reads p runs before anything a later
    // allocation of this block enqueues.
    if (m_capturing) {
        // Used by the graph being captured: only the capture itself may reuse it.
        m_capturePool.emplace(it->second, p);
        m_graphBytes += it->second;
        m_liveBytes -= it->second;
        m_live.erase(it);
        return;
    }
    m_free.emplace(it->second, p);
    m_cachedBytes += it->second;
    m_liveBytes -= it->second;
    m_live.erase(it);
}

void CudaExecutor::trimCache()
{
    dropFolded(); // memory pressure: the folded expert copies are a cache too
    if (m_free.empty())
        return;
    cudaSetDevice(m_device);
    cudaStreamSynchronize(m_stream);
    for (auto &[size, p] : m_free)
        cudaFree(p);
    m_free.clear();
    m_cachedBytes = 0;
}

CudaMemoryStats CudaExecutor::memoryStats() const
{
    CudaMemoryStats s;
    s.weightBytes = m_weightBytes;
    s.liveBytes = m_liveBytes + m_graphBytes; // graph-owned blocks are in use
    s.cachedBytes = m_cachedBytes;
    s.foldedBytes = m_foldedBytes;
    s.peakBytes = m_peakBytes;
    size_t f = 0, t = 0;
    if (cudaSetDevice(m_device) == cudaSuccess && cudaMemGetInfo(&f, &t) == cudaSuccess) {
        s.deviceFree = f;
        s.deviceTotal = t;
    }
    return s;
}

void CudaExecutor::resetPeak()
{
    m_peakBytes = m_liveBytes + m_cachedBytes + m_graphBytes + m_weightBytes + m_foldedBytes;
}

Result<void> CudaExecutor::copy(void *dst, const void *src, size_t bytes)
{
    if (!bytes)
        return {};
    if (m_inStep)
        walk(reinterpret_cast<uintptr_t>(dst), reinterpret_cast<uintptr_t>(src), bytes);
    if (skipping())
        return {};
    return cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, m_stream),
                     "device copy");
}

Result<void> CudaExecutor::copyToHost(void *hostDst, const void *src, size_t bytes)
{
    if (!bytes)
        return {};
    if (m_inStep) {
        // Gathered by the graph into the read-back block; endStep() writes hostDst.
        FATHOM_TRY_ASSIGN(const auto at, stage(m_down, bytes));
        m_readbacks.push_back({hostDst, at.first, at.second, bytes});
        m_pieces.readbacks.push_back({at.second, bytes, hostDst});
        m_pieces.readbackBytes = m_down[at.first].used;
        m_pieces.spilled = m_pieces.spilled || at.first != 0;
        walk(reinterpret_cast<uintptr_t>(src), (uint64_t(at.first) << 40) | at.second, bytes);
        if (skipping())
            return {};
        ++m_stepStats.nodes;
        return cudaCheck(cudaMemcpyAsync(m_down[at.first].device + at.second,
                                         src,
                                         bytes,
                                         cudaMemcpyDeviceToDevice,
                                         m_stream),
                         "gathering a read-back of a decode step");
    }
    FATHOM_TRY(cudaCheck(cudaMemcpyAsync(hostDst, src, bytes, cudaMemcpyDeviceToHost, m_stream),
                         "copy to the host"));
    // Also where an earlier kernel's fault surfaces.
    return cudaCheck(cudaStreamSynchronize(m_stream), "waiting for the device");
}

Result<void> CudaExecutor::copyFromHost(void *dst, const void *hostSrc, size_t bytes)
{
    if (!bytes)
        return {};
    if (m_inStep) {
        // Staged now (the caller may free hostSrc), uploaded with the step's other inputs by one
        // copy before the graph, moved to dst by the graph in stream order.
        FATHOM_TRY_ASSIGN(const char *staged, stageUpload(hostSrc, bytes, dst));
        if (skipping())
            return {};
        ++m_stepStats.nodes;
        return cudaCheck(cudaMemcpyAsync(dst, staged, bytes, cudaMemcpyDeviceToDevice, m_stream),
                         "staged copy from the host");
    }
    // From pageable memory the call returns once the source is staged, so the caller may free
    // or reuse it at once.
    return cudaCheck(cudaMemcpyAsync(dst, hostSrc, bytes, cudaMemcpyHostToDevice, m_stream),
                     "copy from the host");
}

Result<void> CudaExecutor::synchronize()
{
    if (m_inStep)
        return fail(Error::Kind::Internal,
                    "waiting for the device inside a graphed decode step",
                    m_deviceName);
    if (m_chainsLaunched)
        queueChainFlagRead();
    return chainBarrierCheck(cudaCheck(cudaStreamSynchronize(m_stream), "waiting for the device"));
}

// The chains' barrier state's timed_out word (kernels::k_linear_chain_barrier_bytes: arrived,
// generation, timed_out, pad) into the pinned word, on the stream before a wait.
void CudaExecutor::queueChainFlagRead()
{
    cudaMemcpyAsync(m_chainFlagHost, m_chainBarrier + 2, sizeof(int), cudaMemcpyDeviceToHost, m_stream);
}

// After a wait that followed GEMV chains: their barrier's timed-out flag, read into the pinned
// word by a copy queued before the wait. A timeout means a chain's grid was not all resident (a
// bug, or another process's work on the device): its results are wrong, so the op fails, the
// state is zeroed and the chains are off from here on (the steps run one launch each).
Result<void> CudaExecutor::chainBarrierCheck(Result<void> waited)
{
    if (!waited || !m_chainsLaunched || !m_chainFlagHost || *m_chainFlagHost == 0)
        return waited;
    *m_chainFlagHost = 0;
    m_gemvChains = false;
    (void) cudaMemset(m_chainBarrier, 0, kernels::k_linear_chain_barrier_bytes);
    return fail(Error::Kind::Internal,
                "a GEMV chain's grid barrier timed out (its blocks were not all resident at once); "
                "the chains are off for this executor (FATHOM_CUDA_GEMV_CHAINS=0 keeps them off)",
                m_deviceName);
}

Result<const char *> CudaExecutor::stageUpload(const void *hostSrc, size_t bytes, const void *dst)
{
    FATHOM_TRY_ASSIGN(const auto at, stage(m_up, bytes));
    std::memcpy(m_up[at.first].host + at.second, hostSrc, bytes);
    m_pieces.uploads.push_back({at.second, bytes, nullptr});
    m_pieces.uploadBytes = m_up[at.first].used;
    m_pieces.spilled = m_pieces.spilled || at.first != 0;
    walk(reinterpret_cast<uintptr_t>(dst), (uint64_t(at.first) << 40) | at.second, bytes);
    return m_up[at.first].device + at.second;
}

Result<const void *> CudaExecutor::stageInPlace(const void *hostSrc, size_t bytes)
{
    if (!m_inStep || !bytes)
        return nullptr;
    // No destination of its own: the step's launches read the bytes where the step's one upload
    // puts them (the upload block keeps its address while graphs that read it are kept: a new
    // block bumps m_stagingGeneration, a spilled step is not replayed).
    FATHOM_TRY_ASSIGN(const char *staged, stageUpload(hostSrc, bytes, nullptr));
    return static_cast<const void *>(staged);
}

Result<CudaExecutor::DeviceInts> CudaExecutor::uploadInts(const int32_t *host,
                                                          int64_t n,
                                                          const char *what)
{
    DeviceInts d;
    FATHOM_TRY_ASSIGN(const void *staged,
                      stageInPlace(host, static_cast<size_t>(n) * sizeof(int32_t)));
    if (staged) {
        d.view = static_cast<const int32_t *>(staged);
        return d;
    }
    FATHOM_TRY_ASSIGN(d.owned, Buffer<int32_t>::make(*this, std::max<int64_t>(n, 1), what));
    FATHOM_TRY(copyFromHost(d.owned.data(), host, static_cast<size_t>(n) * sizeof(int32_t)));
    d.view = d.owned.data();
    return d;
}

// ---- model --------------------------------------------------------------------------------------

namespace {

// uploadModel's pinned staging buffers: next() hands out the least recently used one once its
// last DMA has drained (nullptr: no pinned memory, copy pageable); issued() marks the DMA just
// enqueued on the stream. The destructor waits for the stream before freeing (also on errors).
class StagedUpload
{
public:
    explicit StagedUpload(cudaStream_t stream)
        : m_stream(stream)
    {}
    ~StagedUpload()
    {
        if (m_used)
            (void) cudaStreamSynchronize(m_stream);
        for (Stage &s : m_stages) {
            if (s.done)
                cudaEventDestroy(s.done);
            if (s.host)
                cudaFreeHost(s.host);
        }
        cudaGetLastError();
    }
    StagedUpload(const StagedUpload &) = delete;
    StagedUpload &operator=(const StagedUpload &) = delete;

    void *next(size_t bytes)
    {
        if (m_failed)
            return nullptr;
        Stage &s = m_stages[m_next];
        if (!s.host
            && (cudaMallocHost(&s.host, bytes) != cudaSuccess
                || cudaEventCreate(&s.done) != cudaSuccess)) {
            cudaGetLastError();
            m_failed = true; // the buffers made so far stay until the destructor
            return nullptr;
        }
        if (cudaEventSynchronize(s.done) != cudaSuccess) {
            cudaGetLastError();
            m_failed = true;
            return nullptr;
        }
        return s.host;
    }

    cudaError_t issued()
    {
        m_used = true;
        Stage &s = m_stages[m_next];
        m_next = (m_next + 1) % kStages;
        return cudaEventRecord(s.done, m_stream);
    }

private:
    static constexpr int kStages = 3;
    struct Stage
    {
        void *host = nullptr;
        cudaEvent_t done = nullptr;
    };
    cudaStream_t m_stream;
    Stage m_stages[kStages];
    int m_next = 0;
    bool m_failed = false, m_used = false;
};

} // namespace

Result<void> CudaExecutor::uploadModel(const V4Model &model,
                                       const std::function<bool(uint64_t, uint64_t)> &progress)
{
    FATHOM_TRY(makeCurrent());
    // Kept decode-step graphs are replayed by key (V4Forward's includes the model's address):
    // a model uploaded now may sit where another one was.
    for (auto &[rows, execs] : m_stepExecs)
        for (StepExec &e : execs)
            e.key = 0;
    auto ranges = modelRanges(model);
    std::sort(ranges.begin(), ranges.end());
    // Merge overlapping host ranges (a tensor listed twice). Adjacent tensors stay separate:
    // each starts 256-byte aligned on the device whatever its offset in the file (safetensors
    // data offsets need not be aligned; the GEMV's 16-byte weight loads and the expert tables
    // need aligned rows). A pointer inside a tensor maps by one lookup.
    std::vector<std::pair<const char *, size_t>> merged;
    for (const auto &[p, n] : ranges) {
        const char *b = static_cast<const char *>(p);
        if (!merged.empty() && b < merged.back().first + merged.back().second) {
            const char *end = std::max(merged.back().first + merged.back().second, b + n);
            merged.back().second = static_cast<size_t>(end - merged.back().first);
        } else {
            merged.push_back({b, n});
        }
    }
    uint64_t total = 0;
    for (const auto &[p, n] : merged)
        total += (n + 255) / 256 * 256;
#ifdef FATHOM_CUDA_EMULATION
    emu::clear_host_ranges();
#endif
    dropFolded(); // keyed by the previous model's host pointers
    if (m_weights) {
        cudaFree(m_weights);
        m_weights = nullptr;
        m_ranges.clear();
        m_weightBytes = 0;
    }
    void *base = nullptr;
    if (cudaError_t e = cudaMalloc(&base, total); e != cudaSuccess) {
        cudaGetLastError();
        size_t freeB = 0, totalB = 0;
        cudaMemGetInfo(&freeB, &totalB);
        return fail(Error::Kind::OutOfMemory,
                    "the model does not fit on " + m_deviceName + ": " + gib(total)
                        + " of weights, " + gib(freeB) + " free of " + gib(totalB) + " ("
                        + cudaGetErrorString(e) + ")",
                    "CudaExecutor");
    }
    m_weights = base;
    m_weightBytes = total;
#ifdef FATHOM_CUDA_EMULATION
    // tests/gpu/emu: the only memory a PDL-launched kernel may read before its wait.
    emu::register_weight_range(base, total);
#endif
    uint64_t done = 0;
    char *at = static_cast<char *>(base);
    // Copies in pieces so progress moves and cancel is honoured on multi-GB tensors. Through
    // kStages pinned buffers: while one piece's DMA runs, the load's threads copy the next out of
    // the (mapped) host tensors - a pageable cudaMemcpy stages through the driver's buffers one
    // piece at a time on one thread (5.6 GB/s on the H200 machine, 2026-11-30). Pageable copies
    // when pinned memory is refused.
#ifdef FATHOM_CUDA_EMULATION
    // The tiny models' tensors span many pieces and chunks, and the stages wrap.
    constexpr size_t kPiece = 64u << 10;
    constexpr size_t kChunk = 4u << 10;
#else
    constexpr size_t kPiece = 64u << 20;
    constexpr size_t kChunk = 1u << 20; // a thread's share of a piece
#endif
    StagedUpload staged(m_stream);
    // A pool of this upload's own, not a shared one: a ThreadPool has one driving thread at a
    // time (threadpool.h), and uploads may run at once (an executor per device, each on its
    // caller's thread) next to the CPU executor's pool; starting and joining its threads costs
    // a few milliseconds at most against an upload of seconds, and no idle threads stay behind.
    ThreadPool pool;
    for (const auto &[p, n] : merged) {
        for (size_t off = 0; off < n; off += kPiece) {
            const size_t len = std::min(kPiece, n - off);
            if (void *buffer = staged.next(kPiece)) {
                kernels::parallel_for(&pool,
                                      static_cast<int64_t>((len + kChunk - 1) / kChunk),
                                      1,
                                      [&](int64_t c0, int64_t c1) {
                                          const size_t b = static_cast<size_t>(c0) * kChunk;
                                          const size_t e = std::min(len, size_t(c1) * kChunk);
                                          std::memcpy(static_cast<char *>(buffer) + b,
                                                      p + off + b,
                                                      e - b);
                                      });
                FATHOM_TRY(cudaCheck(cudaMemcpyAsync(at + off,
                                                     buffer,
                                                     len,
                                                     cudaMemcpyHostToDevice,
                                                     m_stream),
                                     "uploading the model"));
                FATHOM_TRY(cudaCheck(staged.issued(), "uploading the model"));
            } else {
                FATHOM_TRY(cudaCheck(cudaMemcpy(at + off, p + off, len, cudaMemcpyHostToDevice),
                                     "uploading the model"));
            }
            done += len;
            if (progress && !progress(done, total))
                return fail(Error::Kind::Cancelled, "uploading the model was cancelled");
        }
        m_ranges.push_back({p, n, at});
#ifdef FATHOM_CUDA_EMULATION
        // tests/gpu/emu strict mode: a kernel handed a pointer into these host tensors fails.
        emu::register_host_range(p, n);
#endif
        at += (n + 255) / 256 * 256;
    }
    // Pageable host-to-device copies may return before the data lands; the ops run on another
    // (non-blocking) stream, so wait here once.
    FATHOM_TRY(cudaCheck(cudaDeviceSynchronize(), "uploading the model"));
    m_vocab = static_cast<int>(model.config().vocabSize);
    FATHOM_TRY(buildExpertTables(model));
    m_peakBytes = std::max(m_peakBytes,
                           m_liveBytes + m_cachedBytes + m_graphBytes + m_weightBytes
                               + m_foldedBytes);
    return {};
}

Result<void> CudaExecutor::buildExpertTables(const V4Model &model)
{
    for (auto &[key, t] : m_expertTables)
        release(t.table);
    m_expertTables.clear();
    for (int b = 0; b < model.blockCount(); ++b) {
        const std::vector<ExpertWeights> &ex = model.block(b).experts;
        if (ex.empty())
            continue;
        const int E = static_cast<int>(ex.size());
        std::vector<const void *> host(static_cast<size_t>(6) * E, nullptr);
        bool usable = true;
        for (int e = 0; e < E; ++e) {
            const LinearWeight *w[3] = {&ex[e].w1, &ex[e].w2, &ex[e].w3};
            const LinearWeight *w0[3] = {&ex[0].w1, &ex[0].w2, &ex[0].w3};
            for (int i = 0; i < 3; ++i) {
                if (!w[i]->valid() || w[i]->type != w0[i]->type
                    || w[i]->outFeatures != w0[i]->outFeatures
                    || w[i]->inFeatures != w0[i]->inFeatures) {
                    usable = false;
                    continue;
                }
                const void *dw = device(w[i]->weight);
                const void *ds = w[i]->scale ? device(static_cast<const void *>(w[i]->scale))
                                             : nullptr;
                if (dw == w[i]->weight || reinterpret_cast<uintptr_t>(dw) % 16 != 0)
                    usable = false; // not uploaded, or not aligned for 16-byte loads
                host[static_cast<size_t>(i) * E + e] = dw;
                host[static_cast<size_t>(3 + i) * E + e] = ds;
                // ltexperts: scan the FP4 scales now (host bytes, once per weight), not in the
                // first prefill that reaches expertsViaLt.
                if (m_expertsLt)
                    (void) expertFoldable(*w[i]);
            }
        }
        ExpertTable t;
        t.usable = usable;
        if (usable) {
            FATHOM_TRY_ASSIGN(t.table, allocate(host.size() * sizeof(void *), "expert tables"));
            FATHOM_TRY(copyFromHost(t.table, host.data(), host.size() * sizeof(void *)));
        }
        m_expertTables[ex.data()] = t;
    }
    return synchronize(); // the host table vectors go out of scope
}

const CudaExecutor::ExpertTable *CudaExecutor::usableExpertTable(const MoeDeviceJob &job) const
{
    const auto it = m_expertTables.find(job.experts);
    const bool ok = job.rows > 0 && job.rows <= 4 && job.k > 0 && job.experts && job.shared
                    && it != m_expertTables.end() && it->second.usable;
    return ok ? &it->second : nullptr;
}

Result<bool> CudaExecutor::moeOnDevice(const MoeDeviceJob &job)
{
    return moeOnDevice(job, nullptr);
}

// moechain: the gate + routing + grouping (gateRoute()'s launch) joins moeOnDevice()'s halves
// as the first phase of one cooperative launch where the chain takes the whole job; else the
// gate's launch runs first in here, and the halves as moeOnDevice() runs them. Declined (false,
// nothing done) where moeOnDevice() or the fused gate launch would not take the job: the
// forward pass then calls gateRoute() and moeOnDevice().
Result<bool> CudaExecutor::gateMoeOnDevice(const LinearWeight &gate,
                                           const float *x,
                                           float *logits,
                                           const kernels::MoeRouteParams &p,
                                           const MoeDeviceJob &job,
                                           const MhcPostPreOp *first)
{
    const bool takes = m_moeChain && m_gemvChains && usableExpertTable(job) && p.tokens == job.rows
                       && p.topk == job.k && p.n_experts == job.nExperts && p.ids == job.ids
                       && p.weights == job.weights;
    const std::optional<MoeGate> g = takes ? fusedGate(gate, x, logits, p) : std::nullopt;
    if (!g) {
        FATHOM_TRY(runFirst(first));
        return false;
    }
    return moeOnDevice(job, &*g, first);
}

std::optional<kernels::mhc_chain_prologue> CudaExecutor::chainPrologue(const MhcPostPreOp *first,
                                                                       int rows)
{
    // As mhcPostPreNorm()'s one launch: its counters, up to kMhcCounterTokens tokens; a token a
    // row of the chain (linear_group.h).
    if (!first || !m_mhcChain || !m_mhcPostPre || !m_mhcCounters
        || first->pre.tokens > kMhcCounterTokens || first->pre.tokens != rows)
        return std::nullopt;
    kernels::mhc_chain_prologue m;
    m.post = first->post;
    m.pre = mhcOnDevice(first->pre);
    m.norm_weight = device(first->normWeight);
    m.counters = m_mhcCounters;
    m.norm_eps = first->eps;
    return m;
}

Result<void> CudaExecutor::runFirst(const MhcPostPreOp *&first)
{
    if (!first)
        return {};
    const MhcPostPreOp *f = std::exchange(first, nullptr);
    return mhcPostPreNorm(f->post, f->pre, f->normWeight, f->eps);
}

Result<bool> CudaExecutor::moeOnDevice(const MoeDeviceJob &job,
                                       const MoeGate *gate,
                                       const MhcPostPreOp *first)
{
    const ExpertTable *expertTable = usableExpertTable(job);
    if (!expertTable) {
        FATHOM_TRY(runFirst(first));
        // The forward pass would read the ids back: a recorded step cannot (see beginStep).
        m_stepNeedsHost = m_stepNeedsHost || m_inStep;
        m_routedGroup = RoutedGroup{};
        return false;
    }
    const int N = job.rows, K = job.k, E = job.nExperts, d = job.d, I = job.inter;
    const int NK = N * K;
    const int slots = std::min(E, NK);
    const ExpertWeights &e0 = job.experts[0];
    const ExpertWeights &sh = *job.shared;
    // linfuse: the shared expert rides along as one more grid row of the routed experts'
    // launches: w1/w3 with SwiGLU in the epilogue (one launch), then w2 (one launch). x/y are
    // set below; the shapes decide here (fused: otherwise expertFfn for the shared expert and
    // one launch per routed projection plus SwiGLU).
    kernels::expert_ffn upF, downF;
    // moeprefetch: both halves' shared-expert blocks prefetch their weights before the wait; the
    // w2 half's routed blocks too, the routing being two launches back by then (gate+route,
    // w1/w3, w2). The w1/w3 half's routed blocks cannot: its routing is the previous launch.
    upF.prefetch_shared = downF.prefetch_shared = m_moePrefetch ? 1 : 0;
    downF.prefetch_routed = m_moePrefetch ? 1 : 0;
    upF.swiglu = 1;
    upF.limit = job.limit;
    upF.shared = linearParams(sh.w1, job.x, nullptr, N);
    gemvTcAccum(upF.shared, m_exactLinear);
    upF.shared_w3 = device(sh.w3.params().w);
    upF.shared_scale3 = device(sh.w3.params().w_scale);
    downF.shared = linearParams(sh.w2, nullptr, nullptr, N);
    downF.shared.y_round_bf16 = 1;
    gemvTcAccum(downF.shared, m_exactLinear);
    const void *const *table = static_cast<const void *const *>(expertTable->table);
    upF.w3_table = table + static_cast<size_t>(2) * E;
    upF.scale3_table = reinterpret_cast<const uint8_t *const *>(table + static_cast<size_t>(5) * E);
    // The routed experts' projections (at most N rows per expert: the k ids of a row are
    // distinct), in the non-exact mode on the tensor-core GEMV (gemvtc).
    auto routedParams = [&](const LinearWeight &w, const float *x, float *y) {
        kernels::linear_params p = linearParams(w, x, y, N);
        gemvTcAccum(p, m_exactLinear);
        return p;
    };
    const bool fused
        = sh.w1.outFeatures == e0.w1.outFeatures && sh.w1.inFeatures == e0.w1.inFeatures
          && kernels::linear_experts_ffn_gemv_fits(routedParams(e0.w1, job.x, nullptr), upF)
          && kernels::linear_experts_ffn_gemv_fits(routedParams(e0.w2, job.x, nullptr), downF);
    FATHOM_TRY_ASSIGN(Buffer<float> ys,
                      Buffer<float>::make(*this, static_cast<int64_t>(N) * d, "shared expert out"));
    // mhcchain: first as the MoE chain's first phase (built once, here), before the gate: only
    // with the gate in the chain (else the gate's own launch reads u first). It runs here
    // (before the profile's bracket of this op) unless the chain below may take it; where that
    // chain does not, it runs before the gate's launch.
    std::optional<kernels::mhc_chain_prologue> pro = fused && m_moeChain && m_gemvChains && gate
                                                         ? chainPrologue(first, N)
                                                         : std::nullopt;
    if (!pro)
        FATHOM_TRY(runFirst(first));
    if (!fused) {
        // The shared expert first, as expertFfn does it (its own profiling bracket).
        std::vector<ExpertJob> shared;
        shared.push_back(
            {&job.shared->w1, &job.shared->w2, &job.shared->w3, job.x, nullptr, ys.data(), N});
        FATHOM_TRY(expertFfn(shared, I, job.limit));
    }
    CudaOpTimer timer(*this, "gemm");
    if (timer.on()) {
        // The routed experts' weights read: `slots` distinct experts at most (all of them at
        // batch 1), plus the shared one when it rides along.
        const double expert = weightBytes(linearParams(e0.w1, job.x, nullptr, N))
                              + weightBytes(linearParams(e0.w2, job.x, nullptr, N))
                              + weightBytes(linearParams(e0.w3, job.x, nullptr, N));
        timer.note(std::to_string(slots) + " routed experts" + (fused ? " + shared" : ""),
                   expert * (slots + (fused ? 1 : 0)));
        if (gate)
            timer.note(weightName(*gate->weight), weightBytes(gate->gate));
    }
    Buffer<int32_t> offsets, active, srcRow, slotIndex;
    RoutedGroup routed = std::move(m_routedGroup);
    m_routedGroup = RoutedGroup{};
    if (gate) {
        // The gate's grouping, written by its launch (launchGate) or the chain's first phase.
        m_gemmFlops += 2.0 * N * gate->weight->outFeatures * gate->weight->inFeatures;
        FATHOM_TRY_ASSIGN(routed, newRoutedGroup(gate->route));
    }
    auto launchGate = [&] {
        return launchGateRoute(*gate,
                               offsets.data(),
                               active.data(),
                               slots,
                               srcRow.data(),
                               slotIndex.data());
    };
    if (routed.ids == job.ids && routed.rows == N && routed.k == K && routed.nExperts == E
        && routed.slots == slots) {
        // moeRoute() grouped these ids in its launch.
        offsets = std::move(routed.offsets);
        active = std::move(routed.active);
        srcRow = std::move(routed.srcRow);
        slotIndex = std::move(routed.slotIndex);
    } else {
        FATHOM_TRY_ASSIGN(offsets, Buffer<int32_t>::make(*this, E + 1, "expert offsets"));
        FATHOM_TRY_ASSIGN(active, Buffer<int32_t>::make(*this, slots, "active experts"));
        FATHOM_TRY_ASSIGN(srcRow, Buffer<int32_t>::make(*this, NK, "expert rows"));
        FATHOM_TRY_ASSIGN(slotIndex, Buffer<int32_t>::make(*this, NK, "expert slots"));
        FATHOM_CUDA_OP("moe_group",
                       kernels::moe_group_cuda(job.ids,
                                               N,
                                               K,
                                               E,
                                               offsets.data(),
                                               active.data(),
                                               slots,
                                               srcRow.data(),
                                               slotIndex.data(),
                                               m_stream));
    }
    if (gate && !fused)
        FATHOM_TRY(launchGate());
    // The routed outputs back to slot order, then the weighted sum with the shared expert's.
    auto combine = [&](const float *ye) -> Result<bool> {
        FATHOM_TRY_ASSIGN(Buffer<float> yr,
                          Buffer<float>::make(*this,
                                              static_cast<int64_t>(NK) * d,
                                              "routed outputs by slot"));
        FATHOM_TRY(
            FATHOM_CUDA_GLUE(cudaglue::scatterRows(yr.data(), ye, slotIndex.data(), NK, d, m_stream),
                             "scatter_rows"));
        FATHOM_TRY(FATHOM_CUDA_GLUE(
            cudaglue::moeCombine(job.y, yr.data(), ys.data(), job.ids, N, K, d, m_stream),
            "moe_combine"));
        return true;
    };

    // The routed experts: one grouped launch per projection over the expert-sorted rows.
    auto group = [&](int which) {
        kernels::expert_group g;
        g.offsets = offsets.data();
        g.active = active.data();
        g.slots = slots;
        g.n_experts = E;
        g.w_table = table + static_cast<size_t>(which) * E;
        g.scale_table = reinterpret_cast<const uint8_t *const *>(
            table + static_cast<size_t>(3 + which) * E);
        return g;
    };
    auto base = [&](const LinearWeight &w, const float *x, float *y) {
        // Every expert projection is rounded to bf16 (in the epilogue).
        kernels::linear_params p = routedParams(w, x, y);
        p.y_round_bf16 = 1;
        return p;
    };
    const int64_t ni = static_cast<int64_t>(NK) * I;
    FATHOM_TRY_ASSIGN(Buffer<float> g, Buffer<float>::make(*this, ni, "expert gate activations"));
    m_gemmFlops += 2.0 * NK * I * e0.w1.inFeatures * 3;
    if (fused) {
        // nodes2: the routed rows read x and their weights where they are (srcRow /
        // slotIndex) and w2 writes them in slot order, where moeCombine reads them: the
        // gathers of x and of the weights and the scatter of the outputs are gone (3 nodes a
        // layer). Same bits: the same rows, weights and sums, only other addresses.
        m_gemmFlops += 2.0 * N * I * sh.w1.inFeatures * 3;
        FATHOM_TRY_ASSIGN(Buffer<float> hs,
                          Buffer<float>::make(*this,
                                              static_cast<int64_t>(N) * I,
                                              "shared expert activations"));
        upF.row_weights = job.weights;
        upF.x_rows = srcRow.data();
        upF.slot_index = slotIndex.data();
        upF.shared.y = hs.data();
        FATHOM_TRY_ASSIGN(Buffer<float> yr,
                          Buffer<float>::make(*this,
                                              static_cast<int64_t>(NK) * d,
                                              "routed outputs by slot"));
        downF.shared.x = hs.data();
        downF.shared.y = ys.data();
        downF.slot_index = slotIndex.data();
        downF.y_by_slot = 1;
        // ffnnodes: the combine in the w2 launch (each grid column's last block, moeCombine's
        // order and bits) where the shapes allow; the moe_combine launch otherwise.
        kernels::expert_ffn combined = downF;
        combined.combine_y = job.y;
        combined.combine_ids = job.ids;
        combined.combine_counters = m_combineCounters;
        combined.combine_k = K;
        combined.combine_counter_count = kCombineCounters;
        const kernels::linear_params b1 = base(e0.w1, job.x, g.data());
        const kernels::linear_params b2 = base(e0.w2, g.data(), yr.data());
        const bool combineFused = m_moeCombineFused && m_combineCounters
                                  && kernels::linear_experts_ffn_gemv_fits(b2, combined);
        // moechain: the chain's phases - the gate where the chain takes it, then the halves.
        kernels::moe_chain_gate cg;
        const kernels::moe_chain_gate *chainGate = nullptr;
        bool chained = false;
        kernels::moe_chain_half up{b1, group(0), upF},
            down{b2, group(1), combineFused ? combined : downF};
        if (m_moeChain && m_gemvChains) {
            if (gate) {
                cg.gate = gate->gate;
                cg.route = gate->route;
                cg.offsets = offsets.data();
                cg.active = active.data();
                cg.src_row = srcRow.data();
                cg.slot_index = slotIndex.data();
                cg.counter = m_mhcCounters + kMhcCounterTokens;
                cg.slots = slots;
                // After the gate's barrier the routing is the chain's own: the routed w1/w3
                // columns may be asked of L2 there (the launch asks only after a gate phase).
                up.f.prefetch_routed = m_moePrefetch ? 1 : 0;
                // A tensor-core chain's gate needs the pipelined GEMV (FATHOM_CUDA_GEMV_PIPELINE=0
                // leaves it to its own launch, the halves still chained). Asked once, with the
                // mHC phase where there is one: the phase refuses nothing but bad arguments
                // (chainPrologue matched its tokens to the rows), which its own launch
                // (runFirst below) reports as well.
                if (kernels::linear_moe_chain_gemv_fits(&cg, up, down, pro ? &*pro : nullptr))
                    chainGate = &cg;
            }
            chained = chainGate || kernels::linear_moe_chain_gemv_fits(nullptr, up, down);
        }
        if (!chainGate)
            pro.reset();
        if (pro) {
            first = nullptr;
            timer.suffix("+mhc");
        }
        FATHOM_TRY(runFirst(first));
        if (gate && !chainGate)
            FATHOM_TRY(launchGate());
        if (chained) {
            m_chainsLaunched = true;
            FATHOM_CUDA_OP("moe chain",
                           kernels::linear_moe_chain_gemv_cuda(chainGate,
                                                               up,
                                                               down,
                                                               m_chainBarrier,
                                                               m_stream,
                                                               pro ? &*pro : nullptr));
        } else {
            FATHOM_CUDA_OP("expert w1/w3 swiglu",
                           kernels::linear_experts_ffn_gemv_cuda(b1, group(0), upF, m_stream));
            FATHOM_CUDA_OP("expert w2",
                           kernels::linear_experts_ffn_gemv_cuda(b2,
                                                                 group(1),
                                                                 combineFused ? combined : downF,
                                                                 m_stream));
        }
        if (combineFused)
            return true;
        FATHOM_TRY(FATHOM_CUDA_GLUE(
            cudaglue::moeCombine(job.y, yr.data(), ys.data(), job.ids, N, K, d, m_stream),
            "moe_combine"));
        return true;
    }
    FATHOM_TRY_ASSIGN(Buffer<float> xe,
                      Buffer<float>::make(*this, static_cast<int64_t>(NK) * d, "expert inputs"));
    FATHOM_TRY_ASSIGN(Buffer<float> we, Buffer<float>::make(*this, NK, "expert row weights"));
    FATHOM_TRY(
        FATHOM_CUDA_GLUE(cudaglue::gatherRows(xe.data(), job.x, srcRow.data(), NK, d, m_stream),
                         "gather_rows"));
    FATHOM_TRY(FATHOM_CUDA_GLUE(
        cudaglue::gatherRows(we.data(), job.weights, slotIndex.data(), NK, 1, m_stream),
        "gather_rows"));
    FATHOM_TRY_ASSIGN(Buffer<float> u, Buffer<float>::make(*this, ni, "expert up activations"));
    FATHOM_CUDA_OP("expert w1",
                   kernels::linear_experts_gemv_cuda(base(e0.w1, xe.data(), g.data()),
                                                     group(0),
                                                     m_stream));
    FATHOM_CUDA_OP("expert w3",
                   kernels::linear_experts_gemv_cuda(base(e0.w3, xe.data(), u.data()),
                                                     group(2),
                                                     m_stream));
    kernels::SwigluParams sw;
    sw.gate = g.data();
    sw.up = u.data();
    sw.row_weights = we.data();
    sw.out = g.data();
    sw.rows = NK;
    sw.inter = I;
    sw.limit = job.limit;
    FATHOM_CUDA_OP("swiglu", kernels::swiglu_cuda(sw, m_stream));
    FATHOM_TRY_ASSIGN(Buffer<float> ye,
                      Buffer<float>::make(*this, static_cast<int64_t>(NK) * d, "expert outputs"));
    FATHOM_CUDA_OP("expert w2",
                   kernels::linear_experts_gemv_cuda(base(e0.w2, g.data(), ye.data()),
                                                     group(1),
                                                     m_stream));
    return combine(ye.data());
}

// FP8 / FP4 weights: the ones the tensor-core GEMM (non-exact mode) can take.
static bool isQuantizedLinear(const kernels::linear_params &p)
{
    return p.w_type == kernels::linear_weight_type::fp8_e4m3
           || p.w_type == kernels::linear_weight_type::fp4_e2m1;
}

// tcgemm: the tensor-core GEMM's workspace (x quantised once per call instead of once per
// column tile) for non-exact FP8/FP4 calls of >= 64 rows; empty otherwise or when the
// allocation fails (the kernel then quantises in-kernel). Released after the launch is enqueued
// (the arena is ordered on the executor's stream, as every temporary here).
Buffer<uint8_t> CudaExecutor::mmaWorkspace(const kernels::linear_params *items, int count)
{
    int64_t rows = 0;
    for (int i = 0; i < count; ++i) {
        if (items[i].accum != kernels::linear_accum::fp32 || !isQuantizedLinear(items[i]))
            return {};
        rows += items[i].m;
    }
    const size_t bytes = rows >= 64 ? kernels::linear_mma_workspace_bytes(items, count) : 0;
    if (!bytes)
        return {};
    auto b = Buffer<uint8_t>::make(*this, static_cast<int64_t>(bytes), "tensor-core GEMM workspace");
    return b ? std::move(*b) : Buffer<uint8_t>{};
}

kernels::linear_params CudaExecutor::linearParams(const LinearWeight &w,
                                                  const float *x,
                                                  float *y,
                                                  int rows) const
{
    kernels::linear_params p = w.params();
    p.w = device(p.w);
    p.w_scale = device(p.w_scale);
    p.x = x;
    p.x_type = kernels::act_type::f32;
    p.y = y;
    p.y_type = kernels::act_type::f32;
    p.m = rows;
    p.accum = kernels::linear_accum::exact;
    return p;
}

const void *CudaExecutor::device(const void *p) const
{
    if (!p || m_ranges.empty())
        return p;
    const char *c = static_cast<const char *>(p);
    auto it = std::upper_bound(m_ranges.begin(),
                               m_ranges.end(),
                               c,
                               [](const char *v, const Range &r) { return v < r.hostBegin; });
    if (it == m_ranges.begin())
        return p;
    --it;
    if (c >= it->hostBegin + it->bytes)
        return p;
    return it->deviceBegin + (c - it->hostBegin);
}

// ---- graphs -------------------------------------------------------------------------------------

Result<CUgraphExec_st *> CudaExecutor::captureGraph(const std::function<Result<void>()> &body)
{
    FATHOM_TRY(makeCurrent());
    if (m_capturing)
        return fail(Error::Kind::Internal, "nested graph capture", m_deviceName);
    FATHOM_TRY(cudaCheck(cudaStreamBeginCapture(m_stream, cudaStreamCaptureModeRelaxed),
                         "starting a graph capture"));
    m_capturing = true;
    m_capturePool.clear();
    Result<void> r = body();
    m_capturing = false;
    cudaGraph_t graph = nullptr;
    const cudaError_t e = cudaStreamEndCapture(m_stream, &graph);
    BlockSet owned;
    owned.swap(m_capturePool);
    auto giveBack = [&] { returnGraphBlocks(owned); };
    if (!r) {
        if (graph)
            cudaGraphDestroy(graph);
        cudaGetLastError();
        giveBack();
        return fail(r.error().kind, "during graph capture: " + r.error().message, r.error().where);
    }
    if (auto c = cudaCheck(e, "ending a graph capture"); !c) {
        giveBack();
        return fail(c.error().kind, c.error().message, c.error().where);
    }
    cudaGraphExec_t exec = nullptr;
    const cudaError_t ie = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    if (auto c = cudaCheck(ie, "instantiating a graph"); !c) {
        giveBack();
        return fail(c.error().kind, c.error().message, c.error().where);
    }
    m_graphBlocks[exec] = std::move(owned);
    return exec;
}

Result<void> CudaExecutor::launchGraph(CUgraphExec_st *graph)
{
    return cudaCheck(cudaGraphLaunch(graph, m_stream), "launching a graph");
}

void CudaExecutor::destroyGraph(CUgraphExec_st *graph)
{
    if (!graph)
        return;
    // A replay may still run: the blocks return to the cache, which stream order keeps safe.
    cudaGraphExecDestroy(graph);
    auto it = m_graphBlocks.find(graph);
    if (it == m_graphBlocks.end())
        return;
    returnGraphBlocks(it->second);
    m_graphBlocks.erase(it);
}

void CudaExecutor::returnGraphBlocks(BlockSet &blocks)
{
    for (auto &[size, p] : blocks) {
        m_free.emplace(size, p);
        m_cachedBytes += size;
        m_graphBytes -= size;
    }
    blocks.clear();
}

// ---- decode-step graphs ---------------------------------------------------------------------------

Result<std::pair<size_t, size_t>> CudaExecutor::stage(std::vector<Staging> &chunks, size_t bytes)
{
    const size_t need = (bytes + 255) / 256 * 256; // 256-byte aligned pieces
    if (chunks.empty() || chunks.back().used + need > chunks.back().capacity) {
        Staging c;
        c.capacity = std::max<size_t>(need,
                                      chunks.empty() ? size_t(1) << 20 : chunks.back().capacity);
        void *h = nullptr, *d = nullptr;
        // Relaxed capture mode permits both allocations; a spill happens once per growth.
        FATHOM_TRY(cudaCheck(cudaMallocHost(&h, c.capacity), "pinned staging for a decode step"));
        if (auto r = cudaCheck(cudaMalloc(&d, c.capacity), "device staging for a decode step"); !r) {
            cudaFreeHost(h);
            return fail(r.error().kind, r.error().message, r.error().where);
        }
        c.host = static_cast<char *>(h);
        c.device = static_cast<char *>(d);
        chunks.push_back(c);
    }
    Staging &c = chunks.back();
    const size_t at = c.used;
    c.used += need;
    return std::make_pair(chunks.size() - 1, at);
}

void CudaExecutor::freeStaging(std::vector<Staging> &chunks)
{
    for (Staging &c : chunks) {
        cudaFreeHost(c.host);
        cudaFree(c.device);
    }
    chunks.clear();
}

void CudaExecutor::walk(uint64_t a, uint64_t b, uint64_t c)
{
    for (uint64_t v : {a, b, c}) {
        m_walk ^= v + 0x9e3779b97f4a7c15ull + (m_walk << 6) + (m_walk >> 2);
        m_walk *= 1099511628211ull;
    }
}

Result<bool> CudaExecutor::beginStep(int rows, uint64_t shapeKey)
{
    if (!m_stepGraphs || m_profiling || m_capturing || m_inStep || rows < 1 || rows > kMaxStepRows)
        return false;
    // Nothing inside a recorded step may read back a value the host uses: every MoE layer must
    // group on the device (moeOnDevice).
    for (const auto &[experts, table] : m_expertTables)
        if (!table.usable)
            return false;
    m_stepNeedsHost = false;
    FATHOM_TRY(makeCurrent());
    // pdl: a graph recorded in the other PDL mode (kernels::set_cuda_pdl, A/B runs) has other
    // edges, so it is not a replay of this one.
    if (shapeKey && kernels::cuda_pdl_enabled())
        shapeKey = (shapeKey ^ 0x50444c0000000000ull) | 1u;
    // The previous step has completed (endStep waits): chunks that spilled become one. The
    // first chunks are made here, outside the capture (pinned allocations may synchronise);
    // the read-back one holds the logits rows. New chunks: the kept graphs copy from the old
    // ones, so none of them is replayed until recorded again.
    const size_t first[2] = {size_t(1) << 20,
                             (size_t(1) << 20) + size_t(rows) * std::max(m_vocab, 0) * 4};
    int which = 0;
    for (std::vector<Staging> *chunks : {&m_up, &m_down}) {
        size_t total = 0;
        for (const Staging &c : *chunks)
            total += c.capacity;
        if (chunks->size() > 1 || total < first[which]) {
            freeStaging(*chunks);
            FATHOM_TRY(stage(*chunks, std::max(total, first[which])));
            ++m_stagingGeneration;
        }
        for (Staging &c : *chunks)
            c.used = 0;
        ++which;
    }
    m_readbacks.clear();
    m_pieces.uploads.clear(); // capacities stay: no allocation per step
    m_pieces.readbacks.clear();
    m_pieces.uploadBytes = m_pieces.readbackBytes = 0;
    m_pieces.spilled = false;
    m_pendingScript.reset();
    m_scripted = false;
    m_stepBegin = std::chrono::steady_clock::now();
    m_stepKey = shapeKey;
    m_walk = 0;
    m_stepAllocations.clear();
    m_stepRows = rows;
    if (shapeKey) {
        for (StepExec &e : m_stepExecs[rows]) {
            if (e.key != shapeKey || e.staging != m_stagingGeneration)
                continue;
            // Replay: the walk runs without launching anything (skipLaunch), endStep() launches
            // this graph.
            m_replay = &e;
            m_replaying = true;
            m_replayNext = 0;
            m_replayLive.clear();
            m_replayDiverged = false;
            m_inStep = true;
            if (m_verifyReplay) {
                FATHOM_TRY(cudaCheck(cudaStreamBeginCapture(m_stream, cudaStreamCaptureModeRelaxed),
                                     "starting a verifying capture of a replayed step"));
                m_verifying = true;
                m_capturing = true;
            }
            return true;
        }
    }
    FATHOM_TRY(cudaCheck(cudaStreamBeginCapture(m_stream, cudaStreamCaptureModeRelaxed),
                         "starting a decode-step capture"));
    m_capturing = true;
    m_inStep = true;
    m_capturePool.clear();
    return true;
}

Result<void> CudaExecutor::runStep(CUgraphExec_st *exec)
{
    Result<void> r;
    for (const Staging &c : m_up) {
        if (!c.used || !r)
            continue;
        r = cudaCheck(cudaMemcpyAsync(c.device, c.host, c.used, cudaMemcpyHostToDevice, m_stream),
                      "uploading a decode step's inputs");
        ++m_stepStats.uploads;
    }
    if (r)
        r = cudaCheck(cudaGraphLaunch(exec, m_stream), "launching a decode-step graph");
    for (const Staging &c : m_down) {
        if (!c.used || !r)
            continue;
        r = cudaCheck(cudaMemcpyAsync(c.host, c.device, c.used, cudaMemcpyDeviceToHost, m_stream),
                      "reading back a decode step's results");
        ++m_stepStats.readbacks;
    }
    // The chains' timed-out flag every kChainCheckSteps graphed steps (a step's one read-back
    // stays one otherwise; every synchronize() reads it too).
    if (r && m_chainsLaunched && ++m_chainUncheckedSteps >= kChainCheckSteps) {
        m_chainUncheckedSteps = 0;
        queueChainFlagRead();
    }
    // Always wait: the staging blocks are rewritten by the next step (and faults surface here).
    if (const auto w = chainBarrierCheck(
            cudaCheck(cudaStreamSynchronize(m_stream), "waiting for a decode step"));
        r && !w)
        r = w;
    if (r)
        for (const Readback &b : m_readbacks)
            std::memcpy(b.hostDst, m_down[b.chunk].host + b.offset, b.bytes);
    m_readbacks.clear();
    ++m_stepStats.steps;
    return r;
}

Result<uint8_t *> CudaExecutor::replayWithoutWalk(size_t uploadBytes,
                                                  size_t readbackBytes,
                                                  const std::vector<StepPiece> &readbacks)
{
    if (!m_inStep || !m_replaying || m_verifying || !m_replay || !m_replay->script || m_scripted
        || m_replayNext != 0 || m_up.size() != 1 || m_down.size() != 1
        || uploadBytes > m_up[0].capacity || readbackBytes > m_down[0].capacity)
        return fail(Error::Kind::Internal,
                    "a decode step asked to replay without its walk outside such a replay",
                    m_deviceName);
    m_scripted = true;
    m_up[0].used = uploadBytes;
    m_down[0].used = readbackBytes;
    m_readbacks.clear();
    for (const StepPiece &b : readbacks) {
        if (b.offset + b.bytes > readbackBytes)
            return fail(Error::Kind::Internal,
                        "a replayed decode step's read-back lies outside its block",
                        m_deviceName);
        m_readbacks.push_back({b.hostDst, 0, b.offset, b.bytes});
    }
    return reinterpret_cast<uint8_t *>(m_up[0].host);
}

Result<void> CudaExecutor::endReplay(bool ok)
{
    StepExec *e = m_replay;
    m_replay = nullptr;
    m_replaying = false;
    m_inStep = false;
    if (m_verifying) {
        m_verifying = false;
        m_capturing = false;
        cudaGraph_t graph = nullptr;
        [[maybe_unused]] const cudaError_t ce = cudaStreamEndCapture(m_stream, &graph);
        long long changed = -1;
#ifdef FATHOM_CUDA_EMULATION
        if (ce == cudaSuccess && ok) {
            const long long before = emu::graph_update_changed_nodes();
            cudaGraphExecUpdateResultInfo info{};
            if (cudaGraphExecUpdate(e->exec, graph, &info) == cudaSuccess)
                changed = emu::graph_update_changed_nodes() - before;
            else
                cudaGetLastError();
        }
#endif
        if (graph)
            cudaGraphDestroy(graph);
        if (ok && changed != 0) {
            // Whether the walk itself diverged (other allocations, launches or staging) or only
            // a launch's arguments changed at the same walk.
            const bool walked = !m_replayDiverged && m_replayNext == e->allocations.size()
                                && m_walk == e->walk;
            m_replayLive.clear();
            m_readbacks.clear();
            e->key = 0;
            return fail(Error::Kind::Internal,
                        "a decode step replaying the graph of its key recorded a different graph ("
                            + std::to_string(changed)
                            + " nodes changed, -1: not updatable; the walk "
                            + (walked ? "was the recording's" : "diverged from the recording's")
                            + "): the key misses a launch argument",
                        m_deviceName);
        }
    }
    // The walk must have been the recording's: same allocations (all released again), same
    // launches, copies, uploads and read-backs in the same places, nothing spilled.
    // A replay without the walk (m_scripted) has nothing to compare: its key decided.
    const bool scripted = m_scripted;
    m_scripted = false;
    const bool same = scripted
                      || (!m_replayDiverged && m_replayNext == e->allocations.size()
                          && m_replayLive.empty() && m_walk == e->walk && m_up.size() == 1
                          && m_down.size() == 1 && !m_stepNeedsHost);
    m_replayLive.clear();
    if (!ok) {
        m_readbacks.clear();
        return {};
    }
    if (!same) {
        m_readbacks.clear();
        e->key = 0; // recorded again next time
        return fail(Error::Kind::Internal,
                    "a replayed decode step of " + std::to_string(m_stepRows)
                        + " rows walked differently from the recording of its key (a launch "
                          "argument the key does not cover?)",
                    m_deviceName);
    }
    CUgraphExec_st *exec = e->exec;
    std::vector<StepExec> &execs = m_stepExecs[m_stepRows];
    for (size_t i = 0; i < execs.size(); ++i)
        if (execs[i].exec == exec)
            std::rotate(execs.begin(),
                        execs.begin() + static_cast<std::ptrdiff_t>(i),
                        execs.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    ++m_stepStats.replays;
    m_stepStats.walkFreeReplays += scripted ? 1 : 0;
    m_stepStats.replayHostSeconds
        += std::chrono::duration<double>(std::chrono::steady_clock::now() - m_stepBegin).count();
    return runStep(exec);
}

Result<void> CudaExecutor::endStep(bool ok)
{
    if (!m_inStep)
        return fail(Error::Kind::Internal, "endStep without beginStep", m_deviceName);
    if (m_replaying)
        return endReplay(ok);
    m_inStep = false;
    m_capturing = false;
    cudaGraph_t graph = nullptr;
    const cudaError_t e = cudaStreamEndCapture(m_stream, &graph);
    // Blocks the step released: the kept instantiation's while it is replayable (a replay
    // writes them again), else free once the step has run (stream order).
    BlockSet owned;
    owned.swap(m_capturePool);
    auto giveBack = [&] { returnGraphBlocks(owned); };
    if (!ok || e != cudaSuccess || m_stepNeedsHost) {
        if (graph)
            cudaGraphDestroy(graph);
        cudaGetLastError();
        giveBack();
        m_readbacks.clear();
        if (!ok)
            return {};
        if (m_stepNeedsHost)
            return fail(Error::Kind::Internal,
                        "a graphed decode step took a path that reads values back to the host",
                        m_deviceName);
        return cudaCheck(e, "ending a decode-step capture");
    }
    size_t graphNodes = 0;
    if (cudaGraphGetNodes(graph, nullptr, &graphNodes) == cudaSuccess)
        m_stepStats.lastGraphNodes = static_cast<long long>(graphNodes);
    else
        cudaGetLastError(); // only a statistic
    // The batch size's kept instantiations, most recently used first: update one in place.
    std::vector<StepExec> &execs = m_stepExecs[m_stepRows];
    bool found = false;
    for (size_t i = 0; i < execs.size() && !found; ++i) {
        cudaGraphExecUpdateResultInfo info{};
        if (cudaGraphExecUpdate(execs[i].exec, graph, &info) == cudaSuccess) {
            found = true;
            std::rotate(execs.begin(),
                        execs.begin() + static_cast<std::ptrdiff_t>(i),
                        execs.begin() + static_cast<std::ptrdiff_t>(i) + 1);
            ++m_stepStats.updates;
        } else {
            cudaGetLastError(); // a topology mismatch is not an error of the step
        }
    }
    if (!found) {
        cudaGraphExec_t fresh = nullptr;
        const cudaError_t ie = cudaGraphInstantiate(&fresh, graph, 0);
        if (ie != cudaSuccess) {
            cudaGraphDestroy(graph);
            giveBack();
            m_readbacks.clear();
            return cudaCheck(ie, "instantiating a decode-step graph");
        }
        ++m_stepStats.instantiations;
        StepExec kept;
        kept.exec = fresh;
        execs.insert(execs.begin(), std::move(kept));
        if (static_cast<int>(execs.size()) > kStepExecs) {
            cudaGraphExecDestroy(execs.back().exec);
            returnGraphBlocks(execs.back().blocks);
            execs.pop_back();
        }
    }
    cudaGraphDestroy(graph);
    // What the instantiation now holds: the recording's walk, and its blocks when a later step
    // of the same key may replay it (every block it allocated was released inside it).
    StepExec &kept = execs.front();
    returnGraphBlocks(kept.blocks); // the previous recording's (it has run: endStep waits)
    bool replayable = m_stepKey != 0 && m_up.size() == 1 && m_down.size() == 1;
    for (const auto &a : m_stepAllocations)
        replayable = replayable && owned.count(a) != 0;
    kept.key = replayable ? m_stepKey : 0;
    kept.walk = m_walk;
    kept.staging = m_stagingGeneration;
    kept.allocations = replayable ? std::move(m_stepAllocations)
                                  : std::vector<std::pair<size_t, void *>>{};
    kept.script = replayable && !m_pieces.spilled ? std::move(m_pendingScript) : nullptr;
    m_pendingScript.reset();
    m_stepAllocations.clear();
    if (replayable)
        kept.blocks.swap(owned);
    m_stepStats.recordHostSeconds
        += std::chrono::duration<double>(std::chrono::steady_clock::now() - m_stepBegin).count();
    Result<void> r = runStep(kept.exec);
    giveBack(); // empty when kept
    return r;
}

// ---- ops ----------------------------------------------------------------------------------------

// cublaslt: q (device pointers, fp32 accumulation) through CublasLtLinear where it takes the
// shape - block-scaled FP8, or bf16 weights on the bf16 tensor cores when dense - then the bf16
// rounding of y when roundBf16 (the kernels' y_round_bf16 epilogue). False: nothing ran, the
// caller's kernel does it (no cuBLASLt in the emulation, fewer than kMinRows rows, a refusal).
Result<bool> CudaExecutor::linearViaCublasLt(const kernels::linear_params &q,
                                             const LinearWeight &w,
                                             bool roundBf16,
                                             bool dense,
                                             const char *name)
{
#ifndef FATHOM_CUDA_EMULATION
    if (q.m < CublasLtLinear::kMinRows)
        return false;
    dense = dense && CublasLtLinear::acceptsDense(q);
    if (!dense && !CublasLtLinear::accepts(q))
        return false;
    if (!m_lt)
        m_lt = std::make_shared<CublasLtLinear>(m_device);
    const bool done = dense ? m_lt->runDense(q, m_stream)
                            : m_lt->run(q, w.params().w_scale, m_stream, roundBf16);
    if (done && roundBf16)
        FATHOM_CUDA_OP(name,
                       kernels::round_bf16_rows_cuda(static_cast<float *>(q.y),
                                                     q.m,
                                                     q.n,
                                                     q.ldy ? q.ldy : q.n,
                                                     m_stream));
    return done;
#else
    (void) q;
    (void) w;
    (void) roundBf16;
    (void) dense;
    (void) name;
    return false;
#endif
}

Result<void> CudaExecutor::linear(const LinearWeight &w,
                                  const float *x,
                                  int m,
                                  float *y,
                                  LinearOutput out,
                                  int64_t ldx,
                                  int64_t ldy)
{
    CudaOpTimer timer(*this, "gemm");
    if (!w.valid())
        return fail(Error::Kind::InvalidArgument, "linear: missing weight", "CudaExecutor");
    if (m == 0)
        return {};
    kernels::linear_params p = linearParams(w, x, y, m);
    p.ldx = ldx;
    p.ldy = ldy;
    timer.note(weightName(w), weightBytes(p));
    // LinearOutput::Bf16 rounds in the kernels' epilogue (cuBLASLt below rounds afterwards).
    p.y_round_bf16 = out == LinearOutput::Bf16 ? 1 : 0;
    const char *name = w.view ? w.view->name.c_str() : "linear";
    m_gemmFlops += 2.0 * m * w.outFeatures * w.inFeatures;
    bool done = false;
    // cublaslt: non-exact mode, FP8 and bf16 prefill GEMMs via cuBLASLt (false: SIMT kernel below).
    if (!m_exactLinear) {
        kernels::linear_params q = p;
        q.accum = kernels::linear_accum::fp32;
        FATHOM_TRY_ASSIGN(done, linearViaCublasLt(q, w, out == LinearOutput::Bf16, m_denseLt, name));
    }
    if (!done) {
        // tcgemm: the non-exact mode sends FP8/FP4 prefill GEMMs to the tensor-core kernel
        // (linear_mma.cu) where the device (sm_89+) and shape allow; linear_cuda otherwise.
        kernels::linear_params q = p;
        if (!m_exactLinear && isQuantizedLinear(q))
            q.accum = kernels::linear_accum::fp32;
        // Dense (bf16) prefill GEMMs - the compressors, the MoE gate, the indexer's head
        // weights - in fp32 in the non-exact mode: the exact double accumulation ran them at
        // about 1.5 TFLOP/s on the H200 (the exact mode's prefill, 2026-11-30), some 300 GFLOP
        // of an 8K prefill of the 2-layer slice. Decode (<= 4 rows) keeps its GEMV.
        if (!m_exactLinear && m_denseFp32 && m >= kDenseFp32Rows)
            q.accum = kernels::linear_accum::fp32;
        Buffer<uint8_t> work = mmaWorkspace(&q, 1);
        FATHOM_CUDA_OP(name,
                       m_exactLinear
                           ? kernels::linear_cuda(p, m_stream)
                           : kernels::linear_tc_cuda(q, m_stream, work.data(), work.bytes()));
    }
    return {};
}

bool CudaExecutor::groupItems(const float *x,
                              int m,
                              const std::vector<LinearJob> &jobs,
                              int64_t ldx,
                              std::vector<kernels::linear_params> &items,
                              std::vector<float> &scales) const
{
    items.clear();
    scales.clear();
    for (const LinearJob &j : jobs) {
        if (!j.w || !j.w->valid())
            return false;
        // idxchain: the job's scaleRound in the group's epilogue.
        scales.push_back(m_indexerFused && j.out == LinearOutput::Bf16 ? j.scaleRound : 0.0f);
        // As linear() (its GEMV takes any accum for FP8/FP4: their block sums are exact).
        kernels::linear_params p = linearParams(*j.w, j.x ? j.x : x, j.y, m);
        p.ldx = ldx;
        p.ldy = j.ldy;
        p.y_round_bf16 = j.out == LinearOutput::Bf16 ? 1 : 0;
        gemvTcAccum(p, m_exactLinear);
        items.push_back(p);
    }
    return kernels::linear_group_gemv_fits(items.data(), static_cast<int>(items.size()));
}

bool CudaExecutor::prenormItems(const kernels::RmsNormParams &np,
                                const std::vector<LinearJob> &jobs,
                                std::vector<kernels::linear_params> &items) const
{
    items.clear();
    const int m = np.rows;
    if (!m_gemvPreNorm || m <= 0 || m > 4 || jobs.empty() || !np.x || np.dim <= 0)
        return false;
    for (const LinearJob &j : jobs) {
        if (!j.w || !j.w->valid() || j.x || j.w->inFeatures != np.dim || j.scaleRound != 0.0f)
            return false;
        // As linearGroup() / linear() on the normalised rows, reading x itself.
        kernels::linear_params p = linearParams(*j.w, np.x, j.y, m);
        p.ldx = np.x_stride;
        p.ldy = j.ldy;
        p.y_round_bf16 = j.out == LinearOutput::Bf16 ? 1 : 0;
        gemvTcAccum(p, m_exactLinear);
        items.push_back(p);
    }
    return kernels::linear_group_gemv_fits(items.data(), static_cast<int>(items.size()));
}

Result<void> CudaExecutor::linearGroup(const float *x,
                                       int m,
                                       const std::vector<LinearJob> &jobs,
                                       int64_t ldx)
{
    if (m == 0 || jobs.empty())
        return {};
    for (const LinearJob &j : jobs)
        if (!j.w || !j.w->valid())
            return fail(Error::Kind::InvalidArgument, "linearGroup: missing weight", "CudaExecutor");
    std::vector<kernels::linear_params> items;
    std::vector<float> scales;
    if (m_groupLinear && m <= 4 && jobs.size() > 1 && groupItems(x, m, jobs, ldx, items, scales)) {
        CudaOpTimer timer(*this, "gemm");
        const bool scaled = std::any_of(scales.begin(), scales.end(), [](float v) { return v != 0; });
        for (size_t i = 0; i < jobs.size(); ++i) {
            m_gemmFlops += 2.0 * m * jobs[i].w->outFeatures * jobs[i].w->inFeatures;
            timer.note(weightName(*jobs[i].w), weightBytes(items[i]));
        }
        FATHOM_CUDA_OP("linear group",
                       kernels::linear_group_gemv_cuda(items.data(),
                                                       static_cast<int>(items.size()),
                                                       m_stream,
                                                       scaled ? scales.data() : nullptr));
        for (size_t i = 0; i < jobs.size(); ++i)
            if (scales[i] == 0.0f)
                FATHOM_TRY(scaleRoundJob(jobs[i], m)); // none, or not folded
        return {};
    }
    return Executor::linearGroup(x, m, jobs, ldx); // one linear() each
}

Result<void> CudaExecutor::normLinearGroup(const kernels::RmsNormParams &np,
                                           const std::vector<LinearJob> &jobs)
{
    std::vector<kernels::linear_params> items;
    if (!prenormItems(np, jobs, items))
        return Executor::normLinearGroup(np, jobs); // rmsNorm(), then the group
    CudaOpTimer timer(*this, "gemm");
    for (size_t i = 0; i < jobs.size(); ++i) {
        m_gemmFlops += 2.0 * np.rows * jobs[i].w->outFeatures * jobs[i].w->inFeatures;
        timer.note(weightName(*jobs[i].w), weightBytes(items[i]));
    }
    FATHOM_CUDA_OP("linear prenorm",
                   kernels::linear_prenorm_gemv_cuda(device(np.weight),
                                                     np.eps,
                                                     items.data(),
                                                     static_cast<int>(items.size()),
                                                     m_stream));
    return {};
}

Result<void> CudaExecutor::linearChain(int m,
                                       const std::vector<LinearChainStep> &steps,
                                       const MhcPostPreOp *first)
{
    const int count = static_cast<int>(steps.size());
    if (!m_gemvChains || !m_groupLinear || m <= 0 || m > 4 || count < 2
        || count > kernels::k_linear_chain_max)
        return Executor::linearChain(m, steps, first);
    // Each step's items as its own launch would take them; a scaleRound that the group's
    // epilogue does not fold (a pass after the launch) would come after the later steps' reads.
    std::vector<kernels::linear_params> items[kernels::k_linear_chain_max];
    std::vector<float> scales[kernels::k_linear_chain_max];
    kernels::linear_chain_phase phases[kernels::k_linear_chain_max];
    for (int s = 0; s < count; ++s) {
        const LinearChainStep &st = steps[s];
        if (st.norm ? (st.norm->rows != m || !prenormItems(*st.norm, st.jobs, items[s]))
                    : !groupItems(st.x, m, st.jobs, st.ldx, items[s], scales[s]))
            return Executor::linearChain(m, steps, first);
        for (size_t i = 0; i < scales[s].size(); ++i)
            if (scales[s][i] == 0.0f && st.jobs[i].scaleRound != 0.0f)
                return Executor::linearChain(m, steps, first);
        phases[s].items = items[s].data();
        phases[s].count = static_cast<int32_t>(items[s].size());
        if (st.norm) {
            phases[s].norm = 1;
            phases[s].norm_weight = static_cast<const float *>(device(st.norm->weight));
            phases[s].norm_eps = st.norm->eps;
        }
        const bool scaled = std::any_of(scales[s].begin(), scales[s].end(), [](float v) {
            return v != 0;
        });
        phases[s].y_scales = scaled ? scales[s].data() : nullptr;
    }
    // mhcchain: first as the chain's first phase where the chains may take it, else its own
    // launch before. Asked once, with the phase: it refuses nothing but bad arguments
    // (chainPrologue matched its tokens to the rows), which its own launch reports as well.
    std::optional<kernels::mhc_chain_prologue> pro = chainPrologue(first, m);
    if (!kernels::linear_chain_gemv_fits(phases, count, pro ? &*pro : nullptr))
        return Executor::linearChain(m, steps, first);
    if (pro)
        first = nullptr;
    FATHOM_TRY(runFirst(first));
    CudaOpTimer timer(*this, "gemm");
    if (pro)
        timer.suffix("+mhc");
    for (int s = 0; s < count; ++s)
        for (size_t i = 0; i < steps[s].jobs.size(); ++i) {
            const LinearWeight &w = *steps[s].jobs[i].w;
            m_gemmFlops += 2.0 * m * w.outFeatures * w.inFeatures;
            timer.note(weightName(w), weightBytes(items[s][i]));
        }
    m_chainsLaunched = true;
    FATHOM_CUDA_OP("linear chain",
                   kernels::linear_chain_gemv_cuda(phases,
                                                   count,
                                                   m_chainBarrier,
                                                   m_stream,
                                                   pro ? &*pro : nullptr));
    return {};
}

Result<void> CudaExecutor::rmsNorm(const kernels::RmsNormParams &p)
{
    CudaOpTimer timer(*this, "other");
    // The params as given (their padding is explicit and zero: params_padding.cpp), on the
    // device's copy of the weight.
    kernels::RmsNormParams d = p;
    d.weight = device(p.weight);
    FATHOM_CUDA_OP("rmsnorm", kernels::rmsnorm_cuda(d, m_stream));
    return {};
}

Result<void> CudaExecutor::headRmsNormBf16(float *x, int rows, int dim, float eps)
{
    CudaOpTimer timer(*this, "other");
    FATHOM_CUDA_OP("head_rmsnorm", kernels::head_rmsnorm_bf16_cuda(x, rows, dim, eps, m_stream));
    return {};
}

Result<void> CudaExecutor::rope(const kernels::RopeParams &p)
{
    CudaOpTimer timer(*this, "other");
    kernels::RopeParams d = p;
    d.freqs = device(p.freqs);
    FATHOM_CUDA_OP("rope", kernels::rope_cuda(d, m_stream));
    return {};
}

Result<void> CudaExecutor::mhcPre(const kernels::MhcPreParams &p)
{
    CudaOpTimer timer(*this, "other");
    const kernels::MhcPreParams d = mhcOnDevice(p);
    FATHOM_CUDA_OP("mhc_pre", kernels::mhc_pre_cuda(d, m_stream));
    return {};
}

Result<void> CudaExecutor::mhcPreNorm(const kernels::MhcPreParams &p,
                                      const float *normWeight,
                                      float eps)
{
    CudaOpTimer timer(*this, "other");
    const kernels::MhcPreParams d = mhcOnDevice(p);
    // Up to kMhcCounterTokens tokens (decode, small prefills) in one launch.
    FATHOM_CUDA_OP("mhc_pre",
                   kernels::mhc_pre_norm_cuda(d,
                                              device(normWeight),
                                              eps,
                                              p.tokens <= kMhcCounterTokens ? m_mhcCounters
                                                                            : nullptr,
                                              m_stream));
    return {};
}

Result<void> CudaExecutor::mhcPost(const kernels::MhcPostParams &p)
{
    CudaOpTimer timer(*this, "other");
    FATHOM_CUDA_OP("mhc_post", kernels::mhc_post_cuda(p, m_stream));
    return {};
}

Result<void> CudaExecutor::mhcPostPreNorm(const kernels::MhcPostParams &post,
                                          const kernels::MhcPreParams &pre,
                                          const float *normWeight,
                                          float eps)
{
    // Beyond the counters (prefill sizes) the post and the pre launch on their own.
    if (pre.tokens > kMhcCounterTokens || !m_mhcCounters || !m_mhcPostPre) {
        FATHOM_TRY(mhcPost(post));
        return mhcPreNorm(pre, normWeight, eps);
    }
    CudaOpTimer timer(*this, "other");
    const kernels::MhcPreParams d = mhcOnDevice(pre);
    FATHOM_CUDA_OP("mhc_post_pre",
                   kernels::mhc_post_pre_norm_cuda(post,
                                                   d,
                                                   device(normWeight),
                                                   eps,
                                                   m_mhcCounters,
                                                   m_stream));
    return {};
}

Result<void> CudaExecutor::mhcHead(const kernels::MhcHeadParams &p)
{
    CudaOpTimer timer(*this, "other");
    const kernels::MhcHeadParams d = mhcOnDevice(p);
    FATHOM_CUDA_OP("mhc_head", kernels::mhc_head_cuda(d, m_stream));
    return {};
}

Result<void> CudaExecutor::compressorPool(const kernels::CompressorPoolParams &p)
{
    CudaOpTimer timer(*this, "other");
    FATHOM_CUDA_OP("compressor_pool", kernels::compressor_pool_cuda(p, m_stream));
    return {};
}

// prefillother: a prefill's windows in one launch (FATHOM_CUDA_POOL_RUNS=0: false, the caller
// pools entry by entry as before, each with its upload of the window's slots).
Result<bool> CudaExecutor::compressorPoolEntries(const kernels::CompressorPoolParams &p,
                                                 int entries)
{
    if (!m_poolRuns || entries <= 0 || m_capturing)
        return false;
    CudaOpTimer timer(*this, "other");
    FATHOM_CUDA_OP("compressor_pool",
                   kernels::compressor_pool_batched_cuda(p, entries, m_stream));
    return true;
}

Result<bool> CudaExecutor::compressorPoolSlots(const kernels::CompressorPoolParams &p,
                                               const int32_t *hostSlots)
{
    CudaOpTimer timer(*this, "other");
    FATHOM_TRY_ASSIGN(DeviceInts slots, uploadInts(hostSlots, 4, "compressor window slots"));
    FATHOM_CUDA_OP("compressor_pool",
                   kernels::compressor_pool_slots_cuda(p, slots.data(), m_stream));
    return true;
}

kernels::RowChainParams CudaExecutor::deviceChain(const kernels::RowChainParams &p) const
{
    kernels::RowChainParams d = p;
    d.norm_weight = device(p.norm_weight);
    d.freqs = device(p.freqs);
    return d;
}

Result<void> CudaExecutor::rowChain(const kernels::RowChainParams &p)
{
    CudaOpTimer timer(*this, "other");
    FATHOM_CUDA_OP("row_chain", kernels::row_chain_cuda(deviceChain(p), m_stream));
    return {};
}

Result<void> CudaExecutor::hadamard(float *x, int rows, int n, float scale)
{
    CudaOpTimer timer(*this, "other");
    FATHOM_CUDA_OP("hadamard", kernels::hadamard_cuda(x, rows, n, scale, m_stream));
    return {};
}

Result<void> CudaExecutor::fakeQuantE4m3(float *x, int rows, int rowStride, int dims, int block)
{
    CudaOpTimer timer(*this, "other");
    FATHOM_CUDA_OP("fake_quant_e4m3",
                   kernels::fake_quant_e4m3_cuda(x, rows, rowStride, dims, block, m_stream));
    return {};
}

Result<void> CudaExecutor::fakeQuantE2m1(float *x, int rows, int rowStride, int dims, int block)
{
    CudaOpTimer timer(*this, "other");
    FATHOM_CUDA_OP("fake_quant_e2m1",
                   kernels::fake_quant_e2m1_cuda(x, rows, rowStride, dims, block, m_stream));
    return {};
}

Result<void> CudaExecutor::indexerScores(const kernels::IndexerScoreParams &p)
{
    CudaOpTimer timer(*this, "indexer");
    FATHOM_CUDA_OP("indexer_scores", kernels::indexer_scores_cuda(p, m_stream));
    return {};
}

Result<void> CudaExecutor::topk(const float *values, int n, int k, int32_t *outIdx)
{
    CudaOpTimer timer(*this, "indexer");
    FATHOM_CUDA_OP("topk", kernels::topk_cuda(values, n, k, outIdx, m_stream));
    return {};
}

Result<void> CudaExecutor::indexerSelect(const kernels::IndexerScoreParams &p,
                                         int rows,
                                         const int32_t *hostVisible,
                                         int k,
                                         int32_t *hostOut)
{
    m_stepNeedsHost = m_stepNeedsHost || m_inStep; // a read-back the host uses at once
    // The device-side selection, read back (replayed routing and debug taps need it on the host).
    if (rows <= 0)
        return {};
    FATHOM_TRY_ASSIGN(Buffer<int32_t> picked,
                      Buffer<int32_t>::make(*this,
                                            static_cast<int64_t>(rows) * k,
                                            "indexer selections"));
    FATHOM_TRY(indexerSelectOnExecutor(p, rows, hostVisible, k, picked.data()));
    return copyToHost(hostOut, picked.data(), sizeof(int32_t) * static_cast<size_t>(rows) * k);
}

Result<bool> CudaExecutor::indexerSelectOnExecutor(
    const kernels::IndexerScoreParams &p, int rows, const int32_t *hostVisible, int k, int32_t *out)
{
    CudaOpTimer timer(*this, "indexer");
    if (rows <= 0)
        return true;
    if (p.n_keys <= 0) {
        FATHOM_TRY(FATHOM_CUDA_GLUE(cudaMemsetAsync(out,
                                                    0xFF, // -1
                                                    sizeof(int32_t) * static_cast<size_t>(rows) * k,
                                                    m_stream),
                                    "indexer selections"));
        return true;
    }
    const int block = static_cast<int>(
        std::max<int64_t>(1, std::min<int64_t>(rows, (int64_t(32) << 20) / p.n_keys)));
    FATHOM_TRY_ASSIGN(Buffer<float> scores,
                      Buffer<float>::make(*this,
                                          static_cast<int64_t>(block) * p.n_keys,
                                          "indexer scores"));
    FATHOM_TRY_ASSIGN(DeviceInts visible, uploadInts(hostVisible, rows, "visible keys"));
    // idx8: prefill rows of the non-exact mode score on e4m3 tensor cores (sm_89+, packed keys;
    // indexer_scores_mma.cu), q packed once here; FATHOM_CUDA_INDEXER=bf16 keeps the bf16 kernel,
    // =e4m3split sums the k-step partials in fp32 outside the tensor cores.
    static const char *indexerEnv = std::getenv("FATHOM_CUDA_INDEXER");
    static const bool e4m3Allowed = !indexerEnv || std::strcmp(indexerEnv, "bf16") != 0;
    static const bool e4m3Split = indexerEnv && std::strcmp(indexerEnv, "e4m3split") == 0;
    Buffer<uint8_t> q8;
    if (!m_exactLinear && e4m3Allowed && rows >= kernels::k_min_fast_rows
        && kernels::indexer_scores_e4m3_supported(p)) {
        FATHOM_TRY_ASSIGN(q8,
                          Buffer<uint8_t>::make(*this,
                                                static_cast<int64_t>(
                                                    kernels::indexer_q_e4m3_bytes(rows,
                                                                                  p.n_heads,
                                                                                  p.dim)),
                                                "indexer packed q"));
        FATHOM_CUDA_OP("indexer_q_pack",
                       kernels::indexer_q_pack_e4m3_cuda(p.q,
                                                         rows,
                                                         p.n_heads,
                                                         p.dim,
                                                         q8.data(),
                                                         m_stream));
    }
    for (int r0 = 0; r0 < rows; r0 += block) {
        const int n = std::min(block, rows - r0);
        kernels::IndexerScoreParams sp = p;
        sp.q = p.q + static_cast<int64_t>(r0) * p.n_heads * p.dim;
        sp.weights = p.weights + static_cast<int64_t>(r0) * p.n_heads;
        sp.scores = scores.data();
        if (q8.data()) {
            FATHOM_CUDA_OP("indexer_scores_rows",
                           kernels::indexer_scores_rows_e4m3_cuda(sp,
                                                                  q8.data(),
                                                                  rows,
                                                                  r0,
                                                                  n,
                                                                  p.n_keys,
                                                                  m_stream,
                                                                  visible.data() + r0,
                                                                  e4m3Split));
        } else {
            FATHOM_CUDA_OP("indexer_scores_rows",
                           // Non-exact mode: tensor cores (attn: indexer_scores_mma.cu).
                           (m_exactLinear
                                ? kernels::indexer_scores_rows_cuda
                                : kernels::indexer_scores_rows_fast_cuda)(sp,
                                                                          n,
                                                                          p.n_keys,
                                                                          m_stream,
                                                                          visible.data() + r0));
        }
        FATHOM_CUDA_OP("topk_rows",
                       kernels::topk_rows_cuda(scores.data(),
                                               n,
                                               p.n_keys,
                                               p.n_keys,
                                               visible.data() + r0,
                                               k,
                                               out + static_cast<int64_t>(r0) * k,
                                               k,
                                               m_stream));
    }
    return true;
}

Result<bool> CudaExecutor::sparseIndicesOnExecutor(int32_t *out,
                                                   int rows,
                                                   int nIdx,
                                                   int64_t start,
                                                   int64_t windowStart,
                                                   int window,
                                                   int nWin,
                                                   int ratio,
                                                   const int32_t *sel,
                                                   int topk,
                                                   int64_t ringRows)
{
    CudaOpTimer timer(*this, "other");
    if (start > INT32_MAX || ringRows > INT32_MAX || (ringRows & (ringRows - 1)) != 0)
        return fail(Error::Kind::InvalidArgument,
                    "sparse_indices: position " + std::to_string(start) + " or ring of "
                        + std::to_string(ringRows) + " rows out of range",
                    m_deviceName);
    // The step's scalars as device data (a decode step's upload), not launch arguments.
    const int32_t step[2] = {static_cast<int32_t>(start), static_cast<int32_t>(windowStart)};
    FATHOM_TRY_ASSIGN(DeviceInts onDevice, uploadInts(step, 2, "sparse_indices step"));
    FATHOM_TRY(
        FATHOM_CUDA_GLUE(cudaglue::buildSparseIndices(out,
                                                      rows,
                                                      nIdx,
                                                      onDevice.data(),
                                                      static_cast<int>(ringRows ? ringRows - 1 : 0),
                                                      window,
                                                      nWin,
                                                      ratio,
                                                      sel,
                                                      topk,
                                                      m_stream),
                         "sparse_indices"));
    return true;
}

Result<bool> CudaExecutor::indexerSparseOnExecutor(const kernels::IndexerScoreParams &p,
                                                   int rows,
                                                   const int32_t *hostVisible,
                                                   int k,
                                                   int32_t *sel,
                                                   const SparseIndexJob &job)
{
    // Decode rows in one scoring chunk without the e4m3 prefill path (indexerSelectOnExecutor's
    // choices for such rows), keys in the cache.
    if (!m_indexerFused || rows <= 0 || rows >= kernels::k_min_fast_rows || p.n_keys <= 0
        || p.n_keys > (int64_t(32) << 20) / rows || job.start + rows > INT32_MAX
        || job.ringRows > INT32_MAX || (job.ringRows & (job.ringRows - 1)) != 0)
        return false;
    CudaOpTimer timer(*this, "indexer");
    FATHOM_TRY_ASSIGN(Buffer<float> scores,
                      Buffer<float>::make(*this,
                                          static_cast<int64_t>(rows) * p.n_keys,
                                          "indexer scores"));
    // One upload: the rows' visible counts, then sparseIndicesOnExecutor's step scalars.
    std::vector<int32_t> host(hostVisible, hostVisible + rows);
    host.push_back(static_cast<int32_t>(job.start));
    host.push_back(static_cast<int32_t>(job.windowStart));
    FATHOM_TRY_ASSIGN(DeviceInts up, uploadInts(host.data(), rows + 2, "visible keys + step"));
    kernels::IndexerScoreParams sp = p;
    sp.scores = scores.data();
    kernels::TopkIndexRows ix;
    ix.out = job.out;
    ix.step = up.data() + rows;
    ix.n_idx = job.nIdx;
    ix.ring_mask = static_cast<int32_t>(job.ringRows ? job.ringRows - 1 : 0);
    ix.window = job.window;
    ix.n_win = job.nWin;
    static_assert(kIdxTopkCounters >= kernels::k_min_fast_rows, "a counter per decode row");
    // idxtopk: scores and top-k in one launch (the rows' last scoring blocks select), where the
    // row's scores and the sort fit the launch's shared memory (a capacity of ~23K keys at k 512).
    if (m_idxTopkFused && rows <= kIdxTopkCounters && kernels::indexer_topk_fused_fits(sp, rows, k)) {
        kernels::IndexerTopkOut o;
        o.out = sel;
        o.out_ld = k;
        o.k = k;
        o.index_rows = &ix;
        o.counters = m_idxTopkCounters;
        FATHOM_CUDA_OP("indexer_topk_rows",
                       (m_exactLinear ? kernels::indexer_topk_rows_cuda
                                      : kernels::indexer_topk_rows_fast_cuda)(sp,
                                                                              rows,
                                                                              p.n_keys,
                                                                              up.data(),
                                                                              o,
                                                                              m_stream));
        return true;
    }
    FATHOM_CUDA_OP("indexer_scores_rows",
                   (m_exactLinear ? kernels::indexer_scores_rows_cuda
                                  : kernels::indexer_scores_rows_fast_cuda)(sp,
                                                                            rows,
                                                                            p.n_keys,
                                                                            m_stream,
                                                                            up.data()));
    FATHOM_CUDA_OP("topk_rows",
                   kernels::topk_rows_cuda(
                       scores.data(), rows, p.n_keys, p.n_keys, up.data(), k, sel, k, m_stream, &ix));
    return true;
}

Result<void> CudaExecutor::sparseAttention(const kernels::SparseAttnParams &p)
{
    CudaOpTimer timer(*this, "attention");
    kernels::SparseAttnParams d = p;
    d.sink = device(p.sink);
    d.out_rope_freqs = device(p.out_rope_freqs);
    // attnnodes: the output's inverse RoPE in the attention's launch, or (switch off) a separate
    // rope launch after it.
    const bool outRope = p.out_rope_positions != nullptr;
    if (!m_attnFusedTail)
        d = kernels::sparse_attn_without_out_rope(d);
    // Non-exact mode: tensor cores (attn: sparse_attn_mma.cu); decode rows split each index row,
    // their partials in an arena temporary (sized by the index width only: replay-safe), merged
    // in the same launch (fused tail: zeroed counters) or by a second one.
    Buffer<float> parts;
    int *counters = nullptr;
    if (!m_exactLinear && d.n_q > 0 && d.n_q < kernels::k_min_fast_rows) {
        const auto n = static_cast<int64_t>(kernels::sparse_attn_decode_workspace_floats(d));
        FATHOM_TRY_ASSIGN(parts, Buffer<float>::make(*this, n, "attention split partials"));
        // The fused merge reads a row and head group's partials in one block (about 0.1 to
        // 0.2 MB/us from L2 on one SM): V4-Flash's 16 heads x 20 splits x 514 floats are 0.66 MB
        // (the previous shape's 64 heads x 10 splits: 1.3 MB), some 3-6 us against the couple
        // of us of a second launch, so by default only merges of up to kAttnFusedMergeBytes
        // stay in the attention launch; the inverse RoPE rides the
        // combine launch otherwise. A device A/B with FATHOM_CUDA_ATTN_FUSED_TAIL=1 settles it.
        const int groups = kernels::sparse_attn_decode_counters(d);
        const bool small = groups > 0
                           && static_cast<int64_t>(n) * 4 / groups <= kAttnFusedMergeBytes;
        if (m_attnFusedTail && groups <= kAttnCounters && (small || m_attnMergeAlways))
            counters = m_attnCounters;
    }
    FATHOM_CUDA_OP("sparse_attn",
                   m_exactLinear
                       ? kernels::sparse_attn_cuda(d, m_stream)
                       : kernels::sparse_attn_fast_cuda(d, m_stream, parts.data(), counters));
    if (outRope && !m_attnFusedTail) {
        kernels::RopeParams r = kernels::sparse_attn_out_rope(p);
        r.freqs = device(p.out_rope_freqs);
        FATHOM_CUDA_OP("rope", kernels::rope_cuda(r, m_stream));
    }
    return {};
}

Result<CudaExecutor::RoutedGroup> CudaExecutor::newRoutedGroup(const kernels::MoeRouteParams &p)
{
    RoutedGroup g;
    const int NK = p.tokens * p.topk;
    g.ids = p.ids;
    g.rows = p.tokens;
    g.k = p.topk;
    g.nExperts = p.n_experts;
    g.slots = std::min(p.n_experts, NK);
    FATHOM_TRY_ASSIGN(g.offsets, Buffer<int32_t>::make(*this, p.n_experts + 1, "expert offsets"));
    FATHOM_TRY_ASSIGN(g.active, Buffer<int32_t>::make(*this, g.slots, "active experts"));
    FATHOM_TRY_ASSIGN(g.srcRow, Buffer<int32_t>::make(*this, NK, "expert rows"));
    FATHOM_TRY_ASSIGN(g.slotIndex, Buffer<int32_t>::make(*this, NK, "expert slots"));
    return g;
}

Result<void> CudaExecutor::moeRoute(const kernels::MoeRouteParams &p)
{
    CudaOpTimer timer(*this, "other");
    kernels::MoeRouteParams d = p;
    d.bias = device(p.bias);
    d.forced_ids = device(p.forced_ids);
    m_routedGroup = RoutedGroup{};
    // Decode sizes (moeOnDevice's): the grouping of the ids in the same launch.
    if (p.tokens > 0 && p.tokens <= 4 && p.n_experts <= 1024 && m_mhcCounters) {
        FATHOM_TRY_ASSIGN(RoutedGroup g, newRoutedGroup(p));
        FATHOM_CUDA_OP("moe_route",
                       kernels::moe_route_group_cuda(d,
                                                     g.offsets.data(),
                                                     g.active.data(),
                                                     g.slots,
                                                     g.srcRow.data(),
                                                     g.slotIndex.data(),
                                                     m_mhcCounters + kMhcCounterTokens,
                                                     m_stream));
        m_routedGroup = std::move(g);
        return {};
    }
    FATHOM_CUDA_OP("moe_route", kernels::moe_route_cuda(d, m_stream));
    return {};
}

// gate: at decode sizes the gate GEMV runs in the routing + grouping launch
// (moe_gate_route_group_cuda: linear()'s GEMV and moeRoute()'s launch, the same bits - in both
// modes linear() runs a bf16 gate as the exact-accumulation GEMV, which the fused launch keeps);
// larger batches and shapes the fused launch does not take run the two ops.
Result<void> CudaExecutor::gateRoute(const LinearWeight &gate,
                                     const float *x,
                                     float *logits,
                                     const kernels::MoeRouteParams &p)
{
    if (const std::optional<MoeGate> g = fusedGate(gate, x, logits, p)) {
        CudaOpTimer timer(*this, "gemm");
        timer.note(weightName(gate), weightBytes(g->gate));
        m_routedGroup = RoutedGroup{};
        m_gemmFlops += 2.0 * p.tokens * gate.outFeatures * gate.inFeatures;
        FATHOM_TRY_ASSIGN(RoutedGroup rg, newRoutedGroup(p));
        FATHOM_TRY(launchGateRoute(*g,
                                   rg.offsets.data(),
                                   rg.active.data(),
                                   rg.slots,
                                   rg.srcRow.data(),
                                   rg.slotIndex.data()));
        m_routedGroup = std::move(rg);
        return {};
    }
    return Executor::gateRoute(gate, x, logits, p);
}

std::optional<CudaExecutor::MoeGate> CudaExecutor::fusedGate(const LinearWeight &gate,
                                                             const float *x,
                                                             float *logits,
                                                             const kernels::MoeRouteParams &p)
{
    if (!m_gateRouteFused || !gate.valid() || p.tokens <= 0 || p.tokens > 4 || p.logits != logits
        || !m_mhcCounters)
        return std::nullopt;
    MoeGate g;
    g.weight = &gate;
    g.route = p;
    g.route.bias = device(p.bias);
    g.route.forced_ids = device(p.forced_ids);
    g.gate = linearParams(gate, x, logits, p.tokens);
    if (!kernels::moe_gate_route_group_fits(g.gate, g.route))
        return std::nullopt;
    return g;
}

Result<void> CudaExecutor::launchGateRoute(const MoeGate &g,
                                           int32_t *offsets,
                                           int32_t *active,
                                           int slots,
                                           int32_t *srcRow,
                                           int32_t *slotIndex)
{
    FATHOM_CUDA_OP("gate+route",
                   kernels::moe_gate_route_group_cuda(g.gate,
                                                      g.route,
                                                      offsets,
                                                      active,
                                                      slots,
                                                      srcRow,
                                                      slotIndex,
                                                      m_mhcCounters + kMhcCounterTokens,
                                                      m_stream));
    return {};
}

Result<void> CudaExecutor::swiglu(const kernels::SwigluParams &p)
{
    CudaOpTimer timer(*this, "other");
    FATHOM_CUDA_OP("swiglu", kernels::swiglu_cuda(p, m_stream));
    return {};
}

Result<void> CudaExecutor::expertFfn(const std::vector<ExpertJob> &jobs, int inter, float limit)
{
    CudaOpTimer timer(*this, "gemm");
    // ltexperts: the foldable FP4 experts through cuBLASLt first (non-exact mode); the rest below.
    std::vector<char> viaLt(jobs.size(), 0);
    FATHOM_TRY_ASSIGN(const int ltDone, expertsViaLt(jobs, inter, limit, viaLt));
    if (ltDone > 0 && timer.on()) {
        double bytes = 0;
        for (size_t i = 0; i < jobs.size(); ++i)
            if (viaLt[i])
                bytes += 0.5 * 3.0 * double(inter) * jobs[i].w1->inFeatures;
        timer.note(std::to_string(ltDone) + " FP4 experts folded to e4m3 + cuBLASLt (ltexperts)",
                   bytes);
    }
    // w1 and w3 of every expert in one grouped launch sequence (rounded to bf16 in the
    // epilogue), SwiGLU per expert (its routing weights), then every w2 grouped.
    int64_t totalRows = 0;
    for (size_t i = 0; i < jobs.size(); ++i)
        totalRows += viaLt[i] ? 0 : jobs[i].rows;
    if (totalRows == 0)
        return {};
    const int64_t n = totalRows * inter;
    FATHOM_TRY_ASSIGN(Buffer<float> g, Buffer<float>::make(*this, n, "expert gate activations"));
    FATHOM_TRY_ASSIGN(Buffer<float> u, Buffer<float>::make(*this, n, "expert up activations"));
    std::vector<kernels::linear_params> up, down;
    up.reserve(2 * jobs.size());
    down.reserve(jobs.size());
    // tcgemm: in the non-exact mode the FP8/FP4 experts of the layer go to the tensor-core
    // grouped GEMM (linear_mma.cu, one launch per 56 experts) where the device and shapes allow.
    auto params = [&](const LinearWeight &w, const float *x, float *y, int rows) {
        kernels::linear_params q = linearParams(w, x, y, rows);
        q.y_round_bf16 = 1; // every expert projection is rounded to bf16 (in the epilogue)
        if (!m_exactLinear && isQuantizedLinear(q))
            q.accum = kernels::linear_accum::fp32;
        return q;
    };
    // sharedlt: in the non-exact mode an FP8 expert projection of >= 64 rows - the shared
    // expert at prefill sizes (8192 rows of an 8K prompt: the layer's best-shaped GEMMs) - runs
    // on linear()'s cuBLASLt path (act-quant + block-scaled GEMM, then the bf16 rounding); the
    // rest, and any item cuBLASLt refuses, stay in the grouped launch.
    std::vector<const LinearWeight *> upW, downW;
    auto viaCublasLt = [&](std::vector<kernels::linear_params> &items,
                           const std::vector<const LinearWeight *> &weights) -> Result<void> {
        if (m_exactLinear || !m_expertsLt)
            return {};
        size_t kept = 0;
        for (size_t i = 0; i < items.size(); ++i) {
            FATHOM_TRY_ASSIGN(const bool done,
                              linearViaCublasLt(items[i], *weights[i], true, false, "expert linear"));
            if (!done)
                items[kept++] = items[i];
        }
        items.resize(kept);
        return {};
    };
    auto grouped = [&](const std::vector<kernels::linear_params> &items) {
        const int count = static_cast<int>(items.size());
        if (count == 0)
            return kernels::Status::success();
        if (m_exactLinear)
            return kernels::linear_grouped_cuda(items.data(), count, m_stream);
        Buffer<uint8_t> work = mmaWorkspace(items.data(), count);
        return kernels::linear_grouped_tc_cuda(items.data(),
                                               count,
                                               m_stream,
                                               work.data(),
                                               work.bytes());
    };
    int64_t row = 0;
    for (size_t i = 0; i < jobs.size(); ++i) {
        const ExpertJob &j = jobs[i];
        if (j.rows == 0 || viaLt[i])
            continue;
        m_gemmFlops += 2.0 * j.rows * inter * j.w1->inFeatures * 3;
        up.push_back(params(*j.w1, j.x, g.data() + row * inter, j.rows));
        up.push_back(params(*j.w3, j.x, u.data() + row * inter, j.rows));
        upW.push_back(j.w1);
        upW.push_back(j.w3);
        row += j.rows;
    }
    FATHOM_TRY(viaCublasLt(up, upW));
    FATHOM_CUDA_OP("expert w1/w3", grouped(up));
    row = 0;
    for (size_t i = 0; i < jobs.size(); ++i) {
        const ExpertJob &j = jobs[i];
        if (j.rows == 0 || viaLt[i])
            continue;
        kernels::SwigluParams sw;
        sw.gate = g.data() + row * inter;
        sw.up = u.data() + row * inter;
        sw.row_weights = j.rowWeights;
        sw.out = g.data() + row * inter;
        sw.rows = j.rows;
        sw.inter = inter;
        sw.limit = limit;
        FATHOM_CUDA_OP("swiglu", kernels::swiglu_cuda(sw, m_stream));
        down.push_back(params(*j.w2, g.data() + row * inter, j.y, j.rows));
        downW.push_back(j.w2);
        row += j.rows;
    }
    FATHOM_TRY(viaCublasLt(down, downW));
    FATHOM_CUDA_OP("expert w2", grouped(down));
    return {};
}

void CudaExecutor::dropFolded()
{
    if (m_folded.empty())
        return;
    cudaSetDevice(m_device);
    cudaStreamSynchronize(m_stream); // queued GEMMs may still read them
    for (auto &[key, f] : m_folded)
        cudaFree(f.block);
    m_folded.clear();
    m_foldedBytes = 0;
    m_foldedFull = false;
    ++m_foldedDrops;
}

void CudaExecutor::forgetFolded(const void *key)
{
    auto it = m_folded.find(key);
    if (it == m_folded.end())
        return;
    cudaFree(it->second.block); // nothing queued reads it: its conversion was never launched
    m_foldedBytes -= it->second.bytes;
    m_folded.erase(it);
    m_foldedFull = false;
}

// resident: the device copy of one expert's folded weights, made now (to be filled by the
// caller's conversion) where the policy and the free memory allow; nullptr: use the scratch.
CudaExecutor::FoldedExpert *CudaExecutor::residentFold(
    const void *key, int64_t codes13, int64_t codes2, int64_t sc13, int64_t sc2)
{
    if (auto it = m_folded.find(key); it != m_folded.end())
        return &it->second;
    if (m_expertsResident == 0 || m_foldedFull)
        return nullptr;
    auto up = [](int64_t bytes) { return static_cast<size_t>((bytes + 255) / 256 * 256); };
    const size_t b13 = up(codes13), b2 = up(codes2), bs13 = up(sc13 * 4), bs2 = up(sc2 * 4);
    const size_t bytes = b13 + b2 + bs13 + bs2;
    if (m_expertsResident < 0) {
        size_t freeB = 0, totalB = 0;
        if (cudaMemGetInfo(&freeB, &totalB) != cudaSuccess) {
            cudaGetLastError();
            m_foldedFull = true;
            return nullptr;
        }
        // Auto: leave a fifth of the device (at least 16 GiB) for the sequences' state and
        // the arena's growth.
        const uint64_t reserve = std::max<uint64_t>(kFoldedReserveMin, totalB / 5);
        if (freeB < bytes + reserve) {
            m_foldedFull = true;
            return nullptr;
        }
    }
    void *block = nullptr;
    if (cudaMalloc(&block, bytes) != cudaSuccess) {
        cudaGetLastError();
        m_foldedFull = true;
        return nullptr;
    }
    FoldedExpert f;
    f.block = block;
    f.bytes = bytes;
    auto *b = static_cast<uint8_t *>(block);
    f.w13 = b;
    f.w2 = b + b13;
    f.s13 = reinterpret_cast<float *>(b + b13 + b2);
    f.s2 = reinterpret_cast<float *>(b + b13 + b2 + bs13);
    m_foldedBytes += bytes;
    m_peakBytes = std::max(m_peakBytes,
                           m_liveBytes + m_cachedBytes + m_graphBytes + m_weightBytes
                               + m_foldedBytes);
    return &m_folded.emplace(key, f).first->second;
}

bool CudaExecutor::expertFoldable(const LinearWeight &w)
{
    if (w.type != kernels::linear_weight_type::fp4_e2m1 || !w.scale)
        return false;
    auto it = m_foldable.find(w.scale);
    if (it == m_foldable.end())
        it = m_foldable
                 .emplace(w.scale, kernels::fp4_fold_foldable(w.scale, w.outFeatures, w.inFeatures))
                 .first;
    return it->second;
}

// ltstreams: expertsViaLt's side streams (non-blocking) and their events (no timing), made once
// on the executor's device on first use; where any of that fails none are kept and K is 1.
int CudaExecutor::expertStreams()
{
    if (m_expertStreams <= 1 || m_capturing)
        return 1;
    if (!m_sideTried) {
        m_sideTried = true;
        bool ok = static_cast<bool>(makeCurrent());
        for (int s = 0; ok && s < m_expertStreams; ++s) {
            cudaStream_t st = nullptr;
            ok = cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking) == cudaSuccess;
            if (ok)
                m_sideStreams.push_back(st);
        }
        for (int e = 0; ok && e < m_expertStreams + 1; ++e) {
            cudaEvent_t ev = nullptr;
            ok = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming) == cudaSuccess;
            if (ok)
                m_sideEvents.push_back(ev);
        }
        if (!ok) {
            cudaGetLastError();
            for (void *e : m_sideEvents)
                cudaEventDestroy(static_cast<cudaEvent_t>(e));
            for (CUstream_st *st : m_sideStreams)
                cudaStreamDestroy(st);
            m_sideEvents.clear();
            m_sideStreams.clear();
        }
    }
    return m_sideStreams.empty() ? 1 : static_cast<int>(m_sideStreams.size());
}

// ltexperts: an expert of >= kExpertsLtMinRows rows whose w1, w2, w3 are FP4 weights that fold
// exactly (fp4_fold_e4m3.h: every 128x128 block's 32-block scales within 14 binades, decided on
// the host from the scale bytes, cached per weight) runs as: its w1 | w3 converted into one e4m3
// matrix [2 inter, d] and w2 into [d, inter] (a chunk of experts per launch, into a scratch that
// the next chunk reuses in stream order), x's rows act-quantised (act_quant_fp8_vec128_cuda: the
// VEC128 scales are [k/128][rows], so each expert's rows get their own), one cuBLASLt GEMM for
// g | u, SwiGLU + the quantisation of h in one launch (swiglu_quant_vec128_cuda: g, u rounded to
// bf16 as the grouped kernel's y_round_bf16), one GEMM for w2 and y rounded to bf16. The CPU
// twin is linear_accum::fp32 on the FP4 weights (the same products, another summation order).
// A failed cuBLASLt call leaves its expert to the grouped kernel (nothing it wrote is kept).
Result<int> CudaExecutor::expertsViaLt(const std::vector<ExpertJob> &jobs,
                                       int inter,
                                       float limit,
                                       std::vector<char> &done)
{
#ifdef FATHOM_CUDA_EMULATION
    // No cuBLASLt under the emulation: with FATHOM_CUDA_EXPERTS_LT_EMU=1 the path runs with
    // gemm_e4m3_blk128_ref_cuda in its place, for every expert of >= 1 row and dimensions that
    // are multiples of 128 (the tiny models), so the model tests check its glue.
    if (!m_expertsLtEmu)
        return 0;
    const int minRows = 1;
    const int64_t dimStep = 128;
#else
    // inter and d multiples of 512: each expert's slice of the VEC128 scales (rows x k/128
    // floats) then starts 16-byte aligned, as the scale pointers of a cuBLASLt call want.
    const int minRows = kExpertsLtMinRows;
    const int64_t dimStep = 512;
#endif
    // Not inside a decode step (recorded / replayed: its launches are not all FATHOM_CUDA_OPs).
    if (m_exactLinear || !m_expertsLt || m_inStep || inter <= 0 || inter % dimStep != 0)
        return 0;
    std::vector<size_t> pick;
    int64_t d = 0;
    for (size_t i = 0; i < jobs.size(); ++i) {
        const ExpertJob &j = jobs[i];
        if (j.rows < minRows || !j.w1 || !j.w2 || !j.w3)
            continue;
        const int64_t jd = j.w1->inFeatures;
        if ((d && jd != d) || jd % dimStep != 0 || j.w1->outFeatures != inter
            || j.w3->outFeatures != inter || j.w3->inFeatures != jd || j.w2->outFeatures != jd
            || j.w2->inFeatures != inter || reinterpret_cast<uintptr_t>(j.y) % 16 != 0)
            continue;
        bool ok = true;
        for (const LinearWeight *w : {j.w1, j.w3, j.w2}) {
            const void *dw = device(w->weight);
            ok = ok && dw != w->weight && reinterpret_cast<uintptr_t>(dw) % 16 == 0
                 && device(static_cast<const void *>(w->scale)) != w->scale && expertFoldable(*w);
        }
        if (!ok)
            continue;
        d = jd;
        pick.push_back(i);
    }
    if (pick.empty())
        return 0;
#ifndef FATHOM_CUDA_EMULATION
    if (!m_lt)
        m_lt = std::make_shared<CublasLtLinear>(m_device);
    if (!m_lt->available())
        return 0;
#endif
    // ltstreams: K side streams for the GEMMs (one cuBLASLt workspace each: calls that may run
    // at once must not share one), else K = 1 and every call on m_stream.
    int K = expertStreams();
#ifndef FATHOM_CUDA_EMULATION
    if (K > 1 && !m_lt->reserveWorkspaces(K, m_stream))
        K = 1;
#endif
    // One GEMM of the path: y [m, n] f32 = the e4m3 weight (block scales ws) times the quantised
    // rows (codes xq, VEC128 scales xs), on `stream` with workspace `slot`. False: nothing
    // enqueued.
    auto gemm = [&](const uint8_t *w,
                    const float *ws,
                    int64_t n,
                    int64_t k,
                    const uint8_t *xq,
                    const float *xs,
                    int m,
                    float *y,
                    CUstream_st *stream,
                    [[maybe_unused]] int slot) {
#ifdef FATHOM_CUDA_EMULATION
        return kernels::gemm_e4m3_blk128_ref_cuda(
                   w, ws, static_cast<int>(n), static_cast<int>(k), xq, xs, m, y, 0, stream)
            .ok();
#else
        return m_lt->runQuantized(
            w, ws, static_cast<int>(n), static_cast<int>(k), xq, xs, m, y, 0, stream, slot);
#endif
    };
    // ltstreams: a pass's GEMMs side by side. fork(used): side streams 0 .. used-1 wait for
    // m_stream's work so far (false: not forked, the pass runs on m_stream); join(used):
    // m_stream's later work waits for theirs - before anything on m_stream reads their outputs
    // or the scratch they read is reused (the arena's blocks are reused in m_stream order).
    // A failed join waits on the host instead; only when that fails too is it an error.
    auto fork = [&](int used) {
        if (used <= 1)
            return false;
        auto forkEvent = static_cast<cudaEvent_t>(m_sideEvents[0]);
        bool ok = cudaEventRecord(forkEvent, m_stream) == cudaSuccess;
        for (int s = 0; ok && s < used; ++s)
            ok = cudaStreamWaitEvent(m_sideStreams[s], forkEvent, 0) == cudaSuccess;
        if (!ok)
            cudaGetLastError();
        return ok;
    };
    auto join = [&](int used) -> Result<void> {
        for (int s = 0; s < used; ++s) {
            auto e = static_cast<cudaEvent_t>(m_sideEvents[1 + s]);
            if (cudaEventRecord(e, m_sideStreams[s]) == cudaSuccess
                && cudaStreamWaitEvent(m_stream, e, 0) == cudaSuccess)
                continue;
            cudaGetLastError();
            FATHOM_TRY(cudaCheck(cudaStreamSynchronize(m_sideStreams[s]),
                                 "waiting for an expert GEMM stream"));
        }
        return {};
    };

    const int64_t I = inter;
    const int64_t codes13 = 2 * I * d, codes2 = d * I;
    const int64_t sc13 = kernels::fp8_blk128_scale_count(2 * I, d);
    const int64_t sc2 = kernels::fp8_blk128_scale_count(d, I);
    const int chunk = kExpertsLtChunk;
    static_assert(kExpertsLtChunk <= kernels::k_fp4_fold_max_jobs);
    int64_t chunkRows = 0; // the most rows of one chunk
    for (size_t c = 0; c < pick.size(); c += chunk) {
        int64_t rows = 0;
        for (size_t e = c; e < std::min(pick.size(), c + chunk); ++e)
            rows += jobs[pick[e]].rows;
        chunkRows = std::max(chunkRows, rows);
    }
    // Scratch (the arena is ordered on the stream: the next chunk's conversion waits for the
    // GEMMs that read the previous one). 16-byte alignment: every offset below is a multiple
    // of 16 bytes (d, inter multiples of 512). A failed allocation leaves the experts to the
    // grouped kernel.
    auto scratch = [this]<typename T>(T *, int64_t n, const char *what) {
        auto b = Buffer<T>::make(*this, n, what);
        return b ? std::move(*b) : Buffer<T>{};
    };
    uint8_t *const u8 = nullptr;
    float *const f32 = nullptr;
    Buffer<uint8_t> xq = scratch(u8, chunkRows * d, "expert x e4m3");
    Buffer<float> xs = scratch(f32, chunkRows * (d / 128), "expert x scales");
    Buffer<float> gu = scratch(f32, chunkRows * 2 * I, "expert g|u");
    Buffer<uint8_t> hq = scratch(u8, chunkRows * I, "expert h e4m3");
    Buffer<float> hs = scratch(f32, chunkRows * (I / 128), "expert h scales");
    if (!xq.data() || !xs.data() || !gu.data() || !hq.data() || !hs.data())
        return 0;
    // resident: experts with (or now given) a resident folded copy skip the scratch, and the
    // conversion when the copy was filled by an earlier prefill.
    std::vector<FoldedExpert *> kept(pick.size(), nullptr);
    std::vector<char> fresh(pick.size(), 0);
    for (size_t e = 0; e < pick.size(); ++e) {
        const void *key = jobs[pick[e]].w1->weight;
        const bool had = m_folded.count(key) != 0;
        kept[e] = residentFold(key, codes13, codes2, sc13, sc2);
        fresh[e] = kept[e] && !had;
    }
    int64_t slots = 0; // the most experts of one chunk without a resident copy
    for (size_t c = 0; c < pick.size(); c += chunk) {
        int64_t n = 0;
        for (size_t e = c; e < std::min(pick.size(), c + chunk); ++e)
            n += kept[e] ? 0 : 1;
        slots = std::max(slots, n);
    }
    Buffer<uint8_t> w13, w2;
    Buffer<float> s13, s2;
    const uint64_t drops = m_foldedDrops;
    if (slots > 0) {
        w13 = scratch(u8, slots * codes13, "folded w1|w3");
        w2 = scratch(u8, slots * codes2, "folded w2");
        s13 = scratch(f32, slots * sc13, "folded w1|w3 scales");
        s2 = scratch(f32, slots * sc2, "folded w2 scales");
        if (!w13.data() || !w2.data() || !s13.data() || !s2.data()) {
            for (size_t e = 0; e < pick.size(); ++e)
                if (fresh[e])
                    forgetFolded(jobs[pick[e]].w1->weight); // never converted
            return 0;
        }
        // The arena's out-of-memory retry may have dropped the copies kept[] points at: this
        // time the grouped kernel runs every expert.
        if (m_foldedDrops != drops)
            return 0;
    }
    int count = 0;
    for (size_t c = 0; c < pick.size(); c += chunk) {
        const size_t end = std::min(pick.size(), c + chunk);
        kernels::fp4_fold_job up[kExpertsLtChunk], down[kExpertsLtChunk];
        uint8_t *w13Of[kExpertsLtChunk], *w2Of[kExpertsLtChunk];
        float *s13Of[kExpertsLtChunk], *s2Of[kExpertsLtChunk];
        int folds = 0, slot = 0;
        for (size_t e = c; e < end; ++e) {
            const ExpertJob &j = jobs[pick[e]];
            const size_t s = e - c;
            if (FoldedExpert *f = kept[e]) {
                w13Of[s] = f->w13;
                w2Of[s] = f->w2;
                s13Of[s] = f->s13;
                s2Of[s] = f->s2;
                if (!fresh[e])
                    continue; // converted by an earlier call
            } else {
                w13Of[s] = w13.data() + slot * codes13;
                w2Of[s] = w2.data() + slot * codes2;
                s13Of[s] = s13.data() + slot * sc13;
                s2Of[s] = s2.data() + slot * sc2;
                ++slot;
            }
            kernels::fp4_fold_job &u = up[folds], &dn = down[folds];
            ++folds;
            u.w[0] = static_cast<const uint8_t *>(device(j.w1->weight));
            u.scale[0] = device(j.w1->scale);
            u.w[1] = static_cast<const uint8_t *>(device(j.w3->weight));
            u.scale[1] = device(j.w3->scale);
            u.rows[0] = I;
            u.rows[1] = I;
            u.codes = w13Of[s];
            u.blk_scales = s13Of[s];
            dn.w[0] = static_cast<const uint8_t *>(device(j.w2->weight));
            dn.scale[0] = device(j.w2->scale);
            dn.rows[0] = d;
            dn.codes = w2Of[s];
            dn.blk_scales = s2Of[s];
        }
        const int n = static_cast<int>(end - c);
        auto fold = [&]() -> Result<void> {
            FATHOM_CUDA_OP("fp4 fold w1|w3", kernels::fp4_fold_e4m3_cuda(up, folds, d, m_stream));
            FATHOM_CUDA_OP("fp4 fold w2", kernels::fp4_fold_e4m3_cuda(down, folds, I, m_stream));
            return {};
        };
        if (folds > 0) {
            if (Result<void> r = fold(); !r) {
                dropFolded(); // no copy stays that its conversion may not have filled
                return ::fathom::unexpected(std::move(r).error());
            }
        }
        // The chunk's x rows quantised, each expert's w1 | w3 GEMM, SwiGLU + the quantisation
        // of h, each w2 GEMM, the outputs rounded: one launch per pass, one cuBLASLt call per
        // expert and projection (an expert whose call fails is left to the grouped kernel: its
        // rows in the passes after are ignored, its y rewritten there).
        const float *xOf[kExpertsLtChunk];
        const float *weightsOf[kExpertsLtChunk];
        float *yOf[kExpertsLtChunk];
        int rowsOf[kExpertsLtChunk];
        int64_t firstRow[kExpertsLtChunk];
        bool ok[kExpertsLtChunk];
        int64_t row = 0;
        for (size_t e = c; e < end; ++e) {
            const ExpertJob &j = jobs[pick[e]];
            const size_t s = e - c;
            xOf[s] = j.x;
            weightsOf[s] = j.rowWeights;
            yOf[s] = j.y;
            rowsOf[s] = j.rows;
            firstRow[s] = row;
            row += j.rows;
        }
        FATHOM_CUDA_OP("expert x quant",
                       kernels::act_quant_vec128_rows_cuda(
                           xOf, rowsOf, n, static_cast<int>(d), xq.data(), xs.data(), m_stream));
        // ltstreams: expert s's GEMMs on side stream s % K (workspace s % K).
        const int used = std::min(K, n);
        bool forked = fork(used);
        auto on = [&](int s) { return forked ? m_sideStreams[s % K] : m_stream; };
        for (int s = 0; s < n; ++s)
            ok[s] = gemm(w13Of[s],
                         s13Of[s],
                         2 * I,
                         d,
                         xq.data() + firstRow[s] * d,
                         xs.data() + firstRow[s] * (d / 128),
                         rowsOf[s],
                         gu.data() + firstRow[s] * 2 * I,
                         on(s),
                         forked ? s % K : 0);
        if (forked)
            FATHOM_TRY(join(used));
        FATHOM_CUDA_OP("swiglu quant",
                       kernels::swiglu_quant_vec128_rows_cuda(gu.data(),
                                                              weightsOf,
                                                              rowsOf,
                                                              n,
                                                              inter,
                                                              0,
                                                              limit,
                                                              hq.data(),
                                                              hs.data(),
                                                              m_stream));
        forked = fork(used);
        for (int s = 0; s < n; ++s)
            ok[s] = ok[s]
                    && gemm(w2Of[s],
                            s2Of[s],
                            d,
                            I,
                            hq.data() + firstRow[s] * I,
                            hs.data() + firstRow[s] * (I / 128),
                            rowsOf[s],
                            yOf[s],
                            on(s),
                            forked ? s % K : 0);
        if (forked)
            FATHOM_TRY(join(used));
        FATHOM_CUDA_OP("expert y round",
                       kernels::round_bf16_rows_multi_cuda(yOf,
                                                           rowsOf,
                                                           n,
                                                           static_cast<int>(d),
                                                           m_stream));
        for (int s = 0; s < n; ++s) {
            if (!ok[s])
                continue;
            done[pick[c + s]] = 1;
            m_gemmFlops += 2.0 * rowsOf[s] * I * d * 3;
            ++count;
        }
    }
    return count;
}

Result<void> CudaExecutor::embedRows(
    const uint16_t *table, const int32_t *hostIds, int rows, int d, int copies, float *out)
{
    CudaOpTimer timer(*this, "other");
    if (rows == 0)
        return {};
    FATHOM_TRY_ASSIGN(DeviceInts ids, uploadInts(hostIds, rows, "token ids"));
    FATHOM_CUDA_OP("embed",
                   kernels::embed_rows_cuda(
                       device(table), m_vocab, d, ids.data(), rows, copies, out, m_stream));
    return {};
}

Result<void> CudaExecutor::addPeriodicRows(
    float *x, const float *table, const int32_t *hostPositions, int rows, int width, int period)
{
    CudaOpTimer timer(*this, "other");
    if (rows == 0)
        return {};
    FATHOM_TRY_ASSIGN(DeviceInts pos, uploadInts(hostPositions, rows, "positions"));
    return FATHOM_CUDA_GLUE(
        cudaglue::addPeriodicRows(x, device(table), pos.data(), rows, width, period, m_stream),
        "add_periodic_rows");
}

Result<void> CudaExecutor::scaleRoundBf16(float *x, int64_t n, float scale)
{
    CudaOpTimer timer(*this, "other");
    return FATHOM_CUDA_GLUE(cudaglue::scaleRoundBf16(x, n, scale, m_stream), "scale_round_bf16");
}

Result<void> CudaExecutor::gatherRows(
    float *dst, const float *src, const int32_t *hostRows, int n, int width)
{
    CudaOpTimer timer(*this, "other");
    if (n == 0)
        return {};
    FATHOM_TRY_ASSIGN(DeviceInts rows, uploadInts(hostRows, n, "row indices"));
    return FATHOM_CUDA_GLUE(cudaglue::gatherRows(dst, src, rows.data(), n, width, m_stream),
                            "gather_rows");
}

Result<void> CudaExecutor::scatterRows(
    float *dst, const float *src, const int32_t *hostRows, int n, int width)
{
    CudaOpTimer timer(*this, "other");
    if (n == 0)
        return {};
    FATHOM_TRY_ASSIGN(DeviceInts rows, uploadInts(hostRows, n, "row indices"));
    return FATHOM_CUDA_GLUE(cudaglue::scatterRows(dst, src, rows.data(), n, width, m_stream),
                            "scatter_rows");
}

Result<void> CudaExecutor::scatterRowsBf16(
    uint16_t *dst, const float *src, const int32_t *hostRows, int n, int width)
{
    CudaOpTimer timer(*this, "other");
    if (n == 0)
        return {};
    FATHOM_TRY_ASSIGN(DeviceInts rows, uploadInts(hostRows, n, "row indices"));
    FATHOM_CUDA_OP(
        "scatter_rows_bf16",
        kernels::scatter_rows_bf16_cuda(dst, src, rows.data(), n, width, m_stateInexact, m_stream));
    return {};
}

Result<void> CudaExecutor::scatterRowsPacked(
    uint8_t *dst, const float *src, const int32_t *hostRows, int n, int width, int rope)
{
    CudaOpTimer timer(*this, "other");
    if (n == 0)
        return {};
    FATHOM_TRY_ASSIGN(auto rows, uploadInts(hostRows, n, "row indices"));
    FATHOM_CUDA_OP("scatter_rows_packed",
                   kernels::scatter_rows_packed_cuda(
                       dst, src, rows.data(), n, width, rope, m_stateInexact, m_stream));
    return {};
}

Result<void> CudaExecutor::appendStateRows(const StateAppend *appends,
                                           int n,
                                           const int32_t *hostPositions,
                                           int positions)
{
    if (n > kernels::k_state_append_segments)
        return Executor::appendStateRows(appends, n, hostPositions, positions);
    return launchAppends(nullptr, appends, n, hostPositions, positions);
}

Result<void> CudaExecutor::rowChainAppend(const kernels::RowChainParams &chain,
                                          const StateAppend *appends,
                                          int n,
                                          const int32_t *hostPositions,
                                          int positions,
                                          const ChainsWith *with)
{
    if (!m_chainAppends || n > kernels::k_state_append_segments)
        return Executor::rowChainAppend(chain, appends, n, hostPositions, positions, with);
    if (with && (!m_rowChainsFused || with->count > kernels::k_row_chains_with)) {
        for (int k = 0; k < with->count; ++k)
            FATHOM_TRY(rowChain(*with->chains[k]));
        with = nullptr;
    }
    return launchAppends(&chain, appends, n, hostPositions, positions, with);
}

Result<void> CudaExecutor::launchAppends(const kernels::RowChainParams *chain,
                                         const StateAppend *appends,
                                         int n,
                                         const int32_t *hostPositions,
                                         int positions,
                                         const ChainsWith *with)
{
    CudaOpTimer timer(*this, "other");
    kernels::StateAppendParams p;
    int rows = 0;
    for (int k = 0; k < n; ++k) {
        const StateAppend &a = appends[k];
        if (a.first < 0 || a.count < 0 || a.first + a.count > positions)
            return fail(Error::Kind::InvalidArgument, "appendStateRows: bad append");
        kernels::StateAppendSegment &sg = p.seg[k];
        sg.dst = a.dst;
        sg.src = a.src;
        sg.ape = a.ape ? device(a.ape) : nullptr;
        sg.slot_mask = a.ringRows - 1;
        sg.rows = a.rows == StateAppend::Rows::Packed ? kernels::StateRows::Packed
                  : a.rows == StateAppend::Rows::Bf16 ? kernels::StateRows::Bf16
                                                      : kernels::StateRows::F32;
        sg.width = a.width;
        sg.rope = a.rope;
        sg.first = a.first;
        sg.count = a.count;
        sg.period = a.period;
        // Rows of the chain's result (the window's kv rows): stored by the chain's blocks.
        if (chain && !a.ape && a.width == chain->dim && a.src >= chain->x
            && a.src < chain->x + static_cast<int64_t>(chain->rows) * chain->dim
            && (a.src - chain->x) % chain->dim == 0)
            sg.chain_row = static_cast<int>((a.src - chain->x) / chain->dim);
        rows += a.count;
    }
    p.segments = n;
    if (rows == 0) {
        for (int k = 0; chain && with && k < with->count; ++k)
            FATHOM_TRY(rowChain(*with->chains[k]));
        return chain ? rowChain(*chain) : Result<void>{};
    }
    DeviceInts pos; // lives until the launch is enqueued
    if (rows > 0) {
        FATHOM_TRY_ASSIGN(pos, uploadInts(hostPositions, positions, "positions"));
        p.positions = pos.data();
    }
    if (!chain) {
        FATHOM_CUDA_OP("append_state_rows",
                       kernels::append_state_rows_cuda(p, m_stateInexact, m_stream));
        return {};
    }
    const kernels::RowChainParams d = deviceChain(*chain);
    if (with && with->count > 0) {
        kernels::RowChainsWith w;
        w.count = with->count;
        for (int k = 0; k < w.count; ++k)
            w.chain[k] = deviceChain(*with->chains[k]);
        // The weights' first m_l2AheadBytes (uploaded, 16-byte aligned; whole 16-byte pieces).
        int64_t ahead = m_l2AheadBytes;
        for (int j = 0; j < kernels::k_row_chains_prefetch && ahead > 0; ++j) {
            const LinearWeight *lw = with->prefetch[j];
            if (!lw || !lw->valid())
                continue;
            const void *dw = device(lw->weight);
            if (dw == lw->weight || reinterpret_cast<uintptr_t>(dw) % 16 != 0)
                continue;
            const int64_t bytes = std::min(lw->bytes(), ahead) / 16 * 16;
            w.prefetch[j] = dw;
            w.prefetch_bytes[j] = bytes;
            ahead -= bytes;
        }
        FATHOM_CUDA_OP("row_chains_append",
                       kernels::row_chains_append_cuda(d, p, w, m_stateInexact, m_stream));
        return {};
    }
    FATHOM_CUDA_OP("row_chain_append",
                   kernels::row_chain_append_cuda(d, p, m_stateInexact, m_stream));
    return {};
}

Result<int64_t> CudaExecutor::stateRowsInexact()
{
    int v = 0;
    FATHOM_TRY(copyToHost(&v, m_stateInexact, sizeof(int)));
    FATHOM_TRY(synchronize());
    return int64_t(v);
}

Result<void> CudaExecutor::moeCombine(float *y,
                                      const float *routed,
                                      const float *shared,
                                      const int32_t *hostIds,
                                      int rows,
                                      int k,
                                      int d)
{
    CudaOpTimer timer(*this, "other");
    if (rows == 0)
        return {};
    FATHOM_TRY_ASSIGN(DeviceInts ids,
                      uploadInts(hostIds, static_cast<int64_t>(rows) * k, "expert ids"));
    return FATHOM_CUDA_GLUE(cudaglue::moeCombine(y, routed, shared, ids.data(), rows, k, d, m_stream),
                            "moe_combine");
}

Result<void> CudaExecutor::addBroadcastRoundBf16(
    float *out, const float *a, const float *b, int rows, int n, int d)
{
    CudaOpTimer timer(*this, "other");
    return FATHOM_CUDA_GLUE(cudaglue::addBroadcastRoundBf16(out, a, b, rows, n, d, m_stream),
                            "add_broadcast_round_bf16");
}

} // namespace fathom::engine
