// bench/cdn.sh's HTMLRewriter workload: a realistic 1 MiB page (navigation,
// articles with links, images, inline text and comments) transformed by five
// handlers, as a CDN worker would. Runs unchanged on Brink and workerd.
const ARTICLE = `
<article class="post">
  <!-- post -->
  <h2><a href="http://old.example.com/posts/1">A post title that is a few words long</a></h2>
  <p class="meta">Posted by <a href="/authors/jane">Jane</a> on <time>2026-11-26</time></p>
  <img src="http://old.example.com/img/1.jpg" alt="illustration" width="640" height="360">
  <p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore
  et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud <em>exercitation</em> ullamco laboris nisi ut
  aliquip ex ea commodo consequat. <a href="http://old.example.com/more">Read more</a></p>
</article>`;
const HEAD = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Bench</title>
<link rel="stylesheet" href="/site.css"></head><body><nav><a href="/">Home</a> <a href="/about">About</a></nav>`;
const PAGE = HEAD + ARTICLE.repeat(Math.ceil((1024 * 1024 - HEAD.length) / ARTICLE.length)) + "</body></html>";
const BYTES = new TextEncoder().encode(PAGE);

export default {
  fetch() {
    const origin = new Response(BYTES, { headers: { "content-type": "text/html; charset=utf-8" } });
    return new HTMLRewriter()
      .on("a[href^='http://old.example.com']", {
        element(el) {
          el.setAttribute("href", el.getAttribute("href").replace("http://old.example.com", "https://www.example.com"));
        },
      })
      .on("img[src]", { element(el) { el.setAttribute("loading", "lazy"); } })
      .on("head", { element(el) { el.append('<script src="/analytics.js"></script>', { html: true }); } })
      .on("time", { text(t) { if (t.lastInTextNode) t.after(" UTC"); } })
      .onDocument({ comments(c) { c.remove(); } })
      .transform(origin);
  },
};
