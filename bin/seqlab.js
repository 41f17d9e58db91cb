#!/usr/bin/env node
// Runs the TypeScript sources directly (no build step), so a fresh clone works after `npm ci`.
import { register } from 'tsx/esm/api';

// `seqlab plan x.yaml | head -2`: the reader left, so there is nobody to tell; end quietly, as cat does.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });

register();
await import('../src/cli.ts');
