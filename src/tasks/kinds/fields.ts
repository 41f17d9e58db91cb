// Field builders the task kinds share (each kind's schema still spells out its own fields and defaults).
import { z } from 'zod';

export const int = (d: string) => z.number().int().describe(d);
export const posInt = (d: string) => z.number().int().positive().describe(d);
export const dataSeed = z
  .number()
  .int()
  .nonnegative()
  .default(123)
  .describe('base seed of the fixed valid/test sets (and of a fixed training pool); the run seed drives training order');
