#!/bin/sh
# Produces the malformed-module fixtures (POSIX sh + coreutils, run by the build).
#   make_fixture.sh truncated IN OUT  OUT = the first half of IN (hello.wasm cut in half):
#                                     a runtime must reject it as truncated / unexpected end.
#   make_fixture.sh invalid OUT       OUT = a well-formed module (exports _start and memory,
#                                     no imports) except that its one function body holds
#                                     the undefined opcode 0xff: it decodes section by
#                                     section, links, but fails validation.
# invalid.wasm bytes:
#   00 61 73 6d 01 00 00 00   magic, version 1
#   01 04 01 60 00 00         type section: 1 type, func [] -> []
#   03 02 01 00               function section: 1 function of type 0
#   05 03 01 00 01            memory section: 1 memory, min 1 page, no max
#   07 13 02 06 "_start" 00 00 06 "memory" 02 00
#                             export section: _start = func 0, memory = memory 0
#   0a 05 01 03 00 ff 0b      code section: 1 body of 3 bytes: 0 locals, 0xff (invalid), end
# (with 0xff replaced by 0x01, nop, the module is valid: wasm-validate accepts it)
set -eu
case "$1" in
  truncated)
    size=$(wc -c < "$2")
    head -c $((size / 2)) "$2" > "$3"
    ;;
  invalid)
    printf '\000asm\001\000\000\000''\001\004\001\140\000\000''\003\002\001\000''\005\003\001\000\001''\007\023\002\006_start\000\000\006memory\002\000''\012\005\001\003\000\377\013' > "$2"
    ;;
  *)
    echo "usage: $0 truncated IN OUT | invalid OUT" >&2
    exit 2
    ;;
esac
