/** `forklift init` and `forklift mapping init`: guess mappings from legacy files and write them. */
export { detectLayout, findHeader, formatOfFile, type SourceLayout } from './detect.js';
export { buildField, confidenceOf, guessMapping, type Confidence, type FieldProposal, type MappingProposal } from './guess.js';
export { nameScore, nameTokens } from './names.js';
export { profileColumns, type ColumnProfile } from './profile.js';
export { defaultMappingFile, entityOf, fieldRows, proposeMapping, summarize, writeMapping, type MappingInitOptions, type ProposalSummary, type Proposed } from './mapping-init.js';
export { INIT_DEFAULTS, chooseEntity, defaultLegacyFolder, findDataFiles, planInit, sourceLabel, writeInit, type InitAnswers, type InitOptions, type InitPlan, type InitResult, type SourceGuess } from './project.js';
export { renderMappingYaml, schemaLine } from './write.js';
export { parseInitEncodings, type InitEncodings } from './encodings.js';
