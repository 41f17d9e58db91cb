/** `seqlab models`: every mixer kind, pattern type and preset, with defaults and expansions. */
import type { Command } from 'commander';
import { didYouMean } from '../util/suggest.ts';
import { UserError } from '../errors.ts';
import { DEFAULT_EXAMPLE, modelCatalog, presetInfo, type CatalogExample, type KindInfo } from '../models/catalog.ts';
import { PRESETS, type PresetName } from '../models/presets.ts';
import { humanCount, markdownTable } from '../util/format.ts';
import { positiveInt } from './options.ts';

const fmt = (v: unknown): string =>
  typeof v === 'number' && !Number.isFinite(v) ? String(v) : typeof v === 'string' ? v : JSON.stringify(v);

const posInt =
  (flag: string) =>
  (v: string): number =>
    positiveInt(flag, v)!;

function kindTable(kinds: KindInfo[]): string {
  const rows = kinds.flatMap((k) => k.fields.map((f, i) => [i === 0 ? k.kind : '', f.name, fmt(f.default), f.meaning]));
  return markdownTable(['kind', 'field', 'default', 'meaning'], rows);
}

interface Opts {
  json?: boolean;
  preset?: string;
  dModel: number;
  nLayers: number;
  seqLen: number;
  vocab: number;
}

export function registerModels(program: Command): void {
  program
    .command('models')
    .description('list mixer kinds (fields, defaults), layer patterns and presets (expansion, params, FLOPs)')
    .option('--json', 'machine-readable output')
    .option('--preset <name>', 'show one preset: its layer list, params and FLOPs')
    .option('--d-model <n>', 'model width for the preset figures', posInt('--d-model'), DEFAULT_EXAMPLE.d_model)
    .option('--n-layers <n>', 'layers for the preset figures', posInt('--n-layers'), DEFAULT_EXAMPLE.n_layers)
    .option('--seq-len <n>', 'context length for FLOPs and auto forms', posInt('--seq-len'), DEFAULT_EXAMPLE.seq_len)
    .option('--vocab <n>', 'vocabulary size for the preset figures', posInt('--vocab'), DEFAULT_EXAMPLE.vocab_size)
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ seqlab models                          # all mixers, patterns and presets',
        '  $ seqlab models --preset jamba --n-layers 16',
        '  $ seqlab models --json > models.json',
        '',
        'In a config, pick a preset and override mixer fields by name:',
        '  model: { preset: fusion-selret, d_model: 256, n_layers: 6, mixer: { decay: gla, chunk: 32 } }',
      ].join('\n'),
    )
    .action((opts: Opts) => {
      const ex: CatalogExample = { d_model: opts.dModel, n_layers: opts.nLayers, seq_len: opts.seqLen, vocab_size: opts.vocab };
      if (opts.preset !== undefined) {
        if (!(PRESETS as readonly string[]).includes(opts.preset))
          throw new UserError(`--preset: unknown preset '${opts.preset}'${didYouMean(opts.preset, PRESETS)}; one of ${PRESETS.join(', ')}`);
        const p = presetInfo(opts.preset as PresetName, ex);
        if (opts.json) return void process.stdout.write(JSON.stringify({ ...p, example: ex }, null, 2) + '\n');
        const out = [
          `${p.name}: ${p.expansion}`,
          `d_model ${ex.d_model}, n_layers ${ex.n_layers}, vocab ${ex.vocab_size}, seq_len ${ex.seq_len}:`,
          ...p.layers.map((l) => `  ${l}`),
          `params ${p.params.toLocaleString('en-US')} (non-embedding ${p.paramsNonEmbedding.toLocaleString('en-US')}); forward FLOPs/token ${p.flopsPerToken.toLocaleString('en-US')}`,
        ];
        return void process.stdout.write(out.join('\n') + '\n');
      }
      const cat = modelCatalog(ex);
      if (opts.json) return void process.stdout.write(JSON.stringify(cat, null, 2) + '\n');
      const sections = [
        '## Mixer kinds (model.pattern layers; override any field for all mixers with model.mixer.<field>)',
        markdownTable(
          ['kind', 'summary', "ffn 'auto'"],
          cat.mixers.map((k) => [k.kind, k.summary, k.defaultFfn ?? '']),
        ),
        kindTable(cat.mixers),
        '## Layer combinators (mixer kinds that hold branches)',
        kindTable(cat.combinators),
        '## Pattern types (model.pattern.type; n_layers defaults to model.n_layers)',
        markdownTable(
          ['type', 'fields', 'meaning'],
          cat.patterns.map((p) => [p.type, p.fields.join(', '), p.meaning]),
        ),
        `## Presets (model.preset; figures at d_model ${ex.d_model}, n_layers ${ex.n_layers}, vocab ${ex.vocab_size}, seq_len ${ex.seq_len})`,
        markdownTable(
          ['preset', 'expansion', 'params', 'non-emb', 'fwd FLOPs/token'],
          cat.presets.map((p) => [
            p.name,
            p.expansion,
            humanCount(p.params),
            humanCount(p.paramsNonEmbedding),
            humanCount(p.flopsPerToken),
          ]),
        ),
        'Show one preset layer by layer: seqlab models --preset <name> [--n-layers N --d-model D]',
      ];
      process.stdout.write(sections.join('\n\n') + '\n');
    });
}
