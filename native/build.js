#!/usr/bin/env node
// Builds the optional OpenBLAS matmul addon (native/build/Release/seqlab_matmul.node)
// during `npm ci`. It never downloads anything and never fails the install: without a
// C toolchain, OpenBLAS (cblas.h + libopenblas) or local Node headers it prints one line
// and exits 0, and seqlab runs its pure-JS fallback kernels instead.
//
// Env: SEQLAB_NATIVE_MATMUL=off skips the build; SEQLAB_CBLAS_INCLUDE=<dir> and
// SEQLAB_BLAS_LIBS='-L<dir> -lopenblas' point at a non-standard OpenBLAS.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const addonPath = join(here, 'build', 'Release', 'seqlab_matmul.node');
const logPath = join(here, 'build', 'build-log.txt');
const HINT = 'install a C compiler, make, Python 3 and OpenBLAS (Debian/Ubuntu: apt-get install -y build-essential python3 libopenblas-dev) and rerun `npm ci` or `node native/build.js`';

function done(line) {
  console.log(`seqlab native matmul: ${line}`);
  process.exit(0);
}

function onPath(cmd) {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
}

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, ...opts });
}

// Compile and link a probe that calls cblas_sgemm: proves header and library both work.
function probeBlas(cc, includeDir, libs) {
  const dir = join(tmpdir(), `seqlab-blas-probe-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const src = join(dir, 'probe.c');
  writeFileSync(src, '#include <cblas.h>\nint main(void){float a=1,b=2,c=0;cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,1,1,1,1.0f,&a,1,&b,1,0.0f,&c,1);return c==2.0f?0:1;}\n');
  const args = [...(includeDir ? [`-I${includeDir}`] : []), src, '-o', join(dir, 'probe'), ...libs.split(/\s+/).filter(Boolean)];
  const r = run(cc, args);
  rmSync(dir, { recursive: true, force: true });
  return r.status === 0;
}

function findCblasInclude(cc, libs) {
  const candidates = [process.env.SEQLAB_CBLAS_INCLUDE, '', '/usr/include/openblas', '/usr/local/include',
    '/usr/local/opt/openblas/include', '/opt/homebrew/opt/openblas/include'];
  for (const dir of candidates) {
    if (dir === undefined) continue;
    if (dir !== '' && !existsSync(join(dir, 'cblas.h'))) continue;
    if (probeBlas(cc, dir, libs)) return dir;
  }
  return undefined;
}

// Local Node headers only (node-gyp would otherwise download them).
function findNodeDir() {
  const candidates = [
    process.env.npm_config_nodedir,
    join(dirname(process.execPath), '..'),
    join(homedir(), '.cache', 'node-gyp', process.versions.node),
    join(homedir(), '.node-gyp', process.versions.node),
  ];
  return candidates.find((d) => d && existsSync(join(d, 'include', 'node', 'node_api.h')));
}

function findNodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, fromNpm];
  const guesses = [
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const g of guesses) if (existsSync(g)) return [process.execPath, g];
  try {
    return [process.execPath, createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js')];
  } catch {
    return onPath('npx') ? ['npx', '--no-install', 'node-gyp'] : undefined;
  }
}

// The addon must load and multiply correctly, else the build is worthless.
function selfTest() {
  const r = run(process.execPath, ['-e', `
    const m = require(${JSON.stringify(addonPath)});
    const a = new Float32Array([1, 2, 3, 4]), b = new Float32Array([5, 6, 7, 8]), c = new Float32Array(4);
    m.gemm(a, 0, 0, b, 0, 0, c, 0, null, 0, 1, 2, 2, 2, false, false, 0);
    if (c.join() !== '19,22,43,50') throw new Error('wrong product ' + c.join());
    console.log(m.config());`]);
  return r.status === 0 ? { ok: true, config: r.stdout.trim() } : { ok: false, why: (r.stderr || r.stdout).trim().split('\n')[0] };
}

if (/^(off|0|false|no)$/i.test(process.env.SEQLAB_NATIVE_MATMUL ?? '')) done('skipped (SEQLAB_NATIVE_MATMUL=off); seqlab will use the JS fallback kernels');
if (process.platform === 'win32') done('skipped (Windows is not supported); seqlab will use the JS fallback kernels');

const cc = ['cc', 'gcc', 'clang'].find(onPath);
const cxx = ['c++', 'g++', 'clang++'].find(onPath); // gyp's make generator links with $(CXX)
if (!cc || !cxx || !onPath('make')) done(`skipped (no C/C++ compiler or make on PATH); seqlab will use the JS fallback kernels. To enable: ${HINT}`);
if (!['python3', 'python'].some(onPath)) done(`skipped (node-gyp needs Python 3, none on PATH); seqlab will use the JS fallback kernels. To enable: ${HINT}`);
const libs = process.env.SEQLAB_BLAS_LIBS ?? '-lopenblas';
const include = findCblasInclude(cc, libs);
if (include === undefined) done(`skipped (OpenBLAS not found: cblas.h + ${libs} did not compile/link); seqlab will use the JS fallback kernels. To enable: ${HINT}`);
const nodeDir = findNodeDir();
if (!nodeDir) done(`skipped (no local Node headers for ${process.version}; not downloading them); seqlab will use the JS fallback kernels`);
const gyp = findNodeGyp();
if (!gyp) done('skipped (node-gyp not found); seqlab will use the JS fallback kernels');

const [cmd, ...pre] = gyp;
const r = run(cmd, [...pre, 'rebuild', `--nodedir=${nodeDir}`, '--jobs=2'], {
  cwd: here,
  env: { ...process.env, SEQLAB_CBLAS_INCLUDE: include || '.', SEQLAB_BLAS_LIBS: libs },
});
mkdirSync(dirname(logPath), { recursive: true });
writeFileSync(logPath, `${r.stdout ?? ''}\n${r.stderr ?? ''}\n${r.error ? String(r.error) : ''}`);
if (r.status !== 0 || !existsSync(addonPath)) done(`build failed (node-gyp exit ${r.status}; log: ${logPath}); seqlab will use the JS fallback kernels`);
const t = selfTest();
if (!t.ok) done(`built but failed its load test (${t.why}); seqlab will use the JS fallback kernels`);
done(`built ${addonPath} (${t.config})`);
