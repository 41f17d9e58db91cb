/**
 * Config files: YAML with `extends:` chains, `--set a.b=value` overrides, and error messages that
 * name the file, line and column, the dotted key, what was expected and what was found.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LineCounter, parseDocument, parse as parseYaml, type Document } from 'yaml';
import type { z } from 'zod';
import { UserError, UserErrors } from '../errors.ts';
import { closest, didYouMean } from './suggest.ts';
import { configSchema, SECTIONS, type ExperimentConfig } from './schema.ts';

type Raw = Record<string, unknown>;
type Path = (string | number)[];

interface SourceFile {
  file: string;
  doc: Document;
  lines: LineCounter;
}

export interface LoadedConfig {
  /** The merged config as written (extends resolved, overrides applied), before validation. */
  raw: Raw;
  /** The main file. */
  file: string;
  /** Every file that contributed, bases first, the main file last. */
  sources: SourceFile[];
  /** The --set overrides, as given. */
  overrides: string[];
  /** The --profile chosen, if any, and the dotted keys it set. */
  profile?: { name: string; keys: string[] };
}

export function isPlainObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge: objects merge key by key, everything else (lists included) is replaced. */
export function deepMerge(base: Raw, over: Raw): Raw {
  const out: Raw = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k] as Raw, v) : v;
  }
  return out;
}

export function splitKey(key: string): string[] {
  return key.split('.').filter((s) => s.length > 0);
}

export function getPath(obj: unknown, keys: Path): unknown {
  let cur = obj;
  for (const k of keys) {
    if (Array.isArray(cur) && typeof k === 'number') cur = cur[k];
    else if (isPlainObject(cur)) cur = cur[k as string];
    else return undefined;
  }
  return cur;
}

/** Set a dotted key on a plain object, creating intermediate objects (returns a new object). */
export function setPath(obj: Raw, keys: string[], value: unknown): Raw {
  if (keys.length === 0) return obj;
  const [head, ...rest] = keys;
  const child = obj[head];
  return { ...obj, [head]: rest.length === 0 ? value : setPath(isPlainObject(child) ? child : {}, rest, value) };
}

