// Runs a WASI preview1 module under node's built-in node:wasi: the peer runtime for the
// benchmarks and a reference for the test modules. Same command line as `runwasi run`:
//   node bench/node-wasi-run.mjs [--dir HOST::GUEST]... [--env K=V]... [--inherit-env]
//                                module.wasm[#func] [args...]
// argv[0] seen by the guest is the module's file name. `#func` calls that export instead
// of _start (node:wasi is initialised without running _start). The exit code is the
// guest's proc_exit code or 0; a trap or link error prints the error and exits 1.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { WASI } from 'node:wasi';

function usage() {
  console.error('usage: node-wasi-run.mjs [--dir HOST::GUEST]... [--env K=V]... ' +
                '[--inherit-env] module.wasm[#func] [args...]');
  process.exit(2);
}

const preopens = {};
const env = {};
let argv = process.argv.slice(2);
while (argv.length > 0 && argv[0].startsWith('--')) {
  const opt = argv.shift();
  if (opt === '--inherit-env') {
    Object.assign(env, process.env);
  } else if (opt === '--dir' && argv.length > 0) {
    const spec = argv.shift();
    const sep = spec.indexOf('::');
    const [host, guest] = sep < 0 ? [spec, spec] : [spec.slice(0, sep), spec.slice(sep + 2)];
    preopens[guest] = host;
  } else if (opt === '--env' && argv.length > 0) {
    const kv = argv.shift();
    const eq = kv.indexOf('=');
    if (eq <= 0) usage();
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  } else if (opt === '--') {
    break;
  } else {
    usage();
  }
}
if (argv.length === 0) usage();

const [target, ...guestArgs] = argv;
const hash = target.lastIndexOf('#');
const path = hash < 0 ? target : target.slice(0, hash);
const func = hash < 0 ? null : target.slice(hash + 1);

const wasi = new WASI({ version: 'preview1', args: [basename(path), ...guestArgs], env,
                        preopens, returnOnExit: true });
try {
  const module = await WebAssembly.compile(readFileSync(path));
  const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
  if (func === null) {
    process.exitCode = wasi.start(instance);
  } else {
    // initialize() refuses modules exporting _start; it only needs the memory.
    wasi.initialize({ exports: { memory: instance.exports.memory } });
    if (typeof instance.exports[func] !== 'function') throw new Error(`no export "${func}"`);
    instance.exports[func]();
    process.exitCode = 0;
  }
} catch (err) {
  console.error(`node-wasi-run: ${path}: ${err.message}`);
  process.exitCode = 1;
}
