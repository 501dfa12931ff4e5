//! Strips the types from a TypeScript module (`.ts`, `.mts`) so the engine
//! can run it, and makes the source map that points its errors back at
//! the original lines and columns.
//!
//! The transform is oxc's (parser, semantic analysis for `enum` and
//! namespace values, transformer, code generator): a well-kept crate that
//! compiles in about two CPU-minutes and transforms a typical module in
//! tens of microseconds (docs/authoring.md has the measurements against
//! swc through deno_ast). It runs once per deployed version (and per file
//! change in `brink dev`), never per request: the bundle keeps its output.
//!
//! Nothing is type-checked: as with wrangler and Deno's run, a type error
//! is the editor's and `tsc`'s job; only syntax errors fail a deploy.

use std::path::Path;

use oxc::allocator::Allocator;
use oxc::codegen::{Codegen, CodegenOptions};
use oxc::parser::Parser;
use oxc::semantic::SemanticBuilder;
use oxc::span::SourceType;
use oxc::transformer::{TransformOptions, Transformer};

/// A TypeScript module turned into JavaScript.
#[derive(Debug, Clone)]
pub struct Transpiled {
    /// The JavaScript the engine runs.
    pub code: String,
    /// Source map (JSON) from `code` back to the TypeScript source.
    pub source_map: String,
}

/// Why a TypeScript module could not be transformed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path}:{line}:{column}: SyntaxError: {message}")]
pub struct TranspileError {
    /// The module (bundle path).
    pub path: String,
    /// 1-based line of the first error.
    pub line: usize,
    /// 1-based column of the first error.
    pub column: usize,
    /// What is wrong, as the parser says it.
    pub message: String,
}

/// Whether `path` names a module this transform handles.
pub fn is_typescript(path: &str) -> bool {
    (path.ends_with(".ts") || path.ends_with(".mts")) && !path.ends_with(".d.ts")
}

/// Deepest nesting of brackets and operators a module may have. oxc's
/// parser, transformer and code generator recurse once per level with no
/// depth check of their own, so without a bound a tenant's upload of
/// `((((...))))` would overflow the stack and abort the server.
pub const MAX_NESTING: usize = 10_000;

/// Stack of the thread that transforms a module: deep enough for
/// [`MAX_NESTING`] levels of the costliest construct (measured: ~1.6 KiB a
/// level, so 64 MiB leaves a fourfold margin). Only what is used is
/// committed.
const TRANSFORM_STACK_BYTES: usize = 64 * 1024 * 1024;

thread_local! {
    /// Whether this thread has the transform's stack.
    static ON_TRANSFORM_STACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `work` on a thread with the transform's stack, where [`transpile`]
/// runs directly. A bundle's modules are made ready inside one such call, so
/// a bundle costs one thread, not one per module (under load, each thread
/// hand-off waits for a time slice). `None` if no thread could be started
/// or `work` panicked.
pub fn on_transform_stack<T: Send>(work: impl FnOnce() -> T + Send) -> Option<T> {
    if ON_TRANSFORM_STACK.with(|on| on.get()) {
        return Some(work());
    }
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("typescript".into())
            .stack_size(TRANSFORM_STACK_BYTES)
            .spawn_scoped(scope, || {
                ON_TRANSFORM_STACK.with(|on| on.set(true));
                work()
            })
            .ok()?;
        thread.join().ok()
    })
}

/// Strips the types from `source`, the module at bundle path `path` (on a
/// thread with the transform's stack: this one inside
/// [`on_transform_stack`], else a new one).
pub fn transpile(path: &str, source: &str) -> Result<Transpiled, TranspileError> {
    check_nesting(path, source)?;
    on_transform_stack(|| transpile_checked(path, source)).unwrap_or_else(|| {
        Err(TranspileError {
            path: path.to_string(),
            line: 1,
            column: 1,
            message: "the TypeScript transform could not run (no thread, or it failed)".into(),
        })
    })
}

