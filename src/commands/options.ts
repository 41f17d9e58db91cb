// Option parsing shared by the commands: repeatable options and positive integers, one wording.
import { UserError } from '../errors.ts';

/** commander accumulator for a repeatable option (`--set a=1 --set b=2`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A positive integer option value, or undefined when the option was not given. */
export function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${flag} expects a positive integer, got "${v}"`);
  return n;
}

/** A non-negative integer option value (0 allowed), or undefined when the option was not given. */
export function nonNegativeInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 0) throw new UserError(`${flag} expects a non-negative integer, got "${v}"`);
  return n;
}
