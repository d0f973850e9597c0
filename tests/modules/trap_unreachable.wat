;; trap_unreachable: a trap from the `unreachable` instruction.
;;
;; `_start` writes "before trap\n" to stdout with fd_write, then executes `unreachable`.
;; A correct runtime produces: stdout "before trap\n" (flushed before the trap), a trap
;; reported (on the runtime's stderr/log, naming "unreachable"), and a non-zero exit
;; status; the process itself must not crash.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "before trap\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 12))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    unreachable))
