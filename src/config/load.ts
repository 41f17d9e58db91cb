/**
 * Config files: YAML with `extends:` chains, `--set a.b=value` overrides, and error messages that
 * name the file, line and column, the dotted key, what was expected and what was found.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isAlias, isCollection, isPair, isScalar, LineCounter, parseDocument, parse as parseYaml, type Document } from 'yaml';
import type { z } from 'zod';
import { UserError, UserErrors } from '../errors.ts';
import { firstInvalidUtf8 } from '../tasks/text.ts';
import { closest, didYouMean } from '../util/suggest.ts';
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
    const merged = isPlainObject(v) && Object.hasOwn(out, k) && isPlainObject(out[k]) ? deepMerge(out[k] as Raw, v) : v;
    // An own data property even for "__proto__", so that it reaches the schema as an unknown key.
    Object.defineProperty(out, k, { value: merged, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

export function splitKey(key: string): string[] {
  return key.split('.').filter((s) => s.length > 0);
}

/** Why a dotted key is malformed (empty segment, leading/trailing dot, blanks), or undefined if it is fine. */
export function malformedKey(key: string): string | undefined {
  if (key.length === 0) return 'empty key';
  if (/\s/.test(key)) return `"${key}" contains a blank`;
  if (key.startsWith('.') || key.endsWith('.')) return `"${key}" starts or ends with a dot`;
  if (key.includes('..')) return `"${key}" has an empty segment between two dots`;
  return undefined;
}

/**
 * The path an override or sweep key writes. `sweep.grid` / `sweep.zip` are maps from a dotted key to
 * values, so `sweep.grid.train.lr` is the axis "train.lr" of sweep.grid, not sweep.grid.train.lr.
 */
