import * as fs from 'node:fs';
import * as path from 'node:path';

/** Name the file a failed write was for (Node's write() errors carry no path; a temp name misleads). */
function namePath(e: unknown, file: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && typeof err.code === 'string' && (!err.path || err.path.includes('.tmp-'))) err.path = file;
  return e;
}

/** Write a file so readers see the old or the new content, never a torn one (temp + fsync + rename). */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true }); // a disk-full write leaves no half temp file behind
    throw namePath(e, file);
  }
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Append one JSON line; a single write() of a short line is atomic enough for O_APPEND logs. On a
 * full disk the write can stop part-way: the fragment is cut off again when nobody appended after
 * it, and a line never starts glued to an earlier fragment (readers skip that one torn line only).
 */
export function appendJsonl(file: string, value: unknown): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const fd = fs.openSync(file, 'a+');
    try {
      const size = fs.fstatSync(fd).size;
      const last = Buffer.alloc(1);
      const glued = size > 0 && fs.readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a;
      const line = Buffer.from(`${glued ? '\n' : ''}${JSON.stringify(value)}\n`);
      let written = 0;
      try {
        while (written < line.length) written += fs.writeSync(fd, line, written);
      } catch (e) {
        if (written > 0 && fs.fstatSync(fd).size === size + written) fs.ftruncateSync(fd, size);
        throw e;
      }
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    throw namePath(e, file);
  }
}

/** Read a JSON file, or undefined if it is missing or not valid JSON (e.g. a torn legacy write). */
export function readJsonOrUndefined<T = unknown>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Read a JSONL file, skipping a torn last line (the writer was killed mid-append). */
export function readJsonl<T = unknown>(file: string): T[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      /* torn line from a killed writer */
    }
  }
  return out;
}
