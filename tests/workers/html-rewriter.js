// HTMLRewriter fixtures for tests/tests/html_rewriter.rs. Runs unchanged on
// workerd too (the test compares the outputs it pins with workerd's).
const PAGE = `<!DOCTYPE html>
<html><head><title>Old</title></head>
<body>
<a href="http://old.example/x" CLASS="c" data-x='1'>link</a>
<img src="a.png">
<p id="p1">Hello <b>world</b></p>
<!-- note -->
<div id="gone">bye <i>all</i></div>
<span id="keep"><i>kept</i></span>
<ul><li>one</li><li>two</li></ul>
</body></html>`;

const html = (body, type = "text/html; charset=utf-8") =>
  new Response(body, { headers: { "content-type": type, "x-origin": "yes" } });

function everything(log) {
  return new HTMLRewriter()
    .on("a[href]", {
      element(el) {
        log.push(["a", el.tagName, el.namespaceURI, el.getAttribute("class"), el.hasAttribute("DATA-X"), [...el.attributes]]);
        el.setAttribute("href", el.getAttribute("href").replace("http://old.example", "https://new.example"));
        el.setAttribute("Rel", "noopener");
        el.removeAttribute("data-x");
        log.push(["a-after", el.getAttribute("rel"), el.hasAttribute("data-x"), el.removed]);
      },
    })
    .on("img", {
      element(el) {
        el.setAttribute("alt", "x < y");
        el.removeAttribute("src");
        el.before("<!--b-->", { html: true });
        el.after("<after>");
        try {
          el.onEndTag(() => {});
        } catch (error) {
          log.push(["img-end-tag", error.name, error.message]);
        }
      },
    })
    .on("p", {
      element(el) {
        el.prepend("<em>pre</em>", { html: true });
        el.append("&post");
        el.onEndTag((end) => {
          log.push(["p-end", end.name]);
          end.before("!", { html: true });
          end.after("<hr>", { html: true });
        });
      },
      text(t) {
        log.push(["p-text", t.text, t.lastInTextNode, t.removed]);
      },
    })
    .on("p b", {
      element(el) {
        el.tagName = "STRONG";
        log.push(["b", el.tagName]);
      },
    })
    .on("#gone", { element: (el) => { el.remove(); log.push(["gone", el.removed]); } })
    .on("#keep", { element: (el) => el.removeAndKeepContent() })
    .on("title", { element: (el) => el.setInnerContent("New <title>") })
    .on("li", {
      element(el) {
        el.replace(`<li class="r">${el.tagName}</li>`, { html: true });
      },
    })
    .on("li", {
      // A second handler on the same element sees the first one's work.
      element(el) {
        log.push(["li-2", el.removed]);
      },
    })
    .onDocument({
      doctype(d) {
        log.push(["doctype", d.name, d.publicId, d.systemId]);
      },
      comments(c) {
        log.push(["comment", c.text]);
        c.text = " changed ";
      },
      end(end) {
        end.append("<footer>f</footer>", { html: true });
      },
    });
}

async function caught(fn) {
  try {
    await fn();
    return "no error";
  } catch (error) {
    return `${error.name}: ${error.message}`;
  }
}

