;; import_bad_signature: imports a real WASI function with the wrong type.
;;
;; Imports `wasi_snapshot_preview1.fd_write` as [i32] -> [i32] (the real type is
;; [i32 i32 i32 i32] -> [i32]) and calls it from `_start`.
;; A correct runtime refuses to instantiate it: nothing on stdout, an error naming the
;; import "wasi_snapshot_preview1.fd_write" and the type mismatch, non-zero exit status;
;; `_start` never runs. (node:wasi runs it and exits 0: its host functions are JS
;; functions, which accept any wasm signature; an embedder must check types itself.)
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $fd_write (i32.const 1)))))
