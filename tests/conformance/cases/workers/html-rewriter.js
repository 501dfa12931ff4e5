// HTMLRewriter (Cloudflare's streaming HTML rewriter): the common handlers.
const page = (html) => new Response(html, { headers: { "content-type": "text/html" } });

export const cases = {
  "set-attribute": {
    fetch: () =>
      new HTMLRewriter()
        .on("a", { element: (e) => e.setAttribute("href", e.getAttribute("href").replace("http:", "https:")) })
        .transform(page('<p><a href="http://e.com/x">x</a><a href="http://e.com/y">y</a></p>')),
  },
  "append-prepend-remove": {
    fetch: () =>
      new HTMLRewriter()
        .on("div.ad", { element: (e) => e.remove() })
        .on("h1", {
          element(e) {
            e.prepend("<i>", { html: true });
            e.append("</i>", { html: true });
            e.after("<hr>", { html: true });
          },
        })
        .transform(page('<h1>Title</h1><div class="ad">buy</div><p>text</p>')),
  },
  "text-chunks": {
    async fetch() {
      const seen = [];
      const out = await new HTMLRewriter()
        .on("p", { text: (t) => void (t.text && seen.push(t.text), t.lastInTextNode && seen.push("<last>")) })
        .transform(page("<p>one two</p><p>three</p>"))
        .text();
      return Response.json({ seen, out });
    },
  },
  "element-properties": {
    async fetch() {
      const seen = [];
      await new HTMLRewriter()
        .on("*", {
          element: (e) => seen.push([e.tagName, e.hasAttribute("id"), [...e.attributes].map(([k, v]) => `${k}=${v}`)]),
        })
        .transform(page('<main id="m"><img src="a.png" alt="A"><br></main>'))
        .text();
      return Response.json(seen);
    },
  },
  "set-inner-content-escapes": {
    fetch: () =>
      new HTMLRewriter()
        .on("title", { element: (e) => e.setInnerContent("<b>& co</b>") })
        .transform(page("<title>old</title>")),
  },
  "document-end-append": {
    fetch: () =>
      new HTMLRewriter()
        .onDocument({ end: (end) => end.append("<!-- appended -->", { html: true }) })
        .transform(page("<p>x</p>")),
  },
  "handler-throws": {
    async fetch() {
      try {
        await new HTMLRewriter()
          .on("p", {
            element() {
              throw new RangeError("from handler");
            },
          })
          .transform(page("<p>x</p>"))
          .text();
        return new Response("no error");
      } catch (e) {
        return new Response(e.name);
      }
    },
  },
};
