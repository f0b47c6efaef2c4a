/**
 * apache-arrow, as every module of forklift imports it. The build bundles this module into one
 * file (scripts/vendor.mjs): apache-arrow's entry loads 146 ES modules, about 150 ms of a
 * command's start on this machine, against 30 ms for the one file; `bundle verify` waits for it
 * before the first value is checked. Importing apache-arrow only here keeps one copy of its
 * classes in a process (an Arrow Type or Schema from a second copy would fail its instanceof
 * checks), which lint enforces.
 */
export * from 'apache-arrow';
// Internals the Arrow block reader (bundle/arrow.ts) decodes with, which the entry does not export.
export { Footer, type FileBlock } from 'apache-arrow/ipc/metadata/file';
export { VectorLoader } from 'apache-arrow/visitor/vectorloader';
