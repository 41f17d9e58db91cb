// Where a report lands and how it replaces an earlier one: a directory named from the inputs and
// options (so two different reports never overwrite each other), written in full beside its final
// place and swapped in, so rerunning the same report replaces only its own directory.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.ts';
import { sha256Hex } from '../util/hash.ts';
import { readJsonOrUndefined } from '../util/fs.ts';

/** Marks a directory as a seqlab report (only such a directory, or an empty one, is replaced). */
export const REPORT_MARKER = '.seqlab-report';

/** The default --format list (a report with other formats gets its own directory). */
export const DEFAULT_FORMATS = 'md,csv,tex,json,html';

const slug = (s: string) => s.replace(/[^A-Za-z0-9._=+-]+/g, '-').replace(/^-+|-+$/g, '');

/**
 * `default` for a single sweep with default options; otherwise the other inputs' names and the
 * options that change the content (`mqar-tiny+lm-bpe`, `metric=valid_bpb__best-over=train.lr__by=valid_loss`).
 * Long names keep a readable head and a hash of the whole.
 */
export function reportDirName(dirs: string[], o: Record<string, unknown>): string {
  const parts: string[] = [];
  if (dirs.length > 1) parts.push(dirs.map((d) => path.basename(path.resolve(d))).join('+'));
  for (const k of ['groupBy', 'metric', 'bestOver', 'by', 'baseline', 'columns', 'band', 'claims', 'format']) {
    const v = o[k];
    if (v === undefined || v === false || (k === 'band' && v === 'std') || (k === 'format' && v === DEFAULT_FORMATS)) continue;
    parts.push(`${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}=${k === 'claims' ? path.basename(String(v)) : String(v)}`);
  }
  const name = slug(parts.join('__')) || 'default';
  return name.length <= 80 ? name : `${name.slice(0, 64)}-${sha256Hex(name).slice(0, 12)}`;
}

/** Fill a fresh sibling directory with `fill`, then put it in place of `dir` (rename; the old one removed). */
export async function replaceDir(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  if (fs.existsSync(dir)) {
    const entries = fs.readdirSync(dir);
    if (entries.length > 0 && !entries.includes(REPORT_MARKER)) {
      throw new UserError(`--out ${dir}: exists and is not a seqlab report directory; choose an empty or new directory`);
    }
  }
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  fs.mkdirSync(tmp);
  try {
    await fill(tmp);
    fs.writeFileSync(path.join(tmp, REPORT_MARKER), `${new Date().toISOString()}\n`);
    const old = `${dir}.old-${process.pid}`;
    if (fs.existsSync(dir)) fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    fs.rmSync(old, { recursive: true, force: true });
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** One provenance line per distinct environment behind the runs (env.json). */
export function runProvenance(runDirs: string[]): string[] {
  const lines = new Map<string, number>();
  for (const d of runDirs) {
    const e = readJsonOrUndefined<Record<string, unknown>>(path.join(d, 'env.json'));
    if (!e) continue;
    const fields = [
      `backend ${String(e.backend)}${e.matmul_path ? ` (${String(e.matmul_path)} matmul)` : ''}`,
      `${String(e.cpu_model ?? 'unknown CPU')} x${String(e.cpu_count ?? '?')}`,
      e.matmul_peak_gflops !== undefined ? `matmul peak ${String(e.matmul_peak_gflops)} GFLOP/s` : '',
      e.openblas ? `OpenBLAS ${JSON.stringify(e.openblas)}` : '',
      `node ${String(e.node)}, tfjs ${String(e.tfjs)}`,
      e.commit ? `commit ${String(e.commit).slice(0, 12)}${e.dirty ? ' (dirty)' : ''}` : '',
      e.lockfile_sha256 ? `package-lock sha256 ${String(e.lockfile_sha256).slice(0, 12)}` : '',
    ].filter(Boolean);
    const line = fields.join('; ');
    lines.set(line, (lines.get(line) ?? 0) + 1);
  }
  return [...lines].map(([l, n]) => `${n} run${n > 1 ? 's' : ''}: ${l}`);
}
