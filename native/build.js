#!/usr/bin/env node
// Builds the native addon (native/build/Release/seqlab.node) during `npm ci`, from every
// source listed in binding.gyp's "sources", with the system C compiler and the local Node
// headers (no node-gyp, Python or make needed; nothing is downloaded). OpenBLAS is optional:
// when cblas.h and the library compile and link, the sources get -DSEQLAB_HAVE_CBLAS and the
// addon offers cblas_sgemm next to its built-in GEMM; otherwise it has the built-in GEMM only.
// It never fails the install: without a compiler or Node headers it prints one line saying what
// is lost and how to get it back, and seqlab runs its pure-JS kernels.
//
// The outcome is also written to native/build/status.json (env.json and `bench --kernels` show it).
//
// Env: SEQLAB_NATIVE_MATMUL=off skips the build; SEQLAB_CBLAS=off builds without OpenBLAS;
// SEQLAB_CBLAS_INCLUDE=<dir> (the only place then searched for cblas.h) and
// SEQLAB_BLAS_LIBS='-L<dir> -lopenblas' point at a non-standard OpenBLAS; CC picks the compiler;
// SEQLAB_NATIVE_BUILD_DIR builds elsewhere than native/build (tests build a no-OpenBLAS variant).
// `node native/build.js --sources` prints the source list (binding.gyp's).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDecodeLayoutHeader } from './decode-layout.js';

const here = dirname(fileURLToPath(import.meta.url));
const buildDir = process.env.SEQLAB_NATIVE_BUILD_DIR || join(here, 'build');
const outDir = join(buildDir, 'Release');
const objDir = join(buildDir, 'obj');
const addonPath = join(outDir, 'seqlab.node');
const logPath = join(buildDir, 'build-log.txt');
const statusPath = join(buildDir, 'status.json');
const HINT_CC = 'apt-get install -y build-essential libopenblas-dev (or any C compiler), then `node native/build.js`';
const HINT_BLAS = 'apt-get install -y libopenblas-dev, then `node native/build.js`';
const LOST = 'seqlab will use the pure-JS matmul kernels (about 3.5x slower training: quickstart transformer 8k instead of 29k tokens/s)';

/** The sources of the addon: binding.gyp's list (JSON), the one place a new C file is added. */
function sources() {
  const gyp = JSON.parse(readFileSync(join(here, 'binding.gyp'), 'utf8'));
  return gyp.targets.find((t) => t.target_name === 'seqlab').sources;
}

const log = [];
function record(status) {
  mkdirSync(dirname(statusPath), { recursive: true });
  writeFileSync(statusPath, JSON.stringify({ ...status, node: process.version, at: new Date().toISOString() }, null, 2) + '\n');
  writeFileSync(logPath, log.join('\n') + '\n');
}

function done(line, status) {
  record({ line, ...status });
  console.log(`seqlab native matmul: ${line}`);
  process.exit(0);
}

function onPath(cmd) {
  if (cmd.includes('/')) return existsSync(cmd);
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
}

function run(cmd, args) {
  log.push(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000 });
  log.push(`${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim());
  return r;
}

// Compile and link a probe that calls cblas_sgemm: proves header and library both work.
function probeBlas(cc, includeDir, libs) {
  const dir = join(tmpdir(), `seqlab-blas-probe-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const src = join(dir, 'probe.c');
  writeFileSync(
    src,
    '#include <cblas.h>\nint main(void){float a=1,b=2,c=0;cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,1,1,1,1.0f,&a,1,&b,1,0.0f,&c,1);return c==2.0f?0:1;}\n',
  );
  const args = [...(includeDir ? [`-I${includeDir}`] : []), src, '-o', join(dir, 'probe'), ...libs];
  const r = run(cc, args);
  rmSync(dir, { recursive: true, force: true });
  return r.status === 0;
}

function findCblasInclude(cc, libs) {
  const user = process.env.SEQLAB_CBLAS_INCLUDE;
  const candidates =
    user !== undefined
      ? [user]
      : [
          '',
          '/usr/include/openblas',
          '/usr/include/x86_64-linux-gnu',
          '/usr/local/include',
          '/usr/local/opt/openblas/include',
          '/opt/homebrew/opt/openblas/include',
        ];
  for (const dir of candidates) {
    if (dir !== '' && !existsSync(join(dir, 'cblas.h'))) continue;
    if (probeBlas(cc, dir, libs)) return dir;
  }
  return undefined;
}

// Local Node headers only (never downloaded).
function findNodeInclude() {
  const candidates = [
    process.env.npm_config_nodedir,
    join(dirname(process.execPath), '..'),
    join(homedir(), '.cache', 'node-gyp', process.versions.node),
    join(homedir(), '.node-gyp', process.versions.node),
  ];
  const dir = candidates.find((d) => d && existsSync(join(d, 'include', 'node', 'node_api.h')));
  return dir && join(dir, 'include', 'node');
}

