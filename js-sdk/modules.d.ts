// The non-JavaScript modules a worker may import, by Workers' default module
// rules (docs/authoring.md): each file type's default export.

/** A compiled WebAssembly module: `WebAssembly.instantiate(module, imports)`. */
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}

/** The file's text. */
declare module "*.txt" {
  const text: string;
  export default text;
}

/** The file's text. */
declare module "*.html" {
  const text: string;
  export default text;
}

/** The file's bytes. */
declare module "*.bin" {
  const data: ArrayBuffer;
  export default data;
}