export function overridePath(keys: string[]): string[] {
  if (keys[0] !== 'sweep') return keys;
  const join = (n: number) => (keys.length > n + 1 ? [...keys.slice(0, n), keys.slice(n).join('.')] : keys);
  if (keys[1] === 'grid' || keys[1] === 'zip') return join(2); // sweep.grid.<axis>
  if (keys[1] === 'exclude' && /^\d+$/.test(keys[2] ?? '')) return join(3); // sweep.exclude.<i>.<key>
  if (keys[1] === 'cases' && /^\d+$/.test(keys[2] ?? '') && ['set', 'grid', 'zip'].includes(keys[3])) return join(4); // sweep.cases.<i>.set.<key>
  return keys;
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

/**
 * Set a dotted key on a plain object, creating intermediate objects (returns a new object). A
 * numeric segment indexes an existing list (sweep.cases.0.name); past its end it is an error.
 */
export function setPath(obj: Raw, keys: string[], value: unknown): Raw {
  return setIn(obj, keys, value, []) as Raw;
}

function setIn(node: unknown, keys: string[], value: unknown, done: string[]): unknown {
  if (keys.length === 0) return value;
  const [head, ...rest] = keys;
  if (Array.isArray(node) && /^\d+$/.test(head)) {
    const i = Number(head);
    if (i >= node.length) throw new UserError(`${[...done, head].join('.')}: index ${i} is past the end of a list of ${node.length}`);
    const copy = [...node];
    copy[i] = setIn(node[i], rest, value, [...done, head]);
    return copy;
  }
  const obj = isPlainObject(node) ? node : {};
  return { ...obj, [head]: setIn(obj[head], rest, value, [...done, head]) };
}

/** A config describes an experiment; a file this large is data (or an attack), not a config. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

function readYaml(file: string): SourceFile & { value: unknown } {
  let text: string;
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_CONFIG_BYTES)
      throw new UserError(`${file}: ${size} bytes is too large for a config file (limit ${MAX_CONFIG_BYTES}); is it a data file?`);
    const buf = fs.readFileSync(file);
    const bad = firstInvalidUtf8(buf);
    if (bad >= 0) {
      const line = buf.subarray(0, bad).toString('utf8').split('\n').length;
      throw new UserError(`${file}:${line}: not valid UTF-8 (byte 0x${buf[bad].toString(16)} at offset ${bad}); save the config as UTF-8`);
    }
    text = buf.toString('utf8');
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${code ?? String(e)})`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  // Warnings (an unknown !tag, ...) mean the file does not say what it seems to: errors here.
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    throw new UserErrors(
      problems.map((err) => {
        const pos = err.linePos?.[0] ?? lines.linePos(err.pos[0]);
        let what = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
        if (/call stack/i.test(what)) what = 'collections nested too deeply';
        return `${file}:${pos.line}:${pos.col}: YAML ${err.name === 'YAMLWarning' ? 'problem' : 'syntax error'}: ${what}`;
      }),
    );
  }
  const src = { file, doc, lines };
  if (doc.contents === null || (isCollection(doc.contents) && doc.contents.items.length === 0)) {
    throw new UserError(`${file}:1:1: the config is empty (no keys); write at least one key, e.g. name: my-sweep`);
  }
  checkAliases(src);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: -1 });
  } catch (e) {
    // checkAliases catches what it can name; anything else yaml refuses is still the file's fault.
    if (e instanceof ReferenceError) throw new UserError(`${file}:1:1: YAML alias error: ${e.message}`);
    throw e;
  }
  if (!isPlainObject(value)) throw new UserError(`${file}:1:1: expected a mapping of config keys at the top level`);
  return { ...src, value };
}

/** More values than this, once aliases are expanded, is an alias bomb rather than a config. */
export const MAX_EXPANDED_VALUES = 100_000;

/**
 * Expanded size of every node (an alias counts as the whole node it points to), in document order,
 * so that `a: &a [x, x, ...]; b: &b [*a, *a, ...]; ...` is refused at the first collection that
 * grows past MAX_EXPANDED_VALUES, naming its key and line, before anything expands it.
 */
function checkAliases(src: SourceFile): void {
  const anchors = new Map<string, number>(); // anchor -> expanded size of its node
  const at = (node: unknown, keys: Path) => {
    const range = (node as { range?: [number, number, number] }).range;
    const pos = range ? src.lines.linePos(range[0]) : { line: 1, col: 1 };
    return `${src.file}:${pos.line}:${pos.col}: ${dotted(keys)}`;
  };
  // Returns the expanded size and the first alias inside (with its key path), if any.
  type Walked = { size: number; alias?: { node: unknown; keys: Path } };
  const walk = (node: unknown, keys: Path): Walked => {
    if (node === null || node === undefined) return { size: 1 };
    let out: Walked;
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target === undefined) throw new UserError(`${at(node, keys)}: alias *${node.source} has no anchor &${node.source} before it`);
      out = { size: target, alias: { node, keys } };
    } else if (isCollection(node)) {
      out = { size: 1 };
      node.items.forEach((item: unknown, i: number) => {
        const parts: Walked[] = isPair(item)
          ? [walk(item.key, keys), walk(item.value, [...keys, isScalar(item.key) ? String(item.key.value) : String(i)])]
          : [walk(item, [...keys, i])];
        for (const p of parts) {
          out.size += p.size;
          out.alias ??= p.alias;
        }
      });
      if (out.size > MAX_EXPANDED_VALUES && out.alias) {
        throw new UserError(
          `${at(out.alias.node, out.alias.keys)}: YAML aliases expand to more than ${MAX_EXPANDED_VALUES} values (under ${dotted(keys)}; an alias bomb?); write the values out instead of nesting aliases`,
        );
      }
    } else out = { size: 1 };
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor) anchors.set(anchor, out.size);
    return out;
  };
  walk(src.doc.contents, []);
}