/// Fails if `source` nests deeper than [`MAX_NESTING`]. Deliberately
/// crude and conservative: strings and comments are not skipped (so nothing
/// can be hidden from it), every bracket opens a level, and within a level
/// every operator, member access or word since the statement or list item
/// began counts as one (left-deep chains like `a.b.c` or `1+1+1` and prefix
/// runs like `!!!x` or `new new x` recurse too). A statement ends at `;`,
/// at `,`, and at a line break that cannot continue an expression (the line
/// ends in an operand and the next starts with one).
fn check_nesting(path: &str, source: &str) -> Result<(), TranspileError> {
    let bytes = source.as_bytes();
    let mut saved: Vec<usize> = Vec::new();
    let mut saved_sum = 0usize;
    let mut count = 0usize;
    let mut line = 1;
    let mut line_start = 0;
    // The last byte that is not white space, and where the word it ends began.
    let mut last = b';';
    let mut word_start = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        match byte {
            b'\n' => {
                if ends_operand(bytes, last, word_start, at) && starts_operand(&bytes[at + 1..]) {
                    count = 0;
                }
                line += 1;
                line_start = at + 1;
            }
            b'(' | b'[' | b'{' => {
                saved.push(count);
                saved_sum += count;
                count = 0;
            }
            b')' | b']' | b'}' => {
                count = saved.pop().unwrap_or(0);
                saved_sum -= count;
            }
            b',' | b';' => count = 0,
            b'.' | b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'|' | b'^' | b'!' | b'~' | b'<' | b'>' | b'=' | b'?'
            | b':' | b'@' => count += 1,
            _ if is_word_byte(byte) && (at == 0 || !is_word_byte(bytes[at - 1])) => {
                count += 1;
                word_start = at;
            }
            _ => {}
        }
        if !byte.is_ascii_whitespace() {
            last = byte;
        }
        if saved.len() + saved_sum + count > MAX_NESTING {
            return Err(TranspileError {
                path: path.to_string(),
                line,
                column: at - line_start + 1,
                message: format!("expressions are nested too deeply (more than {MAX_NESTING} levels)"),
            });
        }
    }
    Ok(())
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$'
}

/// Whether a line whose last non-blank byte is `last` (a word starting at
/// `word_start` if it is a word byte) ends an operand: not an operator, and
/// not a keyword that takes one (`new`, `await`, ...).
fn ends_operand(bytes: &[u8], last: u8, word_start: usize, end: usize) -> bool {
    if is_word_byte(last) {
        let word = &bytes[word_start..end.max(word_start)];
        let word = word.split(|b| !is_word_byte(*b)).next().unwrap_or_default();
        return !matches!(
            word,
            b"new" | b"await" | b"yield" | b"typeof" | b"void" | b"delete" | b"in" | b"instanceof" | b"of" | b"return"
                | b"throw" | b"extends" | b"case" | b"as" | b"satisfies" | b"keyof"
        );
    }
    matches!(last, b')' | b']' | b'}' | b'"' | b'\'' | b'`')
}

/// Whether `rest` (what follows a line break) starts with an operand.
fn starts_operand(rest: &[u8]) -> bool {
    match rest.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(&first) => is_word_byte(first) || matches!(first, b'"' | b'\'' | b'}' | b';'),
        None => true,
    }
}

fn transpile_checked(path: &str, source: &str) -> Result<Transpiled, TranspileError> {
    let allocator = Allocator::default();
    // Always an ES module: workers are modules, and `.mts` is the same.
    let source_type = SourceType::ts().with_module(true);
    let parsed = Parser::new(&allocator, source, source_type).parse();
    if let Some(error) = parsed.diagnostics.iter().find(|d| d.severity == oxc::diagnostics::Severity::Error) {
        return Err(diagnostic_error(path, source, error));
    }
    let mut program = parsed.program;
    let semantic = SemanticBuilder::new()
        .with_excess_capacity(2.0)
        .with_enum_eval(true)
        .build(&program);
    let scoping = semantic.semantic.into_scoping();
    let options = TransformOptions::default();
    let transformed = Transformer::new(&allocator, Path::new(path), &options).build_with_scoping(scoping, &mut program);
    if let Some(error) = transformed.diagnostics.iter().find(|d| d.severity == oxc::diagnostics::Severity::Error) {
        return Err(diagnostic_error(path, source, error));
    }
    let generated = Codegen::new()
        .with_options(CodegenOptions {
            source_map_path: Some(path.into()),
            ..CodegenOptions::default()
        })
        .build(&program);
    let source_map = generated.map.map(|map| map.to_json_string()).unwrap_or_default();
    Ok(Transpiled { code: generated.code, source_map })
}

