// URL: parsing, normalisation and the properties it exposes.
import { attempt } from "../../harness.js";

const parts = (u) => {
  const x = new URL(u);
  return {
    href: x.href, protocol: x.protocol, username: x.username, password: x.password, host: x.host,
    hostname: x.hostname, port: x.port, pathname: x.pathname, search: x.search, hash: x.hash, origin: x.origin,
  };
};

export const cases = {
  "components": () => parts("https://user:pa%20ss@Example.com:8080/a/b?c=d#e"),
  "default-port-dropped": () => [new URL("https://e.com:443/").href, new URL("http://e.com:80/").port, new URL("ws://e.com:80/").host],
  "dot-segments": () => new URL("https://e.com/a/./b/../../c/./d/..").pathname,
  "relative-resolution": () => ["../x", "./y?z", "//other.com/p", "?q", "#h", "/abs"].map((r) => new URL(r, "https://e.com/a/b/c").href),
  "invalid-throws": () => ["", "nope", "http://", "https://exa mple.com/", "http://[::1"].map((u) => attempt(() => new URL(u).href)),
  "can-parse": () => [URL.canParse("https://e.com"), URL.canParse("x"), URL.canParse("/p", "https://e.com")],
  "parse-static": () => attempt(() => [URL.parse("https://e.com/x")?.href, URL.parse("bad")]),
  "idna-host": () => [new URL("https://bücher.example/").hostname, new URL("https://EXAMPLE.ÇOM/").hostname],
  "ipv4-forms": () => ["http://0x7f.1/", "http://2130706433/", "http://127.1/", "http://0177.0.0.1/"].map((u) => new URL(u).hostname),
  "ipv6-compressed": () => [new URL("http://[0:0:0:0:0:0:0:1]/").host, new URL("http://[2001:DB8::0:1]:81/").host],
  "percent-encoding-path": () => new URL("https://e.com/a b/é/%7e/<>\"`{}").pathname,
  "percent-encoding-query": () => new URL("https://e.com/?a b=é&'<>\"").search,
  "special-scheme-backslash": () => new URL("https:\\\\e.com\\a\\b").href,
  "non-special-scheme": () => parts("foo://host/p a?q#f"),
  "data-url": () => parts("data:text/plain,hello world"),
  "file-url": () => new URL("file:///C:/a/../b").href,
  "setters": () => {
    const u = new URL("https://e.com/p?q#h");
    u.pathname = "/new path";
    u.search = "x=1 2";
    u.hash = "frag ment";
    u.port = "8443";
    u.hostname = "other.com";
    u.protocol = "http";
    u.username = "us er";
    return u.href;
  },
  "setter-invalid-port-ignored": () => {
    const u = new URL("https://e.com:81/");
    u.port = "99999";
    const a = u.port;
    u.port = "abc";
    return [a, u.port];
  },
  "protocol-change-special-to-non": () => {
    const u = new URL("https://e.com/");
    u.protocol = "foo";
    return u.href;
  },
  "to-json-to-string": () => {
    const u = new URL("https://e.com/x");
    return [u.toJSON(), u.toString(), JSON.stringify({ u }), String(u)];
  },
  "tab-newline-stripped": () => new URL("https://e.\tcom/a\nb\r").href,
  "leading-trailing-space": () => new URL("  https://e.com/x  ").href,
  "search-params-live": () => {
    const u = new URL("https://e.com/?a=1");
    u.searchParams.append("b", "2 3");
    const after = u.href;
    u.search = "?c=4";
    return [after, [...u.searchParams]];
  },
  "hostname-forbidden-chars": () => ["https://a<b.com/", "https://a%00.com/", "https://a^b.com/"].map((u) => attempt(() => new URL(u).host)),
  "blob-origin": () => new URL("blob:https://e.com/uuid").origin,
  "empty-host-non-special": () => parts("foo:///x"),
};
