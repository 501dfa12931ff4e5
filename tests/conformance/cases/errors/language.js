// JavaScript language features every runtime should share (engine check).
export const cases = {
  "array-methods": () => [[3, 1, 2].toSorted(), [1, 2, 3].findLast((x) => x < 3), [1, [2, [3]]].flat(Infinity), [1, 2].at(-1)],
  "object-group-by": () => Object.groupBy([1, 2, 3, 4], (x) => (x % 2 ? "odd" : "even")),
  "string-methods": () => ["a-b".replaceAll("-", "+"), "abc".at(-1), " x ".trimEnd(), "\ud800".isWellFormed?.(), "ß".toUpperCase()],
  "intl-number-format": () => new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(1234.5),
  "intl-date-format-utc": () => new Intl.DateTimeFormat("en-US", { timeZone: "UTC", dateStyle: "medium" }).format(new Date(Date.UTC(2024, 0, 15))),
  "date-parse": () => [Date.parse("2024-01-15T10:00:00Z"), new Date(0).toISOString(), new Date("invalid").getTime()],
  "json-roundtrip": () => JSON.parse(JSON.stringify({ a: [1, "x", null, true], b: { c: 1.5e-7 } })),
  "regexp-features": () => ["2024-01-15".match(/(?<y>\d+)-(?<m>\d+)/).groups, /\p{L}+/u.test("héllo"), "aXbX".split(/x/i)],
  "bigint-math": () => [2n ** 64n, BigInt.asIntN(8, 255n), (10n * 3n) / 4n],
  "symbols-and-iterators": () => {
    const it = { *[Symbol.iterator]() { yield 1; yield 2; } };
    return [...it];
  },
  "class-private-fields": () => {
    class A {
      #x = 1;
      static has(o) {
        return #x in o;
      }
    }
    return [A.has(new A()), A.has({})];
  },
  "weakref-exists": () => [typeof WeakRef, typeof FinalizationRegistry],
  "eval-blocked": () => {
    try {
      return eval("1 + 1");
    } catch (e) {
      return e.name;
    }
  },
  "new-function-blocked": () => {
    try {
      return new Function("return 1")();
    } catch (e) {
      return e.name;
    }
  },
  "date-now-frozen-in-request": () => {
    const a = Date.now();
    let x = 0;
    for (let i = 0; i < 1e5; i++) x += i;
    return Date.now() - a >= 0;
  },
};
