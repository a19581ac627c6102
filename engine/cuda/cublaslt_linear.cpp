// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "cublaslt_linear.h"

#include "engine/core/log.h"
#include "kernels/linear_fp8_cublaslt.h"

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <vector>

namespace fathom::engine {

namespace {

constexpr size_t kWorkspaceBytes = size_t(32) << 20;

bool aligned16(const void *p)
{
    return (reinterpret_cast<uintptr_t>(p) & 15u) == 0;
}

// Whether stream is being captured (nothing may be allocated then); false when the runtime
// cannot say.
bool captureState(CUstream_st *stream, bool *capturing)
{
    cudaStreamCaptureStatus cs = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(stream, &cs) != cudaSuccess) {
        cudaGetLastError();
        return false;
    }
    *capturing = cs != cudaStreamCaptureStatusNone;
    return true;
}

} // namespace

// The entry points used, resolved from libcublasLt with dlsym (declarations from cublasLt.h).
struct CublasLtLinear::Api
{
    void *lib = nullptr;
#define FATHOM_LT_FN(name) decltype(&::name) name = nullptr;
    FATHOM_LT_FN(cublasLtCreate)
    FATHOM_LT_FN(cublasLtDestroy)
    FATHOM_LT_FN(cublasLtGetStatusString)
    FATHOM_LT_FN(cublasLtMatmulDescCreate)
    FATHOM_LT_FN(cublasLtMatmulDescDestroy)
    FATHOM_LT_FN(cublasLtMatmulDescSetAttribute)
    FATHOM_LT_FN(cublasLtMatrixLayoutCreate)
    FATHOM_LT_FN(cublasLtMatrixLayoutDestroy)
    FATHOM_LT_FN(cublasLtMatmulPreferenceCreate)
    FATHOM_LT_FN(cublasLtMatmulPreferenceDestroy)
    FATHOM_LT_FN(cublasLtMatmulPreferenceSetAttribute)
    FATHOM_LT_FN(cublasLtMatmulAlgoGetHeuristic)
    FATHOM_LT_FN(cublasLtMatmul)
#undef FATHOM_LT_FN
};

struct CublasLtLinear::Plan
{
    Api *api = nullptr;
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
    cublasLtMatmulAlgo_t algo{};
    bool ok = false;
    ~Plan()
    {
        if (d)
            api->cublasLtMatrixLayoutDestroy(d);
        if (b)
            api->cublasLtMatrixLayoutDestroy(b);
        if (a)
            api->cublasLtMatrixLayoutDestroy(a);
        if (desc)
            api->cublasLtMatmulDescDestroy(desc);
    }
};

CublasLtLinear::CublasLtLinear(int device)
    : m_device(device)
{}

CublasLtLinear::~CublasLtLinear()
{
    m_plans.clear();
    for (auto &[key, p] : m_scales)
        cudaFree(p);
    cudaFree(m_q);
    cudaFree(m_xs);
    cudaFree(m_yb);
    cudaFree(m_workspace);
    for (void *ws : m_moreWorkspaces)
        cudaFree(ws);
    if (m_handle && m_api)
        m_api->cublasLtDestroy(static_cast<cublasLtHandle_t>(m_handle));
    // The library stays mapped: cuBLASLt may keep process-wide state.
}

bool CublasLtLinear::accepts(const kernels::linear_params &p)
{
    return p.w_type == kernels::linear_weight_type::fp8_e4m3 && p.m >= kMinRows && p.n > 0
           && p.k > 0 && p.n % 128 == 0 && p.k % 128 == 0 && p.x_type == kernels::act_type::f32
           && p.y_type == kernels::act_type::f32 && p.accum == kernels::linear_accum::fp32
           && (p.ldy == 0 || p.ldy % 4 == 0) && p.x && p.y && p.w && p.w_scale && aligned16(p.y)
           && aligned16(p.w);
}

void CublasLtLinear::warnOnce(const std::string &what)
{
    if (m_warned.emplace(what, true).second)
        logWarning("cuda", "cuBLASLt GEMM: " + what + "; using the SIMT kernel");
}

