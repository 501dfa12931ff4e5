// bench/authoring.sh's worker for `deno serve`: Deno imports .wasm as an
// instantiated module, so the compiled modules come from the files instead.
import { makeHandler } from "./hash-core.js";

const read = (name) => Deno.readFileSync(new URL(name, import.meta.url));
const bigBytes = read("./big.bin");
const hashModule = new WebAssembly.Module(read("./hash.wasm"));
const bigModule = new WebAssembly.Module(bigBytes);

export default makeHandler(hashModule, bigModule, bigBytes.buffer);
