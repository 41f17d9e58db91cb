/**
 * The rows of `seqlab plan`: each planned run with its parameter and FLOP counts and its live
 * state in the sweep directory (new / running / done / failed / lost ...).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Plan, PlannedRun } from '../config/plan.ts';
import { flopsPerToken } from '../models/flops.ts';
import { countParams } from '../models/params.ts';
import { ledgerByRun, readLedger, type LedgerEntry } from './ledger.ts';
import { viewRun } from './state.ts';

/** State of a planned run from the sweep directory's files: new, done, running, lost, failed, ... */
export function runState(plan: Plan, run: PlannedRun, ledger: Map<string, LedgerEntry[]>): string {
  if (!fs.existsSync(path.join(plan.sweepDir, 'runs', run.id))) return 'new';
  const state = viewRun(plan.sweepDir, run.id, ledger.get(run.id)).state;
  return state === 'planned' ? 'new' : state;
}

export function planRows(plan: Plan) {
  const ledger = fs.existsSync(plan.sweepDir) ? ledgerByRun(readLedger(plan.sweepDir)) : new Map<string, LedgerEntry[]>();
  return plan.runs.map((run) => {
    const { params, paramsNonEmbedding } = countParams(run.config.model);
    const seqLen = run.config.model.seq_len ?? (run.config.task as { seq_len?: number }).seq_len ?? 0;
    const fwd = flopsPerToken(run.config.model, seqLen);
    const tokens = run.config.train.steps * run.config.train.batch_size * run.config.train.grad_accum * seqLen;
    // Before the data step a char vocabulary is a lower bound, and so are the counts that use it.
    const bound = run.vocabExact === false;
    return {
      run,
      params,
      paramsNonEmbedding,
      flopsPerToken: fwd,
      trainFlops: 3 * fwd * tokens,
      lowerBound: bound,
      state: runState(plan, run, ledger),
    };
  });
}
