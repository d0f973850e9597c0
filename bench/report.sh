#!/usr/bin/env bash
# The whole benchmark suite in one command (issue 7): builds, runs every benchmark with
# stated sizes (under 20 minutes on 2 CPUs), and rewrites the generated blocks of
# docs/benchmarks.md and the plots in docs/bench/*.svg. Needs root.
#
#   sudo bench/report.sh [--build DIR] [--quick] [--only STAGE,...] [--render-only] ...
#
# Debian's python3 (/usr/bin/python3: python3-grpcio and python3-protobuf for the CRI
# benchmark) runs bench/report.py, which documents every option and stage.
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$(realpath "$0")")/report.py" "$@"
