/** Environment switches shared by the native paths. */

/** True when the environment variable `name` turns something off: off, 0, false or no (any case). */
export function envOff(name: string): boolean {
  return /^(off|0|false|no)$/i.test(process.env[name] ?? '');
}
