/**
 * Sweep expansion: grid (cartesian, first axis slowest) x zip (advance together), plus cases
 * (named sub-grids over the base). Seeds and exclusion are applied by the planner.
 */
import { UserError } from '../errors.ts';
import type { SweepConfig } from './schema.ts';

export type Axes = Record<string, unknown[]>;

/** One point of the sweep before seeds: dotted key -> value, and the case it belongs to. */
export interface SweepPoint {
  values: Record<string, unknown>;
  case?: string;
}

export function cartesian(grid: Axes): Record<string, unknown>[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) {
    // Appending the next axis innermost keeps the first axis slowest.
    out = out.flatMap((point) => values.map((v) => ({ ...point, [key]: v })));
  }
  return out;
}

export function zipAxes(zip: Axes, where: string): Record<string, unknown>[] {
  const keys = Object.keys(zip);
  if (keys.length === 0) return [{}];
  const n = zip[keys[0]].length;
  for (const k of keys.slice(1)) {
    if (zip[k].length !== n) {
      throw new UserError(`${where}: zipped axes must have equal lengths: ${keys[0]} has ${n} values, ${k} has ${zip[k].length}`);
    }
  }
  return Array.from({ length: n }, (_, i) => Object.fromEntries(keys.map((k) => [k, zip[k][i]])));
}

function gridTimesZip(grid: Axes, zip: Axes, where: string): Record<string, unknown>[] {
  for (const k of Object.keys(zip)) {
    if (k in grid) throw new UserError(`${where}: ${k} is both a grid axis and a zip axis`);
  }
  const tuples = zipAxes(zip, `${where}.zip`);
  return cartesian(grid).flatMap((g) => tuples.map((t) => ({ ...g, ...t })));
}

export function expandSweep(sweep: SweepConfig): SweepPoint[] {
  const points: SweepPoint[] = [];
  if (sweep.base) points.push(...gridTimesZip(sweep.grid, sweep.zip, 'sweep').map((values) => ({ values })));
  const names = new Set<string>();
  sweep.cases.forEach((c, i) => {
    if (names.has(c.name)) throw new UserError(`sweep.cases.${i}.name: duplicate case name "${c.name}"`);
    names.add(c.name);
    for (const p of gridTimesZip(c.grid, c.zip, `sweep.cases.${i}`)) points.push({ values: { ...c.set, ...p }, case: c.name });
  });
  return points;
}

/** Every dotted key a sweep sets, with where it is written (for existence checks). */
export function sweepKeys(sweep: SweepConfig): { key: string; where: (string | number)[] }[] {
  const out: { key: string; where: (string | number)[] }[] = [];
  for (const k of Object.keys(sweep.grid)) out.push({ key: k, where: ['sweep', 'grid', k] });
  for (const k of Object.keys(sweep.zip)) out.push({ key: k, where: ['sweep', 'zip', k] });
  sweep.cases.forEach((c, i) => {
    for (const part of ['set', 'grid', 'zip'] as const) {
      for (const k of Object.keys(c[part])) out.push({ key: k, where: ['sweep', 'cases', i, part, k] });
    }
  });
  sweep.exclude.forEach((e, i) => {
    for (const k of Object.keys(e)) out.push({ key: k, where: ['sweep', 'exclude', i, k] });
  });
  return out;
}

/** How many points expandSweep would produce (before exclusion and seeds), without expanding. */
export function countPoints(sweep: SweepConfig): number {
  const size = (grid: Axes, zip: Axes) => {
    const z = Object.values(zip);
    return Object.values(grid).reduce((n, v) => n * v.length, 1) * (z.length ? Math.max(...z.map((v) => v.length)) : 1);
  };
  return (sweep.base ? size(sweep.grid, sweep.zip) : 0) + sweep.cases.reduce((n, c) => n + size(c.grid, c.zip), 0);
}
