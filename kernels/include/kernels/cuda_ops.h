// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  Host launchers of the CUDA ops (kernels/cuda, one op per .cu). Plain C++17 and no CUDA header,
  so engine code can include it; only builds with FATHOM_HAVE_CUDA link the definitions.

  Each launcher takes the params struct of its CPU twin (kernels/include/kernels/<op>.h) with
  every pointer a DEVICE pointer, and a stream (CUstream_st * is cudaStream_t). It enqueues the
  work and returns: InvalidArgument for bad shapes (checked on the host, nothing launched), or the
  launch error (DeviceError). Faults inside a kernel surface at the caller's next synchronising
  CUDA call. No launcher allocates memory or synchronises, so all of them can be captured in a
  CUDA graph.

  Numerics follow the CPU twin: the same bf16 rounding points, quantisation blocks and order of
  the fp32 roundings; reductions that the CPU accumulates exactly in double are accumulated in
  double here too, in another order, so results are bit-identical except in rare double-rounding
  cases (see tests/gpu/tst_cuda_ops.cpp for the bound checked per op).

  Thread: any host thread; a stream is used by one thread at a time.
*/

#include "kernels/compressor.h"
#include "kernels/hadamard.h"
#include "kernels/indexer.h"
#include "kernels/linear.h"
#include "kernels/mhc.h"
#include "kernels/moe.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/row_chain.h"
#include "kernels/sparse_attn.h"
#include "kernels/status.h"

#include <cstddef>
#include <cstdint>

struct CUstream_st;

