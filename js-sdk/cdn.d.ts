// HTMLRewriter and the Workers Cache API additions (docs/cdn.md). The runtime
// side is runtime/js/html_rewriter.js and runtime/js/cache.js. The standard
// Cache and CacheStorage come from TypeScript's `WebWorker` lib; index.d.ts
// adds `caches.default` to them.

/** `{html: true}` inserts markup; by default content is text (escaped). */
export interface ContentOptions {
  html?: boolean;
}

/** A start tag and, through `onEndTag`, its end tag. Valid only while its handler runs. */
export interface Element {
  /** Lowercase tag name; assigning renames the start and end tags. */
  tagName: string;
  readonly namespaceURI: string;
  /** `[name, value]` pairs, names lowercase, in document order. */
  readonly attributes: IterableIterator<[string, string]>;
  /** True after `remove`, `replace` or `removeAndKeepContent`. */
  readonly removed: boolean;
  getAttribute(name: string): string | null;
  hasAttribute(name: string): boolean;
  setAttribute(name: string, value: string): Element;
  removeAttribute(name: string): Element;
  before(content: string, options?: ContentOptions): Element;
  after(content: string, options?: ContentOptions): Element;
  prepend(content: string, options?: ContentOptions): Element;
  append(content: string, options?: ContentOptions): Element;
  replace(content: string, options?: ContentOptions): Element;
  setInnerContent(content: string, options?: ContentOptions): Element;
  remove(): Element;
  removeAndKeepContent(): Element;
  /** Throws a TypeError on an element without an end tag (`<img>`, ...). */
  onEndTag(handler: (tag: EndTag) => void | Promise<void>): void;
}

/** An element's end tag. */
export interface EndTag {
  name: string;
  before(content: string, options?: ContentOptions): EndTag;
  after(content: string, options?: ContentOptions): EndTag;
  remove(): EndTag;
}

/** A chunk of a text node; the last chunk of a node has `lastInTextNode`. */
export interface Text {
  readonly text: string;
  readonly lastInTextNode: boolean;
  readonly removed: boolean;
  before(content: string, options?: ContentOptions): Text;
  after(content: string, options?: ContentOptions): Text;
  replace(content: string, options?: ContentOptions): Text;
  remove(): Text;
}

/** An HTML comment. */
export interface Comment {
  text: string;
  readonly removed: boolean;
  before(content: string, options?: ContentOptions): Comment;
  after(content: string, options?: ContentOptions): Comment;
  replace(content: string, options?: ContentOptions): Comment;
  remove(): Comment;
}

/** The document's doctype. */
export interface Doctype {
  readonly name: string | null;
  readonly publicId: string | null;
  readonly systemId: string | null;
}

/** The end of the document. */
export interface DocumentEnd {
  append(content: string, options?: ContentOptions): DocumentEnd;
}

/** Handlers for `on(selector, ...)`; each may be async. */
export interface HTMLRewriterElementContentHandlers {
  element?(element: Element): void | Promise<void>;
  comments?(comment: Comment): void | Promise<void>;
  text?(text: Text): void | Promise<void>;
}

/** Handlers for `onDocument(...)`; each may be async. */
export interface HTMLRewriterDocumentContentHandlers {
  doctype?(doctype: Doctype): void | Promise<void>;
  comments?(comment: Comment): void | Promise<void>;
  text?(text: Text): void | Promise<void>;
  end?(end: DocumentEnd): void | Promise<void>;
}

/** The streaming HTML rewriter. */
export interface HTMLRewriter {
  /** Throws a TypeError for a selector it cannot parse. */
  on(selector: string, handlers: HTMLRewriterElementContentHandlers): HTMLRewriter;
  onDocument(handlers: HTMLRewriterDocumentContentHandlers): HTMLRewriter;
  /** A response whose body is `response`'s, rewritten as it streams. */
  transform(response: Response): Response;
}

/** `cache.match`/`cache.delete` options. */
export interface CacheQueryOptions {
  /** Match a non-GET request as if it were a GET. */
  ignoreMethod?: boolean;
}