function loadChain(file: string, stack: string[], sources: SourceFile[]): Raw {
  const abs = path.resolve(file);
  const src = readYaml(file);
  const value = src.value as Raw;
  const ext = value.extends;
  let merged: Raw = {};
  if (ext !== undefined) {
    const list = typeof ext === 'string' ? [ext] : Array.isArray(ext) ? ext : null;
    if (!list || list.some((x) => typeof x !== 'string')) {
      throw new UserError(`${locateIn(src, ['extends'])}: extends: expected a file name or a list of file names`);
    }
    for (const [i, base] of (list as string[]).entries()) {
      const basePath = path.resolve(path.dirname(abs), base);
      const here = locateIn(src, typeof ext === 'string' ? ['extends'] : ['extends', i]);
      if (!fs.existsSync(basePath)) throw new UserError(`${here}: extends: ${base}: no such file`);
      const chain = [...stack, abs];
      if (chain.includes(basePath)) {
        const cycle = [...chain.slice(chain.indexOf(basePath)), basePath].map((f) => path.relative(process.cwd(), f) || f);
        throw new UserError(`${here}: extends cycle: ${cycle.join(' -> ')}`);
      }
      // Named as the user would type it from here (a relative path), so error lines stay short.
      merged = deepMerge(merged, loadChain(path.relative(process.cwd(), basePath) || basePath, chain, sources));
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
  const key = spec.slice(0, eq).trim();
  const bad = malformedKey(key);
  if (bad) throw new UserError(`--set ${spec}: malformed key (${bad}); expected dotted names like train.lr`);
  const keys = overridePath(key.split('.'));
  let value: unknown;
  try {
    value = parseYaml(spec.slice(eq + 1));
  } catch (e) {
    throw new UserError(`--set ${spec}: value is not valid YAML (${(e as Error).message.split('\n')[0]})`);
  }
  return { keys, value: value === undefined ? null : value };
}

/** Apply `KEY=VALUE` overrides in order (later wins); errors name the override as `--set KEY=VALUE`. */
export function applyOverrides(raw: Raw, specs: string[]): Raw {
  for (const spec of specs) {
    const { keys, value } = parseOverride(spec);
    try {
      raw = setPath(raw, keys, value);
    } catch (e) {
      throw e instanceof UserError ? new UserError(`--set ${spec}: ${e.message}`) : e;
    }
  }
  return raw;
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
  if (!isPlainObject(body))
    throw new UserError(
      `${where(['profiles', name])}: profiles.${name}: expected a mapping of dotted key -> value, found ${describeValue(body)}`,
    );
  let out = raw;
  for (const [key, value] of Object.entries(body)) {
    const keys = splitKey(key);
    if (['profiles', 'extends'].includes(keys[0] ?? ''))
      throw new UserError(`${where(['profiles', name, key])}: profiles.${name}: "${key}" cannot be set by a profile`);
    // A mapping merges into the mapping already there (as extends does): `sweep.grid: {...}`
    // replaces the axes it names and keeps the others.
    const here = getPath(out, keys);
    out = setPath(out, keys, isPlainObject(value) && isPlainObject(here) ? deepMerge(here, value) : value);
  }
  return { raw: out, keys: Object.keys(body) };
}

/** Load a config: the extends chain merged (bases first), then profiles.<profile>, then the overrides. */
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
  raw = applyOverrides(raw, overrides);
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
  const setByOverride = (o: string) => {
    const k = o.slice(0, o.indexOf('=')).trim();
    return setKey === k || setKey.startsWith(k + '.');
  };
  if (loaded.overrides.some(setByOverride)) return '--set';
  const byProfile = loaded.profile?.keys.find((k) => setKey === k || setKey.startsWith(k + '.'));
  if (loaded.profile && byProfile !== undefined)
    return `${locate({ ...loaded, profile: undefined }, ['profiles', loaded.profile.name, byProfile])} (profile ${loaded.profile.name})`;
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
      else if (d.type === 'object' && typeof k === 'string' && (d.shape as Record<string, AnySchema>)[k])
        next.push((d.shape as Record<string, AnySchema>)[k]);
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
