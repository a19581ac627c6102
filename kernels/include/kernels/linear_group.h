// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  LINEAR of a group of projections over rows of the same shape, in one device launch (decode: the
  attention's projections of x, those of the query's low-rank rows, and the output projection's
  groups, each reading its heads' columns of the same rows). Each item is a linear.h LINEAR with
  its own weight (any type), output, output type and y_round_bf16, and its own x; x_type, the
  row stride of x, m and k are the same for every item.
  The GEMV serves them all (a grid over the items' concatenated output columns); each block
  stages and, for FP8/FP4 weights, activation-quantises its item's x itself, exactly as a launch
  of that item alone, so every item's result is bit for bit linear_cuda's (the reference
  quantises an input once; the codes and scales are the same whichever projection computes
  them).

  The CPU twin is linear_cpu (or linear_ref) of each item in turn.

  Unsupported (nothing launched) when an item does not fit the GEMV (m > 4, k % 16 != 0,
  misaligned weights, too much shared memory) or the items' input shapes differ; the caller then
  runs the items one by one. Dense (bf16 / f32) items must agree on accum.
*/

#include "kernels/cuda_ops.h"
#include "kernels/linear.h"
#include "kernels/status.h"

struct CUstream_st;

namespace fathom::kernels {

constexpr int k_linear_group_max = 8; // items per launch; more are launched in chunks

/** y_scales (host [count], may be nullptr; idxchain): item i with y_scales[i] != 0 (an f32 y
    rounded to bf16, y_round_bf16) stores round_bf16(its bf16 result * y_scales[i]) - the bits of
    the item, then a scale_round_bf16 pass over its y (the indexer's head weights). */
Status linear_group_gemv_cuda(const linear_params *items,
                              int count,
                              CUstream_st *stream,
                              const float *y_scales = nullptr);
// Whether linear_group_gemv_cuda launches for these items (host-side checks only, no device
// call but the cached shared-memory limit): an executor decides before its launch bookkeeping.
bool linear_group_gemv_fits(const linear_params *items, int count);

/**
  mhcchain: an mHC post + pre as a cooperative chain's phase 0 (linear_chain_gemv_cuda,
  linear_moe_chain_gemv_cuda): the post of one sublayer and the pre + RMSNorm of the next,
  exactly mhc_post_pre_norm_cuda's operation on these arguments (cuda_ops.h; post.out == pre.x,
  counters: one int per token, zero, left zero), bit for bit, a grid barrier after it. The
  chain's later phases read pre.u (the sublayer's input). pre.tokens must be the chain's rows.
  The blocks of the phase are mhc_post_pre_norm_cuda's grid, run as virtual blocks of the chain.
*/
struct mhc_chain_prologue
{
    MhcPostParams post;
    MhcPreParams pre;
    const float *norm_weight = nullptr;
    int *counters = nullptr;
    float norm_eps = 0.0f;
    int32_t pad_ = 0;
};

/**
  Cooperative GEMV chains (decode): up to k_linear_chain_max groups of linears in one launch, one
  after another, each phase reading what the phases before it wrote (the attention's output
  projection: wo_a's groups, then wo_b on their rows). A phase is what linear_group_gemv_cuda
  (norm_weight == nullptr and norm == 0) or linear_prenorm_gemv_cuda (norm != 0) takes, with at
  most k_linear_group_max items, and y_scales as linear_group_gemv_cuda's. Every phase's results
  are bit for bit those of its own launch: each block of the chain's grid runs the phase's
  blocks as that launch's blocks, and a grid barrier separates the phases.
  barrier: k_linear_chain_barrier_bytes of device memory, zeroed once before the first launch;
  the launches that share it must not run concurrently (one stream). Its third 32-bit word is
  nonzero after a barrier wait timed out (a grid that was not all resident: a bug), and the
  state must then be zeroed again. The grid is bounded by the blocks the device holds at once.
  Unsupported (nothing launched) when a phase does not fit the group GEMV, the phases need
  different kernel instances (tensor-core vs not, dense accums), or fewer than 2 phases; the
  caller then launches the phases one by one. The CPU twin: the phases' twins in order.
*/
constexpr int k_linear_chain_max = 3;
constexpr size_t k_linear_chain_barrier_bytes = 16;
struct linear_chain_phase
{
    const linear_params *items = nullptr;
    const float *norm_weight = nullptr; // norm: the RMSNorm's weight [k] (nullptr: none)
    const float *y_scales = nullptr;    // host [count] or nullptr
    int32_t count = 0;
    int32_t norm = 0;
    float norm_eps = 0.0f;
    int32_t pad_ = 0;
};
// mhc: an mHC phase before the first (nullptr: none).
Status linear_chain_gemv_cuda(const linear_chain_phase *phases,
                              int count,
                              void *barrier,
                              CUstream_st *stream,
                              const mhc_chain_prologue *mhc = nullptr);
// Whether linear_chain_gemv_cuda launches for these phases (host-side checks only).
bool linear_chain_gemv_fits(const linear_chain_phase *phases,
                            int count,
                            const mhc_chain_prologue *mhc = nullptr);

/**
  The two halves of a MoE layer's expert FFNs in decode, one launch each (linear_experts_gemv_cuda's
  grouped experts, see cuda_ops.h, plus the shared expert as one more grid row):
  - swiglu set (w1/w3 half; base.w / w_table are w1): per row of an expert
      y = bf16((silu(min(bf16(x·w1ᵀ), L)) · clamp(bf16(x·w3ᵀ), −L, L)) · rw)
    (moe.h swiglu_cpu after the two LINEARs rounded to bf16 - the same bits as that sequence;
    L = limit, no clamp when limit <= 0; rw = row_weights[row] of the expert-sorted rows, none
    for the shared expert); y must be f32.
  - swiglu 0 (w2 half): y = x·w2ᵀ per expert, y_round_bf16 as each item asks.
  The shared expert (shared.m > 0): a linear_params of its own rows (x, y, strides, w, w_scale,
  w_type of any kind, m <= 4) with base's n and k, and shared_w3 / shared_scale3 for the w1/w3
  half. The CPU twin: linear_ref / linear_cpu per expert, round_bf16, swiglu_cpu.
*/
struct expert_ffn
{
    const void *const *w3_table = nullptr;        // swiglu: [n_experts] device w3 weights
    const uint8_t *const *scale3_table = nullptr; // their scales (FP8/FP4), or nullptr
    const float *row_weights = nullptr;           // swiglu: [rows] routed rows' weights, or nullptr
    float limit = 0.0f;
    int32_t swiglu = 0;
    linear_params shared;            // shared.m == 0: no shared expert
    const void *shared_w3 = nullptr; // swiglu: the shared expert's w3
    const uint8_t *shared_scale3 = nullptr;
    // The routed rows where they are (decode: no gathered copies). x_rows [rows] (moe_group's
    // src_row): routed row r (expert-sorted) reads base.x's row x_rows[r] (base.x then points
    // at the unsorted input's row 0). slot_index [rows] (moe_group's slot_index): row r's
    // routing weight is row_weights[slot_index[r]] (row_weights in slot order), and with
    // y_by_slot its output is written to base.y's row slot_index[r] (slot order, as moeCombine
    // reads it). nullptr / 0: everything expert-sorted, as before.
    const int32_t *x_rows = nullptr;
    const int32_t *slot_index = nullptr;
    int32_t y_by_slot = 0;
    // ffnnodes: the MoE combine in the w2 half's launch (needs y_by_slot and the shared expert,
    // both outputs f32): combine_y [shared.m, n] = bf16(fp32 0 + base.y's rows t·k + j (the k
    // slots of token t) by increasing combine_ids[t·k + j] (stable) + shared.y's row t) -
    // moeCombine's bits. Each grid column's last block does it for its columns (a fence and an
    // atomic counter per column: combine_counters [combine_counter_count] zero, left zero).
    float *combine_y = nullptr;
    const int32_t *combine_ids = nullptr;
    int32_t *combine_counters = nullptr;
    int32_t combine_k = 0;
    int32_t combine_counter_count = 0;
    // moeprefetch: L2 prefetches issued before the launch's FATHOM_PDL_WAIT() (hints only: the
    // bits never depend on them). prefetch_shared: the shared expert's blocks ask for their
    // weight columns (w1 and w3 in the swiglu half), as the dense GEMVs do. prefetch_routed: the
    // routed experts' blocks read their slot's expert id (g.active) and its weight pointer
    // (g.w_table, bounded by g.n_experts) before the wait, and ask for their columns of it. Only
    // where the routing was written at least two launches before this one (the w2 half after
    // the w1/w3 half): every kernel triggers its dependents after its own wait, so this launch
    // starts only after the launch before the previous one has completed and its stores are
    // visible. A stale id could only make the prefetch fetch the wrong bytes.
    int32_t prefetch_shared = 0;
    int32_t prefetch_routed = 0;
};
Status linear_experts_ffn_gemv_cuda(const linear_params &base,
                                    const expert_group &g,
                                    const expert_ffn &f,
                                    CUstream_st *stream);
// Whether linear_experts_ffn_gemv_cuda takes the shapes (host-side checks only).
bool linear_experts_ffn_gemv_fits(const linear_params &base, const expert_ffn &f);

/**
  moechain: a decode MoE layer as ONE cooperative launch - optionally the gate, routing and
  grouping (moe_gate_route_group_cuda's launch), then the w1/w3 half (up: swiglu set) and the w2
  half (down: swiglu 0) of linear_experts_ffn_gemv_cuda - the phases separated by a grid barrier
  as in linear_chain_gemv_cuda. Every phase's results are bit for bit those of its own launch:
  each block of the chain's grid runs the phase's blocks as that launch's blocks (the halves' 2-D
  grids flattened row by row), and the hand-offs inside a phase (the routing's last block, the
  combine's last block of a column) count the phase's own blocks.
  gate: nullptr (two phases; the ids were grouped before), or the gate phase's arguments as
  moe_gate_route_group_cuda takes them; the halves must then read that grouping (both halves' g
  offsets, active and slots, up.f.x_rows == src_row, both f.slot_index == slot_index,
  up.f.row_weights == route.weights, a combine's ids == route.ids). L2
  requests (hints, as expert_ffn's prefetch flags allow): the w1/w3 half's routed experts right
  after the gate's barrier (never before: their routing is not settled), the w2 half's before
  the barrier that precedes it.
  barrier: as linear_chain_gemv_cuda's (one state may serve every chain of a stream).
  Unsupported (nothing launched) where a half does not fit linear_experts_ffn_gemv_cuda, the gate
  moe_gate_route_group_fits, or the halves and the gate need kernels the chain does not have
  (it has the tensor-core block and exact accumulation, each half alike, the gate pipelined
  exactly when the halves are or take the tensor cores); the caller then launches the phases one
  by one. The CPU twin: the phases' twins in order.
*/
struct moe_chain_gate
{
    linear_params gate; // y == route.logits
    MoeRouteParams route;
    int32_t *offsets = nullptr;
    int32_t *active = nullptr;
    int32_t *src_row = nullptr;
    int32_t *slot_index = nullptr;
    int *counter = nullptr; // 0 on entry, left 0
    int32_t slots = 0;
};
// One FFN half as linear_experts_ffn_gemv_cuda takes it.
struct moe_chain_half
{
    linear_params base;
    expert_group g;
    expert_ffn f;
};
// mhc: an mHC phase before the gate phase (nullptr: none); Unsupported without a gate.
Status linear_moe_chain_gemv_cuda(const moe_chain_gate *gate,
                                  const moe_chain_half &up,
                                  const moe_chain_half &down,
                                  void *barrier,
                                  CUstream_st *stream,
                                  const mhc_chain_prologue *mhc = nullptr);
// Whether linear_moe_chain_gemv_cuda launches for these arguments (host-side checks only).
bool linear_moe_chain_gemv_fits(const moe_chain_gate *gate,
                                const moe_chain_half &up,
                                const moe_chain_half &down,
                                const mhc_chain_prologue *mhc = nullptr);

/**
  ffnnodes: an RMSNorm of x's rows (rmsnorm.h with weight norm_weight [k] or nullptr, eps; x's
  rows are the items' common input) folded into the GEMVs' staging of x, then the items as
  linear_group_gemv_cuda (one item: linear_cuda's GEMV). Every block normalises the rows it
  stages with rmsnorm_cuda's arithmetic (its 256 threads' sums and reduction tree), so each
  item's bits are those of rmsnorm_cuda into a buffer followed by the linear(s) on it; x itself
  is left as it is (the normalised rows are not stored). Unsupported (nothing launched) where
  linear_group_gemv_fits refuses the items. The CPU twin: rmsnorm_cpu, then linear_ref /
  linear_cpu of each item.
*/
Status linear_prenorm_gemv_cuda(const float *norm_weight,
                                float norm_eps,
                                const linear_params *items,
                                int count,
                                CUstream_st *stream);

} // namespace fathom::kernels
