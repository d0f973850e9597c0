;; no_start: a valid module without a `_start` export.
;;
;; Exports only `memory` and a function `other` ([] -> []) that does nothing.
;; A correct runtime produces for `no_start.wasm`: nothing on stdout, an error saying the
;; export "_start" is missing, non-zero exit status. `no_start.wasm#other` runs `other`
;; and exits 0 with empty stdout.
(module
  (memory (export "memory") 1)
  (func (export "other")))
