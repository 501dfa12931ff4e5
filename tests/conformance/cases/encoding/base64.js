// atob / btoa: the forgiving-base64 rules.
import { attempt } from "../../harness.js";

export const cases = {
  "btoa-basic": () => [btoa(""), btoa("f"), btoa("fo"), btoa("foo"), btoa("\u00ff\u00fe")],
  "btoa-non-latin1": () => attempt(() => btoa("\u0100")),
  "atob-basic": () => [atob("Zm9v"), atob("Zg=="), atob("Zg"), atob(" Z g = = ")],
  "atob-invalid-chars": () => attempt(() => atob("Zm9v!")),
  "atob-bad-length": () => attempt(() => atob("Zm9vY")),
  "atob-bad-padding": () => ["Zg=", "Zm9=v", "Zg===", "=Zg"].map((s) => attempt(() => atob(s))),
  "atob-nonzero-trailing-bits": () => attempt(() => atob("Zh==")),
  "atob-null-undefined": () => [attempt(() => atob(null)), attempt(() => atob(undefined))],
  "atob-url-safe-refused": () => attempt(() => atob("-_-_")),
};
