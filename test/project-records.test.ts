// LICENSE and CITATION.cff agree with package.json (licence, name, version) and parse.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string; license: string };

describe('project records', () => {
  it('LICENSE is the licence package.json names', () => {
    expect(pkg.license).toBe('MIT');
    const text = fs.readFileSync(path.join(root, 'LICENSE'), 'utf8');
    expect(text.split('\n')[0]).toBe('MIT License');
    expect(text).toContain('Permission is hereby granted, free of charge');
  });
  it('CITATION.cff is valid CFF 1.2 with the package version and licence', () => {
    const cff = parse(fs.readFileSync(path.join(root, 'CITATION.cff'), 'utf8')) as Record<string, unknown>;
    expect(cff['cff-version']).toBe('1.2.0');
    for (const k of ['message', 'title', 'authors']) expect(cff[k], k).toBeTruthy();
    expect(String(cff.title)).toMatch(new RegExp(`^${pkg.name}\\b`));
    expect(String(cff.version)).toBe(pkg.version);
    expect(cff.license).toBe(pkg.license);
    expect(Array.isArray(cff.authors) && (cff.authors as unknown[]).length).toBeGreaterThan(0);
  });
});
