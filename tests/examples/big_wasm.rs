//! Writes a WebAssembly module of about the size asked for (default 1 MiB),
//! built from WAT text by the `wat` crate: many small functions, so
//! compiling it costs what compiling that much code costs. Every 100th is
//! exported (the others are reachable through a table), as a compiled
//! program exports a few entry points, not every function.
//! bench/authoring.sh uses it to time compile vs instantiate.
//!
//!   cargo run --release -p brink-tests --example big_wasm -- OUT.wasm [BYTES]

use std::fmt::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: big_wasm OUT.wasm [BYTES]")?;
    let target: usize = args.next().map(|bytes| bytes.parse()).transpose()?.unwrap_or(1024 * 1024);
    // One function is ~60 bytes of binary; stop once the module is big enough.
    let mut functions = target / 60;
    loop {
        let mut text = String::from("(module\n");
        writeln!(text, "  (table {functions} funcref)")?;
        write!(text, "  (elem (i32.const 0) func")?;
        for i in 0..functions {
            write!(text, " $f{i}")?;
        }
        writeln!(text, ")")?;
        for i in 0..functions {
            let export = if i % 100 == 0 { format!("(export \"f{i}\") ") } else { String::new() };
            writeln!(
                text,
                "  (func $f{i} {export}(param $x i32) (result i32)
    (i32.add (i32.mul (local.get $x) (i32.const {a})) (i32.xor (local.get $x) (i32.const {b})))
    (i32.rotl (i32.const {c}))
    (i32.sub (i32.const {d})))",
                a = i * 7 + 3,
                b = i * 13 + 1,
                c = i % 31,
                d = i,
            )?;
        }
        text.push(')');
        let binary = wat::parse_str(&text)?;
        if binary.len() >= target || functions > 10_000_000 {
            std::fs::write(&out, &binary)?;
            println!("{out}: {} bytes, {functions} functions", binary.len());
            return Ok(());
        }
        functions = functions * target / binary.len() + 16;
    }
}
