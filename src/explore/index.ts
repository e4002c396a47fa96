/**
 * Public API of the concurrency explorer. The CLI and the scenario layer import from here only.
 *
 *   explore(harness, opts)                 run one strategy single-threaded -> ExploreReport
 *   exploreParallel(ref, opts)             the same on worker threads (harness by module + export)
 *   replay(harness, token, { trace })      re-run the execution a token names, exactly
 *   shrink(harness, choices)               smaller failing schedule, same failure key
 *   renderHuman(run) / renderJsonl(run)    traces of a replayed (traced) run
 *   mergeReports(reports)                  combine shard reports (CI matrix, Jobs, workers)
 *   parseShard('i/n'), shardOf(ordinal, n) deterministic sharding
 *   progressLine(stats)                    the one-line `\r` status
 */
export type { Harness, Invariant, InvariantLevel, Step, ThreadSpec } from './harness.js';
export { NO_LOCK_HELD_ON_RETURN } from './harness.js';
export type { Outcome, OutcomeKind, StuckThread } from './outcome.js';
export { describeOutcome, failureKey, isFailure, OUTCOME_KINDS } from './outcome.js';
export type { Budget, ExploreOptions, StrategyName, StrategyOptions } from './explore.js';
export { DEFAULT_MAX_MS, explore, makeScheduler, STRATEGY_NAMES } from './explore.js';
export type { ExecResult, RuntimeOptions, TraceEvent, Tracer } from './engine/runtime.js';
export { Runtime } from './engine/runtime.js';
export type { DecisionPoint, Scheduler } from './engine/scheduler.js';
export { defaultChoice } from './engine/scheduler.js';
export { DfsScheduler, NondeterminismError } from './strategies/dfs.js';
export { PctScheduler } from './strategies/pct.js';
export { RandomScheduler } from './strategies/random.js';
export { DEFAULT, ReplayDivergence, ReplayScheduler } from './strategies/replay.js';
export { PortfolioScheduler } from './strategies/portfolio.js';
export type { Replayed, RunScheduleOptions, ScheduleRun } from './replay.js';
export { replay, runSchedule } from './replay.js';
export type { ReplayToken } from './report/token.js';
export { decodeToken, encodeToken } from './report/token.js';
export type { Counterexample, ExploreReport } from './report/report.js';
export { firstCounterexample, mergeReports, parseReport } from './report/report.js';
export type { ShrinkOptions, ShrinkResult } from './report/shrink.js';
export { shrink } from './report/shrink.js';
export { renderHuman, renderJsonl, TRACE_SCHEMA_VERSION } from './report/trace.js';
export { summarizeReport } from './report/summary.js';
export type { FingerprintOptions } from './fingerprint.js';
export { fingerprintOf } from './fingerprint.js';
export { renderMermaid } from './report/mermaid.js';
export type { Shard } from './parallel/shard.js';
export { formatShard, parseShard, shardOf } from './parallel/shard.js';
export type { HarnessRef, ParallelOptions } from './parallel/pool.js';
export { exploreParallel, loadHarness } from './parallel/pool.js';
export type { ProgressStats } from './progress.js';
export { execsPerSecond, progressLine } from './progress.js';
