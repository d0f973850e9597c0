;; trap_div_zero: a trap from integer division by zero.
;;
;; `_start` writes "before trap\n" to stdout, then computes i32.div_s(7, x) where x is
;; loaded from memory (it is 0), and stores the quotient so the division cannot be
;; dropped as dead code.
;; A correct runtime produces: stdout "before trap\n", a trap reported ("integer divide
;; by zero"), a non-zero exit status; no crash of the runtime process.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "before trap\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 12))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 16)
      (i32.div_s (i32.const 7) (i32.load (i32.const 128))))))
