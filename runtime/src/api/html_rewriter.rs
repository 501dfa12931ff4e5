//! `HTMLRewriter`: Cloudflare's streaming HTML rewriter API on the `lol_html`
//! crate (the parser Cloudflare itself uses). The JS side
//! (`js/html_rewriter.js`) holds the handlers and the content objects a
//! handler sees; this module runs the parser.
//!
//! lol_html calls its content handlers from inside `write()`, but a worker's
//! handler may be async (it awaits a KV read or a fetch) and JavaScript can
//! only run on the isolate's own stack. So each transform runs lol_html in a
//! coroutine with a stack of its own, on the isolate thread (workerd runs it
//! on a fiber for the same reason). A content handler suspends the coroutine
//! with an [`Event`] describing the element, text chunk, comment, doctype,
//! end tag or document end; the op that resumed the coroutine returns that
//! event to JS, which runs the worker's handler (awaiting it if it returns a
//! promise) and resumes the coroutine with the mutations the handler made.
//! The handler's lol_html callback applies them and returns, and parsing
//! goes on. No thread is handed anything, and the parser's CPU time is the
//! isolate thread's, so it counts toward the request's CPU limit.
//!
//! Crossing into JS is the cost that matters (on QuickJS an op that returns
//! an object costs several times what lol_html spends on a node), so an
//! event crosses as one number ([`resume`]); the handler fetches the fields
//! it reads and sends its changes with small ops.
//!
//! Memory: lol_html buffers at most [`MAX_PARSER_MEMORY`] (a tag or comment
//! split across chunks); past that the transform fails with lol_html's
//! "The memory limit has been exceeded." error. An isolate runs at most
//! [`MAX_LIVE_TRANSFORMS`] transforms at once, so what its parsers can hold
//! outside the JS heap is bounded too. A transform's parser exists only
//! once its body is read, and JS closes it when the body is done, fails,
//! is cancelled, or is garbage-collected unread to the end.
//! Output is handed to JS with every event, so it never holds more than
//! what one input chunk produced.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use deno_core::{op2, JsBuffer, OpState, Resource, ResourceId};
use deno_error::JsErrorBox;
use lol_html::errors::RewritingError;
use lol_html::html_content::{Comment, ContentType, Doctype, DocumentEnd, Element, EndTag, TextChunk};
use lol_html::{
    AsciiCompatibleEncoding, DocumentContentHandlers, ElementContentHandlers, HandlerResult, HtmlRewriter,
    MemorySettings, Selector, Settings,
};
use serde::Deserialize;

/// The most lol_html may buffer while parsing: a start tag or comment
/// split across input chunks (a page with a large inline `data:` URL).
/// Enough for real pages; a transform never holds more than this.
pub const MAX_PARSER_MEMORY: usize = 8 * 1024 * 1024;

/// Transforms one isolate may run at once. With [`MAX_PARSER_MEMORY`] each,
/// an isolate's parsers hold at most 512 MiB in the worst case (every one
/// of them fed a tag just under the limit by the worker itself).
pub const MAX_LIVE_TRANSFORMS: usize = 64;

/// How many transforms this isolate runs; shared with each transform, whose
/// drop gives its slot back.
#[derive(Clone, Default)]
pub struct LiveTransforms(Rc<Cell<usize>>);

/// The coroutine's stack. lol_html is a state machine with shallow
/// recursion (workerd's fibers use 64 KiB); the pages are only committed
/// when touched.
const STACK_BYTES: usize = 256 * 1024;

// Event kinds, as js/html_rewriter.js knows them.
const EVENT_NEED_INPUT: u8 = 0;
const EVENT_DONE: u8 = 1;
const EVENT_ELEMENT: u8 = 2;
const EVENT_COMMENT: u8 = 3;
const EVENT_TEXT: u8 = 4;
const EVENT_DOCTYPE: u8 = 5;
const EVENT_END: u8 = 6;
const EVENT_END_TAG: u8 = 7;
const EVENT_ERROR: u8 = 8;

