// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// The forward pass's device-memory paths without a GPU: a "pretend device" executor runs the
// CPU ops but says its memory is not host-addressable, so V4Forward takes every path a CUDA
// executor takes (uploads of index lists, read-backs of expert ids and indexer selections,
// sequence state moved into executor memory with copy-on-write rows, read-back for save()).
// Its fresh buffers are filled with NaN bytes, so any read of memory the forward pass did not
// write shows up. Logits must equal the plain CPU executor's bit for bit (same ops, same
// inputs), for prefill, chunked prefill, decode, batches, copies, save/restore and truncate.

#include "engine/cpu/cpuexecutor.h"
#include "engine/model/modelweights.h"
#include "engine/runtime/forward.h"
#include "engine/runtime/goldenrun.h"
#include "engine/runtime/v4model.h"
#include "testdata.h"

#include <QTest>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <set>

using namespace fathom::engine;
namespace kernels = fathom::kernels;

namespace {

class PretendDevice final : public Executor
{
public:
    const char *name() const override { return "pretend-device"; }
    bool hostAddressable() const override { return false; }
    std::string deviceName() const override { return "pretend device"; }
    Result<void *> allocate(size_t bytes, const char *what) override
    {
        void *p = std::malloc(bytes ? bytes : 1);
        if (!p)
            return fail(Error::Kind::OutOfMemory, std::string("pretend device: ") + what);
        std::memset(p, 0xFF, bytes); // NaN: reading unwritten memory poisons the logits
        m_live.insert(p);
        ++allocations;
        return p;
    }
    void release(void *p) override
    {
        if (m_live.erase(p))
            std::free(p);
    }
    Result<void> copyToHost(void *dst, const void *src, size_t bytes) override
    {
        ++toHost;
        return copy(dst, src, bytes);
    }
    Result<void> copyFromHost(void *dst, const void *src, size_t bytes) override
    {
        ++fromHost;
        return copy(dst, src, bytes);
    }
    size_t live() const { return m_live.size(); }

    Result<void> linear(const LinearWeight &w,
                        const float *x,
                        int m,
                        float *y,
                        LinearOutput out,
                        int64_t ldx,
                        int64_t ldy) override
    {
        return m_cpu.linear(w, x, m, y, out, ldx, ldy);
    }
    Result<void> rmsNorm(const kernels::RmsNormParams &p) override { return m_cpu.rmsNorm(p); }
    Result<void> headRmsNormBf16(float *x, int rows, int dim, float eps) override
    {
        return m_cpu.headRmsNormBf16(x, rows, dim, eps);
    }
    Result<void> rope(const kernels::RopeParams &p) override { return m_cpu.rope(p); }
    Result<void> mhcPre(const kernels::MhcPreParams &p) override { return m_cpu.mhcPre(p); }
    Result<void> mhcPost(const kernels::MhcPostParams &p) override { return m_cpu.mhcPost(p); }
    Result<void> mhcHead(const kernels::MhcHeadParams &p) override { return m_cpu.mhcHead(p); }
    Result<void> compressorPool(const kernels::CompressorPoolParams &p) override
    {
        return m_cpu.compressorPool(p);
    }
    Result<void> hadamard(float *x, int rows, int n, float scale) override
    {
        return m_cpu.hadamard(x, rows, n, scale);
    }
    Result<void> fakeQuantE4m3(float *x, int rows, int rowStride, int dims, int block) override
    {
        return m_cpu.fakeQuantE4m3(x, rows, rowStride, dims, block);
    }
    Result<void> fakeQuantE2m1(float *x, int rows, int rowStride, int dims, int block) override
    {
        return m_cpu.fakeQuantE2m1(x, rows, rowStride, dims, block);
    }
    Result<void> indexerScores(const kernels::IndexerScoreParams &p) override
    {
        return m_cpu.indexerScores(p);
    }
    Result<void> topk(const float *values, int n, int k, int32_t *outIdx) override
    {
        return m_cpu.topk(values, n, k, outIdx);
    }
    Result<void> sparseAttention(const kernels::SparseAttnParams &p) override
    {
        return m_cpu.sparseAttention(p);
    }
    Result<void> moeRoute(const kernels::MoeRouteParams &p) override { return m_cpu.moeRoute(p); }
    Result<void> swiglu(const kernels::SwigluParams &p) override { return m_cpu.swiglu(p); }
    Result<void> expertFfn(const std::vector<ExpertJob> &jobs, int inter, float limit) override
    {
        return m_cpu.expertFfn(jobs, inter, limit);
    }

