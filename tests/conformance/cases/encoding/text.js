// TextEncoder / TextDecoder: labels, BOM, fatal mode, streaming, encodeInto.
import { attempt } from "../../harness.js";

const bytes = (...b) => new Uint8Array(b);

export const cases = {
  "encode-basic": () => new TextEncoder().encode("aé😀"),
  "encode-lone-surrogate": () => new TextEncoder().encode("a\ud800b"),
  "encode-undefined": () => [new TextEncoder().encode(), new TextEncoder().encode(undefined)],
  "encoder-encoding": () => new TextEncoder().encoding,
  "encode-into": () => {
    const dst = new Uint8Array(5);
    const r = new TextEncoder().encodeInto("aé😀", dst);
    return [r, dst];
  },
  "encode-into-exact": () => {
    const dst = new Uint8Array(3);
    return [new TextEncoder().encodeInto("é€", dst), dst];
  },
  "decode-basic": () => new TextDecoder().decode(bytes(0x61, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80)),
  "decode-invalid-replaced": () => new TextDecoder().decode(bytes(0x61, 0xff, 0xc3, 0x62, 0xed, 0xa0, 0x80)),
  "decode-fatal": () => attempt(() => new TextDecoder("utf-8", { fatal: true }).decode(bytes(0x61, 0xff))),
  "decode-bom-stripped": () => new TextDecoder().decode(bytes(0xef, 0xbb, 0xbf, 0x61)),
  "decode-bom-kept": () => new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes(0xef, 0xbb, 0xbf, 0x61)).length,
  "decode-streaming": () => {
    const d = new TextDecoder();
    const a = d.decode(bytes(0xf0, 0x9f), { stream: true });
    const b = d.decode(bytes(0x98, 0x80, 0x62), { stream: true });
    const c = d.decode();
    return [a, b, c];
  },
  "decode-streaming-truncated-end": () => {
    const d = new TextDecoder();
    return [d.decode(bytes(0xe2, 0x82), { stream: true }), d.decode()];
  },
  "decode-fatal-truncated": () => attempt(() => new TextDecoder("utf-8", { fatal: true }).decode(bytes(0xe2, 0x82))),
  "labels-utf8": () => ["utf8", "UTF-8", " unicode-1-1-utf-8 ", "utf-8"].map((l) => new TextDecoder(l).encoding),
  "labels-others": () =>
    ["latin1", "iso-8859-1", "ascii", "windows-1252", "utf-16le", "utf-16", "utf-16be", "shift_jis", "gbk", "euc-kr", "iso-8859-2"].map(
      (l) => attempt(() => new TextDecoder(l).encoding),
    ),
  "label-unknown": () => attempt(() => new TextDecoder("nope")),
  "label-replacement": () => attempt(() => new TextDecoder("iso-2022-kr").encoding),
  "decode-windows-1252": () => attempt(() => new TextDecoder("windows-1252").decode(bytes(0x80, 0x41, 0xe9, 0x9f))),
  "decode-utf16le": () => attempt(() => new TextDecoder("utf-16le").decode(bytes(0x61, 0x00, 0x3d, 0xd8, 0x00, 0xde))),
  "decode-utf16-bom": () => attempt(() => new TextDecoder("utf-16le").decode(bytes(0xff, 0xfe, 0x62, 0x00))),
  "decoder-props": () => {
    const d = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    return [d.encoding, d.fatal, d.ignoreBOM];
  },
  "decode-arraybuffer-and-dataview": () => {
    const buf = bytes(0x68, 0x69).buffer;
    return [new TextDecoder().decode(buf), new TextDecoder().decode(new DataView(buf, 1))];
  },
  "decode-shared-view-offset": () => new TextDecoder().decode(bytes(0x61, 0x62, 0x63, 0x64).subarray(1, 3)),
  "decode-invalid-input": () => attempt(() => new TextDecoder().decode("string")),
  "encoder-stream": async () => {
    const ts = new TextEncoderStream();
    const w = ts.writable.getWriter();
    w.write("a\ud83d");
    w.write("\ude00b");
    w.close();
    const out = [];
    for await (const chunk of ts.readable) out.push(...chunk);
    return out;
  },
  "decoder-stream": async () => {
    const ts = new TextDecoderStream();
    const w = ts.writable.getWriter();
    w.write(bytes(0xe2, 0x82));
    w.write(bytes(0xac, 0x21));
    w.close();
    const out = [];
    for await (const chunk of ts.readable) out.push(chunk);
    return out.join("|");
  },
  "decoder-stream-fatal": async () =>
    attempt(async () => {
      const ts = new TextDecoderStream("utf-8", { fatal: true });
      const w = ts.writable.getWriter();
      w.write(bytes(0xff)).catch(() => {});
      w.close().catch(() => {});
      const out = [];
      for await (const chunk of ts.readable) out.push(chunk);
      return out;
    }),
};