// Mutation codes, as js/html_rewriter.js records them.
const SET_ATTRIBUTE: u8 = 0;
const REMOVE_ATTRIBUTE: u8 = 1;
const BEFORE: u8 = 2;
const AFTER: u8 = 3;
const PREPEND: u8 = 4;
const APPEND: u8 = 5;
const REPLACE: u8 = 6;
const SET_INNER_CONTENT: u8 = 7;
const REMOVE: u8 = 8;
const REMOVE_AND_KEEP_CONTENT: u8 = 9;
const SET_NAME: u8 = 10;
const ON_END_TAG: u8 = 11;
const SET_TEXT: u8 = 12;

/// Why a transform stopped early. The text reaches the worker as the
/// message of the error its response body fails with.
#[derive(Debug, thiserror::Error)]
pub enum RewriterError {
    /// lol_html refused the document (memory limit, parsing ambiguity) or a
    /// mutation (a name the document's encoding cannot represent).
    #[error("Parser error: {0}")]
    Parser(String),
    /// The transform was cancelled: a handler threw, or the body was
    /// cancelled.
    #[error("the transform was cancelled")]
    Cancelled,
    /// The JS side resumed the parser with something it did not wait for.
    #[error("HTMLRewriter internal error: {0}")]
    Protocol(&'static str),
}

/// What the JS side resumes the parser with.
enum Resume {
    Chunk(JsBuffer),
    End,
    Mutations(Vec<Mutation>),
    Cancel,
}

/// One mutation a handler made. `flags` is 1 for `{html: true}` content,
/// or the end tag handler's id for `onEndTag`.
pub struct Mutation {
    code: u8,
    text: String,
    text2: String,
    flags: u32,
}

// Bits of the number an event crosses as: kind in the low 4 bits, then
// these flags, then the handler id from bit 8 up (a JS number holds ids up
// to 2^45 exactly).
const HAS_OUTPUT: u64 = 1 << 4;
const LAST_IN_TEXT_NODE: u64 = 1 << 5;
const REMOVED: u64 = 1 << 6;
const CAN_HAVE_CONTENT: u64 = 1 << 7;

/// What the parser stopped at.
#[derive(Default)]
pub struct Event {
    kind: u8,
    handler: u32,
    name: Option<String>,
    namespace: &'static str,
    attributes: Vec<(String, String)>,
    can_have_content: bool,
    text: Option<String>,
    last_in_text_node: bool,
    public_id: Option<String>,
    system_id: Option<String>,
    removed: bool,
    error: Option<String>,
}

impl Event {
    fn code(&self, has_output: bool) -> f64 {
        let mut code = u64::from(self.kind) | (u64::from(self.handler) << 8);
        for (set, bit) in [
            (has_output, HAS_OUTPUT),
            (self.last_in_text_node, LAST_IN_TEXT_NODE),
            (self.removed, REMOVED),
            (self.can_have_content, CAN_HAVE_CONTENT),
        ] {
            if set {
                code |= bit;
            }
        }
        // At most 2^40: exact in an f64.
        code as f64
    }
}

/// State shared by the coroutine's handlers and the ops.
struct Shared {
    /// The running coroutine's yielder; null outside its body.
    yielder: Cell<*const Yielder<Resume, Event>>,
    /// Output not yet taken by JS.
    output: RefCell<Vec<u8>>,
    /// The event JS is handling.
    event: RefCell<Event>,
    /// Mutations its handler made so far.
    mutations: RefCell<Vec<Mutation>>,
}

impl Shared {
    /// Suspends the parser at `event` until JS resumes it.
    fn suspend(&self, event: Event) -> Resume {
        let yielder = self.yielder.get();
        if yielder.is_null() {
            return Resume::Cancel;
        }
        // SAFETY: `yielder` is set at the start of the coroutine's body and
        // cleared before it returns; it points to the yielder corosensei
        // keeps at the base of the coroutine's stack for the body's whole
        // run. Handlers (and this function) are only called by lol_html
        // inside `write()`/`end()`, which only run inside that body, on that
        // stack; the rewriter, and with it every handler, is dropped before
        // the body returns.
        unsafe { (*yielder).suspend(event) }
    }
}

/// What a handler registration asks for; ids index the JS handler table.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElementHandlerSpec {
    selector: String,
    element: Option<u32>,
    comments: Option<u32>,
    text: Option<u32>,
}

