// Tries to import a file outside its own directory; loading must fail.
import secret from "../../Cargo.toml" with { type: "text" };

export default {
  fetch() {
    return new Response(secret);
  },
};
