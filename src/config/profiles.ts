/**
 * `profiles:` — named override sets (dotted key -> value), chosen with `--profile NAME`. A profile
 * applies after `extends:` and before `--set`, so run ids follow the resolved values.
 */
import { z } from 'zod';

export const profilesSchema = z
  .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" or "-"'), z.record(z.string(), z.unknown()))
  .default({})
  .describe(
    'named override sets, e.g. smoke: {train.steps: 20, model.d_model: 16}; chosen with --profile NAME (after extends, before --set)',
  );

export type Profiles = z.infer<typeof profilesSchema>;
