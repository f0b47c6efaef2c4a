#!/usr/bin/env node
import { execute, settings } from '../dist/src/cli/oclif.js';

// The built CLI always runs the compiled commands, whatever NODE_ENV says (vitest sets "test").
settings.enableAutoTranspile = false;
await execute({ dir: import.meta.url });
