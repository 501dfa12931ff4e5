// Defining globals the way Web IDL exposes interfaces: configurable and
// writable, enumerable only for the functions and objects the platform
// exposes as enumerable (`fetch`, `setTimeout`, `console` is not, ...).
import { primordials } from "ext:core/mod.js";

const { ObjectDefineProperty } = primordials;

/** Defines `globalThis[name] = value` as a plain data property. */
export function defineGlobal(name, value, enumerable = false) {
  ObjectDefineProperty(globalThis, name, {
    __proto__: null,
    value,
    enumerable,
    configurable: true,
    writable: true,
  });
}

/**
 * Defines `name` as a getter that loads its backing script on first use and
 * then replaces itself with a plain data property.
 */
export function defineLazyGlobal(name, load, enumerable = false) {
  ObjectDefineProperty(globalThis, name, {
    __proto__: null,
    enumerable,
    configurable: true,
    get() {
      const value = load();
      defineGlobal(name, value, enumerable);
      return value;
    },
    set(value) {
      defineGlobal(name, value, enumerable);
    },
  });
}
