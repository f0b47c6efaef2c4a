export { diffOpened, diffSnapshots, heapGuard, type DiffOptions, type DiffRun } from './diff.js';
export { parseKeySpecs, planDiff, type DiffPlan, type DiffSelection, type TablePlan } from './plan.js';
export { mergeTable, type MergeCounts } from './merge.js';
export { openSnapshot, type Snapshot } from './snapshot.js';
export { checkReportFile, writeReport } from './report.js';
export { rendererFor } from './render/index.js';
export type { Cell, DiffFormat, DiffRecord, DiffResult, DiffTotals, SchemaChange, SideDescription, TableDiff } from './types.js';
export { DIFF_FORMATS } from './types.js';
