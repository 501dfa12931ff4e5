// Blob, File and FormData: construction, slicing, round trips through bodies.
import { attempt, readAll } from "../../harness.js";

export const cases = {
  "blob-parts": async () => {
    const b = new Blob(["a", new Uint8Array([98]), new Blob(["c"]), new Uint8Array([100, 101]).buffer]);
    return [b.size, b.type, await b.text()];
  },
  "blob-type-lowercased": () => [new Blob([], { type: "Text/HTML" }).type, new Blob([], { type: "a\u0100b" }).type],
  "blob-endings": async () => [await new Blob(["a\nb\r\n"], { endings: "native" }).text(), await new Blob(["a\nb"], { endings: "transparent" }).text()],
  "blob-slice": async () => {
    const b = new Blob(["abcdef"], { type: "x/y" });
    const s = b.slice(1, -1, "z/w");
    return [await s.text(), s.type, await b.slice(-2).text(), await b.slice(4, 2).text(), b.slice().type];
  },
  "blob-arraybuffer-and-bytes": async () => {
    const b = new Blob([new Uint8Array([1, 2, 3])]);
    return [await b.arrayBuffer(), await attempt(async () => await b.bytes())];
  },
  "blob-stream": async () => readAll(new Blob(["xyz"]).stream()),
  "blob-non-bufferlike-stringified": async () => new Blob([123, { toString: () => "o" }]).text(),
  "blob-bad-parts": () => attempt(() => new Blob("not a sequence")),
  "file-props": () => {
    const f = new File(["data"], "a/b.txt", { type: "Text/Plain", lastModified: 42 });
    return [f.name, f.size, f.type, f.lastModified, f instanceof Blob];
  },
  "file-needs-name": () => attempt(() => new File(["x"])),
  "formdata-append-get": () => {
    const f = new FormData();
    f.append("a", "1");
    f.append("a", "2");
    f.set("b", "3");
    return [f.get("a"), f.getAll("a"), f.has("b"), f.get("nope"), [...f.keys()]];
  },
  "formdata-blob-becomes-file": () => {
    const f = new FormData();
    f.append("up", new Blob(["x"], { type: "text/plain" }));
    f.append("named", new Blob(["y"]), "y.bin");
    const up = f.get("up");
    const named = f.get("named");
    return [up.constructor.name, up.name, up.type, named.name, named.type];
  },
  "formdata-delete": () => {
    const f = new FormData();
    f.append("a", "1");
    f.append("b", "2");
    f.append("a", "3");
    f.delete("a");
    return [...f];
  },
  "formdata-value-newlines": async () => {
    const f = new FormData();
    f.append("k\r\ney", "v\ra\nl\r\nue");
    const back = await new Response(f).formData();
    return [...back];
  },
  "formdata-multipart-roundtrip": async () => {
    const f = new FormData();
    f.append("text", "héllo");
    f.append("file", new File(["file body"], "n\"a me.txt", { type: "text/plain" }));
    const r = new Response(f);
    const ct = r.headers.get("content-type");
    const back = await r.formData();
    const file = back.get("file");
    return [ct.startsWith("multipart/form-data; boundary="), back.get("text"), file.name, file.type, await file.text()];
  },
  "formdata-parse-multipart": {
    requests: [
      {
        method: "POST",
        headers: { "content-type": "multipart/form-data; boundary=XyZ" },
        body:
          '--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\none\r\n' +
          '--XyZ\r\nContent-Disposition: form-data; name="f"; filename="f.txt"\r\nContent-Type: text/x-f\r\n\r\nfile\r\n' +
          "--XyZ--\r\n",
      },
    ],
    async fetch(request) {
      const f = await request.formData();
      const file = f.get("f");
      return Response.json({ a: f.get("a"), name: file.name, type: file.type, text: await file.text() });
    },
  },
  "formdata-parse-bad-multipart": {
    requests: [{ method: "POST", headers: { "content-type": "multipart/form-data; boundary=XyZ" }, body: "garbage" }],
    async fetch(request) {
      try {
        await request.formData();
        return new Response("parsed");
      } catch (e) {
        return new Response(e.name);
      }
    },
  },
  "formdata-urlencoded-body": async () => {
    const f = new FormData();
    f.append("a", "b c");
    return attempt(async () => [...new URLSearchParams(await new Response(new URLSearchParams([...f])).text())]);
  },
};
