#!/usr/bin/env -S node --import tsx
// Development entry: runs the TypeScript sources without a build (needs tsx, see STYLE.md).
import { execute } from '@oclif/core';

await execute({ development: true, dir: import.meta.url });
