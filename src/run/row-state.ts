/** The state of a staged row (column _st of the staging tables, run/staging.ts). */
export const ROW_OK = 0;
export const ROW_DUPLICATE = 1;
export const ROW_REJECTED = 2;
/** Incremental loads: at or before the target's watermark, so already loaded by an earlier run. */
export const ROW_BEHIND_WATERMARK = 3;
