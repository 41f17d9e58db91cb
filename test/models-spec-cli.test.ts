import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerModels } from '../src/commands/models.ts';
import { UserError } from '../src/errors.ts';
import { modelCatalog } from '../src/models/catalog.ts';
import { mixerSchemas, MIXER_KINDS } from '../src/models/kinds/registry.ts';
import { PRESETS } from '../src/models/presets.ts';

async function runModels(args: string[]): Promise<string> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  });
  try {
    const program = new Command().exitOverride();
    program.configureOutput({ writeOut: (s) => chunks.push(s), writeErr: (s) => chunks.push(s) });
    registerModels(program);
    await program.parseAsync(['node', 'seqlab', 'models', ...args]);
  } catch (e) {
    if ((e as { code?: string }).code !== 'commander.helpDisplayed') throw e;
  } finally {
    spy.mockRestore();
  }
  return chunks.join('');
}

afterEach(() => vi.restoreAllMocks());

describe('model catalog', () => {
  it('lists every mixer kind with every schema field and its parsed default and a meaning', () => {
    const cat = modelCatalog();
    expect(cat.mixers.map((m) => m.kind)).toEqual([...MIXER_KINDS]);
    for (const info of cat.mixers) {
      const schema = mixerSchemas[info.kind as (typeof MIXER_KINDS)[number]];
      const defaults = schema.parse({ kind: info.kind }) as Record<string, unknown>;
      expect(info.fields.map((f) => f.name).sort()).toEqual(
        Object.keys(defaults)
          .filter((k) => k !== 'kind')
          .sort(),
      );
      for (const f of info.fields) {
        expect(f.default, `${info.kind}.${f.name}`).toEqual(defaults[f.name]);
        expect(f.meaning.length, `${info.kind}.${f.name}`).toBeGreaterThan(5);
      }
    }
    expect(cat.combinators.map((c) => c.kind)).toEqual(['parallel', 'routed']);
    expect(cat.patterns.map((p) => p.type)).toEqual(['uniform', 'alternating', 'hierarchical', 'interleave', 'sharedAttn', 'explicit']);
    expect(cat.presets.map((p) => p.name)).toEqual([...PRESETS]);
    for (const p of cat.presets) expect(p.layers.length, p.name).toBeGreaterThanOrEqual(cat.example.n_layers);
  });
});

describe('seqlab models', () => {
  it('prints tables of mixers, patterns and presets', async () => {
    const out = await runModels([]);
    for (const word of ['## Mixer kinds', '## Pattern types', '## Presets', 'selret', 'decay_init', 'fusion-route', 'sharedAttn'])
      expect(out).toContain(word);
  });

  it('--preset shows the layer expansion at the requested size', async () => {
    const out = await runModels(['--preset', 'jamba', '--n-layers', '16', '--d-model', '64']);
    const attnLines = out.split('\n').filter((l) => /^\s+\d+: attn/.test(l));
    expect(attnLines.map((l) => l.trim().split(':')[0])).toEqual(['4', '12']);
    expect(out).toContain('params ');
  });

  it('--json is machine readable; unknown presets are a UserError with a suggestion; --help has an example', async () => {
    const cat = JSON.parse(await runModels(['--json']));
    expect(cat.presets).toHaveLength(PRESETS.length);
    await expect(runModels(['--preset', 'jamb'])).rejects.toThrow(UserError);
    await expect(runModels(['--preset', 'jamb'])).rejects.toThrow(/did you mean "jamba"/);
    const help = await runModels(['--help']);
    expect(help).toContain('Examples:');
    expect(help).toContain('$ seqlab models --preset jamba');
  });
});
