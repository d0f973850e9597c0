;; custom_entry: a module with two entry points, for the `module.wasm#func` syntax.
;;
;; Exports `_start`, which writes "start called\n", and `greet` (type [] -> []), which
;; writes "greet called\n"; both via fd_write on fd 1 and both return normally.
;; A correct runtime produces:
;;   custom_entry.wasm        stdout "start called\n", stderr empty, exit code 0
;;   custom_entry.wasm#greet  stdout "greet called\n", stderr empty, exit code 0
;;                            (and _start is NOT run)
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "start called\n")
  (data (i32.const 96) "greet called\n")

  ;; Writes len bytes at ptr to stdout; the iovec lives at 0, nwritten at 8.
  (func $print (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func (export "_start")
    (call $print (i32.const 64) (i32.const 13)))

  (func (export "greet")
    (call $print (i32.const 96) (i32.const 13))))