// A body that yields `prefix`, then `count` repetitions of `unit`.
function generated(prefix, unit, count) {
  const encoder = new TextEncoder();
  const chunk = encoder.encode(unit.repeat(Math.max(1, Math.floor(65536 / unit.length))));
  const per = Math.max(1, Math.floor(65536 / unit.length));
  let left = count;
  let started = false;
  return new ReadableStream({
    pull(controller) {
      if (!started) {
        started = true;
        controller.enqueue(encoder.encode(prefix));
        return;
      }
      if (left <= 0) {
        controller.enqueue(encoder.encode("</body></html>"));
        controller.close();
        return;
      }
      if (left >= per) {
        controller.enqueue(chunk);
        left -= per;
      } else {
        controller.enqueue(encoder.encode(unit.repeat(left)));
        left = 0;
      }
    },
  }, { highWaterMark: 0 });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/everything": {
        const log = [];
        const out = await everything(log).transform(html(PAGE)).text();
        return Response.json({ html: out, log });
      }
      case "/headers": {
        const response = new HTMLRewriter().on("a", { element() {} }).transform(
          new Response("<a>x</a>", { status: 201, headers: { "content-type": "text/html", "content-length": "8", "x-kept": "1" } }),
        );
        return Response.json({ status: response.status, kept: response.headers.get("x-kept"), length: response.headers.get("content-length"), body: await response.text() });
      }
      case "/streamed":
        // The transformed response goes straight to the client.
        return everything([]).transform(html(PAGE));
      case "/async": {
        // Handlers that await: a timer, a fetch() to the origin, and (with a
        // KV binding) a KV read.
        const origin = url.searchParams.get("origin");
        const rewriter = new HTMLRewriter()
          .on("p", {
            async element(el) {
              await new Promise((resolve) => setTimeout(resolve, 5));
              el.setAttribute("data-waited", "yes");
            },
          })
          .on("a", {
            async element(el) {
              const answer = await fetch(`${origin}/hello`);
              el.setInnerContent(await answer.text());
            },
          })
          .onDocument({
            async end(end) {
              let value = null;
              if (env.KV) {
                await env.KV.put("snippet", "<script>kv</script>");
                value = await env.KV.get("snippet");
              }
              end.append(value ?? "<!--no kv-->", { html: true });
            },
          });
        return rewriter.transform(html(PAGE));
      }
      case "/stale": {
        let saved;
        let savedText;
        const out = await new HTMLRewriter()
          .on("a", { element: (el) => { saved = el; } })
          .on("p", { text: (t) => { savedText ??= t; } })
          .transform(html(PAGE))
          .text();
        return Response.json({
          length: out.length,
          getAttribute: await caught(() => saved.getAttribute("href")),
          setAttribute: await caught(() => saved.setAttribute("x", "y")),
          tagName: await caught(() => saved.tagName),
          text: await caught(() => savedText.text),
        });
      }
      case "/selector-errors": {
        const results = {};
        for (const selector of ["<<", "a[", "", "div >", ":hover", "a:nth-child(2)", "p.ok > b"]) {
          results[selector] = await caught(() => new HTMLRewriter().on(selector, {}));
        }
        return Response.json(results);
      }
      case "/bad-names": {
        let results;
        await new HTMLRewriter().on("a", {
          element(el) {
            results = {
              attribute: (() => { try { el.setAttribute("a b", "x"); return "ok"; } catch (e) { return `${e.name}: ${e.message}`; } })(),
              emptyAttribute: (() => { try { el.setAttribute("", "x"); return "ok"; } catch (e) { return `${e.name}: ${e.message}`; } })(),
              tag: (() => { try { el.tagName = "1x"; return "ok"; } catch (e) { return `${e.name}: ${e.message}`; } })(),
              tagSpace: (() => { try { el.tagName = "x y"; return "ok"; } catch (e) { return `${e.name}: ${e.message}`; } })(),
            };
          },
        }).onDocument({
          comments(c) {
            results.comment = (() => { try { c.text = "a-->b"; return "ok"; } catch (e) { return `${e.name}: ${e.message}`; } })();
          },
        }).transform(html("<a>x</a><!--c-->")).text();
        return Response.json(results);
      }
      case "/throws": {
        // The error thrown by a handler is what reading the body rejects with.
        const message = await caught(() =>
          new HTMLRewriter().on("p", { element() { throw new RangeError("boom in handler"); } }).transform(html(PAGE)).text()
        );
        const asyncMessage = await caught(() =>
          new HTMLRewriter().on("p", { async element() { await null; throw new Error("async boom"); } }).transform(html(PAGE)).text()
        );
        return Response.json({ message, asyncMessage });
      }
      case "/throws-streamed":
        return new HTMLRewriter().on("p", { element() { throw new Error("boom"); } }).transform(html(PAGE));
      case "/loop":
        return new HTMLRewriter().on("p", { element() { for (;;) {} } }).transform(html(PAGE));
      case "/not-a-response":
        return Response.json({ error: await caught(() => new HTMLRewriter().transform("<p>")) });
      case "/no-body": {
        const response = new HTMLRewriter().on("p", { element() {} }).transform(new Response(null, { status: 204 }));
        return Response.json({ status: response.status, body: response.body });
      }
      case "/charset": {
        // windows-1252: "é" is one byte (0xE9) in and out.
        const bytes = new Uint8Array([...new TextEncoder().encode("<p>caf"), 0xe9, ...new TextEncoder().encode("</p>")]);
        let seen;
        const out = await new HTMLRewriter().on("p", {
          text(t) { if (t.text) seen = t.text; },
          element(el) { el.setAttribute("title", "\u00e9t\u00e9"); },
        }).transform(html(bytes, "text/html; charset=windows-1252")).arrayBuffer();
        return Response.json({ seen, bytes: [...new Uint8Array(out)] });
      }
      case "/huge": {
        // A generated document of `mb` MiB (one link and a paragraph of text
        // per KiB, like a real page), transformed as it streams.
        const mb = Number(url.searchParams.get("mb") ?? "100");
        const unit = `<p class="x"><a href="http://old.example/p">old link</a> ${"some text & more ".repeat(55)}</p>\n`;
        const count = Math.floor((mb * 1024 * 1024) / unit.length);
        return new HTMLRewriter()
          .on("a[href]", { element(el) { el.setAttribute("href", "https://new.example/p"); } })
          .on("p.x", { text(t) { if (t.lastInTextNode) t.after("."); } })
          .transform(html(generated("<html><body>\n", unit, count)));
      }
      case "/never-ends": {
        // The origin sends its head and then nothing, ever: the rewritten
        // head must still reach the client.
        const encoder = new TextEncoder();
        let sent = false;
        const body = new ReadableStream({
          pull(controller) {
            if (!sent) {
              sent = true;
              controller.enqueue(encoder.encode(`<html><head><title>t</title></head><body><a href="http://old.example/">first</a>`.padEnd(2000, " ")));
              return;
            }
            return new Promise(() => {});
          },
        });
        return new HTMLRewriter()
          .on("a", { element(el) { el.setAttribute("href", "https://new.example/"); } })
          .transform(html(body));
      }
      case "/huge-tag": {
        // A start tag bigger than the parser's buffer limit, arriving in
        // pieces, so the parser has to hold it.
        const parts = ['<a title="', ...Array(384).fill("x".repeat(65536)), '">x</a>'];
        const encoder = new TextEncoder();
        const body = new ReadableStream({
          pull(controller) {
            if (parts.length === 0) controller.close();
            else controller.enqueue(encoder.encode(parts.shift()));
          },
        });
        return Response.json({
          error: await caught(() => new HTMLRewriter().on("a", { element() {} }).transform(html(body)).text()),
        });
      }
      case "/unread": {
        // Transforms whose bodies are never read start no parser.
        for (let i = 0; i < 1000; i++) {
          new HTMLRewriter().on("p", { element() {} }).transform(html(PAGE));
        }
        return new Response(await everything([]).transform(html(PAGE)).text());
      }
      case "/cap": {
        // Partly read transforms hold a parser each, up to the cap; the next
        // one's body fails; cancelled ones give their slot back.
        const readers = [];
        let error = "no error";
        for (let i = 0; i < 70 && error === "no error"; i++) {
          const body = new HTMLRewriter().on("p", { element() {} })
            .transform(html(generated("<html><body>", "<p>x</p>", 100000))).body;
          const reader = body.getReader();
          try {
            await reader.read();
            readers.push(reader);
          } catch (e) {
            error = `${e.name}: ${e.message}`;
          }
        }
        const held = readers.length;
        for (const reader of readers) await reader.cancel();
        const after = await everything([]).transform(html(PAGE)).text();
        return Response.json({ held, error, afterCancel: after.length });
      }
      case "/nested": {
        // A handler that runs another rewriter to completion.
        const out = await new HTMLRewriter().on("p", {
          async element(el) {
            const inner = await new HTMLRewriter().on("i", { element(i) { i.setInnerContent("inner"); } })
              .transform(html("<i>x</i>")).text();
            el.append(inner, { html: true });
          },
        }).transform(html("<p>a</p><p>b</p>")).text();
        return new Response(out);
      }
      default:
        return new Response("not found", { status: 404 });
    }
  },
};