    // appends: the block's appends through Executor::appendStateRows (its default: the old
    // sequence of ops on the pretend device).
    bool fusedStateAppends() const override { return fused; }
    bool fused = false;
    int allocations = 0, toHost = 0, fromHost = 0;

private:
    CpuExecutor m_cpu{2};
    std::set<void *> m_live;
};

struct Loaded
{
    std::unique_ptr<ModelWeights> weights;
    std::unique_ptr<V4Model> model;
    std::unique_ptr<SafetensorsFile> expected;
};

} // namespace

class tst_DeviceExecutor : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<Loaded> load(const QString &dir)
    {
        auto l = std::make_unique<Loaded>();
        auto w = ModelWeights::load(dir.toStdString());
        if (!w)
            return {};
        l->weights = std::move(*w);
        auto m = V4Model::create(*l->weights);
        if (!m)
            return {};
        l->model = std::move(*m);
        auto e = SafetensorsFile::open(
            (dir + QStringLiteral("/expected.safetensors")).toStdString());
        if (!e)
            return {};
        l->expected = std::move(*e);
        return l;
    }

private slots:
    void sameLogitsAsTheCpu_data()
    {
        QTest::addColumn<QString>("variant");
        QTest::addColumn<int>("chunk");
        QTest::addColumn<bool>("forced");
        QTest::addColumn<bool>("fused");
        for (const char *v : {"tiny-bf16", "tiny-quant"})
            for (int chunk : {0, 5})
                for (bool forced : {true, false})
                    QTest::addRow("%s/chunk%d/%s", v, chunk, forced ? "forced" : "own")
                        << QString::fromLatin1(v) << chunk << forced << false;
        for (const char *v : {"tiny-bf16", "tiny-quant"})
            QTest::addRow("%s/chunk5/own/fused-appends", v)
                << QString::fromLatin1(v) << 5 << false << true;
    }

    void sameLogitsAsTheCpu()
    {
        QFETCH(QString, variant);
        QFETCH(int, chunk);
        QFETCH(bool, forced);
        QFETCH(bool, fused);
        FATHOM_TESTDATA_PATH(dir, "v4");
        auto l = load(dir + QLatin1Char('/') + variant);
        QVERIFY(l);
        const ModelConfig &c = l->model->config();
        auto prompt = goldenInts(*l->expected, "prompt_tokens");
        auto decode = goldenInts(*l->expected, "decode_tokens");
        QVERIFY(prompt && decode);
        const int B = static_cast<int>(l->expected->find("prompt_tokens")->dim(0));
        const int S = static_cast<int>(l->expected->find("prompt_tokens")->dim(1));
        const int T = static_cast<int>(l->expected->find("decode_tokens")->dim(1));
        LogitsRequest req;
        for (int b = 0; b < B; ++b) {
            req.prompt.emplace_back(prompt->begin() + b * S, prompt->begin() + (b + 1) * S);
            req.decode.emplace_back(decode->begin() + b * T, decode->begin() + (b + 1) * T);
        }
        req.chunk = chunk;
        std::optional<GoldenRouting> routing;
        if (forced) {
            auto g = GoldenRouting::load(*l->expected, c);
            QVERIFY(g);
            routing = std::move(*g);
            req.routing = &*routing;
        }
        CpuExecutor cpu(2);
        V4Forward cf(*l->model, cpu);
        auto want = runLogits(cf, c, req);
        QVERIFY2(want, want ? "" : want.error().toString().c_str());
        PretendDevice dev;
        dev.fused = fused;
        {
            V4Forward df(*l->model, dev);
            auto got = runLogits(df, c, req);
            QVERIFY2(got, got ? "" : got.error().toString().c_str());
            QVERIFY(got->prefillLast == want->prefillLast);
            QVERIFY(got->decode == want->decode);
        }
        QVERIFY(dev.toHost > 0 && dev.fromHost > 0);
        QCOMPARE(dev.live(), size_t(0)); // every buffer and state row given back
    }

    void stateInExecutorMemory_data()
    {
        QTest::addColumn<bool>("fused");
        QTest::addRow("appends") << false;
        QTest::addRow("fused-appends") << true;
    }

    void stateInExecutorMemory()
    {
        QFETCH(bool, fused);
        FATHOM_TESTDATA_PATH(dir, "v4");
        auto l = load(dir + QStringLiteral("/tiny-quant"));
        QVERIFY(l);
        const ModelConfig &c = l->model->config();
        auto prompt = goldenInts(*l->expected, "prompt_tokens");
        QVERIFY(prompt);
        const int S = static_cast<int>(l->expected->find("prompt_tokens")->dim(1));
        const int64_t V = c.vocabSize;
        const int32_t *p0 = prompt->data();
        CpuExecutor cpu(2);
        V4Forward cf(*l->model, cpu);
        PretendDevice dev;
        dev.fused = fused;
        V4Forward df(*l->model, dev);
        std::vector<float> a(V), b(V);

        SequenceState h(c), d(c);
        QVERIFY(cf.forward({{&h, p0, S, 0}}, a.data()));
        QVERIFY(df.forward({{&d, p0, S, 0}}, b.data()));
        QVERIFY(a == b);
        QCOMPARE(d.memory(), static_cast<DeviceMemory *>(&dev));
        QVERIFY(d == h);              // compared through read-backs
        QCOMPARE(d.save(), h.save()); // snapshots are layout-independent

        // A copy shares the rows until one of them appends; then both go their own way.
        SequenceState d2 = d, h2 = h;
        const int32_t t1 = p0[5], t2 = p0[9];
        QVERIFY(df.forward({{&d, &t1, 1, 0}}, b.data()));
        QVERIFY(cf.forward({{&h, &t1, 1, 0}}, a.data()));
        QVERIFY(a == b);
        QVERIFY(df.forward({{&d2, &t2, 1, 0}}, b.data()));
        QVERIFY(cf.forward({{&h2, &t2, 1, 0}}, a.data()));
        QVERIFY(a == b);
        QVERIFY(d == h && d2 == h2 && !(d == d2));

        // Truncate and re-feed; restore a host snapshot and continue on the device.
        QVERIFY(d.truncate(29) && h.truncate(29));
        QVERIFY(df.forward({{&d, p0 + 29, 8, 0}}, b.data()));
        QVERIFY(cf.forward({{&h, p0 + 29, 8, 0}}, a.data()));
        QVERIFY(a == b);
        auto r = SequenceState::restore(h2.save(), c);
        QVERIFY(r);
        QVERIFY(df.forward({{&*r, &t1, 1, 0}}, b.data()));
        QVERIFY(cf.forward({{&h2, &t1, 1, 0}}, a.data()));
        QVERIFY(a == b);

        // Back to host memory.
        QVERIFY(d.useMemory(nullptr));
        QVERIFY(d.memory() == nullptr && d == h);

        // A rewind past the history (none kept): the checkpoint's host rows go back into device
        // memory and the missing tokens are recomputed there; same logits as on the host.
        SequenceState hc(c, 0, 16), dc(c, 0, 16);
        QVERIFY(cf.forward({{&hc, p0, S, 0}}, nullptr));
        QVERIFY(df.forward({{&dc, p0, S, 0}}, nullptr));
        QVERIFY(!dc.truncate(21)); // needs compute
        QVERIFY(hc.truncate(21, &cf) && dc.truncate(21, &df));
        QCOMPARE(dc.memory(), static_cast<DeviceMemory *>(&dev));
        QVERIFY(df.forward({{&dc, p0 + 21, 5, 0}}, b.data()));
        QVERIFY(cf.forward({{&hc, p0 + 21, 5, 0}}, a.data()));
        QVERIFY(a == b);
        QVERIFY(dc == hc);
    }
};

QTEST_GUILESS_MAIN(tst_DeviceExecutor)
#include "tst_deviceexecutor.moc"
