// The local scheduler: runs every selected run that is not finished, each in its own worker
// process, at most `jobs` at a time; applies timeouts, retries by failure class and the failure
// policy; records every transition in the ledger and status.json; survives being killed (locks
// with heartbeats) and stops cleanly on Ctrl-C.
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import { writeJsonAtomic } from '../util/fs.ts';
import { appendLedger, lastLine, ledgerByRun, nextAttempt, readLedger, slurmJobId } from './ledger.ts';
import { FAILED_STATES, runFiles } from './layout.ts';
import type { FailureClass, RunState } from './records.ts';
import { heartbeatMs, RunLock } from './lock.ts';
import type { ProgressSink } from './progress.ts';
import type { ExecutionSettings, RunRef } from './sweep-dir.ts';
import { finishedState, inspectSummary, readStatus, viewRun, type AttemptRecord, type RunStatusFile } from './state.ts';
import { slurmEndReason } from './slurm.ts';
import { TRAIN_STATE_DIR } from '../train/state-files.ts';
import { WORKER_CANCELLED_EXIT, WORKER_ERROR_EXIT, type WorkerMessage, type WorkerStart } from './worker-protocol.ts';

export type { FailureClass };

export interface SchedulerOptions {
  sweepDir: string;
  runs: RunRef[];
  execution: ExecutionSettings;
  jobs: number;
  backend: string;
  threads?: number;
  retryFailed?: boolean;
  failFast?: boolean;
  progress: ProgressSink;
}

export interface RunOutcome {
  id: string;
  state: RunState;
  error?: string;
  /** Attempts this invocation made (0: finished, failed or skipped before it started). */
  attemptsHere: number;
}

export interface SchedulerResult {
  outcomes: Map<string, RunOutcome>;
  interrupted: boolean;
  /** The failure policy stopped launching new runs. */
  stopped: boolean;
}

const WORKER_ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker-entry.js');
const killGraceMs = () => Number(process.env.SEQLAB_KILL_GRACE_MS) || 5000;
const POLL_MS = 250;

interface Active {
  entry: RunRef;
  lock: RunLock;
  child: ChildProcess;
  attempt: number;
  record: AttemptRecord;
  t0: number;
  result?: 'done' | 'diverged';
  error?: string;
  /** The worker's error was a write the user can fix (disk full, read-only): stop the sweep. */
  diskError?: boolean;
  killReason?: 'timeout' | 'cancel' | 'lost';
  timeoutWhy?: string;
  timers: NodeJS.Timeout[];
}

export class Scheduler {
  private pending: RunRef[] = [];
  private active = new Map<string, Active>();
  private outcomes = new Map<string, RunOutcome>();
  private tries = new Map<string, number>();
  private initial = new Map<string, RunState>();
  private failuresHere = 0;
  private interrupted = false;
  private stopped = false;
  /** A failure of the runner itself (e.g. the disk is full): every worker is stopped, run() throws it. */
  private fatal: unknown = undefined;
  private wake: () => void = () => {};
  /** Why running runs were cancelled, when not Ctrl-C (a SLURM requeue). */
  private cancelWhy?: string;
  private heartbeat?: NodeJS.Timeout;

  constructor(private o: SchedulerOptions) {}

  /**
   * Ctrl-C: stop every worker, mark its run cancelled; a second call kills at once. `timeout`
   * instead marks the runs timed_out with that reason (a SLURM time limit ending the job); `why`
   * replaces `interrupted` as the cancelled runs' error (a requeue says so).
   */
  cancel(timeout?: string, why?: string): void {
    const again = this.interrupted;
    this.cancelWhy ??= why;
    this.interrupted = true;
    for (const a of this.active.values()) {
      if (timeout !== undefined && a.killReason === undefined) {
        a.killReason = 'timeout';
        a.timeoutWhy = timeout;
      }
      a.killReason ??= 'cancel';
      killTree(a.child, again ? 'SIGKILL' : 'SIGTERM');
      if (!again) a.timers.push(setTimeout(() => killTree(a.child, 'SIGKILL'), killGraceMs()));
    }
    this.wake();
  }

