// bench/authoring.sh's worker for Brink and workerd: .wasm imports are
// compiled modules (Workers' CompiledWasm rule), .bin imports ArrayBuffers.
import hashModule from "./hash.wasm";
import bigModule from "./big.wasm";
import bigBytes from "./big.bin";
import { makeHandler } from "./hash-core.js";

export default makeHandler(hashModule, bigModule, bigBytes);
