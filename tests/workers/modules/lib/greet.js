import { punctuation } from "./punctuation.js";

export function greet(name) {
  return `hello, ${name}${punctuation}`;
}