  async run(): Promise<SchedulerResult> {
    const ledger = ledgerByRun(readLedger(this.o.sweepDir));
    for (const entry of this.o.runs) {
      const v = viewRun(this.o.sweepDir, entry.id, ledger.get(entry.id));
      if ((v.state === 'done' || v.state === 'diverged') && v.lock.kind === 'stale') this.reconcileFinished(entry.id, v.state);
      this.initial.set(entry.id, v.state);
      const rerunFailed = this.o.retryFailed && FAILED_STATES.has(v.state);
      if (v.state === 'done' || v.state === 'diverged' || (FAILED_STATES.has(v.state) && !rerunFailed))
        this.outcomes.set(entry.id, { id: entry.id, state: v.state, error: v.error, attemptsHere: 0 });
      else this.pending.push(entry);
    }
    this.o.progress.begin(this.counts());
    this.heartbeat = setInterval(() => this.beat(), heartbeatMs());
    try {
      for (;;) {
        if (!this.interrupted && !this.stopped) {
          try {
            this.launch();
          } catch (e) {
            this.abort(e);
          }
        }
        if (this.active.size === 0 && (this.pending.length === 0 || this.interrupted || this.stopped)) break;
        await new Promise<void>((res) => {
          const t = setTimeout(res, POLL_MS);
          this.wake = () => {
            clearTimeout(t);
            res();
          };
        });
      }
    } finally {
      clearInterval(this.heartbeat);
      this.o.progress.end();
    }
    if (this.fatal !== undefined) throw this.fatal;
    for (const e of this.pending) {
      if (this.outcomes.has(e.id)) continue;
      const v = viewRun(this.o.sweepDir, e.id, ledgerByRun(readLedger(this.o.sweepDir)).get(e.id));
      this.outcomes.set(e.id, { id: e.id, state: v.state, error: v.error, attemptsHere: this.tries.get(e.id) ?? 0 });
    }
    return { outcomes: this.outcomes, interrupted: this.interrupted, stopped: this.stopped };
  }

  /** The runner cannot go on (a write of its own failed): stop every worker, then run() throws `e`. */
  private abort(e: unknown): void {
    if (this.fatal === undefined) this.fatal = e;
    if (!this.interrupted) this.cancel();
  }

  /** A worker finished (summary.json written) but its owner died before recording it. */
  private reconcileFinished(id: string, state: 'done' | 'diverged'): void {
    const got = RunLock.acquire(runFiles(this.o.sweepDir, id).lock);
    if (!('lock' in got)) return;
    const entries = ledgerByRun(readLedger(this.o.sweepDir)).get(id);
    const last = entries?.[entries.length - 1];
    if (last?.state === 'running') {
      appendLedger(this.o.sweepDir, { id, state, attempt: last.attempt });
      this.patchStatus(id, last.attempt, state, undefined);
    }
    got.lock.release();
  }

  private counts() {
    let done = 0;
    let failed = 0;
    for (const o of this.outcomes.values()) {
      if (o.state === 'done' || o.state === 'diverged') done++;
      else if (FAILED_STATES.has(o.state)) failed++;
    }
    return { total: this.o.runs.length, done, failed, running: this.active.size };
  }

  /** Start runs in plan order until the slots are full; runs another process holds wait their turn. */
  private launch(): void {
    for (let i = 0; i < this.pending.length && this.active.size < this.o.jobs; ) {
      const entry = this.pending[i]!;
      const r = this.tryStart(entry);
      if (r === 'wait') i++;
      else this.pending.splice(i, 1);
    }
  }

  private finalize(id: string, state: RunState, error?: string) {
    this.outcomes.set(id, { id, state, error, attemptsHere: this.tries.get(id) ?? 0 });
    this.o.progress.counts(this.counts());
  }

