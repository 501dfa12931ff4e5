// HTMLRewriter as Cloudflare Workers has it. The parser (lol_html) runs in
// Rust (src/api/html_rewriter.rs), stopping at every node a handler asked
// for; this file runs the worker's handler on a content object built from
// what the parser reported, records what the handler changed, and hands the
// changes back. A handler may be async: the parser waits until its promise
// settles. A content object is valid only while its handler runs (and its
// promise is pending), as in workerd. Loaded on first use of the global.
(function () {
const { core, primordials } = __bootstrap;
const {
  op_brink_html_rewriter_attributes,
  op_brink_html_rewriter_check_charset,
  op_brink_html_rewriter_close,
  op_brink_html_rewriter_doctype,
  op_brink_html_rewriter_end,
  op_brink_html_rewriter_field,
  op_brink_html_rewriter_mutate,
  op_brink_html_rewriter_output,
  op_brink_html_rewriter_resume,
  op_brink_html_rewriter_start,
  op_brink_html_rewriter_write,
  op_brink_html_selector_check,
} = core.ops;

const {
  ArrayPrototypePush,
  FunctionPrototypeCall,
  MapPrototypeDelete,
  MapPrototypeGet,
  MapPrototypeSet,
  ObjectPrototypeIsPrototypeOf,
  RegExpPrototypeExec,
  SafeMap,
  StringPrototypeIncludes,
  StringPrototypeStartsWith,
  StringPrototypeToLowerCase,
  TypeError,
} = primordials;

// Must match the event kinds and mutation codes in html_rewriter.rs.
const EVENT_NEED_INPUT = 0;
const EVENT_DONE = 1;
const EVENT_ELEMENT = 2;
const EVENT_COMMENT = 3;
const EVENT_TEXT = 4;
const EVENT_DOCTYPE = 5;
const EVENT_END = 6;
const EVENT_END_TAG = 7;
const EVENT_ERROR = 8;

// An event crosses from Rust as one number: kind in the low 4 bits, these
// flags, and the handler id from bit 8 up.
const HAS_OUTPUT_BIT = 1 << 4;
const LAST_IN_TEXT_NODE_BIT = 1 << 5;
const REMOVED_BIT = 1 << 6;
const CAN_HAVE_CONTENT_BIT = 1 << 7;

const SET_ATTRIBUTE = 0;
const REMOVE_ATTRIBUTE = 1;
const BEFORE = 2;
const AFTER = 3;
const PREPEND = 4;
const APPEND = 5;
const REPLACE = 6;
const SET_INNER_CONTENT = 7;
const REMOVE = 8;
const REMOVE_AND_KEEP_CONTENT = 9;
const SET_NAME = 10;
const ON_END_TAG = 11;
const SET_TEXT = 12;

const INVALID_TOKEN = "This content token is no longer valid. Content tokens are only valid " +
  "during the execution of the relevant content handler.";

// Names lol_html refuses, checked here so that the call throws (as in
// workerd) instead of the transform failing later.
const FORBIDDEN_IN_ATTRIBUTE_NAME = /[ \n\r\t\f\/>=]/;
const FORBIDDEN_IN_TAG_NAME = /[ \n\r\t\f\/>]/;
const ASCII_ALPHA = /^[a-zA-Z]/;
const ASCII_UPPER = /[A-Z]/g;

let ResponseClass;
let ReadableStreamClass;
let HeadersClass;
let encoder;

function asciiLower(text) {
  // lol_html lowercases ASCII only; String#toLowerCase would fold more.
  return text.replace(ASCII_UPPER, (c) => StringPrototypeToLowerCase(c));
}

function checkAttributeName(name) {
  if (name === "") throw new TypeError("Parser error: Attribute name can't be empty.");
  const bad = RegExpPrototypeExec(FORBIDDEN_IN_ATTRIBUTE_NAME, name);
  if (bad !== null) throw new TypeError(`Parser error: \`${bad[0]}\` character is forbidden in the attribute name`);
}

function checkTagName(name) {
  if (name === "") throw new TypeError("Parser error: Tag name can't be empty.");
  if (RegExpPrototypeExec(ASCII_ALPHA, name) === null) {
    throw new TypeError("Parser error: The first character of the tag name should be an ASCII alphabetical character.");
  }
  const bad = RegExpPrototypeExec(FORBIDDEN_IN_TAG_NAME, name);
  if (bad !== null) throw new TypeError(`Parser error: \`${bad[0]}\` character is forbidden in the tag name`);
}

function contentOf(content) {
  if (
    (ReadableStreamClass && ObjectPrototypeIsPrototypeOf(ReadableStreamClass.prototype, content)) ||
    (ResponseClass && ObjectPrototypeIsPrototypeOf(ResponseClass.prototype, content))
  ) {
    throw new TypeError(
      "Replacing HTML content using a ReadableStream or Response object is not implemented. You must provide a string.",
    );
  }
  return `${content}`;
}

function htmlFlag(options) {
  return options !== undefined && options !== null && options.html ? 1 : 0;
}

// Fields the tokens fetch from the current event (html_rewriter.rs).
const FIELD_NAME = 0;
const FIELD_TEXT = 1;
const FIELD_NAMESPACE = 2;
const FIELD_ERROR = 5;

/**
 * What every content object shares: validity, and the way its changes go
 * to the parser (one op each, kept until the handler is done). Fields are
 * fetched when first read: most handlers read one or two.
 */
class Token {
  #rid;
  #valid = true;
  #removed;

  constructor(rid, flags) {
    this.#rid = rid;
    this.#removed = (flags & REMOVED_BIT) !== 0;
  }

  static rid(token) {
    if (!token.#valid) throw new TypeError(INVALID_TOKEN);
    return token.#rid;
  }

  static field(token, field) {
    return op_brink_html_rewriter_field(Token.rid(token), field);
  }

  static record(token, code, text, text2, flags) {
    op_brink_html_rewriter_mutate(Token.rid(token), code, text, text2, flags);
    if (code === REMOVE || code === REPLACE || code === REMOVE_AND_KEEP_CONTENT) token.#removed = true;
    return token;
  }

  static finish(token) {
    token.#valid = false;
  }

  get removed() {
    Token.rid(this);
    return this.#removed;
  }
}

class Element extends Token {
  #tagName = null;
  #attributes = null;
  #canHaveContent;
  #transform;

  constructor(rid, flags, transform) {
    super(rid, flags);
    this.#canHaveContent = (flags & CAN_HAVE_CONTENT_BIT) !== 0;
    this.#transform = transform;
  }

  get tagName() {
    return this.#tagName ??= Token.field(this, FIELD_NAME);
  }

  set tagName(name) {
    Token.rid(this);
    name = `${name}`;
    checkTagName(name);
    Token.record(this, SET_NAME, name, "", 0);
    this.#tagName = asciiLower(name);
  }

  get namespaceURI() {
    return Token.field(this, FIELD_NAMESPACE);
  }

  #list() {
    return this.#attributes ??= op_brink_html_rewriter_attributes(Token.rid(this));
  }

  get attributes() {
    const list = this.#list().slice();
    const token = this;
    let index = 0;
    return {
      next() {
        Token.rid(token);
        if (index >= list.length) return { done: true, value: undefined };
        const { 0: name, 1: value } = list[index++];
        return { done: false, value: [name, value] };
      },
      [Symbol.iterator]() {
        return this;
      },
    };
  }

  #find(name) {
    const wanted = asciiLower(`${name}`);
    const attributes = this.#list();
    for (let i = 0; i < attributes.length; i++) {
      if (attributes[i][0] === wanted) return i;
    }
    return -1;
  }

  getAttribute(name) {
    const index = this.#find(name);
    return index === -1 ? null : this.#attributes[index][1];
  }

  hasAttribute(name) {
    return this.#find(name) !== -1;
  }

  setAttribute(name, value) {
    Token.rid(this);
    name = `${name}`;
    value = `${value}`;
    checkAttributeName(name);
    const index = this.#find(name);
    Token.record(this, SET_ATTRIBUTE, name, value, 0);
    if (index === -1) ArrayPrototypePush(this.#attributes, [asciiLower(name), value]);
    else this.#attributes[index] = [this.#attributes[index][0], value];
    return this;
  }

  removeAttribute(name) {
    name = `${name}`;
    const index = this.#find(name);
    Token.record(this, REMOVE_ATTRIBUTE, name, "", 0);
    if (index !== -1) this.#attributes.splice(index, 1);
    return this;
  }

  before(content, options) {
    return Token.record(this, BEFORE, contentOf(content), "", htmlFlag(options));
  }

  after(content, options) {
    return Token.record(this, AFTER, contentOf(content), "", htmlFlag(options));
  }

  prepend(content, options) {
    return Token.record(this, PREPEND, contentOf(content), "", htmlFlag(options));
  }

  append(content, options) {
    return Token.record(this, APPEND, contentOf(content), "", htmlFlag(options));
  }

  replace(content, options) {
    return Token.record(this, REPLACE, contentOf(content), "", htmlFlag(options));
  }

  setInnerContent(content, options) {
    return Token.record(this, SET_INNER_CONTENT, contentOf(content), "", htmlFlag(options));
  }

  remove() {
    return Token.record(this, REMOVE, "", "", 0);
  }

  removeAndKeepContent() {
    return Token.record(this, REMOVE_AND_KEEP_CONTENT, "", "", 0);
  }

  onEndTag(handler) {
    Token.rid(this);
    if (typeof handler !== "function") {
      throw new TypeError("Failed to execute 'onEndTag' on 'Element': parameter 1 is not of type 'Function'.");
    }
    if (!this.#canHaveContent) throw new TypeError("Parser error: No end tag.");
    Token.record(this, ON_END_TAG, "", "", this.#transform.addEndTagHandler(handler));
  }
}

class EndTag extends Token {
  #name = null;

  get name() {
    return this.#name ??= Token.field(this, FIELD_NAME);
  }

  set name(name) {
    Token.rid(this);
    name = `${name}`;
    Token.record(this, SET_NAME, name, "", 0);
    this.#name = name;
  }

  before(content, options) {
    return Token.record(this, BEFORE, contentOf(content), "", htmlFlag(options));
  }

  after(content, options) {
    return Token.record(this, AFTER, contentOf(content), "", htmlFlag(options));
  }

  remove() {
    return Token.record(this, REMOVE, "", "", 0);
  }
}

class Text extends Token {
  #text = null;
  #last;

  constructor(rid, flags) {
    super(rid, flags);
    this.#last = (flags & LAST_IN_TEXT_NODE_BIT) !== 0;
  }

  get text() {
    return this.#text ??= Token.field(this, FIELD_TEXT);
  }

  get lastInTextNode() {
    Token.rid(this);
    return this.#last;
  }

  before(content, options) {
    return Token.record(this, BEFORE, contentOf(content), "", htmlFlag(options));
  }

  after(content, options) {
    return Token.record(this, AFTER, contentOf(content), "", htmlFlag(options));
  }

  replace(content, options) {
    return Token.record(this, REPLACE, contentOf(content), "", htmlFlag(options));
  }

  remove() {
    return Token.record(this, REMOVE, "", "", 0);
  }
}

class Comment extends Token {
  #text = null;

  get text() {
    return this.#text ??= Token.field(this, FIELD_TEXT);
  }

  set text(text) {
    Token.rid(this);
    text = `${text}`;
    if (
      StringPrototypeIncludes(text, "-->") || StringPrototypeIncludes(text, "--!>") ||
      StringPrototypeStartsWith(text, ">") || StringPrototypeStartsWith(text, "->")
    ) {
      throw new TypeError("Parser error: Comment text shouldn't contain a comment-closing sequence.");
    }
    Token.record(this, SET_TEXT, text, "", 0);
    this.#text = text;
  }

  before(content, options) {
    return Token.record(this, BEFORE, contentOf(content), "", htmlFlag(options));
  }

  after(content, options) {
    return Token.record(this, AFTER, contentOf(content), "", htmlFlag(options));
  }

  replace(content, options) {
    return Token.record(this, REPLACE, contentOf(content), "", htmlFlag(options));
  }

  remove() {
    return Token.record(this, REMOVE, "", "", 0);
  }
}

class Doctype extends Token {
  #fields = null;

  #get() {
    return this.#fields ??= op_brink_html_rewriter_doctype(Token.rid(this));
  }

  get name() {
    return this.#get().name;
  }

  get publicId() {
    return this.#get().publicId;
  }

  get systemId() {
    return this.#get().systemId;
  }
}

class DocumentEnd extends Token {
  append(content, options) {
    return Token.record(this, APPEND, contentOf(content), "", htmlFlag(options));
  }
}

function handlerFunction(handlers, name, method) {
  const fn = handlers[name];
  if (fn === undefined || fn === null) return null;
  if (typeof fn !== "function") {
    throw new TypeError(`Failed to execute '${method}' on 'HTMLRewriter': handler '${name}' is not a function.`);
  }
  return fn;
}

function charsetOf(contentType) {
  if (contentType === null) return "";
  const match = RegExpPrototypeExec(/;\s*charset\s*=\s*"?([^";\s]*)"?/i, contentType);
  return match === null ? "" : match[1];
}

function toBytes(chunk) {
  if (typeof chunk === "string") return (encoder ??= new TextEncoder()).encode(chunk);
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError("HTMLRewriter: the response body yielded a chunk that is not bytes");
}

// A transform whose body is dropped before it was read to the end closes
// its parser when it is garbage-collected.
const abandoned = new FinalizationRegistry((rid) => op_brink_html_rewriter_close(rid));

/** One transform of one response. */
class Transform {
  #rid = null;
  #spec;
  #charset;
  #handlers;
  #endTagHandlers = new SafeMap();
  #nextEndTagId;
  #reader;
  #event = null;
  #finished = false;
  #context;

  constructor(spec, charset, handlers, reader) {
    this.#spec = spec;
    this.#charset = charset;
    this.#handlers = handlers;
    this.#nextEndTagId = handlers.length;
    this.#reader = reader;
    // Handlers run in the async context of the transform() call, so their
    // fetch() calls are charged to the request that made it.
    this.#context = core.getAsyncContext();
  }

  addEndTagHandler(fn) {
    const id = this.#nextEndTagId++;
    MapPrototypeSet(this.#endTagHandlers, id, fn);
    return id;
  }

  pull(controller) {
    const previous = core.getAsyncContext();
    core.setAsyncContext(this.#context);
    try {
      return this.#drive(controller);
    } finally {
      core.setAsyncContext(previous);
    }
  }

  cancel(reason) {
    this.#stop();
    return this.#reader.cancel(reason);
  }

  #stop() {
    if (!this.#finished) {
      this.#finished = true;
      if (this.#rid !== null) {
        abandoned.unregister(this);
        op_brink_html_rewriter_close(this.#rid);
      }
    }
  }

  // Runs the parser until it has produced output or finished. The parser
  // starts on the first read: a transformed response that is never read
  // costs no parser.
  async #drive(controller) {
    if (this.#rid === null && !this.#finished) {
      this.#rid = op_brink_html_rewriter_start(this.#spec, this.#charset);
      abandoned.register(this, this.#rid, this);
    }
    const rid = this.#rid;
    while (!this.#finished) {
      let code = this.#event;
      this.#event = null;
      if (code === null) {
        let read;
        try {
          read = await this.#reader.read();
        } catch (error) {
          this.#stop();
          throw error;
        }
        code = read.done ? op_brink_html_rewriter_end(rid) : op_brink_html_rewriter_write(rid, toBytes(read.value));
      }
      const flags = code % 256;
      const kind = flags % 16;
      const hasOutput = (flags & HAS_OUTPUT_BIT) !== 0;
      // Output is handed on once per input chunk (or before a handler
      // waits): a stream chunk per node would cost more than the node.
      if (hasOutput && (kind === EVENT_NEED_INPUT || kind === EVENT_DONE)) {
        controller.enqueue(op_brink_html_rewriter_output(rid));
      }
      switch (kind) {
        case EVENT_NEED_INPUT:
          break;
        case EVENT_DONE:
          this.#stop();
          controller.close();
          return;
        case EVENT_ERROR: {
          const message = op_brink_html_rewriter_field(rid, FIELD_ERROR);
          this.#stop();
          this.#reader.cancel().catch(() => {});
          throw new TypeError(message);
        }
        default: {
          try {
            const pending = this.#handle(kind, (code - flags) / 256, flags);
            // Only an async handler's result needs waiting for: an await per
            // node would cost a microtask turn each. What was produced before
            // the node goes out while the handler waits.
            if (pending !== undefined) {
              if (hasOutput) controller.enqueue(op_brink_html_rewriter_output(rid));
              await pending;
            }
          } catch (error) {
            this.#stop();
            this.#reader.cancel(error).catch(() => {});
            throw error;
          }
          this.#event = op_brink_html_rewriter_resume(rid);
        }
      }
      // Returning hands the output to the reader; after a whole input chunk,
      // not after every node, which would cost a stream round trip each.
      if (hasOutput && kind === EVENT_NEED_INPUT) return;
    }
  }

  // Runs the handler for an event; returns a promise if it is async.
  #handle(kind, handler, flags) {
    const rid = this.#rid;
    let token;
    let fn;
    let thisArg;
    if (kind === EVENT_END_TAG) {
      fn = MapPrototypeGet(this.#endTagHandlers, handler);
      MapPrototypeDelete(this.#endTagHandlers, handler);
      token = new EndTag(rid, flags);
    } else {
      ({ fn, thisArg } = this.#handlers[handler]);
      switch (kind) {
        case EVENT_ELEMENT:
          token = new Element(rid, flags, this);
          break;
        case EVENT_COMMENT:
          token = new Comment(rid, flags);
          break;
        case EVENT_TEXT:
          token = new Text(rid, flags);
          break;
        case EVENT_DOCTYPE:
          token = new Doctype(rid, flags);
          break;
        case EVENT_END:
          token = new DocumentEnd(rid, flags);
          break;
      }
    }
    let result;
    try {
      result = FunctionPrototypeCall(fn, thisArg, token);
    } catch (error) {
      Token.finish(token);
      throw error;
    }
    if (result !== null && typeof result === "object" && typeof result.then === "function") {
      return (async () => {
        try {
          await result;
        } finally {
          Token.finish(token);
        }
      })();
    }
    Token.finish(token);
    return undefined;
  }
}

class HTMLRewriter {
  #elementHandlers = [];
  #documentHandlers = [];
  #handlers = [];

  #register(fn, thisArg) {
    if (fn === null) return null;
    return ArrayPrototypePush(this.#handlers, { fn, thisArg }) - 1;
  }

  on(selector, handlers) {
    selector = `${selector}`;
    if (handlers === null || typeof handlers !== "object" && typeof handlers !== "function") {
      throw new TypeError("Failed to execute 'on' on 'HTMLRewriter': parameter 2 is not of type 'ElementHandlers'.");
    }
    op_brink_html_selector_check(selector);
    const element = handlerFunction(handlers, "element", "on");
    const comments = handlerFunction(handlers, "comments", "on");
    const text = handlerFunction(handlers, "text", "on");
    ArrayPrototypePush(this.#elementHandlers, {
      selector,
      element: this.#register(element, handlers),
      comments: this.#register(comments, handlers),
      text: this.#register(text, handlers),
    });
    return this;
  }

  onDocument(handlers) {
    if (handlers === null || typeof handlers !== "object" && typeof handlers !== "function") {
      throw new TypeError(
        "Failed to execute 'onDocument' on 'HTMLRewriter': parameter 1 is not of type 'DocumentHandlers'.",
      );
    }
    const doctype = handlerFunction(handlers, "doctype", "onDocument");
    const comments = handlerFunction(handlers, "comments", "onDocument");
    const text = handlerFunction(handlers, "text", "onDocument");
    const end = handlerFunction(handlers, "end", "onDocument");
    ArrayPrototypePush(this.#documentHandlers, {
      doctype: this.#register(doctype, handlers),
      comments: this.#register(comments, handlers),
      text: this.#register(text, handlers),
      end: this.#register(end, handlers),
    });
    return this;
  }

  transform(response) {
    if (!ObjectPrototypeIsPrototypeOf(ResponseClass.prototype, response)) {
      throw new TypeError("Failed to execute 'transform' on 'HTMLRewriter': parameter 1 is not of type 'Response'.");
    }
    const body = response.body;
    if (body === null) return response;
    // Checked before the body is touched: an unsupported charset throws
    // here and leaves the response unused.
    const charset = charsetOf(response.headers.get("content-type"));
    op_brink_html_rewriter_check_charset(charset);
    const spec = {
      elementHandlers: this.#elementHandlers.slice(),
      documentHandlers: this.#documentHandlers.slice(),
    };
    const transform = new Transform(spec, charset, this.#handlers.slice(), body.getReader());
    const stream = new ReadableStreamClass({
      pull: (controller) => transform.pull(controller),
      cancel: (reason) => transform.cancel(reason),
    }, { highWaterMark: 0 });
    // The rewritten body has another length. workerd keeps the header (and
    // ignores it when sending); Brink's gateway holds a body to the length
    // its worker declares, so a stale one would cut the page off.
    const headers = new HeadersClass(response.headers);
    headers.delete("content-length");
    // A status text is passed on only when there is one: an empty one
    // given would go out as an empty reason phrase instead of the status's.
    const init = { status: response.status, headers };
    if (response.statusText !== "") init.statusText = response.statusText;
    return new ResponseClass(stream, init);
  }
}

/** Called by the bootstrap, once the Web API classes exist. */
function initHtmlRewriter({ Response, ReadableStream, Headers }) {
  HeadersClass = Headers;
  ResponseClass = Response;
  ReadableStreamClass = ReadableStream;
  return HTMLRewriter;
}

return { initHtmlRewriter };
})();
