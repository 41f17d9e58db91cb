/**
 * The config reference (every key, type, default, meaning) generated from the zod schema, so the
 * reference page (docs/config-reference.md) can never drift from the code (a test compares them;
 * `seqlab config-reference --write` regenerates its section).
 */
import type { z } from 'zod';
import { configSchema } from './schema.ts';

type AnySchema = z.ZodType & { def: Record<string, unknown> & { type: string }; description?: string };

export interface ReferenceRow {
  key: string;
  type: string;
  default: string;
  description: string;
}

const WRAPPERS = ['optional', 'nullable', 'prefault', 'readonly', 'catch', 'nonoptional'];

interface Unwrapped {
  schema: AnySchema;
  description?: string;
  defaultValue?: unknown;
  hasDefault: boolean;
  nullable: boolean;
  optional: boolean;
}

function unwrapAll(s: AnySchema): Unwrapped {
  let description = s.description;
  let defaultValue: unknown;
  let hasDefault = false;
  let nullable = false;
  let optional = false;
  for (;;) {
    const d = s.def;
    if (d.type === 'default') {
      hasDefault = true;
      const dv = d.defaultValue as unknown;
      defaultValue = typeof dv === 'function' ? (dv as () => unknown)() : dv;
      s = d.innerType as AnySchema;
    } else if (WRAPPERS.includes(d.type)) {
      if (d.type === 'nullable') nullable = true;
      if (d.type === 'optional') optional = true;
      s = d.innerType as AnySchema;
    } else if (d.type === 'pipe') {
      s = d.in as AnySchema;
    } else break;
    description ??= s.description;
  }
  return { schema: s, description, defaultValue, hasDefault, nullable, optional };
}

function typeName(s0: AnySchema): string {
  const { schema: s, nullable } = unwrapAll(s0);
  const d = s.def;
  let t: string;
  switch (d.type) {
    case 'enum':
      t = Object.values(d.entries as Record<string, string>).join(' \\| ');
      break;
    case 'literal':
      t = (d.values as unknown[]).map((v) => JSON.stringify(v)).join(' \\| ');
      break;
    case 'union':
      t = (d.options as AnySchema[]).map(typeName).join(' \\| ');
      break;
    case 'array':
      t = `list of ${typeName(d.element as AnySchema)}`;
      break;
    case 'record':
      t = `map of ${typeName(d.valueType as AnySchema)}`;
      break;
    case 'object':
    case 'lazy':
      t = 'mapping';
      break;
    case 'number': {
      const checks = (d.checks as { _zod?: { def?: { check?: string; format?: string } } }[] | undefined) ?? [];
      t = checks.some((c) => c._zod?.def?.format === 'safeint' || c._zod?.def?.check === 'number_format') ? 'integer' : 'number';
      break;
    }
    default:
      t = d.type;
  }
  return nullable ? `${t} \\| null` : t;
}

function fmtDefault(u: Unwrapped): string {
  if (!u.hasDefault) return u.optional ? '(unset)' : '';
  const v = u.defaultValue;
  if (v === undefined) return '';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  const text = JSON.stringify(v);
  return text === '{}' ? '' : text;
}

function walk(s0: AnySchema, prefix: string, rows: ReferenceRow[], label = ''): void {
  const u = unwrapAll(s0);
  const d = u.schema.def;
  if (d.type === 'object') {
    for (const [k, child] of Object.entries(d.shape as Record<string, AnySchema>)) {
      const key = prefix ? `${prefix}.${k}` : k;
      const cu = unwrapAll(child);
      const ct = cu.schema.def.type;
      const isSection =
        ct === 'object' ||
        (ct === 'union' && (cu.schema.def.options as AnySchema[]).every((o) => unwrapAll(o).schema.def.type === 'object'));
      if (isSection) {
        if (cu.description) rows.push({ key: key + label, type: 'mapping', default: '', description: cu.description });
        walk(child, key, rows);
      } else {
        rows.push({ key: key + label, type: typeName(child), default: fmtDefault(cu), description: cu.description ?? '' });
        // Lists of mappings (sweep.cases): document the element's keys too.
        if (ct === 'array' && unwrapAll(cu.schema.def.element as AnySchema).schema.def.type === 'object') {
          walk(cu.schema.def.element as AnySchema, `${key}[]`, rows);
        }
      }
    }
  } else if (d.type === 'union') {
    // Discriminated sections (e.g. task kinds): list each alternative's keys under its kind.
    for (const opt of d.options as AnySchema[]) {
      const ou = unwrapAll(opt);
      if (ou.schema.def.type !== 'object') continue;
      const shape = ou.schema.def.shape as Record<string, AnySchema>;
      const kind = shape.kind ? unwrapAll(shape.kind) : undefined;
      const kindValue = kind?.schema.def.type === 'literal' ? (kind.schema.def.values as unknown[])[0] : kind?.defaultValue;
      const sub: ReferenceRow[] = [];
      walk(opt, prefix, sub, kindValue !== undefined ? ` (kind ${String(kindValue)})` : '');
      rows.push(...sub);
    }
  }
}

export function configReferenceRows(): ReferenceRow[] {
  const rows: ReferenceRow[] = [];
  walk(configSchema as unknown as AnySchema, '', rows);
  return rows;
}

export function configReferenceMarkdown(): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = ['| key | type | default | meaning |', '|---|---|---|---|'];
  for (const r of configReferenceRows()) {
    lines.push(`| \`${r.key}\` | ${r.type} | ${r.default ? `\`${esc(r.default)}\`` : ''} | ${esc(r.description)} |`);
  }
  return lines.join('\n');
}

export const REFERENCE_START = '<!-- config-reference:start (generated by `seqlab config-reference --write`; do not edit by hand) -->';
export const REFERENCE_END = '<!-- config-reference:end -->';

/** A Markdown page with its config-reference section replaced by the generated one. */
export function withReference(readme: string): string {
  const a = readme.indexOf(REFERENCE_START);
  const b = readme.indexOf(REFERENCE_END);
  if (a < 0 || b < a) throw new Error('the page has no config-reference markers');
  return readme.slice(0, a + REFERENCE_START.length) + '\n' + configReferenceMarkdown() + '\n' + readme.slice(b);
}
