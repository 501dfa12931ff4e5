// Objects built the same way in every request, for the engine's shape cache
// (patches/v8x/0017): a request's objects find the shapes the previous
// request's objects left behind, and must still read exactly as built.
//
//   /same?i=N   objects of every kind of shape change, described as JSON
//   /heavy?i=N  a fresh prototype per request holding ~4 MB (an array of
//               500,000 numbers), with objects built on it: the shapes kept
//               for the next request must not keep these alive past the
//               isolate's heap limit

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

export default {
  fetch(request) {
    const url = new URL(request.url);
    const i = Number(url.searchParams.get("i") ?? "0");
    if (url.pathname === "/same") {
      return Response.json(describe(i));
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
