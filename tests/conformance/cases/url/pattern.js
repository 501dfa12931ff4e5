// URLPattern: matching and groups (Workers and Deno both ship it).
import { attempt } from "../../harness.js";

export const cases = {
  "pathname-groups": () =>
    attempt(() => new URLPattern({ pathname: "/books/:id" }).exec("https://e.com/books/42")?.pathname.groups),
  "test": () =>
    attempt(() => {
      const p = new URLPattern("https://e.com/api/*");
      return [p.test("https://e.com/api/x/y"), p.test("https://e.com/other")];
    }),
  "wildcard-group": () => attempt(() => new URLPattern({ pathname: "/a/*" }).exec({ pathname: "/a/b/c" })?.pathname.groups),
  "invalid-pattern": () => attempt(() => new URLPattern({ pathname: "/(" })),
};