namespace fathom::kernels {

// Programmatic dependent launch (kernels/cuda/cuda_common.cuh), process-wide: -1 the default (on),
// 0 off, 1 on. Launches carry the attribute only on sm_90+ devices whatever the mode. The engine
// sets it from FATHOM_CUDA_PDL; benchmarks switch it between runs.
void set_cuda_pdl(int mode);
bool cuda_pdl_enabled(); // for the current device

// ---- norms, rotations, hyper-connections --------------------------------------------------------

Status rmsnorm_cuda(const RmsNormParams &p, CUstream_st *stream);
// x: [rows, dim] bf16-valued, in place (the per-head query normalisation in bf16 arithmetic).
Status head_rmsnorm_bf16_cuda(float *x, int rows, int dim, float eps, CUstream_st *stream);

// p.freqs: device copy of rope_freqs_cpu()'s table.
Status rope_cuda(const RopeParams &p, CUstream_st *stream);

Status mhc_pre_cuda(const MhcPreParams &p, CUstream_st *stream);
Status mhc_post_cuda(const MhcPostParams &p, CUstream_st *stream);
// mhc_pre_cuda then rmsnorm_cuda of p.u in place (weight norm_weight [d] or nullptr): the
// sublayer's normalised input, the same bits. counters == nullptr: mhc_pre_cuda's two launches
// (the norm in the second); else one launch (the last block of a token finishes it), counters
// [tokens] device ints that are 0 on entry and left 0.
// nodes2: mhc_post_cuda(post) then mhc_pre_norm_cuda(pre, ...) in one launch, the same bits:
// pre.x must be post.out (the next sublayer reads the streams this post writes), post.x another
// buffer; counters as mhc_pre_norm_cuda's (required: one-launch form only, tokens <= its size).
Status mhc_post_pre_norm_cuda(const MhcPostParams &post,
                              const MhcPreParams &pre,
                              const float *norm_weight,
                              float norm_eps,
                              int *counters,
                              CUstream_st *stream);
Status mhc_pre_norm_cuda(const MhcPreParams &p,
                         const float *norm_weight,
                         float norm_eps,
                         int *counters,
                         CUstream_st *stream);
Status mhc_head_cuda(const MhcHeadParams &p, CUstream_st *stream);
// The mHC kernels' latency-cut code (1, the default unless FATHOM_CUDA_MHC_FAST=0) or the
// previous code (0), the same bits; -1: the environment's choice again. For tests and A/B runs.
void mhc_cuda_set_fast(int fast);
// The pre's and head's dots at prefill sizes tiled (1, the default unless FATHOM_CUDA_MHC_TILE=0:
// T tokens a block, x staged in shared memory, >= 256 tokens and the fast code only), off (0), or
// tiled at any token count (2, tests); -1: the environment's choice again. The same bits.
void mhc_cuda_set_tile(int tile);

// The row chains of row_chain.h in one launch (one block per row); p's pointers on the device.
Status row_chain_cuda(const RowChainParams &p, CUstream_st *stream);

// x: [rows, n] bf16-valued, in place.
Status hadamard_cuda(float *x, int rows, int n, float scale, CUstream_st *stream);

// ---- quantisation -------------------------------------------------------------------------------

// In place on dims [0, dims) of [rows, row_stride] bf16-valued rows: quantise-dequantise through
// e4m3 (KV nope dims, block 64) or e2m1 (indexer, block 32) with power-of-two scales (quant.h).
Status fake_quant_e4m3_cuda(
    float *x, int rows, int row_stride, int dims, int block, CUstream_st *stream);
Status fake_quant_e2m1_cuda(
    float *x, int rows, int row_stride, int dims, int block, CUstream_st *stream);

// ---- compressor ---------------------------------------------------------------------------------

// One entry, exactly compressor_pool_cpu.
Status compressor_pool_cuda(const CompressorPoolParams &p, CUstream_st *stream);
/**
  Prefill: n_entries consecutive windows pooled at once. Entry i reads the window rows
  kv/score + i * ratio * width (width = 2*dc overlapped, dc otherwise) and writes out + i * dc.
  Overlapped: entry i > 0 takes window i − 1 as its previous window; entry 0 takes p.prev_kv /
  p.prev_score (nullptr for the sequence's first entry), as the CPU op would per entry.
*/
Status compressor_pool_batched_cuda(const CompressorPoolParams &p,
                                    int n_entries,
                                    CUstream_st *stream);
/**
  Decode from ring rows (a replayable step graph): one entry whose window rows start at a slot
  read from device memory, so the launch is the same whatever the position. p.kv / p.score /
  p.prev_kv / p.prev_score are the rings' bases (rows of width 2*dc overlapped, dc otherwise);
  slots[4] (device): the first slot of the window in the kv ring, of the previous window in the
  kv ring, of the window in the score ring, of the previous window in the score ring. The
  window's rows must not wrap (a ring of a multiple of ratio rows, windows at multiples of it).
*/
Status compressor_pool_slots_cuda(const CompressorPoolParams &p,
                                  const int32_t *slots,
                                  CUstream_st *stream);

// ---- lightning indexer --------------------------------------------------------------------------

Status indexer_scores_cuda(const IndexerScoreParams &p, CUstream_st *stream);
/**
  n_q queries at once: q [n_q, n_heads, dim], weights [n_q, n_heads], scores [n_q, scores_ld]
  (p.q / p.weights / p.scores point at query 0; keys shared). Each row scores all p.n_keys keys;
  the caller limits the candidates with topk_rows_cuda's row_n. With row_n (device [n_q]), row
  r skips the 16-key tiles at or past row_n[r] (their scores are left unwritten): p.n_keys may
  then be a cache's capacity, so the launch stays the same while the visible count grows.
*/
Status indexer_scores_rows_cuda(const IndexerScoreParams &p,
                                int n_q,
                                int64_t scores_ld,
                                CUstream_st *stream,
                                const int32_t *row_n = nullptr);

/**
  idxchain: the sparse attention's index rows written by topk_rows_cuda's launch (a CSA decode
  step's sparse_indices, engine/cuda/cudaglue.cu buildSparseIndices with ratio 4): row r of out
  [rows, n_idx] for the query at position P = step[0] + r holds the window's rows
  max(0, P - window + 1) .. P (ring_mask > 0: position & ring_mask, a ring's slots; else
  position - step[1]), then n_win + the row's selections in order, then -1; all cut at n_idx.
  step is device data [2] (a replayed graph's upload).
*/
struct TopkIndexRows
{
    int32_t *out = nullptr;
    const int32_t *step = nullptr;
    int32_t n_idx = 0;
    int32_t ring_mask = 0;
    int32_t window = 0;
    int32_t n_win = 0;
};

/** topk_cpu on the device: values [n] (device), out_idx [k] (device). k <= 2048. */
Status topk_cuda(const float *values, int n, int k, int32_t *out_idx, CUstream_st *stream);
/**
  Row-wise top-k: values [rows, ld]; row r considers its first row_n[r] values (row_n: device
  [rows], may be nullptr = n for every row) and writes min(k, row_n[r]) indices in topk_cpu's
  order to out [rows, out_ld], the remaining slots −1 (the reference's masked entries).
  k <= 2048. index_rows (may be nullptr; idxchain): also the attention's index rows from the
  selections, in the same launch (TopkIndexRows above).
*/
Status topk_rows_cuda(const float *values,
                      int rows,
                      int64_t ld,
                      int n,
                      const int32_t *row_n,
                      int k,
                      int32_t *out,
                      int64_t out_ld,
                      CUstream_st *stream,
                      const TopkIndexRows *index_rows = nullptr);

/**
  idxtopk: a decode indexer's scores and top-k in one launch - indexer_scores_rows_cuda of n_q
  (< k_min_fast_rows) rows, then topk_rows_cuda(p.scores, n_q, scores_ld, p.n_keys, row_n, o.k,
  o.out, o.out_ld, stream, o.index_rows), with the same bits: the last scoring block of each row
  (cuda::arrive_last on o.counters[r], n_q zeroed device ints that the launch leaves at 0) stages
  the row's scores (p.scores, still written) in shared memory and runs topk_kernel's body
  (topk_row.cuh) with the scoring block's threads. indexer_topk_fused_fits: whether the shape
  takes the fused launch (the row's scores and the sort in k_indexer_topk_max_smem bytes of shared
  memory); otherwise the launchers return Status::unsupported and the caller launches the two.
  The _fast_ variant scores as indexer_scores_rows_fast_cuda (and falls back as it does).
*/
struct IndexerTopkOut
{
    int32_t *out = nullptr;                    // [n_q, out_ld] selections
    const TopkIndexRows *index_rows = nullptr; // may be nullptr
    int *counters = nullptr;                   // [n_q] zeroed device ints, left at 0
    int64_t out_ld = 0;
    int32_t k = 0; // 1..2048
    int32_t pad = 0;
};
constexpr size_t k_indexer_topk_max_smem = 96 * 1024;
bool indexer_topk_fused_fits(const IndexerScoreParams &p, int n_q, int k);
Status indexer_topk_rows_cuda(const IndexerScoreParams &p,
                              int n_q,
                              int64_t scores_ld,
                              const int32_t *row_n,
                              const IndexerTopkOut &o,
                              CUstream_st *stream);
Status indexer_topk_rows_fast_cuda(const IndexerScoreParams &p,
                                   int n_q,
                                   int64_t scores_ld,
                                   const int32_t *row_n,
                                   const IndexerTopkOut &o,
                                   CUstream_st *stream);

// ---- attention ----------------------------------------------------------------------------------

// Decode (n_q = 1) and prefill (n_q > 1) alike. head_dim <= 512, p.block = 64 is the reference's.
Status sparse_attn_cuda(const SparseAttnParams &p, CUstream_st *stream);

// ---- non-exact prefill variants on tensor cores (CudaExecutor without exact linears) ------------

/**
  Not bit-identical to the CPU: bf16 mma.sync with fp32 sums (tst_cuda_ops checks the bounds).
  Both launchers take the exact entry points' arguments, run decode variants (below) for fewer
  than k_min_fast_rows query rows, and fall back to the exact kernels (same results as those)
  for shapes the tensor-core kernels do not handle (indexer: dim a multiple of 16, <= 128; attention: head_dim a multiple of 32, <= 512,
  block <= 64).
*/
constexpr int k_min_fast_rows = 8;
bool indexer_scores_mma_supported(int n_heads, int dim);
Status indexer_scores_rows_fast_cuda(const IndexerScoreParams &p,
                                     int n_q,
                                     int64_t scores_ld,
                                     CUstream_st *stream,
                                     const int32_t *row_n = nullptr);
/*
  idx8: the e4m3 prefill indexer (m16n8k32; indexer_scores_mma.cu explains the arithmetic and the
  bound): dim 128 or 64, packed keys (p.keys_packed) and an sm_89+ device. q is packed first, once per
  call, by indexer_q_pack_e4m3_cuda (FP4-valued q, the row chain's output: e4m3 bytes in fragment
  order + a power-of-two scale per row and head, indexer_q_e4m3_bytes(n_q, n_heads, dim) bytes, exact
  for such rows); the scoring launcher then reads rows q_row0 .. q_row0 + n_q - 1 of that buffer
  (q_packed_rows rows in all) instead of p.q. Same outputs and causal rules as the fast launcher.
  split_ksteps: the 4 k-step partials summed in fp32 outside the tensor cores (chained through
  the mma accumulator otherwise: faster, relies on its precision; FATHOM_CUDA_INDEXER=e4m3split).
*/
bool indexer_scores_e4m3_supported(const IndexerScoreParams &p);
size_t indexer_q_e4m3_bytes(int n_q, int n_heads, int dim);
Status indexer_q_pack_e4m3_cuda(
    const float *q, int n_q, int n_heads, int dim, uint8_t *out, CUstream_st *stream);
Status indexer_scores_rows_e4m3_cuda(const IndexerScoreParams &p,
                                     const uint8_t *q_packed,
                                     int q_packed_rows,
                                     int q_row0,
                                     int n_q,
                                     int64_t scores_ld,
                                     CUstream_st *stream,
                                     const int32_t *row_n = nullptr,
                                     bool split_ksteps = false);
bool sparse_attn_mma_supported(const SparseAttnParams &p);
/*
  Decode (fewer than k_min_fast_rows rows): the indexer launcher runs its decode variant (heads as
  the mma's M, one block per 128 keys and row). The attention's decode variant splits each index
  row (split-KV: per split the unnormalised partial O, its maximum and denominator, then a
  log-sum-exp merge with the sink) and needs workspace (sparse_attn_decode_workspace_floats
  floats, device memory); without it the exact kernel runs, as before.
*/
size_t sparse_attn_decode_workspace_floats(const SparseAttnParams &p);
// The decode variant's shape (FATHOM_CUDA_ATTN_DECODE_SPLIT, read once): indices per split with
// 16 heads a block (a multiple of 16; 32 unless set), 0: the previous shape (64 heads a block,
// at most 32 splits of whole online-softmax blocks), -1: the environment's choice again. For
// tests and A/B runs; the workspace size and counter count follow it (set it before sizing them).
void sparse_attn_decode_set_split(int keys);
/*
  counters (the fused tail; device ints, sparse_attn_decode_counters(p) of them, zero, left zero):
  the decode variant merges its splits in the same launch (the last block of each row and head
  group to finish) instead of a second launch; the same bits. Both launchers apply the output's
  inverse RoPE (p.out_rope_positions) after their final stores (sparse_attn.h).
*/
int sparse_attn_decode_counters(const SparseAttnParams &p);
Status sparse_attn_fast_cuda(const SparseAttnParams &p,
                             CUstream_st *stream,
                             float *workspace = nullptr,
                             int *counters = nullptr);

// ---- MoE ----------------------------------------------------------------------------------------

Status moe_route_cuda(const MoeRouteParams &p, CUstream_st *stream); // n_experts <= 1024, topk <= 16
Status swiglu_cuda(const SwigluParams &p, CUstream_st *stream);

// ---- linear -------------------------------------------------------------------------------------

/**
  linear_ref / linear_cpu on the device, every weight type. FP8 and FP4 weights quantise x per
  128 block inside the kernel (no workspace). FP8/FP4 block sums are exact (the CPU's exact
  mode) except on the tensor-core GEMV (m <= 4, accum = fp32: linear_gemv_tc_enabled below);
  bf16/f32 weights accumulate in double with accum = exact and in fp32 with accum = fp32.
  Paths: m <= 4 and k % 16 == 0: a warp-per-column GEMV streaming the weights with 16-byte loads
  (decode); otherwise a tiled SIMT kernel (prefill; correct for every shape).
*/
Status linear_cuda(const linear_params &p, CUstream_st *stream);
/**
  gemvtc: whether the GEMV family (linear_cuda at m <= 4, linear_group.h's group, pre-norm and
  expert FFN forms) runs accum = fp32 items with FP8, FP4 or bf16 weights on the tensor cores
  (mma.sync, sm_89+; not bit-exact: the reference's products, fp32 sums in the mma's order, x of
  bf16 weights kept to ~16 bits as bf16 hi + lo) - unless FATHOM_CUDA_GEMV_TC=0. When false, such
  items take the exact block sums (FP8 / FP4) or fp32 FMAs (bf16) as before.
*/
bool linear_gemv_tc_enabled();
/** Several independent linears (e.g. the experts of a MoE layer), enqueued in order. */
Status linear_grouped_cuda(const linear_params *items, int count, CUstream_st *stream);

/**
  Tensor-core LINEAR (linear_mma.cu; non-exact mode only): FP8 / FP4 weights, k % 128 == 0,
  16-byte aligned weights, on sm_89+ (e4m3 mma.sync). x is activation-quantised as every LINEAR
  does; each weight block's tensor-core partial is promoted into an fp32 accumulator with
  sA * sW (FP8: per 128 block, FP4: per 32 block). Not bit-exact: within linear.h's fp32 bound
  but for the tensor cores' in-mma accumulation (Hopper keeps about 14 bits there). Unsupported
  (nothing launched) when a shape or the device does not fit.
  The grouped form launches items that share n, k, types and strides (a MoE layer's experts)
  together: one launch per up to 56 items.
  workspace (device, 16-byte aligned, >= linear_mma_workspace_bytes of the items): x is then
  quantised once per call by a pre-pass instead of once per 128-column tile (same bytes, same
  results); without one (nullptr or too small) the GEMM quantises in-kernel.
*/
Status linear_mma_cuda(const linear_params &p,
                       CUstream_st *stream,
                       void *workspace = nullptr,
                       size_t workspace_bytes = 0);
Status linear_grouped_mma_cuda(const linear_params *items,
                               int count,
                               CUstream_st *stream,
                               void *workspace = nullptr,
                               size_t workspace_bytes = 0);
size_t linear_mma_workspace_bytes(const linear_params *items, int count);
/**
  The non-exact dispatch: items with accum == fp32, FP8/FP4 weights, enough rows (a single
  linear m >= 64; a group >= 64 rows in all) on an sm_89+ device go to the tensor-core kernel,
  everything else to linear_cuda / linear_grouped_cuda (exact block sums).
*/
Status linear_tc_cuda(const linear_params &p,
                      CUstream_st *stream,
                      void *workspace = nullptr,
                      size_t workspace_bytes = 0);
Status linear_grouped_tc_cuda(const linear_params *items,
                              int count,
                              CUstream_st *stream,
                              void *workspace = nullptr,
                              size_t workspace_bytes = 0);
// Test hook: one warp runs one mma on per-lane fragments (kind 0: m16n8k32 e4m3, a [32][4],
// b [32][2], c/d [32][4] by lane; kind 1: m16n8k16 bf16, same shapes). mma_sync.cuh's layout.
Status mma_probe_cuda(
    int kind, const uint32_t *a, const uint32_t *b, const float *c, float *d, CUstream_st *stream);
// Test probe of the grid barrier (kernels/cuda/cuda_common.cuh grid_barrier, grid_barrier_probe.cu):
// a grid of `blocks` blocks runs `phases` phases with a grid barrier between each two; phase 0
// writes slots[0][b] = b * 2654435761 + 12345, phase p > 0 slots[p][b] = (sum of slots[p - 1][*])
// * 31 + b + p (uint32, wrapping). slots [phases, blocks]; state: 16 bytes of device memory
// (cuda::grid_barrier_state), zeroed once, its third 32-bit word nonzero after a wait timed out.
// InvalidArgument when blocks exceed what the device holds at once; check_resident = false skips
// that check (tests: an oversize grid on purpose, which times out on the device).
Status grid_barrier_probe_cuda(void *state,
                               uint32_t *slots,
                               int blocks,
                               int phases,
                               CUstream_st *stream,
                               bool check_resident = true);
// The most blocks grid_barrier_probe_cuda takes on the current device (0: cannot be asked).
int grid_barrier_probe_max_blocks();

/** Device-resident grouping of the rows of a MoE layer by expert (moe_group_cuda). */
struct expert_group
{
    const int32_t *offsets = nullptr; // [n_experts + 1] expert e owns rows [offsets[e], offsets[e+1])
    const int32_t *active = nullptr; // [slots] experts with rows, ascending, -1 padded
    int slots = 0;
    int32_t n_experts = 0; // the tables' length (0: unknown; only the L2 prefetch reads it)
    const void *const *w_table = nullptr;        // [n_experts] device weight of each expert
    const uint8_t *const *scale_table = nullptr; // [n_experts] its scales (FP8/FP4), or nullptr
};
/**
  The experts of a MoE layer in ONE launch, whatever the routing (so a decode step is a fixed
  launch sequence, capturable in a CUDA graph): base holds what the experts share (w_type, n, k,
  x/y types and strides, accum) with base.x / base.y at row 0 of the expert-sorted rows and
  base.w = any expert's weight (alignment check); base.m = the most rows one expert can have
  (<= 4: decode). Expert e computes rows [offsets[e], offsets[e+1]) with w_table[e]; the results
  are those of linear_cuda per expert, bit for bit. Unsupported when the GEMV path cannot take
  the shape (the caller then groups on the host).
*/
Status linear_experts_gemv_cuda(const linear_params &base,
                                const expert_group &g,
                                CUstream_st *stream);
/**
  ids [rows, k] (device, each in [0, n_experts)) -> offsets [n_experts + 1], active [slots]
  (experts with rows, ascending; -1 after them; slots >= min(n_experts, rows·k) keeps all),
  src_row [rows·k] and slot_index [rows·k] (= row·k + j): the (row, j) pairs sorted by expert,
  then by row·k + j, as the forward pass's host grouping. One block; n_experts <= 4096.
*/
/**
  nodes2: moe_route_cuda(p) then moe_group_cuda(p.ids, p.tokens, p.topk, p.n_experts, offsets,
  active, slots, src_row, slot_index) in one launch, the same results: each token's block
  routes, the last block to finish groups (counter: one device int, 0 on entry, left 0).
*/
Status moe_route_group_cuda(const MoeRouteParams &p,
                            int32_t *offsets,
                            int32_t *active,
                            int slots,
                            int32_t *src_row,
                            int32_t *slot_index,
                            int *counter,
                            CUstream_st *stream);
/**
  gate: the MoE gate GEMV (linear_cuda(gate) at decode: gate.y == p.logits, f32, gate.m ==
  p.tokens <= 4 rows, gate.n == p.n_experts) and moe_route_group_cuda(p, ...) in one launch, the
  same bits: the GEMV's blocks store their logits, the last block to finish routes and groups
  every token (counter: one device int, 0 on entry, left 0). Unsupported (nothing launched)
  where moe_gate_route_group_fits refuses: bf16 gate weights with exact accumulation only (the
  engine's gates), the GEMV's shape limits.
*/
bool moe_gate_route_group_fits(const linear_params &gate, const MoeRouteParams &p);
Status moe_gate_route_group_cuda(const linear_params &gate,
                                 const MoeRouteParams &p,
                                 int32_t *offsets,
                                 int32_t *active,
                                 int slots,
                                 int32_t *src_row,
                                 int32_t *slot_index,
                                 int *counter,
                                 CUstream_st *stream);
Status moe_group_cuda(const int32_t *ids,
                      int rows,
                      int k,
                      int n_experts,
                      int32_t *offsets,
                      int32_t *active,
                      int slots,
                      int32_t *src_row,
                      int32_t *slot_index,
                      CUstream_st *stream);

// ---- small conversions --------------------------------------------------------------------------

// dst row rows[k] (bf16 bits, row stride width) = bf16(src [n, width] row k), round to nearest
// even (RowHistory's bf16 sequence-state rows). rows: device [n]. inexact (device, may be
// nullptr): += the number of values bf16 did not hold exactly (NaN included); the rows are
// bf16-exact by construction, so a count is a bug upstream.
Status scatter_rows_bf16_cuda(uint16_t *dst,
                              const float *src,
                              const int32_t *rows,
                              int n,
                              int width,
                              int *inexact,
                              CUstream_st *stream);
// dst row rows[k] (packed rows of kernels/kv_packed.h, packed_row_bytes(width, rope) bytes
// each; rope < 0: index keys) = src [n, width] row k packed: the quantising twin of
// scatter_rows_bf16_cuda (pack_state_row's values and bytes). inexact (device, may be nullptr):
// += the number of values the layout did not hold exactly (0 for the model's QAT rows).
Status scatter_rows_packed_cuda(uint8_t *dst,
                                const float *src,
                                const int32_t *rows,
                                int n,
                                int width,
                                int rope,
                                int *inexact,
                                CUstream_st *stream);
// A decode step's sequence-state appends as one launch (session 10): segment k writes its count
// rows of src [count, width] into the ring dst at slots positions[first + t] & slot_mask, as
// fp32 (StateRows::F32), bf16 bits (Bf16: scatter_rows_bf16_cuda's values) or packed rows (Packed:
// scatter_rows_packed_cuda's bytes, rope as there). ape (F32 only, may be nullptr): the
// compressor gate's positional bias, row positions[first + t] % period of ape [period, width]
// added (fp32, as addPeriodicRows) to the row first, in src too. Segments must not overlap.
// inexact as scatter_rows_packed_cuda.
enum class StateRows : int { F32 = 0, Bf16 = 1, Packed = 2 };
struct StateAppendSegment
{
    void *dst = nullptr;
    float *src = nullptr;
    const float *ape = nullptr;
    int64_t slot_mask = 0; // ring capacity - 1 (a power of two)
    StateRows rows = StateRows::F32;
    int width = 0;
    int rope = 0;  // Packed: RoPE dims of a KV entry, < 0: index keys
    int first = 0; // the segment's first row in positions
    int count = 0;
    int period = 1; // ape
    // row_chain_append_cuda: >= 0: the segment's rows are rows chain_row ... of the chain (src
    // is those rows), stored by the chain's blocks from their results; -1: by blocks of their own.
    int chain_row = -1;
    int pad_ = 0; // no holes (params_padding.cpp: launch arguments compared byte for byte)
};
constexpr int k_state_append_segments = 20; // 4 items x (window + 2 compressors' kv and gate)
struct StateAppendParams
{
    StateAppendSegment seg[k_state_append_segments];
    const int32_t *positions = nullptr; // device
    int segments = 0;
    int pad_ = 0;
};
Status append_state_rows_cuda(const StateAppendParams &p, int *inexact, CUstream_st *stream);
// row_chain_cuda(chain) and append_state_rows_cuda(appends) as one launch (the kv rows' chain
// and the block's appends, the window's from the chain's results: segments with chain_row >= 0,
// no ape). Extra blocks after the chain's rows store the other segments. The same bits as the
// two launches.
Status row_chain_append_cuda(const RowChainParams &chain,
                             const StateAppendParams &appends,
                             int *inexact,
                             CUstream_st *stream);
// rowchains (session 16): row_chain_append_cuda(chain, appends) and row_chain_cuda(with.chain[k])
// (k < with.count; chains whose rows are independent of the chain's, the appends' and each
// other's: a decode step's queries, the indexer's queries) as one launch: row_chain_append_cuda's
// blocks first, then with.chain[0]'s rows, with.chain[1]'s (one block a row, the same per-row
// code: the same bits as the separate launches). Every block also asks L2 for its share of the
// ranges with.prefetch[j] (with.prefetch_bytes[j] bytes; immutable data such as the next
// linears' weights, asked for before FATHOM_PDL_WAIT(); 16-byte aligned, a multiple of 16 bytes;
// nullptr / 0: none), in pieces of <= 64 KiB spread over the blocks' warps.
constexpr int k_row_chains_with = 2;
constexpr int k_row_chains_prefetch = 2;
struct RowChainsWith
{
    RowChainParams chain[k_row_chains_with];
    const void *prefetch[k_row_chains_prefetch] = {};
    int64_t prefetch_bytes[k_row_chains_prefetch] = {};
    int count = 0;
    int pad_ = 0;
};
Status row_chains_append_cuda(const RowChainParams &chain,
                              const StateAppendParams &appends,
                              const RowChainsWith &with,
                              int *inexact,
                              CUstream_st *stream);
// y [rows, cols] (row stride ld) rounded to bf16 values in place (LinearOutput::Bf16 on f32 y).
Status round_bf16_rows_cuda(float *y, int rows, int cols, int64_t ld, CUstream_st *stream);
// out [n_tokens, copies, dim] bf16-valued = rows ids[t] of table [vocab, dim] (bf16 bits), each
// written `copies` times (copies = n_hc for the hyper-connection expansion). Ids out of
// [0, vocab) give zero rows.
Status embed_rows_cuda(const uint16_t *table,
                       int vocab,
                       int dim,
                       const int32_t *ids,
                       int n_tokens,
                       int copies,
                       float *out,
                       CUstream_st *stream);

// ---- sampling -----------------------------------------------------------------------------------

/** Per-row sampling settings (engine SamplingParams). temperature <= 0 is greedy. */
struct SampleConfig
{
    float temperature = 1.0f;
    float top_p = 1.0f;
    int top_k = 0;      // 0 = off
    float min_p = 0.0f; // 0 = off
};

/**
  The engine Sampler (engine/runtime/sampler.h) on the device, one block per row: greedy argmax
  (NaN never wins, lowest id among equal maxima), or p_i = exp((l_i − max)/T) in double, then
  top-k (k most probable, ties by lower id), top-p (smallest probability-sorted prefix reaching
  top_p of the mass), min-p (p >= min_p), and one draw u·mass from the row's xoshiro256** state,
  walking the survivors in id order. Each non-greedy row consumes exactly one 64-bit number, as
  the CPU Sampler does, so the same seed gives the same token stream up to sums taken in another
  order.
*/
struct SampleParams
{
    const float *logits = nullptr; // [rows, ld] fp32
    int64_t ld = 0;                // 0 = vocab
    int rows = 0;
    int vocab = 0;
    const SampleConfig *config = nullptr; // [rows]
    uint64_t *rng_state = nullptr;        // [rows, 4] xoshiro256** state, advanced in place
    int32_t *out_ids = nullptr;           // [rows]
};

Status sample_cuda(const SampleParams &p, CUstream_st *stream);
// Host: the initial xoshiro256** state of engine::Rng(seed) (splitmix64 expansion).
void sample_rng_seed(uint64_t seed, uint64_t state[4]);

} // namespace fathom::kernels
