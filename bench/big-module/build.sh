#!/usr/bin/env bash
# Builds a large real-world WASI preview1 module for the precompile-cache benchmark:
# the sqlite3 command-line shell, SQLite 3.46.1, as one wasm32-wasi module (> 5 MB).
#
#   bench/big-module/build.sh OUTDIR      -> OUTDIR/sqlite3.wasm (prints its path and size)
#
# Usage of the result (any runwasi engine; the shell takes SQL as its last argument):
#   runwasi run --engine wasm2c OUTDIR/sqlite3.wasm :memory: 'select sqlite_version();'
#
# What is built, and why it is this big
# - Program: SQLite's own shell (shell.c) + library (sqlite3.c), the amalgamation generated
#   from Debian's source tarball of sqlite3 3.46.1 (trixie's; bookworm's 3.40.1 predates
#   SQLite's WASI support: its os_unix.c and shell do not compile for wasm32-wasi).
#   3.46.1 supports WASI upstream (sqlite3.h defines SQLITE_WASI under __wasi__: no WAL, no
#   threads, no extension loading, dot-file locking). zlib 1.2.13 (Debian bookworm's
#   source) is linked in so that the shell's zlib features work: the zipfile and sqlar
#   virtual tables, sqlar_compress()/sqlar_uncompress() and `.archive`.
# - Size: an optimized build (-O2, every feature below) is only ~2.0 MB of wasm. To reach
#   5 MB honestly this is SQLite's own *debug build*, exactly what SQLite's
#   `./configure --enable-debug` compiles with (-O0 -DSQLITE_DEBUG=1
#   -DSQLITE_ENABLE_SELECTTRACE -DSQLITE_ENABLE_WHERETRACE: assert()s on, the
#   .treetrace/.wheretrace debugging aids), without -g (debug info would be custom
#   sections), plus the compile-time features listed in SQLITE_FEATURES (FTS3/4/5, R-Tree,
#   Geopoly, session, dbstat/dbpage/stmt/bytecode virtual tables, STAT4, math functions, ...).
#   Result: ~5.5 MB, of which ~5.1 MB is the code section (4624 functions) and ~0.37 MB
#   data (SQLite's own string/keyword tables); no custom sections (linked with
#   --strip-all), no padding.
#   The alternatives were rejected: several real programs in one multi-call module would
#   need at least three more ported programs to reach 5 MB at -O2; -O0 alone with the
#   features gives 4.0 MB.
#   (-O0 code is larger and simpler per function than -O2 code; for a compile-time
#   benchmark it is still real compiler output of a real program, just unoptimized.)
# - Not enabled, because they cannot work under WASI preview1: WAL and RBU (need shared
#   memory), extension loading (no dlopen), threads, temporary files (SQLITE_TEMP_STORE=3,
#   see SQLITE_FEATURES). system() and chmod(), which the shell calls and Debian's
#   wasi-libc (2022-05) does not provide, fail with ENOSYS (.system, .shell, .once -e,
#   .excel and writefile() with an explicit mode report an error).
#
# Toolchain: Debian's clang 14 + wasm-ld 14, wasi-libc and libclang-rt-14-dev-wasm32;
# native gcc, make and tclsh8.6 generate the amalgamation (lemon, mkkeywordhash,
# mksqlite3c.tcl). At -O0 clang does not run binaryen's wasm-opt even when it is installed.
# Sources are fetched from Debian's pool over HTTP and verified against pinned sha256 sums
# (zlib's is the one in bookworm's zlib_1.2.13.dfsg-1.dsc; sqlite's was taken from the
# pool's file). Installs what it lacks with apt (root, Debian 12).
# Cached: does nothing when the output exists and is newer than this script.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi

SCRIPT=$(readlink -f "$0")
mkdir -p "$1"
OUTDIR=$(cd "$1" && pwd)
NAME=sqlite3
OUT="$OUTDIR/$NAME.wasm"

report() {
  echo "big-module: $OUT: $(stat -c %s "$OUT") bytes"
}

if [ -f "$OUT" ] && [ "$OUT" -nt "$SCRIPT" ]; then
  echo "big-module: up to date"
  report
  exit 0
fi

