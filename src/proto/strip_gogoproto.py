#!/usr/bin/env python3
"""Copies a containerd .proto file, dropping what protoc 3.21 cannot compile.

containerd's and cgroups' .proto files (as Debian ships them) import gogoproto and
containerd's fieldpath plugin, often as `import weak`, which aborts protoc. None of those
options changes the wire format, so dropping them yields the same messages:
  - `import weak "...";` lines and `import "gogoproto/gogo.proto";`
  - `option (gogoproto.x) = ...;` and `option (containerd.plugin.x) = ...;` statements
  - `(gogoproto.x) = ...` / `(containerd.plugin.x) = ...` entries inside `[...]` field and
    enum-value options (the brackets go when nothing is left in them)

Usage: strip_gogoproto.py INPUT OUTPUT
Fails when any gogoproto or plugin reference survives, so a changed upstream file breaks
the build here rather than later in protoc.
"""

import re
import sys

PLUGIN_OPTION = re.compile(r"^\(\s*(gogoproto|containerd\.plugin)\.")
IMPORT_DROPPED = re.compile(r'^\s*import\s+(weak\s+"[^"]*"|"gogoproto/gogo\.proto")\s*;\s*$')
OPTION_DROPPED = re.compile(r"^\s*option\s+\(\s*(gogoproto|containerd\.plugin)\.[^;]*;\s*$")
BRACKETS = re.compile(r"\[([^\]\"]*(?:\"[^\"]*\"[^\]\"]*)*)\]")


def split_options(text):
    """Splits `a = 1, b = "x,y"` on the commas outside string literals."""
    parts, current, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def strip_brackets(match):
    kept = [opt for opt in split_options(match.group(1)) if not PLUGIN_OPTION.match(opt)]
    return "[" + ", ".join(kept) + "]" if kept else ""


def strip(source):
    out = []
    for line in source.splitlines():
        if IMPORT_DROPPED.match(line) or OPTION_DROPPED.match(line):
            continue
        out.append(BRACKETS.sub(strip_brackets, line))
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: strip_gogoproto.py INPUT OUTPUT")
    with open(sys.argv[1], encoding="utf-8") as f:
        result = strip(f.read())
    for number, line in enumerate(result.splitlines(), 1):
        code = line.split("//", 1)[0]
        if "gogoproto" in code or "containerd.plugin" in code or "import weak" in code:
            sys.exit(f"{sys.argv[1]}:{number}: left after stripping: {line.strip()}")
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write(result)


if __name__ == "__main__":
    main()
