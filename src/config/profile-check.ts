/** Validate-time check of `profiles:`: every dotted key of every profile names a config key. */
import { dotted, keyExists, locate, splitKey, type LoadedConfig } from './load.ts';
import type { ExperimentConfig } from './schema.ts';

export function profileKeyErrors(loaded: LoadedConfig, cfg: ExperimentConfig): string[] {
  const errors: string[] = [];
  for (const [name, body] of Object.entries(cfg.profiles)) {
    for (const key of Object.keys(body)) {
      const keys = splitKey(key);
      const where = ['profiles', name, key];
      const at = locate({ ...loaded, profile: undefined }, where);
      if (keys[0] === 'profiles' || keys[0] === 'extends') {
        errors.push(`${at}: ${dotted(['profiles', name])}: "${key}" cannot be set by a profile`);
        continue;
      }
      const { ok, suggestion } = keyExists(keys);
      if (!ok)
        errors.push(
          `${at}: ${dotted(['profiles', name])}: "${key}" names a config key that does not exist${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
        );
    }
  }
  return errors;
}
