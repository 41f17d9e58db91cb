/** Environment switches: read only where the kernel configuration is built (src/native/config.ts). */

/** True when the environment variable `name` turns something off: off, 0, false or no (any case). */
export function envOff(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(off|0|false|no)$/i.test(env[name] ?? '');
}
