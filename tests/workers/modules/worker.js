// A module worker split over several files: relative imports must work.
import { greet } from "./lib/greet.js";
import config from "./lib/config.json" with { type: "json" };

export default {
  fetch(request, env) {
    return new Response(`${greet(env.NAME ?? "nobody")} (${config.flavour})`);
  },
};
