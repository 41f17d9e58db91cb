import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withReference } from '../src/config/reference.ts';

const root = path.resolve(__dirname, '..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');

describe('README', () => {
  it('config reference is the one generated from the schema (run `npx seqlab config-reference --write`)', () => {
    const page = fs.readFileSync(path.join(root, 'docs/config-reference.md'), 'utf8');
    expect(page).toBe(withReference(page));
  });

  it('quick start runs the main job and the same test command as CI', () => {
    expect(readme).toContain('npm ci && npx seqlab run configs/quickstart.yaml');
    expect(readme).toContain('npm ci && npm test');
    const ci = fs.readFileSync(path.join(root, '.ci/run'), 'utf8');
    expect(ci).toMatch(/^npm ci$/m);
    expect(ci).toMatch(/^npm test$/m);
    expect(fs.existsSync(path.join(root, 'configs/quickstart.yaml'))).toBe(true);
  });
});
