// Objects built the same way in every request, for the engine's shape cache
// (patches/v8x/0017): a request's objects find the shapes the previous
// request's objects left behind, and must still read exactly as built.
//
//   /same?i=N   objects of every kind of shape change, described as JSON
//   /heavy?i=N  a fresh prototype per request holding ~4 MB (an array of
//               500,000 numbers), with objects built on it: the shapes kept
//               for the next request must not keep these alive past the
//               isolate's heap limit
//   /transitions?i=N  objects that take the transition their shape last
//               took (patches/v8x/0018) next to objects whose shapes change
//               in place, described as JSON; i picks which property names
//               this request uses, so names and their shapes are freed and
//               made again between requests

class Point {
  constructor(x, y) {
    this.x = x;
    this.y = y;
  }
}

function describe(i) {
  const literal = { a: i, b: "two", c: [i] };
  const grown = {};
  grown.first = 1;
  grown.second = 2;
  grown.third = 3;
  const deleted = { keep: 1, drop: 2, also: 3 };
  delete deleted.drop;
  deleted.added = 4;
  const hidden = { shown: 1 };
  Object.defineProperty(hidden, "hidden", { value: 2, enumerable: false });
  const frozen = Object.freeze({ f: 1, g: 2 });
  let frozenWrite;
  try {
    (() => {
      "use strict";
      frozen.f = 9;
    })();
    frozenWrite = "allowed";
  } catch (error) {
    frozenWrite = error.constructor.name;
  }
  const proto = { inherited: `from proto ${i}` };
  const child = Object.create(proto);
  child.own = i;
  const reparented = { r: 1 };
  Object.setPrototypeOf(reparented, proto);
  const point = new Point(i, -i);
  point.z = 0;
  // the same names added in another order are another object
  const reordered = {};
  reordered.third = 3;
  reordered.first = 1;
  reordered.second = 2;
  const accessor = {
    get value() {
      return i * 2;
    },
  };
  accessor.plain = 1;
  return {
    literal: [Object.keys(literal), literal.a, literal.c[0]],
    grown: Object.keys(grown),
    deleted: [Object.keys(deleted), "drop" in deleted],
    hidden: [Object.keys(hidden), hidden.hidden],
    frozen: [Object.isFrozen(frozen), frozenWrite, frozen.f],
    child: [Object.keys(child), child.inherited, Object.getPrototypeOf(child) === proto],
    reparented: [reparented.inherited, Object.getPrototypeOf(reparented) === proto],
    point: [Object.keys(point), point instanceof Point, point.y],
    reordered: Object.keys(reordered),
    accessor: [Object.keys(accessor), accessor.value],
  };
}

function transitions(i) {
  // a name only some requests use: its shapes are freed and made again
  const name = `k${i % 7}`;
  // b follows the transitions a's shapes took; then a changes alone
  const a = {};
  a.x = 1;
  a.y = 2;
  a[name] = 3;
  const b = {};
  b.x = 1;
  b.y = 2;
  b[name] = 3;
  delete a.x;
  b.z = 4;
  a.z = 5;
  // the same name with other attributes is another transition
  const plain = {};
  plain.p = 1;
  const quiet = {};
  Object.defineProperty(quiet, "p", { value: 1, writable: true, configurable: true });
  const plainAgain = {};
  plainAgain.p = 2;
  // one shape, a different name each time: the remembered transition is
  // replaced, never taken for the wrong name
  const alternating = [];
  for (let j = 0; j < 6; j++) {
    const o = {};
    o[j % 2 ? "odd" : "even"] = j;
    o.tail = j;
    alternating.push(Object.keys(o).join());
  }
  // a shape two live objects share grows by a copy; the other follows it
  const s1 = {};
  s1.m = 1;
  const s2 = {};
  s2.m = 1;
  s1.n = 2;
  s2.n = 3;
  // an attribute or prototype changed on one object leaves the others
  const f1 = {};
  f1.u = 1;
  f1.v = 2;
  Object.defineProperty(f1, "u", { enumerable: false });
  const f2 = {};
  f2.u = 1;
  f2.v = 2;
  f2.w = 3;
  const proto = { fromProto: true };
  const r1 = {};
  r1.q = 1;
  Object.setPrototypeOf(r1, proto);
  r1.after = 2;
  const r2 = {};
  r2.q = 1;
  r2.after = 2;
  const z1 = {};
  z1.c = 1;
  Object.freeze(z1);
  const z2 = {};
  z2.c = 1;
  z2.d = 2;
  // an array whose elements become plain properties
  const arr = [1, 2, 3];
  delete arr[1];
  arr.extra = i;
  // hundreds of names added to one shape, each object its own
  const many = [];
  for (let j = 0; j < 300; j++) {
    const o = {};
    o[`n${j}_${i % 3}`] = j;
    o.last = j;
    many.push(o);
  }
  const manyRead = many.every(
    (o, j) => Object.keys(o).join() === `n${j}_${i % 3},last` && o[`n${j}_${i % 3}`] === j && o.last === j,
  );
  return {
    a: [Object.keys(a), "x" in a, a.z],
    b: [Object.keys(b), b.x, b.z],
    p: [
      Object.keys(plain),
      Object.keys(quiet),
      quiet.p,
      Object.getOwnPropertyDescriptor(quiet, "p").enumerable,
      Object.keys(plainAgain),
      plainAgain.p,
    ],
    alternating,
    shared: [Object.keys(s1), s1.n, Object.keys(s2), s2.n],
    flags: [Object.keys(f1), f1.propertyIsEnumerable("u"), Object.keys(f2), f2.propertyIsEnumerable("u")],
    proto: [Object.keys(r1), r1.fromProto === true, Object.keys(r2), "fromProto" in r2],
    frozen: [Object.isFrozen(z1), Object.isFrozen(z2), Object.keys(z2)],
    array: [Object.keys(arr), arr.length, 1 in arr],
    many: manyRead,
  };
}

export default {
  fetch(request) {
    const url = new URL(request.url);
    const i = Number(url.searchParams.get("i") ?? "0");
    if (url.pathname === "/same") {
      return Response.json(describe(i));
    }
    if (url.pathname === "/transitions") {
      return Response.json(transitions(i));
    }
    if (url.pathname === "/heavy") {
      const proto = { payload: new Array(500_000).fill(i) };
      const a = Object.create(proto);
      a.n = i;
      a.m = 1;
      const b = Object.create(proto);
      b.n = i;
      return new Response(`${a.payload.length + a.n + b.n}`);
    }
    return new Response("not found", { status: 404 });
  },
};
