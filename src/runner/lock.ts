// One process at a time owns a run (docs/runner.md section 4): a lock file created with O_EXCL that
// holds the owner's pid, host and a heartbeat the owner refreshes. A lock is stale when its owner
// is provably dead (same host, pid gone) or its heartbeat has missed too many beats (any host).
import * as fs from 'node:fs';
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import { readJsonOrUndefined, writeJsonAtomic } from '../util/fs.ts';
import { slurmJobId } from './ledger.ts';
import { lockInfoSchema, type LockInfo } from './records.ts';

export type { LockInfo };

/** Heartbeat period and how many missed beats make a lock stale; env overrides are for tests. */
export function heartbeatMs(): number {
  return Number(process.env.SEQLAB_HEARTBEAT_MS) || 5000;
}
export function staleAfterMs(): number {
  return heartbeatMs() * (Number(process.env.SEQLAB_HEARTBEAT_MISSES) || 6);
}

export function pidAlive(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (dead, not yet reaped: containers often lack a reaping init) answers kill(0) too.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

export type LockVerdict = { kind: 'free' } | { kind: 'live'; info: LockInfo } | { kind: 'stale'; info: LockInfo | undefined; why: string };

export function inspectLock(file: string, now = Date.now()): LockVerdict {
  if (!fs.existsSync(file)) return { kind: 'free' };
  const parsed = lockInfoSchema.safeParse(readJsonOrUndefined(file));
  const info = parsed.success ? parsed.data : undefined;
  if (!info) {
    // A lock we cannot parse: its writer died between create and write. Trust its age only.
    const age = ageMs(file, now);
    return age === undefined
      ? { kind: 'free' }
      : age > staleAfterMs()
        ? { kind: 'stale', info: undefined, why: 'unreadable lock file' }
        : { kind: 'live', info: { pid: 0, host: '?', token: '', started: '', heartbeat: '' } };
  }
  const beatAge = now - Date.parse(info.heartbeat);
  if (info.host === os.hostname()) {
    const ownerAlive = pidAlive(info.pid);
    const workerAlive = pidAlive(info.worker_pid);
    if (ownerAlive) return { kind: 'live', info };
    if (!workerAlive) return { kind: 'stale', info, why: `owner pid ${info.pid} is gone` };
    // An orphaned worker normally exits as soon as its IPC channel closes; give it the heartbeat grace.
    return beatAge > staleAfterMs()
      ? { kind: 'stale', info, why: `owner pid ${info.pid} is gone, orphan worker ${info.worker_pid}` }
      : { kind: 'live', info };
  }
  return beatAge > staleAfterMs()
    ? { kind: 'stale', info, why: `no heartbeat from ${info.host} for ${Math.round(beatAge / 1000)} s` }
    : { kind: 'live', info };
}

function ageMs(file: string, now: number): number | undefined {
  try {
    return now - fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

export class RunLock {
  private constructor(
    readonly file: string,
    private info: LockInfo,
  ) {}

  /** Create the lock if nobody holds it. Never touches a lock held by someone else. */
  static tryCreate(file: string): RunLock | undefined {
    const now = new Date().toISOString();
    const info: LockInfo = {
      pid: process.pid,
      host: os.hostname(),
      token: randomBytes(8).toString('hex'),
      started: now,
      heartbeat: now,
    };
    const job = slurmJobId();
    if (job) info.slurm_job = job;
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
      throw e;
    }
    try {
      fs.writeSync(fd, JSON.stringify(info, null, 2) + '\n');
      fs.fsyncSync(fd);
    } catch (e) {
      // E.g. the disk is full: an empty lock would block the run for the stale limit; take it back.
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
      (e as NodeJS.ErrnoException).path ??= file;
      throw e;
    }
    fs.closeSync(fd);
    return new RunLock(file, info);
  }

  /**
   * Take the lock: create it, or replace a stale one. Replacing goes through a short-lived
   * `<lock>.takeover` mutex (O_EXCL) so two processes that both saw the same stale lock cannot
   * both win, and a fresh lock created meanwhile is never removed.
   */
  static acquire(
    file: string,
  ): { lock: RunLock } | { held: LockInfo } | { stale: LockInfo | undefined; why: string; lock: RunLock } | { busy: true } {
    const created = RunLock.tryCreate(file);
    if (created) return { lock: created };
    const v = inspectLock(file);
    if (v.kind === 'live') return { held: v.info };
    if (v.kind === 'free') {
      const again = RunLock.tryCreate(file);
      return again ? { lock: again } : { busy: true };
    }
    const mutex = `${file}.takeover`;
    if (!takeMutex(mutex)) return { busy: true };
    try {
      const again = inspectLock(file);
      if (again.kind === 'live') return { held: again.info };
      if (again.kind === 'stale') {
        killOrphan(again.info);
        try {
          fs.unlinkSync(file);
        } catch {
          /* already gone */
        }
      }
      const lock = RunLock.tryCreate(file);
      if (!lock) return { busy: true };
      return again.kind === 'stale' ? { stale: again.info, why: again.why, lock } : { lock };
    } finally {
      try {
        fs.unlinkSync(mutex);
      } catch {
        /* ignore */
      }
    }
  }

  get token(): string {
    return this.info.token;
  }

  /** Still ours? (A lock can be taken over if this process stalled past the stale limit.) */
  owned(): boolean {
    const cur = readJsonOrUndefined<Partial<LockInfo>>(this.file);
    return !!cur && cur.token === this.info.token;
  }

  beat(extra?: Partial<Pick<LockInfo, 'worker_pid'>>): boolean {
    if (!this.owned()) return false;
    this.info = { ...this.info, ...extra, heartbeat: new Date().toISOString() };
    writeJsonAtomic(this.file, this.info);
    return true;
  }

  release(): void {
    if (!this.owned()) return;
    try {
      fs.unlinkSync(this.file);
    } catch {
      /* ignore */
    }
  }
}

function takeMutex(file: string): boolean {
  for (let i = 0; i < 2; i++) {
    try {
      const fd = fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY);
      fs.writeSync(fd, `${process.pid} ${os.hostname()}\n`);
      fs.closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A takeover mutex is held for milliseconds; an old one belongs to a process that died in it.
      const age = ageMs(file, Date.now());
      if (age !== undefined && age > 10_000) {
        try {
          fs.unlinkSync(file);
        } catch {
          /* someone else cleaned it */
        }
        continue;
      }
      return false;
    }
  }
  return false;
}

/** An orphaned worker of a dead owner on this host must not keep writing into a rerun's directory. */
function killOrphan(info: LockInfo | undefined): void {
  if (!info || info.host !== os.hostname() || !info.worker_pid || !pidAlive(info.worker_pid)) return;
  try {
    const cmd = fs.readFileSync(`/proc/${info.worker_pid}/cmdline`, 'utf8');
    if (!cmd.includes('worker')) return; // the pid was reused by something else
  } catch {
    return;
  }
  try {
    process.kill(info.worker_pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}
