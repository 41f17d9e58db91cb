// The claims table of a report (`seqlab check` writes the claims; the report only shows them):
// a titled table of cells, read from a JSON value that is an array of flat objects, or an object
// with a `claims` array. The Markdown and HTML renderers show it in its own section when given.
import * as fs from 'node:fs';
import { UserError } from '../errors.ts';

export type ClaimCell = string | number | boolean | null;

export interface ClaimsSection {
  title: string;
  columns: string[];
  rows: ClaimCell[][];
  /** one line under the table (e.g. which test gave p) */
  note?: string;
}

function cellOf(v: unknown): ClaimCell {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return JSON.stringify(v);
}

/** A claims section from parsed JSON (`[{claim, verdict, ...}]` or `{claims: [...]}`); columns in first-seen order. */
export function claimsFromJson(value: unknown, where = 'claims'): ClaimsSection {
  const list = Array.isArray(value) ? value : (value as { claims?: unknown } | null)?.claims;
  if (!Array.isArray(list)) throw new UserError(`${where}: expected an array of claims or an object with a "claims" array`);
  const columns: string[] = [];
  for (const [i, c] of list.entries()) {
    if (c === null || typeof c !== 'object' || Array.isArray(c)) throw new UserError(`${where}: claims[${i}] is not an object`);
    for (const k of Object.keys(c)) if (!columns.includes(k)) columns.push(k);
  }
  const rows = list.map((c) => columns.map((k) => cellOf((c as Record<string, unknown>)[k])));
  return { title: 'Claims', columns, rows };
}

/** Read a claims file (e.g. reports/claims.json); a missing or malformed file is a UserError. */
export function readClaims(file: string): ClaimsSection {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new UserError(`--claims ${file}: no such file`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UserError(`--claims ${file}: not valid JSON (${(e as Error).message})`);
  }
  return claimsFromJson(value, file);
}
