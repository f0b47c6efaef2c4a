/** forklift as a library: everything the commands do, callable from code. */
export { runPlan, type RunOptions, type RunResult, type Progress } from './run/pipeline.js';
export type { DryRunCounts } from './run/dry-run.js';
export { checkMappings, type CheckSummary } from './plan/check.js';
export { previewMapping, type PreviewResult, type PreviewRow } from './plan/preview.js';
export { loadPlan, loadMappingFile, type LoadedPlan, type LoadedMapping } from './plan/load.js';
export { factoryModel } from './model/factory.js';
export type { Model, Entity, Column, ColumnType } from './model/types.js';
export { openSource } from './sources/index.js';
export type { SourceSpec, OpenedSource, SourceRecord, Cell } from './sources/types.js';
export { openStore, redactUrl } from './stores/index.js';
export * from './core/errors.js';
export { diffSnapshots, writeReport, type DiffOptions, type DiffRun, type DiffResult, type DiffRecord, type DiffFormat } from './diff/index.js';
export { reloadRejects, type ReloadOptions } from './run/reload.js';
export { listRuns, type RunsList, type RunListing } from './run/runs-list.js';
export { diffRuns, type RunsDiff, type EntityRunsDiff, type RejectRef } from './run/runs-diff.js';
export { purge, type PurgeOptions, type PurgeResult } from './retention/purge.js';
export { purgePlan } from './retention/plan.js';
export { auditVerify, readLedger, type AuditVerification, type Ledger } from './audit/source.js';