function compile(cc, args) {
  return new Promise((resolve) => {
    log.push(`$ ${cc} ${args.join(' ')}`);
    const p = spawn(cc, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    p.stdout.on('data', (d) => (text += d));
    p.stderr.on('data', (d) => (text += d));
    p.on('error', (e) => resolve({ ok: false, text: String(e) }));
    p.on('close', (code) => {
      log.push(text.trim());
      resolve({ ok: code === 0, text });
    });
  });
}

/** Compiles every source (two at a time) and links the addon; returns an error line or undefined. */
async function build(cc, nodeInclude, blas) {
  rmSync(objDir, { recursive: true, force: true });
  mkdirSync(objDir, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  const flags = [
    '-O3',
    '-fPIC',
    '-pthread',
    '-std=gnu11',
    '-fopenmp-simd',
    '-Wall',
    '-Wextra',
    '-Wno-unused-parameter',
    '-Wno-psabi',
    '-DNAPI_VERSION=8',
    '-DNODE_GYP_MODULE_NAME=seqlab',
    `-I${nodeInclude}`,
    `-I${here}`,
    ...(blas ? ['-DSEQLAB_HAVE_CBLAS', ...(blas.include ? [`-I${blas.include}`] : [])] : []),
  ];
  // decode.c's layout enums, generated from decode-layout.json into the build directory
  flags.push(`-I${dirname(writeDecodeLayoutHeader(join(buildDir, 'gen')))}`);
  const srcs = sources();
  const objs = srcs.map((s) => join(objDir, s.replace(/\.c$/, '.o')));
  const queue = srcs.map((s, i) => () => compile(cc, [...flags, '-c', join(here, s), '-o', objs[i]]));
  const results = [];
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) results.push(await job());
  };
  await Promise.all([worker(), worker()]);
  const bad = results.find((r) => !r.ok);
  if (bad) return `compile failed: ${bad.text.split('\n').find((l) => /error/.test(l)) ?? bad.text.split('\n')[0]}`;
  const tmp = `${addonPath}.tmp-${process.pid}`;
  const link = run(cc, [
    '-shared',
    '-pthread',
    ...objs,
    '-o',
    tmp,
    ...(blas ? blas.libs : []),
    '-lm',
    ...(process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : []),
  ]);
  if (link.status !== 0) return `link failed: ${(link.stderr || '').split('\n')[0]}`;
  renameSync(tmp, addonPath); // atomic: a running seqlab never sees a half-written addon
  return undefined;
}

/** The addon must load and multiply correctly (native/probe.cjs), else the build is worthless. */
function selfTest(engine) {
  const r = spawnSync(process.execPath, [join(here, 'probe.cjs'), '--addon', addonPath, '--engine', engine, '--n', '0'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    return { ok: false, why: (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n')[0] };
  }
}

async function main() {
  if (process.argv.includes('--sources')) {
    console.log(sources().join(' '));
    return;
  }
  if (/^(off|0|false|no)$/i.test(process.env.SEQLAB_NATIVE_MATMUL ?? ''))
    done(`skipped (SEQLAB_NATIVE_MATMUL=off); ${LOST}`, { built: false, cblas: false });
  if (process.platform === 'win32') done(`skipped (Windows is not supported); ${LOST}`, { built: false, cblas: false });
  const cc = [process.env.CC, 'cc', 'gcc', 'clang'].find((c) => c && onPath(c));
  if (!cc)
    done(`not built: no C compiler on PATH, so no native GEMM; ${LOST}. To get it back: ${HINT_CC}`, {
      built: false,
      cblas: false,
      hint: HINT_CC,
    });
  const nodeInclude = findNodeInclude();
  if (!nodeInclude)
    done(
      `not built: no local Node headers for ${process.version} (node_api.h; not downloading them); ${LOST}. To get it back: install Node with its headers, then \`node native/build.js\``,
      { built: false, cblas: false },
    );

  const libs = (process.env.SEQLAB_BLAS_LIBS ?? '-lopenblas').split(/\s+/).filter(Boolean);
  let blas;
  let noBlas = '';
  if (/^(off|0|false|no)$/i.test(process.env.SEQLAB_CBLAS ?? '')) noBlas = 'SEQLAB_CBLAS=off';
  else {
    const include = findCblasInclude(cc, libs);
    if (include === undefined) noBlas = `OpenBLAS not found: cblas.h + ${libs.join(' ')} did not compile/link`;
    else blas = { include, libs };
  }
  let why = await build(cc, nodeInclude, blas);
  if (why && blas) {
    noBlas = `the OpenBLAS build failed (${why})`;
    blas = undefined;
    why = await build(cc, nodeInclude, undefined);
  }
  if (why) done(`build failed (${why}; log: ${logPath}); ${LOST}`, { built: false, cblas: false, why });
  for (const engine of blas ? ['cblas', 'builtin'] : ['builtin']) {
    const t = selfTest(engine);
    if (!t.ok) {
      rmSync(addonPath, { force: true });
      done(`built but the ${engine} engine failed its self-test (${t.why}); ${LOST}. Please report this.`, {
        built: false,
        cblas: !!blas,
        why: t.why,
      });
    }
  }
  const t = selfTest('builtin');
  if (blas)
    done(`built ${addonPath} with OpenBLAS (${t.config}) and the built-in GEMM (${t.kernel})`, {
      built: true,
      cblas: true,
      kernel: t.kernel,
      config: t.config,
    });
  done(`built ${addonPath} with the built-in GEMM (${t.kernel}) only (${noBlas}); for OpenBLAS: ${HINT_BLAS}`, {
    built: true,
    cblas: false,
    kernel: t.kernel,
    why: noBlas,
    hint: HINT_BLAS,
  });
}

main().catch((e) => done(`build failed (${String(e.message).split('\n')[0]}); ${LOST}`, { built: false, cblas: false }));