function readYaml(file: string): SourceFile & { value: unknown } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${code ?? String(e)})`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new UserErrors(
      doc.errors.map((err) => {
        const pos = err.linePos?.[0] ?? lines.linePos(err.pos[0]);
        const what = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
        return `${file}:${pos.line}:${pos.col}: YAML syntax error: ${what}`;
      }),
    );
  }
  const value = doc.toJS({ maxAliasCount: 1000 }) ?? {};
  if (!isPlainObject(value)) throw new UserError(`${file}:1:1: expected a mapping of config keys at the top level`);
  return { file, doc, lines, value };
}

function loadChain(file: string, stack: string[], sources: SourceFile[]): Raw {
  const abs = path.resolve(file);
  if (stack.includes(abs)) {
    const cycle = [...stack.slice(stack.indexOf(abs)), abs].map((f) => path.relative(process.cwd(), f) || f);
    throw new UserError(`extends cycle: ${cycle.join(' -> ')}`);
  }
  const src = readYaml(file);
  const value = src.value as Raw;
  const ext = value.extends;
  let merged: Raw = {};
  if (ext !== undefined) {
    const list = typeof ext === 'string' ? [ext] : Array.isArray(ext) ? ext : null;
    if (!list || list.some((x) => typeof x !== 'string')) {
      throw new UserError(`${locateIn(src, ['extends'])}: extends: expected a file name or a list of file names`);
    }
    for (const base of list as string[]) {
      const basePath = path.resolve(path.dirname(abs), base);
      if (!fs.existsSync(basePath)) throw new UserError(`${locateIn(src, ['extends'])}: extends: ${base}: no such file`);
      merged = deepMerge(merged, loadChain(basePath, [...stack, abs], sources));
    }
  }
  sources.push(src);
  const { extends: _drop, ...own } = value;
  return deepMerge(merged, own);
}

/** Parse `a.b.c=value` (value parsed as YAML). */
export function parseOverride(spec: string): { keys: string[]; value: unknown } {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new UserError(`--set ${spec}: expected KEY=VALUE, e.g. --set train.lr=1e-3`);
  const keys = splitKey(spec.slice(0, eq).trim());
  if (keys.length === 0) throw new UserError(`--set ${spec}: empty key`);
  let value: unknown;
  try {
    value = parseYaml(spec.slice(eq + 1));
  } catch (e) {
    throw new UserError(`--set ${spec}: value is not valid YAML (${(e as Error).message.split('\n')[0]})`);
  }
  return { keys, value: value === undefined ? null : value };
}

/** Apply `profiles.<name>` (dotted key -> value) to a merged config; the keys it set. */
export function applyProfile(raw: Raw, name: string, where: (keys: Path) => string): { raw: Raw; keys: string[] } {
  const profiles = raw.profiles;
  const names = isPlainObject(profiles) ? Object.keys(profiles) : [];
  if (!names.includes(name)) {
    const have = names.length ? `; profiles: ${names.join(', ')}` : '; the config defines no profiles';
    throw new UserError(`${where(['profiles'])}: --profile ${name}: no such profile${didYouMean(name, names)}${have}`);
  }
  const body = (profiles as Raw)[name];
  if (!isPlainObject(body)) throw new UserError(`${where(['profiles', name])}: profiles.${name}: expected a mapping of dotted key -> value, found ${describeValue(body)}`);
  let out = raw;
  for (const [key, value] of Object.entries(body)) {
    const keys = splitKey(key);
    if (['profiles', 'extends'].includes(keys[0] ?? '')) throw new UserError(`${where(['profiles', name, key])}: profiles.${name}: "${key}" cannot be set by a profile`);
    // A mapping merges into the mapping already there (as extends does): `sweep.grid: {...}`
    // replaces the axes it names and keeps the others.
    const here = getPath(out, keys);
    out = setPath(out, keys, isPlainObject(value) && isPlainObject(here) ? deepMerge(here, value) : value);
  }
  return { raw: out, keys: Object.keys(body) };
}

export function loadConfigFile(file: string, overrides: string[] = [], profile?: string): LoadedConfig {
  const sources: SourceFile[] = [];
  let raw = loadChain(file, [], sources);
  let applied: LoadedConfig['profile'];
  if (profile !== undefined) {
    const partial: LoadedConfig = { raw, file, sources, overrides: [] };
    const r = applyProfile(raw, profile, (keys) => locate(partial, keys));
    raw = r.raw;
    applied = { name: profile, keys: r.keys };
  }
  for (const spec of overrides) {
    const { keys, value } = parseOverride(spec);
    raw = setPath(raw, keys, value);
  }
  return { raw, file, sources, overrides, profile: applied };
}

function locateIn(src: SourceFile, keys: Path): string {
  // The deepest node of the path that this file has: errors point at the closest thing written.
  for (let n = keys.length; n >= 0; n--) {
    const node = n === 0 ? src.doc.contents : src.doc.getIn(keys.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range && node) {
      const pos = src.lines.linePos(range[0]);
      if (n === keys.length || n > 0) return `${src.file}:${pos.line}:${pos.col}`;
    }
  }
  return src.file;
}

/** file:line:col of the last source that writes this key (or its closest written parent). */
export function locate(loaded: LoadedConfig, keys: Path): string {
  const setKey = keys.join('.');
  if (loaded.overrides.some((o) => setKey.startsWith(o.slice(0, o.indexOf('=')).trim()))) return '--set';
  const byProfile = loaded.profile?.keys.find((k) => setKey === k || setKey.startsWith(k + '.'));
  if (loaded.profile && byProfile !== undefined) return `${locate({ ...loaded, profile: undefined }, ['profiles', loaded.profile.name, byProfile])} (profile ${loaded.profile.name})`;
  for (let i = loaded.sources.length - 1; i >= 0; i--) {
    const src = loaded.sources[i];
    if (src.doc.hasIn(keys)) return locateIn(src, keys);
  }
  // Nobody wrote it (e.g. a missing required key): point at the closest parent in the main file.
  return locateIn(loaded.sources[loaded.sources.length - 1], keys);
}

// ---- zod issues -> messages ------------------------------------------------------------------

type AnySchema = z.ZodType & { def: Record<string, unknown> & { type: string } };

function unwrap(s: AnySchema): AnySchema {
  for (;;) {
    const d = s.def;
    if (['default', 'optional', 'nullable', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(d.type)) s = d.innerType as AnySchema;
    else if (d.type === 'pipe') s = d.in as AnySchema;
    else if (d.type === 'lazy') s = (d.getter as () => AnySchema)();
    else return s;
  }
}

/** Sub-schemas reachable at `keys` (several when unions are involved). */
function schemasAt(schema: AnySchema, keys: Path): AnySchema[] {
  let cur = [schema];
  for (const k of keys) {
    const next: AnySchema[] = [];
    const visit = (s0: AnySchema) => {
      const s = unwrap(s0);
      const d = s.def;
      if (d.type === 'union') (d.options as AnySchema[]).forEach(visit);
      else if (d.type === 'object' && typeof k === 'string' && (d.shape as Record<string, AnySchema>)[k]) next.push((d.shape as Record<string, AnySchema>)[k]);
      else if (d.type === 'record') next.push(d.valueType as AnySchema);
      else if (d.type === 'array' && typeof k === 'number') next.push(d.element as AnySchema);
    };
    cur.forEach(visit);
    cur = next;
  }
  return cur;
}

export function knownKeys(schema: z.ZodType, keys: Path): string[] {
  const out = new Set<string>();
  const visit = (s0: AnySchema) => {
    const s = unwrap(s0);
    if (s.def.type === 'union') (s.def.options as AnySchema[]).forEach(visit);
    else if (s.def.type === 'object') Object.keys(s.def.shape as object).forEach((k) => out.add(k));
  };
  schemasAt(schema as AnySchema, keys).forEach(visit);
  return [...out];
}

export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing (the key is missing)';
  if (v === null) return 'null';
  if (typeof v === 'string') return `string "${v.length > 40 ? v.slice(0, 40) + '...' : v}"`;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${String(v)}`;
}