  private tryStart(entry: RunRef): 'started' | 'finished' | 'wait' {
    const { sweepDir } = this.o;
    const id = entry.id;
    const ledger = ledgerByRun(readLedger(sweepDir)).get(id);
    const v = viewRun(sweepDir, id, ledger);
    if (v.state === 'done' || v.state === 'diverged') {
      this.finalize(id, v.state);
      return 'finished';
    }
    if (v.state === 'running') return 'wait';
    // Another process finished it with a failure while we waited: that is its result, not ours to redo.
    const mine = (this.tries.get(id) ?? 0) > 0;
    if (!mine && FAILED_STATES.has(v.state) && !FAILED_STATES.has(this.initial.get(id)!)) {
      this.finalize(id, v.state, v.error);
      return 'finished';
    }
    const got = RunLock.acquire(runFiles(sweepDir, id).lock);
    if (!('lock' in got)) return 'wait';
    const lock = got.lock;
    try {
      const fin = finishedState(sweepDir, id);
      if (fin) {
        lock.release();
        this.finalize(id, fin);
        return 'finished';
      }
      const fresh = ledgerByRun(readLedger(sweepDir)).get(id);
      const last = fresh?.[fresh.length - 1];
      const summary = inspectSummary(sweepDir, id);
      if (summary.kind === 'unreadable') {
        const attempt = last?.attempt ?? 0;
        const error = `${summary.why}: result lost, rerunning (the file is kept under attempts/)`;
        appendLedger(sweepDir, { id, state: 'lost', attempt, error });
        this.patchStatus(id, attempt, 'lost', error);
        this.o.progress.note(`${id}: ${error}`);
      } else if ('stale' in got || last?.state === 'running') {
        const why = 'stale' in got ? got.why : 'no lock';
        const attempt = last?.attempt ?? 0;
        appendLedger(sweepDir, { id, state: 'lost', attempt, error: `heartbeat lost (${why})` });
        this.patchStatus(id, attempt, 'lost', `heartbeat lost (${why})`);
        this.o.progress.note(`${id}: previous attempt ${attempt} lost (${why}); rerunning`);
      }
      this.start(entry, lock, nextAttempt(fresh));
    } catch (e) {
      if (!this.active.has(id)) lock.release(); // a started worker's exit releases it
      throw e;
    }
    return 'started';
  }

