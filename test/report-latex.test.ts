// The LaTeX table drops into a paper: compiled with pdflatex in a standard one-column article, it
// must produce no Overfull \hbox (skipped, with one line, where pdflatex is missing).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../src/commands/report.ts';
import { renderLatex } from '../src/report/render.ts';
import { lmSweep, mqarSweep } from './fixtures/report/sweep.ts';

const hasPdflatex = spawnSync('pdflatex', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasPdflatex) console.log('report-latex: pdflatex not found; skipping the compile test (.ci/run installs texlive-latex-base)');

function compile(table: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-tex-'));
  fs.writeFileSync(path.join(dir, 'table.tex'), table);
  fs.writeFileSync(
    path.join(dir, 'paper.tex'),
    '\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n\\input{table.tex}\n\\end{document}\n',
  );
  const r = spawnSync('pdflatex', ['-interaction=nonstopmode', '-halt-on-error', 'paper.tex'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const log = fs.readFileSync(path.join(dir, 'paper.log'), 'utf8');
  expect(r.status, log.slice(-2000)).toBe(0);
  return log;
}

describe('LaTeX table', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-tex-fixtures-'));
  const lm = lmSweep(tmp);
  const mqar = mqarSweep(tmp);

  it('chooses the axes that vary and the headline metrics; fixed quantities without ± 0; bold best mean', () => {
    const tex = renderLatex(buildReport([lm], {}));
    const header = tex.split('\n').find((l) => l.startsWith('preset'))!;
    expect(header).toMatch(/^preset & \$n\$ & valid bpb & params/);
    expect(tex).toContain('{\\footnotesize bits/byte}');
    expect(tex).not.toMatch(/\\pm\$\\,0(\.0+)?[ }\\]/); // no "± 0"
    expect(tex).toMatch(/\ntransformer & 2 & \\textbf\{2\.500\\,\$\\pm\$\\,0\.028\} & 40k/);
    expect(tex).toMatch(/% left out to fit one column .*: .*peak_tensor_bytes/);
    // A key zipped with another (num_kv_pairs with seq_len) moves to the caption.
    const recall = renderLatex(buildReport([mqar], {}));
    expect(recall).toMatch(/\npreset & d\\_model & seq\\_len & \$n\$ & accuracy/);
    expect(recall).toContain('num\\_kv\\_pairs = 2, 4 with seq\\_len = 16, 32.');
  });

  it.skipIf(!hasPdflatex)('compiles in a one-column article without an overfull box (default and recall tables)', () => {
    for (const r of [buildReport([lm], {}), buildReport([mqar], {}), buildReport([lm, mqar], { metric: 'params,train_tokens_per_s' })]) {
      const log = compile(renderLatex(r));
      expect(log).not.toMatch(/Overfull \\hbox/);
    }
  });

  it.skipIf(!hasPdflatex)('the check catches a table that is too wide (--columns with every metric)', () => {
    const r = buildReport([lm], {});
    r.texColumns = ['model.preset', ...r.metrics];
    expect(compile(renderLatex(r))).toMatch(/Overfull \\hbox/);
  });
});