POOL=http://deb.debian.org/debian/pool/main
SQLITE_VERSION=3.46.1
SQLITE_URL=$POOL/s/sqlite3/sqlite3_$SQLITE_VERSION.orig.tar.xz
SQLITE_SHA256=d0cdd2ece271b29e7ce18095745d892517ee26d0f270065b3a25c2e9eb11639c
ZLIB_VERSION=1.2.13
ZLIB_URL=$POOL/z/zlib/zlib_$ZLIB_VERSION.dfsg.orig.tar.bz2
ZLIB_SHA256=71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1

# --- packages ---------------------------------------------------------------------------
packages=(
  clang lld wasi-libc libclang-rt-14-dev-wasm32  # the wasm32-wasi toolchain
  build-essential tcl8.6                         # lemon etc. and tclsh for the amalgamation
  curl xz-utils bzip2                            # fetching and unpacking the sources
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "big-module: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

CC=$(command -v clang-14 || command -v clang)

# --- sources ----------------------------------------------------------------------------
# Downloads are kept in OUTDIR/.big-module-downloads (verified on every use); the build
# itself happens in a temporary directory.
DL="$OUTDIR/.big-module-downloads"
mkdir -p "$DL"
fetch() {  # URL SHA256 -> path of the verified file
  local url=$1 sha=$2 file
  file="$DL/$(basename "$url")"
  if [ ! -f "$file" ] || ! echo "$sha  $file" | sha256sum -c --status; then
    echo "big-module: fetching $url" >&2
    curl -fsSL --retry 3 -o "$file.part" "$url"
    if ! echo "$sha  $file.part" | sha256sum -c --status; then
      echo "big-module: sha256 mismatch for $url (expected $sha)" >&2
      rm -f "$file.part"
      exit 1
    fi
    mv "$file.part" "$file"
  fi
  echo "$file"
}
sqlite_tar=$(fetch "$SQLITE_URL" "$SQLITE_SHA256")
zlib_tar=$(fetch "$ZLIB_URL" "$ZLIB_SHA256")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/big-module.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
tar -xf "$sqlite_tar" -C "$WORK"
tar -xf "$zlib_tar" -C "$WORK"
SQLITE_SRC="$WORK/sqlite3-$SQLITE_VERSION"
ZLIB_SRC="$WORK/zlib-$ZLIB_VERSION.dfsg"
if [ ! -f "$SQLITE_SRC/src/shell.c.in" ] || [ ! -f "$ZLIB_SRC/zlib.h" ]; then
  echo "big-module: unexpected source layout in $WORK" >&2
  exit 1
fi

# --- the amalgamation (native tools, host configure only to get the Makefile) -----------
mkdir "$WORK/amalgamation"
(
  cd "$WORK/amalgamation"
  "$SQLITE_SRC/configure" --disable-tcl >configure.log 2>&1 || { tail -20 configure.log >&2; exit 1; }
  nice -n 10 make -j"$(nproc)" sqlite3.c shell.c >make.log 2>&1 || { tail -20 make.log >&2; exit 1; }
)
AMAL="$WORK/amalgamation"

# --- wasm32-wasi build ------------------------------------------------------------------
# (-ffile-prefix-map: assert() messages hold __FILE__; without the random temporary
# directory in them the build is reproducible, byte for byte.)
CFLAGS=(--target=wasm32-wasi -O0 "-ffile-prefix-map=$WORK/=")
# SQLite's `configure --enable-debug` (TARGET_DEBUG in configure.ac), minus -Wall.
SQLITE_DEBUG_FLAGS=(-DSQLITE_DEBUG=1 -DSQLITE_ENABLE_SELECTTRACE -DSQLITE_ENABLE_WHERETRACE)
SQLITE_FEATURES=(
  -DSQLITE_ENABLE_FTS3 -DSQLITE_ENABLE_FTS3_PARENTHESIS -DSQLITE_ENABLE_FTS4
  -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_GEOPOLY
  -DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_ENABLE_DBPAGE_VTAB -DSQLITE_ENABLE_STMTVTAB
  -DSQLITE_ENABLE_BYTECODE_VTAB -DSQLITE_ENABLE_SESSION -DSQLITE_ENABLE_PREUPDATE_HOOK
  -DSQLITE_ENABLE_MATH_FUNCTIONS -DSQLITE_ENABLE_STAT4 -DSQLITE_ENABLE_EXPLAIN_COMMENTS
  -DSQLITE_ENABLE_COLUMN_METADATA -DSQLITE_ENABLE_UNKNOWN_SQL_FUNCTION
  -DSQLITE_ENABLE_NORMALIZE -DSQLITE_ENABLE_OFFSET_SQL_FUNC -DSQLITE_SOUNDEX
  -DSQLITE_ENABLE_API_ARMOR
  -DSQLITE_HAVE_ZLIB=1
  # Temporary tables, indices, sorter spills and statement journals in memory, never in
  # temporary files: a WASI guest usually has no /tmp, and 3.46.1's WASI port creates
  # delete-on-close files through robust_open(), which then calls fchmod() through a null
  # pointer (SQLITE_WASI drops fchmod): a "null function" trap. SQLite's own wasm builds
  # keep temporary storage in memory too.
  -DSQLITE_TEMP_STORE=3
)
# wasi-libc's emulations of signal(), getrusage()/clock() and getpid() (used by the shell).
WASI_EMULATION=(-D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_PROCESS_CLOCKS -D_WASI_EMULATED_GETPID)
WASI_EMULATION_LIBS=(-lwasi-emulated-signal -lwasi-emulated-process-clocks -lwasi-emulated-getpid)

OBJ="$WORK/obj"
mkdir "$OBJ"
echo "big-module: compiling SQLite $SQLITE_VERSION and zlib $ZLIB_VERSION for wasm32-wasi (-O0)"
# Functions WASI preview1 has no equivalent for, which Debian's wasi-libc lacks.
cat >"$OBJ/wasi_stubs.c" <<'EOF'
/* WASI preview1 can neither run commands nor change permissions: fail like a libc
   without them would. */
#include <errno.h>
#include <sys/types.h>
int system(const char *command) { (void)command; errno = ENOSYS; return -1; }
int chmod(const char *path, mode_t mode) { (void)path; (void)mode; errno = ENOSYS; return -1; }
EOF
objs=()
for f in adler32 compress crc32 deflate gzclose gzlib gzread gzwrite infback inffast inflate \
         inftrees trees uncompr zutil; do
  "$CC" "${CFLAGS[@]}" -DHAVE_UNISTD_H -DHAVE_STDARG_H -c "$ZLIB_SRC/$f.c" -o "$OBJ/z_$f.o"
  objs+=("$OBJ/z_$f.o")
done
"$CC" "${CFLAGS[@]}" -c "$OBJ/wasi_stubs.c" -o "$OBJ/wasi_stubs.o"
objs+=("$OBJ/wasi_stubs.o")
# (-Wno-implicit-function-declaration: the shell calls chmod(), which wasi-libc does not
# declare; wasi_stubs.c defines it.)
for f in sqlite3 shell; do
  nice -n 10 "$CC" "${CFLAGS[@]}" "${SQLITE_DEBUG_FLAGS[@]}" "${SQLITE_FEATURES[@]}" \
    "${WASI_EMULATION[@]}" -Wno-implicit-function-declaration -I"$AMAL" -I"$ZLIB_SRC" \
    -c "$AMAL/$f.c" -o "$OBJ/$f.o"
  objs+=("$OBJ/$f.o")
done
"$CC" "${CFLAGS[@]}" -s "${objs[@]}" "${WASI_EMULATION_LIBS[@]}" -o "$OBJ/$NAME.wasm"

# --- sanity checks ----------------------------------------------------------------------
if [ "$(head -c 4 "$OBJ/$NAME.wasm" | od -An -tx1 | tr -d ' \n')" != 0061736d ]; then
  echo "big-module: the linker's output is not a wasm module" >&2
  exit 1
fi
if command -v wasm-objdump >/dev/null; then
  # Only WASI preview1 imports, and no custom sections (nothing but code and SQLite's data).
  bad_imports=$(wasm-objdump -x -j Import "$OBJ/$NAME.wasm" | grep -- ' <- ' |
                grep -v ' <- wasi_snapshot_preview1\.' || true)
  if [ -n "$bad_imports" ]; then
    echo "big-module: imports outside wasi_snapshot_preview1:" >&2
    echo "$bad_imports" >&2
    exit 1
  fi
  if wasm-objdump -h "$OBJ/$NAME.wasm" | grep -q 'Custom'; then
    echo "big-module: unexpected custom sections" >&2
    exit 1
  fi
fi
size=$(stat -c %s "$OBJ/$NAME.wasm")
if [ "$size" -lt 5000000 ]; then
  echo "big-module: $NAME.wasm is only $size bytes (< 5 MB)" >&2
  exit 1
fi

mv -f "$OBJ/$NAME.wasm" "$OUT.tmp"
mv -f "$OUT.tmp" "$OUT"
report
