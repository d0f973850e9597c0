;; import_unknown: imports a function no WASI host provides.
;;
;; Imports `env.host_magic` ([] -> [i32]) and calls it from `_start`.
;; A correct runtime refuses to instantiate it: nothing on stdout, an error naming the
;; unresolved import "env.host_magic" (or "env::host_magic") on stderr/log, non-zero exit
;; status; `_start` never runs.
(module
  (import "env" "host_magic" (func $host_magic (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $host_magic))))