  private start(entry: RunRef, lock: RunLock, attempt: number): void {
    const { sweepDir } = this.o;
    const rf = runFiles(sweepDir, entry.id);
    this.tries.set(entry.id, (this.tries.get(entry.id) ?? 0) + 1);
    // Whatever an earlier attempt left (partial metrics, an unreadable summary) moves aside first.
    shelvePreviousAttempt(rf, attempt - 1);
    const startIso = new Date().toISOString();
    fs.appendFileSync(rf.log, `=== attempt ${attempt} pid ${process.pid} on ${os.hostname()} at ${startIso} ===\n`);
    const logFd = fs.openSync(rf.log, 'a');
    const start: WorkerStart = { runDir: rf.dir, backend: this.o.backend };
    if (this.o.threads !== undefined) start.threads = this.o.threads;
    let child: ChildProcess;
    try {
      child = fork(WORKER_ENTRY, [JSON.stringify(start)], {
        stdio: ['ignore', logFd, logFd, 'ipc'],
        detached: true, // own process group: a timeout kills the whole tree; terminal Ctrl-C reaches only us
        execArgv: [],
        env: { ...process.env, SEQLAB_RUN_ID: entry.id, SEQLAB_ATTEMPT: String(attempt) },
      });
    } finally {
      fs.closeSync(logFd);
    }
    const record: AttemptRecord = { attempt, state: 'running', start: startIso, pid: process.pid, host: os.hostname() };
    if (child.pid) record.worker_pid = child.pid;
    const job = slurmJobId();
    if (job) record.slurm_job = job;
    const a: Active = { entry, lock, child, attempt, record, t0: Date.now(), timers: [] };
    this.active.set(entry.id, a);
    lock.beat({ worker_pid: child.pid });
    appendLedger(sweepDir, { id: entry.id, state: 'running', attempt });
    this.writeStatus(entry.id, record);

    const timeout = this.o.execution.timeout;
    if (timeout && timeout > 0)
      a.timers.push(
        setTimeout(() => {
          a.killReason ??= 'timeout';
          a.timeoutWhy ??= `timed out after ${timeout} s`;
          killTree(child, 'SIGTERM');
          a.timers.push(setTimeout(() => killTree(child, 'SIGKILL'), killGraceMs()));
        }, timeout * 1000),
      );
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') this.o.progress.runProgress(entry.id, m);
      else if (m.type === 'result') a.result = m.state;
      else if (m.type === 'error') {
        a.error = m.message;
        a.diskError = m.disk === true;
      }
    });
    child.on('error', (e) => {
      a.error ??= `could not start worker: ${e.message}`;
    });
    child.on('exit', (code, signal) => this.onExit(a, code, signal));
    this.o.progress.runStarted(entry.id, attempt, axesLabel(entry.axes));
    this.o.progress.counts(this.counts());
  }

  private onExit(a: Active, code: number | null, signal: NodeJS.Signals | null): void {
    for (const t of a.timers) clearTimeout(t);
    this.active.delete(a.entry.id);
    // Kill stragglers the worker may have started in its group.
    killTree(a.child, 'SIGKILL');
    try {
      this.recordExit(a, code, signal);
    } catch (e) {
      this.abort(e); // e.g. the disk is full: status.json / the ledger cannot be written
    } finally {
      a.lock.release();
      this.wake();
    }
  }

  private recordExit(a: Active, code: number | null, signal: NodeJS.Signals | null): void {
    const { sweepDir } = this.o;
    const id = a.entry.id;

    let state: RunState;
    let cls: FailureClass | undefined;
    let error: string | undefined;
    const fin = finishedState(sweepDir, id);
    if (a.killReason === 'timeout') {
      state = 'timed_out';
      cls = 'timeout';
      error = a.timeoutWhy ?? 'timed out';
    } else if (a.killReason === 'lost') {
      state = 'lost';
      cls = 'lost';
      error = 'lock taken over by another process';
    } else if (a.killReason === 'cancel' && !(code === 0 && fin)) {
      state = 'cancelled';
      error = this.cancelWhy ?? 'interrupted';
    } else if (code === WORKER_CANCELLED_EXIT && !a.killReason) {
      // Stopped by a signal from outside (SLURM signals every process of a job): never a result.
      const reason = slurmEndReason();
      state = reason === 'TimeLimit' || reason === 'Deadline' ? 'timed_out' : 'cancelled';
      if (state === 'timed_out') cls = 'timeout';
      error =
        state === 'timed_out'
          ? `SLURM job ${slurmJobId() ?? ''} reached its ${reason === 'TimeLimit' ? 'time limit (sbatch --time)' : 'deadline'}`
          : 'worker stopped by a signal';
    } else if (code === 0 && a.result && fin) {
      state = fin;
    } else if (code === 0 && a.result) {
      state = 'failed';
      cls = 'error';
      error = 'training finished without writing summary.json';
    } else if (code === WORKER_ERROR_EXIT && a.error && a.diskError) {
      // Not the run's fault: it reruns (cancelled) once the user has made room; the sweep stops.
      state = 'cancelled';
      error = a.error;
    } else if (code === WORKER_ERROR_EXIT && a.error) {
      state = 'failed';
      cls = 'error';
      error = lastLine(a.error);
    } else {
      state = 'failed';
      cls = 'crash';
      const tail = lastLine(readTail(runFiles(sweepDir, id).log));
      // The log's last line explains a crash only when it is an error (e.g. V8's heap OOM message).
      const telling = /error|fatal|abort|out of memory|exception|killed/i.test(tail) && !tail.startsWith('===');
      error = `${signal ? `worker killed by ${signal}` : `worker exited with code ${code}`}${a.error ? `: ${lastLine(a.error)}` : telling ? `: ${tail}` : ''}`;
    }

    const end = new Date();
    a.record.state = state;
    a.record.end = end.toISOString();
    a.record.wall_s = (end.getTime() - a.t0) / 1000;
    a.record.exit_code = code;
    a.record.signal = signal;
    if (error) a.record.error = error;
    this.writeStatus(id, a.record);
    appendLedger(sweepDir, { id, state, attempt: a.attempt, ...(error ? { error } : {}) });
    if (a.diskError && state === 'cancelled') {
      this.o.progress.runEnded(id, state, error);
      this.finalize(id, state, error);
      this.abort(new UserError(error!));
      return;
    }

    const { retries, retry_on: retryOn } = this.o.execution;
    const canRetry = cls !== undefined && retryOn.includes(cls) && (this.tries.get(id) ?? 0) <= retries && !this.interrupted;
    if (canRetry && !this.stopped) {
      this.o.progress.runEnded(id, state, `${error}; retrying (${retryOn.join('/')} retried up to ${retries}x)`);
      this.pending.unshift(a.entry);
    } else {
      this.o.progress.runEnded(id, state, error);
      this.finalize(id, state, error);
      if (FAILED_STATES.has(state)) this.onFailure();
    }
  }

  private onFailure(): void {
    this.failuresHere++;
    const ex = this.o.execution;
    const stop = this.o.failFast || ex.on_failure === 'stop';
    const tooMany = ex.max_failures != null && this.failuresHere >= ex.max_failures;
    if ((stop || tooMany) && !this.stopped) {
      this.stopped = true;
      this.o.progress.note(
        stop
          ? 'a run failed and the failure policy is stop: no new runs start; running ones finish'
          : `${this.failuresHere} failures reached max_failures=${ex.max_failures}: no new runs start`,
      );
    }
  }

  private beat(): void {
    for (const a of this.active.values()) {
      let ours: boolean;
      try {
        ours = a.lock.beat();
      } catch (e) {
        this.abort(e); // the heartbeat cannot be written (disk full): stop rather than go stale
        return;
      }
      if (ours) continue;
      // Our lock was taken over (we stalled past the stale limit): the other owner reruns it.
      this.o.progress.note(`${a.entry.id}: lock lost to another process; stopping our worker`);
      a.killReason = 'lost';
      killTree(a.child, 'SIGKILL');
    }
  }

  private writeStatus(id: string, record: AttemptRecord): void {
    const prev = readStatus(this.o.sweepDir, id);
    const attempts = (prev?.attempts ?? []).filter((r) => r.attempt !== record.attempt);
    attempts.push({ ...record });
    attempts.sort((x, y) => x.attempt - y.attempt);
    const status: RunStatusFile = {
      id,
      state: record.state,
      attempt: record.attempt,
      attempts,
      updated: new Date().toISOString(),
    };
    if (record.error) status.error = record.error;
    writeJsonAtomic(runFiles(this.o.sweepDir, id).status, status);
  }

  /** Mark an attempt of a dead owner in status.json (the ledger has the same fact). */
  private patchStatus(id: string, attempt: number, state: RunState, error: string | undefined): void {
    const prev = readStatus(this.o.sweepDir, id);
    const rec = prev?.attempts.find((r) => r.attempt === attempt);
    const patched: AttemptRecord = rec
      ? { ...rec, state, end: new Date().toISOString() }
      : { attempt, state, start: new Date().toISOString(), pid: 0, host: '?' };
    if (error) patched.error = error;
    this.writeStatus(id, patched);
  }
}

