// UTF-8 decoding with a byte offset on failure, and the normalisation of docs/tasks.md 5.3.
import { isUtf8 } from 'node:buffer';

/** Byte offset of the first invalid UTF-8 sequence, or -1 when the buffer is valid UTF-8. */
export function firstInvalidUtf8(buf: Uint8Array): number {
  if (isUtf8(buf)) return -1;
  let i = 0;
  while (i < buf.length) {
    const b = buf[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [n, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [n, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    let cp = b & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const c = buf[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

const ASCII_FOLD: Record<string, string> = {
  '\u2019': "'",
  '\u2018': "'",
  '\u201c': '"',
  '\u201d': '"',
  '\u2014': '--',
  '\u2013': '-',
  '\u00b0': ' deg',
};

/** docs/tasks.md 5.3: CRLF -> LF, drop C0 controls except \n and \t, NFC; optional ASCII folding. */
export function normalizeText(text: string, asciiFold = false): string {
  let t = text
    .replace(/\r\n/g, '\n')
    .replace(/[\x00-\x08\x0b-\x1f]/g, '')
    .normalize('NFC');
  if (asciiFold) t = t.replace(/[\u2019\u2018\u201c\u201d\u2014\u2013\u00b0]/g, (c) => ASCII_FOLD[c]);
  return t;
}