fn diagnostic_error(path: &str, source: &str, error: &oxc::diagnostics::OxcDiagnostic) -> TranspileError {
    let labels: &[_] = error.labels.as_ref();
    let offset = labels.first().map(|label| label.offset() as usize).unwrap_or(0);
    let (line, column) = line_and_column(source, offset);
    TranspileError { path: path.to_string(), line, column, message: error.message.to_string() }
}

/// 1-based line and column (in characters) of byte `offset` in `source`.
fn line_and_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..source.floor_char_boundary(offset.min(source.len()))];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|at| at + 1).unwrap_or(0);
    (line, before[line_start..].chars().count() + 1)
}

/// The 1-based line of the TypeScript source that generated `line` of the
/// output, by the source map; `line` itself if the map says nothing.
pub fn original_line(source_map: &str, line: usize) -> usize {
    let Ok(map) = deno_core::sourcemap::SourceMap::from_slice(source_map.as_bytes()) else {
        return line;
    };
    let generated = line.saturating_sub(1) as u32;
    // The first token on that line: an import statement starts a line.
    map.tokens()
        .find(|token| token.get_dst_line() == generated)
        .map(|token| token.get_src_line() as usize + 1)
        .unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_types_and_keeps_enums() {
        let out = transpile(
            "worker.ts",
            "import type { X } from \"pkg\";\nenum Color { Red, Green }\nconst n: number = Color.Green;\nexport default n as X;\n",
        )
        .unwrap();
        assert!(!out.code.contains("pkg"), "{}", out.code);
        assert!(!out.code.contains(": number"), "{}", out.code);
        assert!(out.code.contains("Color"), "{}", out.code);
        assert!(out.source_map.contains("\"mappings\""));
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let error = transpile("lib/a.ts", "const a = 1;\nconst b: = 2;\n").unwrap_err();
        assert_eq!((error.path.as_str(), error.line), ("lib/a.ts", 2), "{error}");
        assert!(error.to_string().starts_with("lib/a.ts:2:"), "{error}");
    }

    #[test]
    fn deep_nesting_is_refused_before_it_can_overflow_the_stack() {
        for deep in [
            format!("export const x = {}1{};", "(".repeat(50_000), ")".repeat(50_000)),
            format!("export const x = {}1;", "!".repeat(50_000)),
            format!("export const x = {}1;", "x=>".repeat(50_000)),
            format!("export const x = a{};", ".b".repeat(50_000)),
            format!("export const x = {}0;", "new ".repeat(50_000)),
        ] {
            let error = transpile("deep.ts", &deep).unwrap_err();
            assert!(error.message.contains("nested too deeply"), "{error}");
        }
        // Just under the bound, the transform runs (on its own stack).
        let ok = format!("export const x = {}1{};", "(".repeat(MAX_NESTING - 100), ")".repeat(MAX_NESTING - 100));
        assert!(transpile("ok.ts", &ok).is_ok());
        // Across line breaks that continue the expression, the chain counts.
        let chained = format!("export const x = a{};", "\n  .b".repeat(50_000));
        assert!(transpile("chain.ts", &chained).is_err());
        // Long but flat code is fine, with semicolons or without.
        let flat = "export const a = [\n".to_string() + &"  { x: 1 + 2 + 3, y: (a: number) => a * 2 },\n".repeat(20_000) + "];\n";
        assert!(transpile("flat.ts", &flat).is_ok());
        let statements = "let total: number = 0\n".to_string() + &"total = total + Math.max(1, 2) * 3\n".repeat(20_000);
        assert!(transpile("asi.ts", &statements).is_ok());
    }

    #[test]
    fn maps_output_lines_back() {
        let out = transpile("w.ts", "interface A { x: number }\n\ntype B = string;\n\nimport { f } from \"./f\";\nexport default f;\n").unwrap();
        let line = out.code.lines().position(|l| l.contains("./f")).unwrap() + 1;
        assert_eq!(original_line(&out.source_map, line), 5);
    }
}