/** Move a failed attempt's partial outputs aside (nothing is deleted) so the next starts clean. */
function shelvePreviousAttempt(rf: ReturnType<typeof runFiles>, attempt: number): void {
  const names = fs.existsSync(rf.dir) ? fs.readdirSync(rf.dir) : [];
  // train_state/ stays: the next attempt resumes from it (docs/runner.md section 11).
  const keep = new Set(['config.json', 'status.json', 'log.txt', 'lock', 'attempts', TRAIN_STATE_DIR]);
  const move = names.filter((n) => !keep.has(n) && !n.startsWith('lock.'));
  if (!move.length) return;
  let dest = path.join(rf.attempts, String(attempt));
  for (let k = 2; fs.existsSync(dest); k++) dest = path.join(rf.attempts, `${attempt}.${k}`);
  fs.mkdirSync(dest, { recursive: true });
  for (const n of move) fs.renameSync(path.join(rf.dir, n), path.join(dest, n));
}

function killTree(child: ChildProcess, sig: NodeJS.Signals): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    try {
      child.kill(sig);
    } catch {
      /* gone */
    }
  }
}

function readTail(file: string, bytes = 4096): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(bytes, size);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

export function axesLabel(axes: Record<string, unknown>): string {
  return Object.entries(axes)
    .map(([k, v]) => `${k.split('.').pop()}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}
