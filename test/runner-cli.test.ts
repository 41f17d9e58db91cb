// Process-level CLI behaviour of the runner's commands, spawned as a user runs them.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from './fixtures/runner/helpers.ts';

const root = path.resolve(__dirname, '..');

describe('seqlab in a pipeline', () => {
  it('a reader that leaves early (| head, | true) ends the command quietly: no EPIPE stack trace, exit 0', () => {
    for (const args of ['plan configs/grid.yaml', 'models']) {
      const r = spawnSync('bash', ['-c', `"$NODE" "$CLI" ${args} | true; echo "rc=\${PIPESTATUS[0]}" >&2`], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, NODE: process.execPath, CLI },
        timeout: 60_000,
      });
      expect(r.stderr, args).toBe('rc=0\n');
    }
  });
});