export function dotted(keys: Path): string {
  return keys.map(String).join('.') || '(top level)';
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
  values?: unknown[];
  expected?: string;
  errors?: Issue[][];
  options?: unknown[];
}

/** One message per problem, each naming the key and (given a locator) its place in the file. */
export function formatIssues(schema: z.ZodType, issues: readonly Issue[], input: unknown, where: (keys: Path) => string): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    const keys = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)) as Path;
    const found = getPath(input, keys);
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(schema, keys);
      for (const k of issue.keys ?? []) {
        const full = [...keys, k];
        out.push(`${where(full)}: ${dotted(full)}: unknown key${didYouMean(k, known)}`);
      }
    } else if ((issue.code === 'invalid_value' && issue.values) || (issue.code === 'invalid_union' && issue.options)) {
      // A defaulted discriminator lists `undefined` among its options: not something to write.
      const values = (issue.values ?? issue.options ?? []).filter((v) => v !== undefined && v !== null);
      const opts = values.map((v) => JSON.stringify(v));
      const hint = typeof found === 'string' ? didYouMean(found, values.map(String)) : '';
      out.push(`${where(keys)}: ${dotted(keys)}: expected one of ${opts.join(', ')}, found ${describeValue(found)}${hint}`);
    } else if (issue.code === 'invalid_type') {
      out.push(`${where(keys)}: ${dotted(keys)}: expected ${issue.expected}, found ${describeValue(found)}`);
    } else if (issue.code === 'invalid_union' && issue.errors && issue.errors.length > 0) {
      // Report the alternative that got furthest (fewest issues), e.g. the right task kind.
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0];
      const nested = best.map((i) => ({ ...i, path: [...issue.path, ...i.path] }));
      if (nested.length > 0) out.push(...formatIssues(schema, nested, input, where));
      else out.push(`${where(keys)}: ${dotted(keys)}: ${issue.message}, found ${describeValue(found)}`);
    } else {
      out.push(`${where(keys)}: ${dotted(keys)}: ${issue.message.replace(/^Invalid input: /, '')}, found ${describeValue(found)}`);
    }
  }
  return [...new Set(out)];
}

/** Fill omitted sections with {} so that their defaults apply. */
export function withSections(raw: Raw): Raw {
  const out = { ...raw };
  for (const s of SECTIONS) if (out[s] === undefined || out[s] === null) out[s] = {};
  return out;
}

/** Validate a raw config (all errors at once) or throw UserErrors. */
export function parseConfig(raw: Raw, where: (keys: Path) => string): ExperimentConfig {
  const input = withSections(raw);
  const r = configSchema.safeParse(input);
  if (!r.success) throw new UserErrors(formatIssues(configSchema, r.error.issues as unknown as Issue[], input, where));
  return r.data;
}

/** Whether a dotted key names a config key (used to check sweep axes). */
export function keyExists(keys: string[]): { ok: boolean; suggestion?: string } {
  for (let n = 1; n <= keys.length; n++) {
    const parent = keys.slice(0, n - 1);
    const known = knownKeys(configSchema, parent);
    const here = schemasAt(configSchema as unknown as AnySchema, parent).map((s) => unwrap(s).def.type);
    if (here.some((t) => t === 'record' || t === 'unknown' || t === 'any')) return { ok: true };
    if (known.length === 0) return { ok: n > 1 };
    if (!known.includes(keys[n - 1])) {
      const c = closest(keys[n - 1], known);
      return { ok: false, suggestion: c ? [...parent, c].join('.') : undefined };
    }
  }
  return { ok: true };
}

