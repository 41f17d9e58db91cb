/**
 * Where a run keeps its training checkpoints (docs/runner.md section 11): `<run>/train_state/
 * step-<N>.safetensors`. Names only, no tfjs, so the runner and `seqlab status` can read them
 * cheaply; src/train/resume.ts writes and reads the files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const TRAIN_STATE_DIR = 'train_state';
const FILE = /^step-(\d+)\.safetensors$/;

export function trainStateFile(dir: string, step: number): string {
  return path.join(dir, `step-${step}.safetensors`);
}

/** Checkpoint files of `dir`, newest step first. */
export function listTrainStates(dir: string): { step: number; file: string }[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .flatMap((n) => {
      const m = FILE.exec(n);
      return m ? [{ step: Number(m[1]), file: path.join(dir, n) }] : [];
    })
    .sort((a, b) => b.step - a.step);
}

/** The step a rerun of this run directory starts from (its newest checkpoint by name; 0 without one). */
export function resumeStep(runDir: string): number {
  return listTrainStates(path.join(runDir, TRAIN_STATE_DIR))[0]?.step ?? 0;
}

/** Remove the training checkpoints once the run has its summary.json (they are not needed again). */
export function clearTrainState(runDir: string): void {
  fs.rmSync(path.join(runDir, TRAIN_STATE_DIR), { recursive: true, force: true });
}
