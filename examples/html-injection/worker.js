// HTML injection with HTMLRewriter, as the page streams through: an
// analytics snippet at the end of <head>, and links and images moved from
// the old domain to the new one. Non-HTML responses pass untouched.
//
//   brink dev examples/html-injection/worker.js --var ORIGIN=https://origin.example \
//     --var OLD_DOMAIN=old.example.com --var NEW_DOMAIN=www.example.com
const SNIPPET = `<script async src="/analytics.js" data-site="brink-example"></script>`;

class DomainMover {
  constructor(attribute, from, to) {
    this.attribute = attribute;
    this.from = from;
    this.to = to;
  }

  element(element) {
    const value = element.getAttribute(this.attribute);
    if (value === null) return;
    let url;
    try {
      url = new URL(value);
    } catch {
      return; // a relative link stays as it is
    }
    if (url.hostname === this.from) {
      url.hostname = this.to;
      url.protocol = "https:";
      element.setAttribute(this.attribute, url.toString());
    }
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const response = await fetch(`${env.ORIGIN}${url.pathname}${url.search}`, { headers: request.headers });
    if (!(response.headers.get("content-type") ?? "").startsWith("text/html")) return response;
    const from = env.OLD_DOMAIN ?? "old.example.com";
    const to = env.NEW_DOMAIN ?? "www.example.com";
    return new HTMLRewriter()
      .on("head", { element: (head) => head.append(SNIPPET, { html: true }) })
      .on("a[href]", new DomainMover("href", from, to))
      .on("img[src]", new DomainMover("src", from, to))
      .transform(response);
  },
};
