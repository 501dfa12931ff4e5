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

/// Strips the types from `source`, the module at bundle path `path`.
pub fn transpile(path: &str, source: &str) -> Result<Transpiled, TranspileError> {
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
    fn maps_output_lines_back() {
        let out = transpile("w.ts", "interface A { x: number }\n\ntype B = string;\n\nimport { f } from \"./f\";\nexport default f;\n").unwrap();
        let line = out.code.lines().position(|l| l.contains("./f")).unwrap() + 1;
        assert_eq!(original_line(&out.source_map, line), 5);
    }
}