/// `onDocument` handlers.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentHandlerSpec {
    doctype: Option<u32>,
    comments: Option<u32>,
    text: Option<u32>,
    end: Option<u32>,
}

/// A transform's handlers, in registration order (lol_html calls the
/// handlers of one node in that order).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RewriterSpec {
    element_handlers: Vec<ElementHandlerSpec>,
    document_handlers: Vec<DocumentHandlerSpec>,
}

type ParserCoroutine = Coroutine<Resume, Event, Result<(), RewriterError>, DefaultStack>;

/// One running transform. It stays in the resource table after the parser
/// finished, until JS has taken the last output (or the error) and closes it.
pub struct HtmlRewriterResource {
    coroutine: RefCell<Option<ParserCoroutine>>,
    shared: Rc<Shared>,
    live: LiveTransforms,
}

impl Resource for HtmlRewriterResource {
    fn name(&self) -> Cow<'_, str> {
        "htmlRewriter".into()
    }
}

impl Drop for HtmlRewriterResource {
    fn drop(&mut self) {
        self.live.0.set(self.live.0.get().saturating_sub(1));
        // Let the parser unwind by itself (every pending handler returns an
        // error), rather than have corosensei force-unwind its stack.
        if let Ok(mut slot) = self.coroutine.try_borrow_mut() {
            if let Some(coroutine) = slot.as_mut() {
                while coroutine.started() && !coroutine.done() {
                    // A panic must not escape a drop (it may run inside the engine).
                    match std::panic::catch_unwind(AssertUnwindSafe(|| coroutine.resume(Resume::Cancel))) {
                        Ok(CoroutineResult::Yield(_)) => {}
                        Ok(CoroutineResult::Return(_)) => break,
                        Err(_) => {
                            tracing::error!("HTMLRewriter: the parser panicked while cancelled");
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// A boxed handler error; lol_html stops the transform with it.
fn stop(error: RewriterError) -> Box<dyn std::error::Error + Send + Sync> {
    Box::new(error)
}

fn content_type(flags: u32) -> ContentType {
    if flags & 1 == 1 {
        ContentType::Html
    } else {
        ContentType::Text
    }
}

fn mutations(resume: Resume) -> Result<Vec<Mutation>, Box<dyn std::error::Error + Send + Sync>> {
    match resume {
        Resume::Mutations(list) => Ok(list),
        Resume::Cancel => Err(stop(RewriterError::Cancelled)),
        Resume::Chunk(_) | Resume::End => Err(stop(RewriterError::Protocol("input while a handler ran"))),
    }
}

fn parser_error(error: impl std::fmt::Display) -> Box<dyn std::error::Error + Send + Sync> {
    stop(RewriterError::Parser(error.to_string()))
}

fn unexpected(code: u8) -> Box<dyn std::error::Error + Send + Sync> {
    tracing::error!(code, "HTMLRewriter: unknown mutation");
    stop(RewriterError::Protocol("unknown mutation"))
}

fn element_event(shared: &Rc<Shared>, handler: u32, element: &mut Element) -> HandlerResult {
    let event = Event {
        kind: EVENT_ELEMENT,
        handler,
        name: Some(element.tag_name()),
        namespace: element.namespace_uri(),
        attributes: element.attributes().iter().map(|a| (a.name(), a.value())).collect(),
        can_have_content: element.can_have_content(),
        removed: element.removed(),
        ..Event::default()
    };
    for Mutation {
        code,
        text,
        text2: value,
        flags,
    } in mutations(shared.suspend(event))?
    {
        match code {
            SET_ATTRIBUTE => element.set_attribute(&text, &value).map_err(parser_error)?,
            REMOVE_ATTRIBUTE => element.remove_attribute(&text),
            BEFORE => element.before(&text, content_type(flags)),
            AFTER => element.after(&text, content_type(flags)),
            PREPEND => element.prepend(&text, content_type(flags)),
            APPEND => element.append(&text, content_type(flags)),
            REPLACE => element.replace(&text, content_type(flags)),
            SET_INNER_CONTENT => element.set_inner_content(&text, content_type(flags)),
            REMOVE => element.remove(),
            REMOVE_AND_KEEP_CONTENT => element.remove_and_keep_content(),
            SET_NAME => element.set_tag_name(&text).map_err(parser_error)?,
            ON_END_TAG => {
                let Some(handlers) = element.end_tag_handlers() else {
                    return Err(parser_error("No end tag."));
                };
                // As in workerd, a new end tag handler replaces the previous one.
                handlers.clear();
                let shared = shared.clone();
                handlers.push(Box::new(move |end: &mut EndTag| end_tag_event(&shared, flags, end)));
            }
            other => return Err(unexpected(other)),
        }
    }
    Ok(())
}

fn end_tag_event(shared: &Rc<Shared>, handler: u32, end: &mut EndTag) -> HandlerResult {
    let event = Event {
        kind: EVENT_END_TAG,
        handler,
        name: Some(end.name()),
        ..Event::default()
    };
    for Mutation { code, text, flags, .. } in mutations(shared.suspend(event))? {
        match code {
            BEFORE => end.before(&text, content_type(flags)),
            AFTER => end.after(&text, content_type(flags)),
            REPLACE => end.replace(&text, content_type(flags)),
            REMOVE => end.remove(),
            SET_NAME => end.set_name_str(text),
            other => return Err(unexpected(other)),
        }
    }
    Ok(())
}

fn text_event(shared: &Rc<Shared>, handler: u32, chunk: &mut TextChunk) -> HandlerResult {
    let event = Event {
        kind: EVENT_TEXT,
        handler,
        text: Some(chunk.as_str().to_owned()),
        last_in_text_node: chunk.last_in_text_node(),
        removed: chunk.removed(),
        ..Event::default()
    };
    for Mutation { code, text, flags, .. } in mutations(shared.suspend(event))? {
        match code {
            BEFORE => chunk.before(&text, content_type(flags)),
            AFTER => chunk.after(&text, content_type(flags)),
            REPLACE => chunk.replace(&text, content_type(flags)),
            REMOVE => chunk.remove(),
            other => return Err(unexpected(other)),
        }
    }
    Ok(())
}

fn comment_event(shared: &Rc<Shared>, handler: u32, comment: &mut Comment) -> HandlerResult {
    let event = Event {
        kind: EVENT_COMMENT,
        handler,
        text: Some(comment.text()),
        removed: comment.removed(),
        ..Event::default()
    };
    for Mutation { code, text, flags, .. } in mutations(shared.suspend(event))? {
        match code {
            BEFORE => comment.before(&text, content_type(flags)),
            AFTER => comment.after(&text, content_type(flags)),
            REPLACE => comment.replace(&text, content_type(flags)),
            REMOVE => comment.remove(),
            SET_TEXT => comment.set_text(&text).map_err(parser_error)?,
            other => return Err(unexpected(other)),
        }
    }
    Ok(())
}

fn doctype_event(shared: &Rc<Shared>, handler: u32, doctype: &mut Doctype) -> HandlerResult {
    let event = Event {
        kind: EVENT_DOCTYPE,
        handler,
        name: doctype.name(),
        public_id: doctype.public_id(),
        system_id: doctype.system_id(),
        ..Event::default()
    };
    for Mutation { code, .. } in mutations(shared.suspend(event))? {
        match code {
            REMOVE => doctype.remove(),
            other => return Err(unexpected(other)),
        }
    }
    Ok(())
}

fn end_event(shared: &Rc<Shared>, handler: u32, end: &mut DocumentEnd) -> HandlerResult {
    let event = Event {
        kind: EVENT_END,
        handler,
        ..Event::default()
    };
    for Mutation { code, text, flags, .. } in mutations(shared.suspend(event))? {
        match code {
            APPEND => end.append(&text, content_type(flags)),
            other => return Err(unexpected(other)),
        }
    }
    Ok(())
}

/// The document's encoding from a `charset` label (utf-8 when absent).
fn encoding(label: &str) -> Result<AsciiCompatibleEncoding, JsErrorBox> {
    if label.is_empty() {
        return Ok(AsciiCompatibleEncoding::utf_8());
    }
    encoding_rs::Encoding::for_label(label.trim().as_bytes())
        .and_then(AsciiCompatibleEncoding::new)
        .ok_or_else(|| JsErrorBox::type_error(format!("Parser error: Unsupported encoding: {label}")))
}

/// The coroutine's body: builds the rewriter and feeds it what JS sends.
fn run_parser(
    shared: &Rc<Shared>,
    spec: RewriterSpec,
    selectors: Vec<Selector>,
    encoding: AsciiCompatibleEncoding,
    mut input: Resume,
) -> Result<(), RewriterError> {
    let mut settings = Settings::new()
        .with_encoding(encoding)
        .with_memory_settings(MemorySettings::new().with_max_allowed_memory_usage(MAX_PARSER_MEMORY))
        .with_strict(true);
    for (handlers, selector) in spec.element_handlers.into_iter().zip(selectors) {
        let mut content = ElementContentHandlers::default();
        if let Some(id) = handlers.element {
            let shared = shared.clone();
            content = content.element(move |element: &mut Element| element_event(&shared, id, element));
        }
        if let Some(id) = handlers.comments {
            let shared = shared.clone();
            content = content.comments(move |comment: &mut Comment| comment_event(&shared, id, comment));
        }
        if let Some(id) = handlers.text {
            let shared = shared.clone();
            content = content.text(move |chunk: &mut TextChunk| text_event(&shared, id, chunk));
        }
        settings = settings.append_element_content_handler((Cow::Owned(selector), content));
    }
    for handlers in spec.document_handlers {
        let mut content = DocumentContentHandlers::default();
        if let Some(id) = handlers.doctype {
            let shared = shared.clone();
            content = content.doctype(move |doctype: &mut Doctype| doctype_event(&shared, id, doctype));
        }
        if let Some(id) = handlers.comments {
            let shared = shared.clone();
            content = content.comments(move |comment: &mut Comment| comment_event(&shared, id, comment));
        }
        if let Some(id) = handlers.text {
            let shared = shared.clone();
            content = content.text(move |chunk: &mut TextChunk| text_event(&shared, id, chunk));
        }
        if let Some(id) = handlers.end {
            let shared = shared.clone();
            content = content.end(move |end: &mut DocumentEnd| end_event(&shared, id, end));
        }
        settings = settings.append_document_content_handler(content);
    }
    let sink = shared.clone();
    let mut rewriter = HtmlRewriter::new(settings, move |chunk: &[u8]| {
        sink.output.borrow_mut().extend_from_slice(chunk);
    });
    loop {
        match input {
            Resume::Chunk(bytes) => rewriter.write(&bytes).map_err(rewriting_error)?,
            Resume::End => return rewriter.end().map_err(rewriting_error),
            Resume::Cancel => return Err(RewriterError::Cancelled),
            Resume::Mutations(_) => return Err(RewriterError::Protocol("mutations while no handler ran")),
        }
        input = shared.suspend(Event {
            kind: EVENT_NEED_INPUT,
            ..Event::default()
        });
    }
}

fn rewriting_error(error: RewritingError) -> RewriterError {
    match error {
        RewritingError::ContentHandlerError(inner) => match inner.downcast::<RewriterError>() {
            Ok(error) => *error,
            Err(other) => RewriterError::Parser(other.to_string()),
        },
        other => RewriterError::Parser(other.to_string()),
    }
}

fn parse_selector(selector: &str) -> Result<Selector, JsErrorBox> {
    selector
        .parse::<Selector>()
        .map_err(|error| JsErrorBox::type_error(format!("Parser error: {error}")))
}

/// Checks a selector when `on()` is called, so that a syntax error throws
/// there (as in workerd) and not in the middle of a response.
#[op2(fast)]
pub fn op_brink_html_selector_check(#[string] selector: &str) -> Result<(), JsErrorBox> {
    parse_selector(selector).map(|_| ())
}

/// Starts a transform; returns its resource id.
#[op2]
#[smi]
pub fn op_brink_html_rewriter_start(
    state: &mut OpState,
    #[serde] spec: RewriterSpec,
    #[string] charset: &str,
) -> Result<ResourceId, JsErrorBox> {
    let encoding = encoding(charset)?;
    let live = state.try_borrow::<LiveTransforms>().cloned().unwrap_or_default();
    if live.0.get() >= MAX_LIVE_TRANSFORMS {
        return Err(JsErrorBox::type_error(format!(
            "HTMLRewriter: this isolate already runs {MAX_LIVE_TRANSFORMS} transforms; read or cancel their bodies first"
        )));
    }
    let selectors = spec
        .element_handlers
        .iter()
        .map(|handlers| parse_selector(&handlers.selector))
        .collect::<Result<Vec<_>, _>>()?;
    let shared = Rc::new(Shared {
        yielder: Cell::new(std::ptr::null()),
        output: RefCell::new(Vec::new()),
        event: RefCell::new(Event::default()),
        mutations: RefCell::new(Vec::new()),
    });
    let stack = DefaultStack::new(STACK_BYTES)
        .map_err(|error| JsErrorBox::generic(format!("HTMLRewriter: cannot allocate a parser stack: {error}")))?;
    let body_shared = shared.clone();
    let coroutine = Coroutine::with_stack(stack, move |yielder: &Yielder<Resume, Event>, input: Resume| {
        body_shared.yielder.set(yielder);
        let result = run_parser(&body_shared, spec, selectors, encoding, input);
        body_shared.yielder.set(std::ptr::null());
        result
    });
    live.0.set(live.0.get() + 1);
    if !state.has::<LiveTransforms>() {
        state.put(live.clone());
    }
    Ok(state.resource_table.add(HtmlRewriterResource {
        coroutine: RefCell::new(Some(coroutine)),
        shared,
        live,
    }))
}

/// Checks a document charset when `transform()` is called, so that an
/// unsupported one throws there (as in workerd), before the parser starts.
#[op2(fast)]
pub fn op_brink_html_rewriter_check_charset(#[string] charset: &str) -> Result<(), JsErrorBox> {
    encoding(charset).map(|_| ())
}

fn rewriter(state: &OpState, rid: ResourceId) -> Result<Rc<HtmlRewriterResource>, JsErrorBox> {
    state
        .resource_table
        .get::<HtmlRewriterResource>(rid)
        .map_err(JsErrorBox::from_err)
}

/// Resumes the parser and returns the next event as a number (see
/// [`Event::code`]); its fields stay readable until the next resume.
fn resume(state: &mut OpState, rid: ResourceId, input: Resume) -> Result<f64, JsErrorBox> {
    let resource = rewriter(state, rid)?;
    let mut slot = resource
        .coroutine
        .try_borrow_mut()
        .map_err(|_| JsErrorBox::type_error("HTMLRewriter: the parser is already running"))?;
    let Some(coroutine) = slot.as_mut() else {
        return Err(JsErrorBox::type_error("HTMLRewriter: the transform has ended"));
    };
    // A panic inside lol_html must not unwind into the JS engine.
    let result = match std::panic::catch_unwind(AssertUnwindSafe(|| coroutine.resume(input))) {
        Ok(result) => result,
        Err(_) => {
            tracing::error!("HTMLRewriter: the parser panicked");
            CoroutineResult::Return(Err(RewriterError::Protocol("the parser failed")))
        }
    };
    let event = match result {
        CoroutineResult::Yield(event) => event,
        CoroutineResult::Return(outcome) => {
            slot.take();
            match outcome {
                Ok(()) => Event {
                    kind: EVENT_DONE,
                    ..Event::default()
                },
                Err(error) => Event {
                    kind: EVENT_ERROR,
                    error: Some(error.to_string()),
                    ..Event::default()
                },
            }
        }
    };
    let has_output = !resource.shared.output.borrow().is_empty();
    let code = event.code(has_output);
    *resource.shared.event.borrow_mut() = event;
    Ok(code)
}

/// Feeds a chunk of the input document.
#[op2]
pub fn op_brink_html_rewriter_write(
    state: &mut OpState,
    #[smi] rid: ResourceId,
    #[buffer] chunk: JsBuffer,
) -> Result<f64, JsErrorBox> {
    resume(state, rid, Resume::Chunk(chunk))
}

/// Ends the input document.
#[op2(fast)]
pub fn op_brink_html_rewriter_end(state: &mut OpState, #[smi] rid: ResourceId) -> Result<f64, JsErrorBox> {
    resume(state, rid, Resume::End)
}

/// Hands the current event's mutations back to the parser and runs it on.
#[op2(fast)]
pub fn op_brink_html_rewriter_resume(state: &mut OpState, #[smi] rid: ResourceId) -> Result<f64, JsErrorBox> {
    let mutations = std::mem::take(&mut *rewriter(state, rid)?.shared.mutations.borrow_mut());
    resume(state, rid, Resume::Mutations(mutations))
}

/// Records one change the running handler made.
#[op2(fast)]
pub fn op_brink_html_rewriter_mutate(
    state: &mut OpState,
    #[smi] rid: ResourceId,
    #[smi] code: u32,
    #[string] text: String,
    #[string] text2: String,
    flags: u32,
) -> Result<(), JsErrorBox> {
    let code = u8::try_from(code).map_err(|_| JsErrorBox::type_error("HTMLRewriter: unknown mutation"))?;
    rewriter(state, rid)?.shared.mutations.borrow_mut().push(Mutation {
        code,
        text,
        text2,
        flags,
    });
    Ok(())
}

/// Takes the output produced so far.
#[op2]
#[buffer]
pub fn op_brink_html_rewriter_output(state: &mut OpState, #[smi] rid: ResourceId) -> Result<Vec<u8>, JsErrorBox> {
    Ok(std::mem::take(&mut *rewriter(state, rid)?.shared.output.borrow_mut()))
}

// Fields of the current event, as js/html_rewriter.js asks for them.
const FIELD_NAME: u32 = 0;
const FIELD_TEXT: u32 = 1;
const FIELD_NAMESPACE: u32 = 2;
const FIELD_ERROR: u32 = 5;

/// One text field of the current event ("" when absent).
#[op2]
#[string]
pub fn op_brink_html_rewriter_field(
    state: &mut OpState,
    #[smi] rid: ResourceId,
    #[smi] field: u32,
) -> Result<String, JsErrorBox> {
    let resource = rewriter(state, rid)?;
    let event = resource.shared.event.borrow();
    let value = match field {
        FIELD_NAME => event.name.clone(),
        FIELD_TEXT => event.text.clone(),
        FIELD_NAMESPACE => Some(event.namespace.to_owned()),
        FIELD_ERROR => event.error.clone(),
        _ => None,
    };
    Ok(value.unwrap_or_default())
}

/// A doctype's name, public id and system id, each null when absent.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsDoctype {
    name: Option<String>,
    public_id: Option<String>,
    system_id: Option<String>,
}

/// The current doctype event's fields.
#[op2]
#[serde]
pub fn op_brink_html_rewriter_doctype(state: &mut OpState, #[smi] rid: ResourceId) -> Result<JsDoctype, JsErrorBox> {
    let resource = rewriter(state, rid)?;
    let event = resource.shared.event.borrow();
    Ok(JsDoctype {
        name: event.name.clone(),
        public_id: event.public_id.clone(),
        system_id: event.system_id.clone(),
    })
}

/// The current element's attributes, `[name, value]` in document order.
#[op2]
#[serde]
pub fn op_brink_html_rewriter_attributes(
    state: &mut OpState,
    #[smi] rid: ResourceId,
) -> Result<Vec<(String, String)>, JsErrorBox> {
    Ok(std::mem::take(
        &mut rewriter(state, rid)?.shared.event.borrow_mut().attributes,
    ))
}

/// Ends a transform: after it finished, or to abandon it (a handler threw,
/// or the body was cancelled).
#[op2(fast)]
pub fn op_brink_html_rewriter_close(state: &mut OpState, #[smi] rid: ResourceId) {
    // Dropping the resource lets the parser unwind (see its Drop).
    let _ = state.resource_table.take::<HtmlRewriterResource>(rid);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_errors_are_type_errors_with_lol_html_text() {
        assert!(parse_selector("div > a[href]").is_ok());
        let error = parse_selector("<bad").unwrap_err();
        use deno_error::JsErrorClass;
        assert_eq!(error.get_class(), "TypeError");
        assert!(
            error.get_message().starts_with("Parser error: "),
            "{}",
            error.get_message()
        );
    }

    #[test]
    fn unknown_encodings_are_refused() {
        assert!(encoding("").is_ok());
        assert!(encoding("windows-1252").is_ok());
        assert!(encoding("utf-16").is_err(), "not ASCII-compatible");
        assert!(encoding("nope").is_err());
    }
}
