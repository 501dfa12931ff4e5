// Non-JavaScript imports (modules.d.ts): a compiled WebAssembly module, text
// and binary data, as Workers' default module rules give them.
import wasm from "./fixtures/add.wasm";
import page from "./fixtures/page.html";
import notes from "./fixtures/notes.txt";
import blob from "./fixtures/blob.bin";

interface AddExports {
  add(a: number, b: number): number;
}

export default {
  async fetch(): Promise<Response> {
    const instance = await WebAssembly.instantiate(wasm, { env: {} });
    const { add } = instance.exports as unknown as AddExports;
    const bytes = new Uint8Array(blob);
    const text: string = page + notes;
    return new Response(`${add(1, 2)} ${bytes.byteLength} ${text.length}`);
  },
} satisfies ExportedHandler;
