#!/usr/bin/env python3
"""Runs every test module under a WASI runtime and checks what its header comment promises.

    check_modules.py MODULES_DIR RUNTIME_COMMAND...
e.g.
    check_modules.py build/tests/modules node --no-warnings bench/node-wasi-run.mjs
    check_modules.py build/tests/modules build/tools/runwasi run --engine wasm2c

The runtime command must take `[--dir HOST::GUEST]... [--env K=V]... module.wasm[#func]
[args...]` like `runwasi run`. Prints one PASS/FAIL line per check; exits 1 if any failed.
Python 3 standard library only.

Under node 20's node:wasi two checks fail, both node's own weaknesses: import_bad_signature
(its JS host functions accept any signature) and path_escape (it follows a directory
symlink that points outside the preopen: rel_dir_symlink and create_via_symlink ESCAPED).
memory_grow also crashes node now and then (SIGSEGV after its output): node:wasi keeps
using the memory's old backing store after memory.grow.
"""
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time

LARGE_SHA256 = "4e4714aa1dbc252803a21aa49508f7d93fb50b665d80469d4f95b07ada244213"


class Checker:
    def __init__(self, modules, runtime):
        self.modules = modules
        self.runtime = runtime
        self.failed = 0

    def run(self, module, *args, opts=(), stdin=b"", timeout=60):
        cmd = [*self.runtime, *opts, os.path.join(self.modules, module), *args]
        p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def check(self, name, ok, detail=""):
        print(f"{'PASS' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}")
        if not ok:
            self.failed += 1

    def expect(self, name, module, *args, rc=0, out=None, opts=()):
        code, stdout, stderr = self.run(module, *args, opts=opts)
        ok_rc = (code != 0) if rc == "nonzero" else (code == rc)
        ok_out = out is None or stdout == out
        self.check(name, ok_rc and ok_out,
                   f"rc={code} stdout={stdout[:200]!r} stderr={stderr[-300:]!r}")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    c = Checker(sys.argv[1], sys.argv[2:])

    c.expect("hello", "hello.wasm", out=b"hello from wasm\n")
    c.expect("exit42", "exit42.wasm", rc=42, out=b"exiting with 42\n")
    c.expect("custom_entry _start", "custom_entry.wasm", out=b"start called\n")
    c.expect("custom_entry #greet", "custom_entry.wasm#greet", out=b"greet called\n")
    for trap in ("trap_unreachable", "trap_div_zero", "trap_oob"):
        c.expect(trap, f"{trap}.wasm", rc="nonzero", out=b"before trap\n")
    for bad in ("import_unknown", "import_bad_signature", "no_start", "not_wasm",
                "truncated", "invalid"):
        c.expect(bad, f"{bad}.wasm", rc="nonzero", out=b"")
    c.expect("no_start #other", "no_start.wasm#other", out=b"")
    for i in range(2):
        c.expect(f"fresh_state run {i + 1}", "fresh_state.wasm", rc=54, out=b"fresh\n")

    code, out, err = c.run("args_env.wasm", "x", "y z", opts=("--env", "A=1", "--env", "B=x=y"))
    lines = out.decode(errors="replace").splitlines()
    c.check("args_env", code == 0 and lines[:1] == ["argc=3"] and lines[1].startswith("argv[0]=")
            and lines[2:] == ["argv[1]=x", "argv[2]=y z", "env=A=1", "env=B=x=y"],
            f"rc={code} stdout={out!r} stderr={err!r}")

    with tempfile.TemporaryDirectory() as d:
        dirs = ("--dir", f"{d}::/data")
        c.expect("file_rw write", "file_rw.wasm", "/data/out.txt", "hello file", opts=dirs,
                 out=b"hello file\n")
        host = os.path.join(d, "out.txt")
        c.check("file_rw host file", os.path.exists(host) and open(host, "rb").read() == b"hello file")
        with open(os.path.join(d, "in.txt"), "wb") as f:
            f.write(b"from the host\n")
        c.expect("file_rw --read", "file_rw.wasm", "--read", "/data/in.txt", opts=dirs,
                 out=b"from the host\n")
        c.expect("file_rw --list", "file_rw.wasm", "--list", "/data", opts=dirs,
                 out=b"in.txt\nout.txt\n")
        c.expect("file_rw --read missing", "file_rw.wasm", "--read", "/data/nope", opts=dirs,
                 rc=1, out=b"")
    c.expect("file_rw without preopen", "file_rw.wasm", "/data/x", "y", rc=1, out=b"")

    data = os.urandom(1 << 20)
    code, out, err = c.run("stdin_echo.wasm", stdin=data)
    c.check("stdin_echo 1 MiB", code == 0 and out == data, f"rc={code} len={len(out)} {err!r}")
    c.expect("stdin_echo empty", "stdin_echo.wasm", out=b"")

    code, out, err = c.run("sleep.wasm", "50")
    m = re.fullmatch(rb"slept (\d+) ms\n", out)
    c.check("sleep 50", code == 0 and m and int(m.group(1)) >= 49, f"rc={code} {out!r} {err!r}")

    code, out, err = c.run("random.wasm")
    c.check("random", code == 0 and re.fullmatch(rb"([0-9a-f]{64}\n){2}", out) is not None,
            f"rc={code} {out!r} {err!r}")

    code, out, err = c.run("memory_grow.wasm")
    m = re.fullmatch(rb"grew (\d+) pages\n", out)
    c.check("memory_grow", code == 0 and m and int(m.group(1)) >= 1024, f"rc={code} {out!r} {err!r}")

    code, out, err = c.run("large_output.wasm")
    c.check("large_output 10 MiB", code == 0 and hashlib.sha256(out).hexdigest() == LARGE_SHA256,
            f"rc={code} len={len(out)} {err!r}")
    c.expect("large_output 100", "large_output.wasm", "100",
             out=(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+\n" * 2)[:100])

    with tempfile.TemporaryDirectory() as d:
        sandbox = os.path.join(d, "sandbox")
        os.mkdir(sandbox)
        code, out, err = c.run("path_escape.wasm", opts=("--dir", f"{sandbox}::/"))
        text = out.decode(errors="replace")
        c.check("path_escape", code == 0 and "ESCAPED" not in text and "FAILED" not in text,
                f"rc={code}\n{text}{err.decode(errors='replace')}")
        leftovers = sorted(os.listdir(d)) + sorted(os.listdir(sandbox))
        c.check("path_escape leaves nothing", leftovers == ["sandbox"], f"{leftovers}")

    cmd = [*c.runtime, os.path.join(c.modules, "infinite_loop.wasm")]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.readline()
    time.sleep(0.5)
    alive = p.poll() is None
    p.kill()
    p.wait()
    c.check("infinite_loop", first == b"looping\n" and alive, f"first={first!r} alive={alive}")

    print(f"{c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
