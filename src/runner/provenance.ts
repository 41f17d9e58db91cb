// The backends and machines behind a set of run directories, from their env.json files: absolute
// times compare only within one. Shared by the end-of-run table and `seqlab report`'s footer.
import * as path from 'node:path';
import { readJsonOrUndefined } from '../util/fs.ts';

export function machinesLine(runDirs: string[]): string {
  const seen = new Set<string>();
  for (const dir of runDirs) {
    const env = readJsonOrUndefined<Record<string, unknown>>(path.join(dir, 'env.json'));
    if (env)
      seen.add(
        `${String(env.backend)}${env.matmul_path ? ` (${String(env.matmul_path)} matmul)` : ''} on ${String(env.cpu_model ?? 'unknown CPU')} x${String(env.cpu_count ?? '?')}`,
      );
  }
  return `Backend / machine: ${[...seen].join('; ') || 'unknown (no env.json)'}.`;
}