bool CublasLtLinear::load()
{
    if (m_tried)
        return m_handle != nullptr;
    m_tried = true;
    auto api = std::make_unique<Api>();
    for (const char *name : {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"}) {
        api->lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (api->lib)
            break;
    }
    if (!api->lib) {
        const char *err = dlerror();
        m_why = std::string("libcublasLt not loadable (") + (err ? err : "dlopen failed") + ")";
        warnOnce(m_why);
        return false;
    }
    bool all = true;
#define FATHOM_LT_SYM(name) \
    api->name = reinterpret_cast<decltype(api->name)>(dlsym(api->lib, #name)); \
    all = all && api->name != nullptr;
    FATHOM_LT_SYM(cublasLtCreate)
    FATHOM_LT_SYM(cublasLtDestroy)
    FATHOM_LT_SYM(cublasLtGetStatusString)
    FATHOM_LT_SYM(cublasLtMatmulDescCreate)
    FATHOM_LT_SYM(cublasLtMatmulDescDestroy)
    FATHOM_LT_SYM(cublasLtMatmulDescSetAttribute)
    FATHOM_LT_SYM(cublasLtMatrixLayoutCreate)
    FATHOM_LT_SYM(cublasLtMatrixLayoutDestroy)
    FATHOM_LT_SYM(cublasLtMatmulPreferenceCreate)
    FATHOM_LT_SYM(cublasLtMatmulPreferenceDestroy)
    FATHOM_LT_SYM(cublasLtMatmulPreferenceSetAttribute)
    FATHOM_LT_SYM(cublasLtMatmulAlgoGetHeuristic)
    FATHOM_LT_SYM(cublasLtMatmul)
#undef FATHOM_LT_SYM
    if (!all) {
        m_why = "libcublasLt lacks an entry point (older than CUDA 12.9?)";
        warnOnce(m_why);
        return false;
    }
    cublasLtHandle_t h = nullptr;
    if (cublasStatus_t st = api->cublasLtCreate(&h); st != CUBLAS_STATUS_SUCCESS) {
        m_why = std::string("cublasLtCreate failed: ") + api->cublasLtGetStatusString(st);
        warnOnce(m_why);
        return false;
    }
    if (cudaMalloc(&m_workspace, kWorkspaceBytes) != cudaSuccess) {
        cudaGetLastError();
        api->cublasLtDestroy(h);
        m_why = "cannot allocate the 32 MiB cuBLASLt workspace";
        warnOnce(m_why);
        return false;
    }
    m_workspaceBytes = kWorkspaceBytes;
    m_handle = h;
    m_api = std::move(api);
    return true;
}

bool CublasLtLinear::available()
{
    return load();
}

bool CublasLtLinear::reserveWorkspaces(int count, CUstream_st *stream)
{
    if (workspaces() >= count)
        return true;
    bool capturing = true;
    if (!load() || !captureState(stream, &capturing) || capturing)
        return false;
    while (workspaces() < count) {
        void *ws = nullptr;
        if (cudaMalloc(&ws, m_workspaceBytes) != cudaSuccess) {
            cudaGetLastError();
            warnOnce("cannot allocate another 32 MiB workspace for concurrent streams");
            return false;
        }
        m_moreWorkspaces.push_back(ws);
    }
    return true;
}

bool CublasLtLinear::runQuantized(const uint8_t *w,
                                  const float *wScales,
                                  int n,
                                  int k,
                                  const uint8_t *xq,
                                  const float *xScales,
                                  int m,
                                  float *y,
                                  int64_t ldy,
                                  CUstream_st *stream,
                                  int workspace)
{
    if (!w || !wScales || !xq || !xScales || !y || m <= 0 || n <= 0 || k <= 0 || n % 128 != 0
        || k % 128 != 0 || (ldy != 0 && (ldy < n || ldy % 4 != 0)) || !aligned16(w)
        || !aligned16(xq) || !aligned16(y) || !load() || workspace < 0 || workspace >= workspaces())
        return false;
    ++m_stats.fallbacks; // undone below on success
    // The plans are run()'s (same operand types, scale modes and D type; keyed by shape).
    kernels::linear_params p;
    p.m = m;
    p.n = n;
    p.k = k;
    p.ldy = ldy;
    Plan *pl = plan(p, Operands::E4m3ToF32, wScales, xScales);
    if (!pl
        || !matmul(pl, w, wScales, xq, xScales, y, 0.0f, stream, "folded FP4 experts", workspace))
        return false;
    --m_stats.fallbacks;
    ++m_stats.calls;
    return true;
}

// D = op(A) op(B) + beta D on pl, with the block scales' pointers set on its descriptor first
// where the operands have them (per call: the plans are shared by shape); false (warned once)
// when cuBLASLt refuses.
bool CublasLtLinear::matmul(Plan *pl,
                            const void *w,
                            const float *wScales,
                            const void *x,
                            const float *xScales,
                            void *d,
                            float beta,
                            CUstream_st *stream,
                            const char *what,
                            int workspace)
{
    Api &a = *m_api;
    void *ws = workspace == 0 ? m_workspace : m_moreWorkspaces[workspace - 1];
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    if (wScales) {
        const void *sa = wScales, *sb = xScales;
        st = a.cublasLtMatmulDescSetAttribute(pl->desc,
                                              CUBLASLT_MATMUL_DESC_A_SCALE_POINTER,
                                              &sa,
                                              sizeof sa);
        if (st == CUBLAS_STATUS_SUCCESS)
            st = a.cublasLtMatmulDescSetAttribute(pl->desc,
                                                  CUBLASLT_MATMUL_DESC_B_SCALE_POINTER,
                                                  &sb,
                                                  sizeof sb);
    }
    const float alpha = 1.0f;
    if (st == CUBLAS_STATUS_SUCCESS)
        st = a.cublasLtMatmul(static_cast<cublasLtHandle_t>(m_handle),
                              pl->desc,
                              &alpha,
                              w,
                              pl->a,
                              x,
                              pl->b,
                              &beta,
                              d,
                              pl->d,
                              d,
                              pl->d,
                              &pl->algo,
                              ws,
                              m_workspaceBytes,
                              stream);
    if (st != CUBLAS_STATUS_SUCCESS) {
        warnOnce(std::string("cublasLtMatmul (") + what + ") failed ("
                 + a.cublasLtGetStatusString(st) + ")");
        return false;
    }
    return true;
}

const float *CublasLtLinear::weightScales(const kernels::linear_params &p,
                                          const uint8_t *hostScale,
                                          bool capturing)
{
    if (auto it = m_scales.find(hostScale); it != m_scales.end())
        return it->second;
    if (capturing || !hostScale)
        return nullptr;
    const int64_t count = kernels::fp8_blk128_scale_count(p.n, p.k);
    std::vector<float> host(static_cast<size_t>(count));
    kernels::fp8_blk128_scales_from_e8m0(hostScale, p.n, p.k, host.data());
    float *dev = nullptr;
    if (cudaMalloc(&dev, host.size() * sizeof(float)) != cudaSuccess) {
        cudaGetLastError();
        warnOnce("out of device memory for the fp32 weight scales");
        return nullptr;
    }
    // Synchronous: the host vector dies here (once per weight).
    if (cudaMemcpy(dev, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice)
        != cudaSuccess) {
        cudaGetLastError();
        cudaFree(dev);
        warnOnce("weight scale upload failed");
        return nullptr;
    }
    m_scales.emplace(hostScale, dev);
    return dev;
}

bool CublasLtLinear::ensureScratch(
    size_t qBytes, size_t sBytes, size_t yBytes, bool capturing, CUstream_st *stream)
{
    if (qBytes <= m_qBytes && sBytes <= m_xsBytes && yBytes <= m_ybBytes)
        return true;
    if (capturing)
        return false;
    // Earlier GEMMs on the stream may still read the old blocks.
    if (cudaStreamSynchronize(stream) != cudaSuccess)
        return false;
    if (qBytes > m_qBytes) {
        cudaFree(m_q);
        m_q = nullptr;
        m_qBytes = 0;
        if (cudaMalloc(&m_q, qBytes) != cudaSuccess) {
            cudaGetLastError();
            m_q = nullptr;
            return false;
        }
        m_qBytes = qBytes;
    }
    if (sBytes > m_xsBytes) {
        cudaFree(m_xs);
        m_xs = nullptr;
        m_xsBytes = 0;
        if (cudaMalloc(&m_xs, sBytes) != cudaSuccess) {
            cudaGetLastError();
            m_xs = nullptr;
            return false;
        }
        m_xsBytes = sBytes;
    }
    if (yBytes > m_ybBytes) {
        cudaFree(m_yb);
        m_yb = nullptr;
        m_ybBytes = 0;
        if (cudaMalloc(&m_yb, yBytes) != cudaSuccess) {
            cudaGetLastError();
            m_yb = nullptr;
            return false;
        }
        m_ybBytes = yBytes;
    }
    return true;
}

CublasLtLinear::Plan *CublasLtLinear::plan(const kernels::linear_params &p,
                                           Operands ops,
                                           const void *scaleA,
                                           const void *scaleB)
{
    const bool bf16In = ops == Operands::Bf16ToF32, bf16D = ops == Operands::E4m3ToBf16;
    // A bf16 D goes to the packed scratch m_yb (then widened into y).
    const int64_t ldy = bf16D ? p.n : (p.ldy ? p.ldy : p.n);
    const auto key = std::make_tuple(p.m, p.n, p.k, ldy, static_cast<int64_t>(ops));
    if (auto it = m_plans.find(key); it != m_plans.end())
        return it->second->ok ? it->second.get() : nullptr;
    auto pl = std::make_unique<Plan>();
    pl->api = m_api.get();
    Api &a = *m_api;
    Plan *raw = pl.get();
    m_plans.emplace(key, std::move(pl));
    auto bad = [&](const char *what, cublasStatus_t st) {
        warnOnce(std::string(what) + " failed (" + a.cublasLtGetStatusString(st) + ")");
        return nullptr;
    };
    // D (n x m, column-major, ld = ldy) = op(A) op(B): A = W stored k x n (ld k), transposed;
    // B = x (its e4m3 codes, or its bf16 hi / lo) stored k x m (ld k). That is y [m, n] row-major.
    cublasStatus_t st = a.cublasLtMatmulDescCreate(&raw->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    if (st != CUBLAS_STATUS_SUCCESS)
        return bad("cublasLtMatmulDescCreate", st);
    const cublasOperation_t opT = CUBLAS_OP_T, opN = CUBLAS_OP_N;
    const int32_t modeA = CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F;
    const int32_t modeB = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
    struct Attr
    {
        cublasLtMatmulDescAttributes_t attr;
        const void *v;
        size_t size;
    };
    const Attr attrs[] = {Attr{CUBLASLT_MATMUL_DESC_TRANSA, &opT, sizeof opT},
                          Attr{CUBLASLT_MATMUL_DESC_TRANSB, &opN, sizeof opN},
                          // e4m3 only (bf16 operands have no block scales):
                          Attr{CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &modeA, sizeof modeA},
                          Attr{CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &modeB, sizeof modeB},
                          // Set before the heuristic too (each call sets them again).
                          Attr{CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &scaleA, sizeof scaleA},
                          Attr{CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &scaleB, sizeof scaleB}};
    for (size_t i = 0; i < (bf16In ? 2 : std::size(attrs)); ++i) {
        st = a.cublasLtMatmulDescSetAttribute(raw->desc, attrs[i].attr, attrs[i].v, attrs[i].size);
        if (st != CUBLAS_STATUS_SUCCESS)
            return bad("cublasLtMatmulDescSetAttribute (transposes, scale modes, pointers)", st);
    }
    const cudaDataType_t in = bf16In ? CUDA_R_16BF : CUDA_R_8F_E4M3;
    st = a.cublasLtMatrixLayoutCreate(&raw->a, in, p.k, p.n, p.k);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = a.cublasLtMatrixLayoutCreate(&raw->b, in, p.k, p.m, p.k);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = a.cublasLtMatrixLayoutCreate(&raw->d, bf16D ? CUDA_R_16BF : CUDA_R_32F, p.n, p.m, ldy);
    if (st != CUBLAS_STATUS_SUCCESS)
        return bad("cublasLtMatrixLayoutCreate", st);
    const char *what = bf16In  ? "bf16 x bf16 -> f32"
                       : bf16D ? "e4m3 x e4m3 -> bf16 with 128x128 / 1x128 block scales"
                               : "e4m3 x e4m3 -> f32 with 128x128 / 1x128 block scales";
    return chooseAlgo(raw, what) ? raw : nullptr;
}

// The heuristic's first algorithm for raw's descriptor and layouts (C = D); false (warned once)
// where there is none.
bool CublasLtLinear::chooseAlgo(Plan *raw, const std::string &what)
{
    Api &a = *m_api;
    cublasLtMatmulPreference_t pref = nullptr;
    cublasStatus_t st = a.cublasLtMatmulPreferenceCreate(&pref);
    if (st != CUBLAS_STATUS_SUCCESS) {
        warnOnce(std::string("cublasLtMatmulPreferenceCreate failed (")
                 + a.cublasLtGetStatusString(st) + ")");
        return false;
    }
    const uint64_t ws = m_workspaceBytes;
    a.cublasLtMatmulPreferenceSetAttribute(pref,
                                           CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                           &ws,
                                           sizeof ws);
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    st = a.cublasLtMatmulAlgoGetHeuristic(static_cast<cublasLtHandle_t>(m_handle),
                                          raw->desc,
                                          raw->a,
                                          raw->b,
                                          raw->d,
                                          raw->d,
                                          pref,
                                          1,
                                          &result,
                                          &found);
    a.cublasLtMatmulPreferenceDestroy(pref);
    if (st != CUBLAS_STATUS_SUCCESS || found == 0) {
        warnOnce("no algorithm for " + what + " (" + a.cublasLtGetStatusString(st) + ")");
        return false;
    }
    raw->algo = result.algo;
    raw->ok = true;
    return true;
}

bool CublasLtLinear::acceptsDense(const kernels::linear_params &p)
{
    return p.w_type == kernels::linear_weight_type::bf16 && p.m >= kMinRows && p.n > 0 && p.k > 0
           && p.k % 8 == 0 && p.x_type == kernels::act_type::f32
           && p.y_type == kernels::act_type::f32 && p.accum == kernels::linear_accum::fp32
           && (p.ldy == 0 || p.ldy % 4 == 0) && p.x && p.y && p.w && aligned16(p.y)
           && aligned16(p.w);
}

bool CublasLtLinear::runDense(const kernels::linear_params &p, CUstream_st *stream)
{
    if (!acceptsDense(p) || !load())
        return false;
    bool capturing = false;
    if (!captureState(stream, &capturing))
        return false;
    ++m_stats.fallbacks; // undone below on success
    // hi and lo, packed [m, k] bf16 each, in the activation scratch.
    const size_t half = static_cast<size_t>(p.m) * p.k;
    if (!ensureScratch(half * 2 * sizeof(uint16_t), 0, 0, capturing, stream))
        return false;
    Plan *pl = plan(p, Operands::Bf16ToF32, nullptr, nullptr);
    if (!pl)
        return false;
    uint16_t *hi = reinterpret_cast<uint16_t *>(m_q), *lo = hi + half;
    if (!kernels::split_bf16_rows_cuda(static_cast<const float *>(p.x), p.m, p.k, p.ldx, hi, lo, stream)
             .ok()) {
        warnOnce("splitting the activations into bf16 hi + lo failed");
        return false;
    }
    if (!matmul(pl, p.w, nullptr, hi, nullptr, p.y, 0.0f, stream, "bf16 hi")
        || !matmul(pl, p.w, nullptr, lo, nullptr, p.y, 1.0f, stream, "bf16 lo"))
        return false;
    --m_stats.fallbacks;
    ++m_stats.calls;
    return true;
}

bool CublasLtLinear::run(const kernels::linear_params &p,
                         const uint8_t *hostScale,
                         CUstream_st *stream,
                         bool bf16Output)
{
    if (!accepts(p) || !load())
        return false;
    bool capturing = false;
    if (!captureState(stream, &capturing))
        return false;
    ++m_stats.fallbacks; // undone below on success
    const float *ws = weightScales(p, hostScale, capturing);
    if (!ws)
        return false;
    const size_t qBytes = static_cast<size_t>(p.m) * p.k;
    const size_t sBytes = static_cast<size_t>(p.m) * (p.k / 128) * sizeof(float);
    if (!ensureScratch(qBytes, sBytes, 0, capturing, stream))
        return false;
    Plan *pl = plan(p, Operands::E4m3ToF32, ws, m_xs);
    const bool viaBf16 = !pl && bf16Output;
    if (viaBf16) {
        const size_t yBytes = static_cast<size_t>(p.m) * p.n * 2;
        if (!ensureScratch(qBytes, sBytes, yBytes, capturing, stream))
            return false;
        pl = plan(p, Operands::E4m3ToBf16, ws, m_xs);
    }
    if (!pl)
        return false;
    const kernels::Status qs = kernels::act_quant_fp8_vec128_cuda(static_cast<const float *>(p.x),
                                                                  p.m,
                                                                  p.k,
                                                                  p.ldx,
                                                                  m_q,
                                                                  m_xs,
                                                                  stream);
    if (!qs.ok()) {
        warnOnce("activation quantisation failed");
        return false;
    }
    void *d = viaBf16 ? static_cast<void *>(m_yb) : p.y;
    if (!matmul(pl, p.w, ws, m_q, m_xs, d, 0.0f, stream, "FP8"))
        return false;
    if (viaBf16
        && !kernels::widen_bf16_rows_cuda(m_yb, p.m, p.n, static_cast<float *>(p.y), p.ldy, stream)
                .ok()) {
        warnOnce("widening the bf16 output failed");
        return false;
    }
    --m_stats.fallbacks;
    ++m_stats.calls;
    return true;
}

} // namespace fathom::engine
