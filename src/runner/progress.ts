// Live progress on stderr: cli-progress bars on a TTY (one for the sweep, one per active worker),
// plain timestamped lines elsewhere (CI logs, pipes), at most one progress line per run every few s.
import cliProgress from 'cli-progress';
import type { Progress } from '../train/types.ts';
import type { RunState } from './layout.ts';

export interface SweepCounts {
  total: number;
  done: number;
  failed: number;
  running: number;
}

export interface ProgressSink {
  begin(counts: SweepCounts): void;
  runStarted(id: string, attempt: number, label: string): void;
  runProgress(id: string, p: Progress): void;
  runEnded(id: string, state: RunState, detail?: string): void;
  counts(c: SweepCounts): void;
  /** A line that must be seen (warnings, takeovers); printed above the bars on a TTY. */
  note(line: string): void;
  end(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  return stream.isTTY && !process.env.CI ? new BarProgress(stream) : new LineProgress(stream);
}

const fmtNum = (x: number | undefined, digits = 3) =>
  x === undefined || !Number.isFinite(x) ? '-' : Number(x.toPrecision(digits)).toString();

function fmtRate(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  return x >= 1e6 ? `${(x / 1e6).toFixed(1)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0);
}

export class LineProgress implements ProgressSink {
  private last = new Map<string, number>();
  constructor(
    private stream: NodeJS.WritableStream,
    private everyMs = Number(process.env.SEQLAB_PROGRESS_EVERY_MS) || 5000,
  ) {}
  private line(text: string) {
    this.stream.write(`[${new Date().toISOString().slice(11, 19)}] ${text}\n`);
  }
  begin(c: SweepCounts) {
    this.line(`sweep: ${c.total} runs, ${c.done} already done, ${c.failed} failed`);
  }
  runStarted(id: string, attempt: number, label: string) {
    this.last.set(id, Date.now());
    this.line(`${id} start${attempt > 1 ? ` (attempt ${attempt})` : ''} ${label}`);
  }
  runProgress(id: string, p: Progress) {
    const now = Date.now();
    if (now - (this.last.get(id) ?? 0) < this.everyMs) return;
    this.last.set(id, now);
    this.line(
      `${id} step ${p.step}/${p.totalSteps} loss ${fmtNum(p.loss, 4)} tok/s ${fmtRate(p.tokensPerS)}${p.phase ? ` ${p.phase}` : ''}`,
    );
  }
  runEnded(id: string, state: RunState, detail?: string) {
    this.last.delete(id);
    this.line(`${id} ${state}${detail ? `: ${detail}` : ''}`);
  }
  counts(_c: SweepCounts) {}
  note(line: string) {
    this.line(line);
  }
  end() {}
}

export class BarProgress implements ProgressSink {
  private multi: cliProgress.MultiBar;
  private sweep?: cliProgress.SingleBar;
  private bars = new Map<string, cliProgress.SingleBar>();
  constructor(stream: NodeJS.WriteStream) {
    this.multi = new cliProgress.MultiBar(
      {
        stream,
        format: '{label} [{bar}] {value}/{total} {info}',
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
        fps: 5,
        etaBuffer: 20,
        gracefulExit: false, // our SIGINT handler cancels the workers and ends the bars itself
      },
      cliProgress.Presets.shades_classic,
    );
  }
  begin(c: SweepCounts) {
    this.base = c.done + c.failed;
    this.t0 = Date.now();
    this.sweep = this.multi.create(c.total, this.base, { label: 'sweep       ', info: '' });
    this.counts(c);
  }
  runStarted(id: string, attempt: number, label: string) {
    this.bars.get(id)?.stop();
    const bar = this.multi.create(1, 0, { label: id, info: `${attempt > 1 ? `#${attempt} ` : ''}${label}` });
    this.bars.set(id, bar);
  }
  runProgress(id: string, p: Progress) {
    const bar = this.bars.get(id);
    if (!bar) return;
    bar.setTotal(Math.max(1, p.totalSteps));
    bar.update(p.step, {
      info: `loss ${fmtNum(p.loss, 4)} ${fmtRate(p.tokensPerS)} tok/s${p.phase ? ` ${p.phase}` : ''}`,
    });
  }
  runEnded(id: string, state: RunState, detail?: string) {
    const bar = this.bars.get(id);
    if (bar) {
      this.multi.remove(bar);
      this.bars.delete(id);
    }
    if (state !== 'done') this.note(`${id} ${state}${detail ? `: ${detail}` : ''}`);
  }
  counts(c: SweepCounts) {
    if (!this.sweep) return;
    const finished = c.done + c.failed;
    const elapsed = (Date.now() - this.t0) / 1000;
    const now = finished - this.base;
    const eta = now > 0 && finished < c.total ? ((c.total - finished) * elapsed) / now : undefined;
    this.sweep.update(finished, {
      info: `done ${c.done} failed ${c.failed} running ${c.running}${eta !== undefined ? ` ETA ${Math.round(eta)}s` : ''}`,
    });
  }
  private t0 = Date.now();
  private base = 0;
  note(line: string) {
    this.multi.log(line + '\n');
  }
  end() {
    this.multi.stop();
  }
}
