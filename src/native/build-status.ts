/** What native/build.js built (native/build/status.json), for env.json: one line when something was lost. */
import { fileURLToPath } from 'node:url';
import { readJsonOrUndefined } from '../util/fs.ts';

const BUILD_STATUS_PATH = fileURLToPath(new URL('../../native/build/status.json', import.meta.url));

export function nativeBuild(): { native_build: string | null; native_build_cblas: boolean | null } {
  const st = readJsonOrUndefined<{ line?: string; built?: boolean; cblas?: boolean }>(BUILD_STATUS_PATH);
  if (!st)
    return {
      native_build: 'no build record (native/build/status.json missing): `node native/build.js` builds the native addon',
      native_build_cblas: null,
    };
  return { native_build: st.line ?? null, native_build_cblas: st.cblas ?? null };
}
