;; trap_oob: a trap from an out-of-bounds memory load.
;;
;; Memory is one 64 KiB page. `_start` writes "before trap\n" to stdout, then loads an
;; i32 from address 0x7ffffff0 (taken from a mutable global, so no engine can fold it) and
;; stores the value, so the load cannot be dropped.
;; A correct runtime produces: stdout "before trap\n", a trap reported ("out of bounds
;; memory access"), a non-zero exit status; no crash of the runtime process.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $addr (mut i32) (i32.const 0x7ffffff0))
  (data (i32.const 64) "before trap\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 12))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 16) (i32.load (global.get $addr)))))
