;; infinite_loop: runs forever without host calls, for kill and timeout tests.
;;
;; `_start` writes "looping\n" to stdout once (so a test can wait until it is running),
;; then increments a mutable global in an endless loop with no further host calls.
;; A correct runtime produces: stdout "looping\n", then never exits on its own; it must
;; die from SIGKILL/SIGTERM (exit status 128+signal as seen by a shell, or the signal in
;; the wait status) and stop consuming CPU.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $spins (mut i64) (i64.const 0))
  (data (i32.const 64) "looping\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 8))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (loop $forever
      (global.set $spins (i64.add (global.get $spins) (i64.const 1)))
      (br $forever))))
