// HTMLRewriter and the Cache API as a worker uses them, with the package's
// globals (docs/cdn.md).
import type { Element, Text } from "@brink/workers-types";

class LinkMover implements HTMLRewriterElementContentHandlers {
  element(element: Element): void {
    const href = element.getAttribute("href");
    if (href !== null) element.setAttribute("href", href.replace("http:", "https:"));
    for (const [name, value] of element.attributes) console.log(name, value);
    element.onEndTag((end) => {
      end.before("!", { html: false });
    });
  }
}

export default {
  async fetch(request: Request, env: unknown, ctx: ExecutionContext): Promise<Response> {
    const cache = caches.default;
    const hit = await cache.match(request);
    if (hit) return hit;
    ctx.passThroughOnException();
    const origin = await fetch(request);
    const rewritten = new HTMLRewriter()
      .on("a[href]", new LinkMover())
      .on("p", {
        async text(text: Text) {
          if (text.lastInTextNode) text.after("<br>", { html: true });
        },
      })
      .onDocument({
        end(end) {
          end.append("<!-- edge -->", { html: true });
        },
        doctype(doctype) {
          console.log(doctype.name ?? "none");
        },
      })
      .transform(origin);
    const named = await caches.open("pages");
    ctx.waitUntil(named.put(request, rewritten.clone()));
    return rewritten;
  },
} satisfies ExportedHandler;
