// The worker process: runs ONE training run in its own process, so a crash, OOM or hang never
// takes the scheduler or the other runs down. stdout/stderr go to the run's log.txt (set up by the
// parent); progress, result and errors go back over IPC.
import { diskErrorMessage, explainError } from '../errors.ts';
import * as path from 'node:path';
import { readRunConfig } from '../config/run-config.ts';
import type { WorkerMessage, WorkerStart } from './worker-protocol.ts';
import { WORKER_CANCELLED_EXIT, WORKER_ERROR_EXIT } from './worker-protocol.ts';

/** src/train/run.ts's signature (a type only: the module itself is loaded in loadTrainer). */
type RunTraining = typeof import('../train/run.ts').runTraining;

function send(msg: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

/** The trainer module, src/train/run.ts (loaded here, after the IPC and signal handlers are in place). */
async function loadTrainer(): Promise<RunTraining> {
  const mod = (await import('../train/run.ts')) as { runTraining?: RunTraining };
  if (typeof mod.runTraining !== 'function') throw new Error('src/train/run.ts does not export runTraining');
  return mod.runTraining;
}

async function main(): Promise<void> {
  const start = JSON.parse(process.argv[2] ?? '{}') as WorkerStart;
  const abort = new AbortController();
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`[worker] ${sig}: stopping`);
    // The trainer stops at its next step boundary and keeps what it has (train/loop.ts); a step
    // longer than the runner's grace (SEQLAB_KILL_GRACE_MS) ends in its SIGKILL instead.
    abort.abort(new Error(`stopped by ${sig}`));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // SLURM's requeue warning is for `exec` (docs/runner.md section 11); here it must not start Node's inspector.
  process.on('SIGUSR1', () => {});
  // The scheduler died (kill -9): stop at once, so a rerun never shares the directory with us.
  process.on('disconnect', () => process.exit(137));
  if (!process.connected) process.exit(137);

  let lastSent = 0;
  try {
    const cfg = readRunConfig(path.join(start.runDir, 'config.json'));
    const runTraining = await loadTrainer();
    const res = await runTraining(cfg, start.runDir, {
      backend: start.backend,
      threads: start.threads,
      log: (line) => process.stdout.write(line.endsWith('\n') ? line : line + '\n'),
      onProgress: (p) => {
        const now = Date.now();
        if (now - lastSent < 200 && p.step < p.totalSteps) return;
        lastSent = now;
        void send({ type: 'progress', ...p });
      },
      signal: abort.signal,
    });
    if (stopping) process.exit(WORKER_CANCELLED_EXIT);
    await send({ type: 'result', state: res.state === 'diverged' ? 'diverged' : 'done' });
    process.exit(0);
  } catch (e) {
    if (stopping) process.exit(WORKER_CANCELLED_EXIT);
    const err = e instanceof Error ? e : new Error(String(e));
    console.error(err.stack ?? err.message);
    const disk = diskErrorMessage(err, start.runDir);
    await send(disk ? { type: 'error', message: disk, disk: true } : { type: 'error', message: explainError(err) });
    process.exit(WORKER_ERROR_EXIT);
  }
}

await main();
