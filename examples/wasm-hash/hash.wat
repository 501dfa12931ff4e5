;; 64-bit FNV-1a over a byte range of this module's memory, for
;; examples/wasm-hash/worker.ts. The digest is written to bytes 0..8
;; (little-endian), the input lives from byte 8 on.
;; hash.wasm is this file compiled by the `wat` crate; the test
;; tests/tests/authoring_wasm.rs fails if the two differ.
(module
  (memory (export "memory") 1)
  (func (export "fnv1a64") (param $ptr i32) (param $len i32)
    (local $hash i64)
    (local $end i32)
    (local.set $hash (i64.const 0xcbf29ce484222325))
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $hash
          (i64.mul
            (i64.xor (local.get $hash) (i64.load8_u (local.get $ptr)))
            (i64.const 0x100000001b3)))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (br $next)))
    (i64.store (i32.const 0) (local.get $hash))))
