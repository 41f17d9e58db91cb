// `seqlab data CORPUS`: per-split sizes and reference floors on the test split, to place a model's bpb.
import { Option, type Command } from 'commander';
import { UserError } from '../errors.ts';
import { dataReport, type DataReport } from '../tasks/catalog.ts';

export function formatDataReport(r: DataReport): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const rows = (['train', 'valid', 'test'] as const).map((s) => [
    s,
    n(r.splits[s].docs),
    n(r.splits[s].bytes),
    n(r.splits[s].chars),
    n(r.splits[s].tokens),
  ]);
  const head = ['split', 'docs', 'bytes', 'chars', `tokens (${r.tokenizer}, incl. EOS)`];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (cells: string[]) => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(' | ') + ' |';
  return [
    `corpus ${r.corpus}: ${r.split_rule}`,
    `licence: ${r.licence}`,
    `tokenizer ${r.tokenizer}, vocabulary ${r.vocab_size}`,
    '',
    fmt(head),
    '|' + w.map((x, i) => (i === 0 ? ':' : '-') + '-'.repeat(x) + (i === 0 ? '-' : ':')).join('|') + '|',
    ...rows.map(fmt),
    '',
    'reference floors on the test split (bits per byte; a model has learned something below the bigram line):',
    `  unigram ${r.floors.unigram_bpb.toFixed(3)}   bigram ${r.floors.bigram_bpb.toFixed(3)}   gzip (zlib -9) ${r.floors.gzip_bpb.toFixed(3)}`,
    `  (${r.floors.note})`,
  ].join('\n');
}

export function registerData(program: Command): void {
  program
    .command('data')
    .description('print per-split documents, bytes and tokens of a corpus, plus unigram/bigram/gzip floors on its test split')
    .argument('<corpus>', 'sotu | gutenberg | brown | file:PATH | dir:PATH')
    .addOption(new Option('--tokenizer <t>', 'tokenizer').choices(['byte', 'char', 'bpe']).default('byte'))
    .option('--bpe-vocab <n>', 'BPE vocabulary size (with --tokenizer bpe)', '1024')
    .option('--ascii-fold', 'fold typographic punctuation to ASCII first')
    .addOption(new Option('--split <s>', 'split rule').choices(['default', 'chronological']).default('default'))
    .option('--json', 'print machine-readable JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ seqlab data sotu\n  $ seqlab data gutenberg --tokenizer bpe --bpe-vocab 4096\n  $ seqlab data dir:./my-texts --json',
    )
    .action(
      (
        corpus: string,
        opts: {
          tokenizer: 'byte' | 'char' | 'bpe';
          bpeVocab: string;
          asciiFold?: boolean;
          split: 'default' | 'chronological';
          json?: boolean;
        },
      ) => {
        const bpeVocab = Number(opts.bpeVocab);
        if (!Number.isInteger(bpeVocab) || bpeVocab < 258 || bpeVocab > 65536) {
          throw new UserError(`--bpe-vocab: expected an integer in 258..65536, got '${opts.bpeVocab}'`);
        }
        const r = dataReport(corpus, { tokenizer: opts.tokenizer, bpeVocab, asciiFold: opts.asciiFold, split: opts.split });
        process.stdout.write((opts.json ? JSON.stringify(r, null, 2) : formatDataReport(r)) + '\n');
      },
    );
}
