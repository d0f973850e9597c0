;; fresh_state: every run starts from the module's initial state.
;;
;; The start function adds 1 to the mutable global $g (initially 3); `_start` computes
;; code = memory[16] * 10 + $g (a data segment makes memory[16] 5), prints "fresh\n" when
;; code is 54 (a new instance whose start function ran once) and "stale\n" otherwise, then
;; dirties that state (memory[16] = 9, $g += 10) and exits with code through proc_exit.
;; A correct runtime produces: stdout "fresh\n" and exit code 54 on every run, however many
;; runs came before it in the same process or in processes forked from the same one.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "\05")
  (data (i32.const 64) "fresh\n")
  (data (i32.const 80) "stale\n")
  (global $g (mut i32) (i32.const 3))
  (func $init (global.set $g (i32.add (global.get $g) (i32.const 1))))
  (start $init)
  (func (export "_start") (local $code i32)
    (local.set $code
      (i32.add (i32.mul (i32.load8_u (i32.const 16)) (i32.const 10)) (global.get $g)))
    (i32.store (i32.const 0)
      (select (i32.const 64) (i32.const 80) (i32.eq (local.get $code) (i32.const 54))))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store8 (i32.const 16) (i32.const 9))
    (global.set $g (i32.add (global.get $g) (i32.const 10)))
    (call $proc_exit (local.get $code))))
