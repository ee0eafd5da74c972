//! The element's decisions ([`crate::element`]) as the page asks for them.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::core::Shown;
use super::{get, js_error, set, to_js};
use crate::element::engines::{self, Choice, Failure, Reply, Request, Timed};
use crate::element::{self, trained::Asked, Runs};
use crate::settings::Backend;

/// The page's runs and the frames that arrived for them ([`Runs`]), and the calls to its
/// workers that wait for a reply. A frame is the object a worker posts, with its run's number
/// in `run`.
#[wasm_bindgen]
#[derive(Default)]
pub struct PageRuns {
    pub(super) runs: Rc<RefCell<Runs<JsValue>>>,
    pub(super) calls: Rc<RefCell<Calls>>,
}

/// A call to a worker, waiting for its reply.
struct Call {
    id: u64,
    worker: JsValue,
    resolve: js_sys::Function,
    reject: js_sys::Function,
}

/// The calls to the workers that wait for a reply, by number.
#[derive(Default)]
pub(super) struct Calls {
    last: u64,
    waiting: Vec<Call>,
}

#[wasm_bindgen]
extern "C" {
    type PageWorker;
    #[wasm_bindgen(method, catch, js_name = postMessage)]
    fn post_message(this: &PageWorker, message: &JsValue) -> Result<(), JsValue>;
}

/// Sends `message` to `worker` as a call: it resolves with the reply, or rejects with the
/// problem the worker answers, or with what stopped the worker.
pub(super) fn ask(
    calls: &Rc<RefCell<Calls>>,
    worker: &JsValue,
    message: &JsValue,
) -> js_sys::Promise {
    let id = {
        let mut calls = calls.borrow_mut();
        calls.last += 1;
        calls.last
    };
    // A copy: the caller's message stays as it was, and the same message may go to several.
    let message = js_sys::Object::assign(&js_sys::Object::new(), message.unchecked_ref());
    set(&message, "id", id as f64);
    let posted_to = worker.unchecked_ref::<PageWorker>();
    js_sys::Promise::new(
        &mut |resolve, reject| match posted_to.post_message(&message) {
            Ok(()) => calls.borrow_mut().waiting.push(Call {
                id,
                worker: worker.clone(),
                resolve,
                reject,
            }),
            Err(e) => drop(reject.call1(&JsValue::NULL, &e)),
        },
    )
}

#[wasm_bindgen]
impl PageRuns {
    #[wasm_bindgen(constructor)]
    pub fn new() -> PageRuns {
        PageRuns::default()
    }

    /// A new run: the number its workers stamp on their frames.
    pub fn begin(&mut self) -> f64 {
        self.runs.borrow_mut().begin() as f64
    }

    /// What `worker` posted: a frame (one without a run number is dropped), a reply to a call,
    /// or a failure outside any call, whose message this returns.
    pub fn receive(&self, worker: &JsValue, data: JsValue) -> Option<String> {
        match get(&data, "type").as_string()?.as_str() {
            "frame" => {
                let run = get(&data, "run").as_f64();
                if let Some(run) = run.filter(|r| r.is_finite() && *r >= 0.0) {
                    self.runs.borrow_mut().arrive(run as u64, data);
                }
            }
            "reply" => {
                let id = get(&data, "id").as_f64();
                let mut calls = self.calls.borrow_mut();
                let at = (calls.waiting.iter())
                    .position(|c| Some(c.id as f64) == id && c.worker == *worker)?;
                let call = calls.waiting.swap_remove(at);
                drop(calls);
                let _ = match present(&data, "problem") {
                    Some(problem) => call.reject.call1(&JsValue::NULL, &problem),
                    None => call.resolve.call1(&JsValue::NULL, &data),
                };
            }
            "failure" => return Some(error_text(&data)),
            _ => {}
        }
        None
    }

    /// Ends `worker`'s calls with `reason` (it stopped or failed): none of them will be
    /// answered, so nothing should wait on them.
    pub fn reject(&self, worker: &JsValue, reason: &JsValue) {
        let ended: Vec<Call> = {
            let mut calls = self.calls.borrow_mut();
            let (ended, waiting) = (calls.waiting.drain(..)).partition(|c| c.worker == *worker);
            calls.waiting = waiting;
            ended
        };
        for call in ended {
            let _ = call.reject.call1(&JsValue::NULL, reason);
        }
    }

    /// Calls `worker` with `message` (see [`ask`]).
    pub fn ask(&self, worker: &JsValue, message: &JsValue) -> js_sys::Promise {
        ask(&self.calls, worker, message)
    }
}

/// What a `#run=` link that cannot be opened throws.
pub(super) fn link_problem(e: impl std::fmt::Display) -> JsValue {
    js_error(format!("This link's run could not be opened: {e}"))
}

/// The run the element trains and shows ([`element::TrainedRun`]).
#[wasm_bindgen(js_name = TrainedRun)]
#[derive(Default)]
pub struct PageRun(pub(super) Rc<RefCell<element::TrainedRun>>);

#[wasm_bindgen(js_class = TrainedRun)]
impl PageRun {
    #[wasm_bindgen(constructor)]
    pub fn new() -> PageRun {
        PageRun::default()
    }

    pub fn sheet(&self) -> String {
        self.0.borrow().sheet().to_string()
    }

    pub fn versus(&self) -> Option<String> {
        self.0.borrow().versus().map(str::to_string)
    }

    /// Opens a `#run=` link: `{note, sheet, spec: {seed, latent_dims, batch_size, runs},
    /// parents, versus, engine}` (`note`: set when an older engine made the link); throws what
    /// is wrong with it.
    pub fn open_link(&mut self, hash: &str) -> Result<JsValue, JsValue> {
        let run = (self.0.borrow_mut().open_link(hash)).map_err(link_problem)?;
        Ok(to_js(&super::OpenedRun::of(run)))
    }
}

#[wasm_bindgen]
extern "C" {
    /// The element's side of [`Engines`] ([`engines::Host`]), made by
    /// `www/color-bottleneck.js`: its workers, its events, the adapter and localStorage.
    /// `spawn`, `adapter` and `time_gpu` return promises; a promise rejected with
    /// `stopped` is [`Failure::Stopped`].
    pub type JsHost;
    #[wasm_bindgen(method)]
    fn spawn(this: &JsHost, engine: &str) -> js_sys::Promise;
    #[wasm_bindgen(method)]
    fn stop(this: &JsHost, worker: &JsValue);
    #[wasm_bindgen(method)]
    pub(super) fn workers(this: &JsHost) -> js_sys::Array;
    #[wasm_bindgen(method, catch)]
    fn adopt(this: &JsHost, workers: js_sys::Array) -> Result<(), JsValue>;
    /// Tells every worker of the run `kind` (`play`, `pause`, `step`, or `speed` with its
    /// `value`).
    #[wasm_bindgen(method)]
    pub(super) fn post(this: &JsHost, kind: &str, value: Option<f64>);
    /// Resolves after `ms` milliseconds.
    #[wasm_bindgen(method)]
    pub(super) fn sleep(this: &JsHost, ms: f64) -> js_sys::Promise;
    /// Dispatches the element's event `kind` with `detail`.
    #[wasm_bindgen(method)]
    pub(super) fn emit(this: &JsHost, kind: &str, detail: &JsValue);
    #[wasm_bindgen(method)]
    fn adapter(this: &JsHost) -> js_sys::Promise;
    #[wasm_bindgen(method)]
    fn time_gpu(this: &JsHost, request: &JsValue) -> js_sys::Promise;
    #[wasm_bindgen(method)]
    fn remember(this: &JsHost, shape: &str, backend: &str, race: &str, adapter: &str, at: f64);
    #[wasm_bindgen(method, getter)]
    pub(super) fn stopped(this: &JsHost) -> JsValue;
    /// What a start reads: the seed field, the attributes and the core count ([`Asked`]).
    #[wasm_bindgen(method)]
    pub(super) fn asked(this: &JsHost) -> JsValue;
    /// Starts a run of `sheet` (`parts`: the workers' kept states, for a branch) once any
    /// start before it is done, on the engine the page chooses.
    #[wasm_bindgen(method)]
    pub(super) fn create(this: &JsHost, sheet: &str, parts: JsValue) -> js_sys::Promise;
    /// Fetches `url`, giving up after `timeout_ms`: resolves with `{status, type, text}`
    /// (`type`: the content type), rejects with the browser's error.
    #[wasm_bindgen(method)]
    pub(super) fn fetch(this: &JsHost, url: &str, timeout_ms: f64) -> js_sys::Promise;
    /// The folder the element's script is served from, ending in `/`.
    #[wasm_bindgen(method, getter)]
    pub(super) fn base(this: &JsHost) -> String;
    /// A recorder of a canvas `size` pixels square at `fps` frames a second, recording
    /// (`Recorder` in src/web/core/video.rs); `undefined` where the browser has none.
    #[wasm_bindgen(method, catch)]
    pub(super) fn recorder(this: &JsHost, size: u32, fps: u32) -> Result<JsValue, JsValue>;
    /// Downloads `content` (text, or a Blob) as `name`, of MIME type `kind`.
    #[wasm_bindgen(method, catch)]
    pub(super) fn download(
        this: &JsHost,
        name: &str,
        content: &JsValue,
        kind: &str,
    ) -> Result<(), JsValue>;
    /// Puts `text` on the clipboard, where the page may write there.
    #[wasm_bindgen(method)]
    pub(super) fn copy(this: &JsHost, text: &str);
    /// Resolves at the page's next animation frame.
    #[wasm_bindgen(method)]
    pub(super) fn frame(this: &JsHost) -> js_sys::Promise;
}

/// [`engines::Host`] over the element's script and what the page shows: a worker is the
/// script's `Worker`.
pub struct PageHost {
    pub(super) js: JsHost,
    pub(super) shown: Rc<RefCell<Shown>>,
    pub(super) calls: Rc<RefCell<Calls>>,
}

/// What a host's rejection `e` means: [`Failure::Stopped`] where it is the host's `stopped`.
pub(super) fn failure_of(e: JsValue, stopped: &JsValue) -> Failure {
    if e == *stopped {
        return Failure::Stopped;
    }
    problem(e)
}

/// An error's message, or the value as text.
pub(super) fn error_text(e: &JsValue) -> String {
    (get(e, "message").as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// A JS error (a DOM call's, a rejection's) as a failure to show.
pub(super) fn problem(e: JsValue) -> Failure {
    Failure::Problem(error_text(&e))
}

/// How a flow's `failure` rejects its promise: with the host's `stopped`, or an `Error`.
pub(super) fn rejection_of(failure: Failure, stopped: JsValue) -> JsValue {
    match failure {
        Failure::Stopped => stopped,
        Failure::Problem(p) => js_error(p),
    }
}

impl PageHost {
    fn failure(&self, e: JsValue) -> Failure {
        failure_of(e, &self.js.stopped())
    }

    /// Calls `worker` with `message` (see [`ask`]).
    pub(super) fn ask(&self, worker: &JsValue, message: &JsValue) -> js_sys::Promise {
        ask(&self.calls, worker, message)
    }

    pub(super) async fn wait(&self, promise: js_sys::Promise) -> Result<JsValue, Failure> {
        wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .map_err(|e| self.failure(e))
    }
}

/// What a start reads ([`Asked`], an object with its fields). Called from two exports, and
/// kept out of line: its deserialiser is large.
#[inline(never)]
pub(super) fn read_asked(asked: JsValue) -> Result<Asked, JsValue> {
    Ok(serde_wasm_bindgen::from_value(asked)?)
}

/// The message the page posts for `request`.
fn message(request: &Request<JsValue>) -> JsValue {
    let (kind, message) = match request {
        Request::Create(start) | Request::Resume(start) => {
            let message = to_js(&start.part);
            set(&message, "sheet", start.sheet.as_str());
            set(&message, "backend", start.backend.name());
            set(&message, "run", start.run as f64);
            set(&message, "branch", start.branch);
            let parts: js_sys::Array = start.parts.iter().collect();
            set(&message, "parts", parts);
            let kind = ["create", "resume"][usize::from(!start.parts.is_empty())];
            (kind, message)
        }
        Request::Hold => ("hold", js_sys::Object::new().into()),
        Request::Checkpoint { at } => {
            let message = js_sys::Object::new().into();
            set(&message, "at", *at as f64);
            ("checkpoint", message)
        }
        Request::GpuRate(timing) | Request::CpuRate(timing) => {
            let message = js_sys::Object::new().into();
            set(&message, "spec", to_js(&timing.spec));
            set(&message, "first", timing.first as f64);
            set(&message, "count", timing.count as f64);
            set(&message, "backend", timing.backend.name());
            let kind = match request {
                Request::GpuRate(_) => "gpu-rate",
                _ => "cpu-rate",
            };
            (kind, message)
        }
    };
    set(&message, "type", kind);
    message
}

/// `object[field]`, unless it is absent (`undefined` or `null`).
pub(super) fn present(object: &JsValue, field: &str) -> Option<JsValue> {
    Some(get(object, field)).filter(|v| !v.is_undefined() && !v.is_null())
}

impl engines::Host for PageHost {
    type Worker = JsValue;
    /// The `Uint8Array` a worker handed over, passed on as it is.
    type Part = JsValue;

    async fn spawn(&self, engine: Backend) -> Result<JsValue, Failure> {
        self.wait(self.js.spawn(engine.name())).await
    }

    async fn ask(
        &self,
        worker: &JsValue,
        request: &Request<JsValue>,
    ) -> Result<Reply<JsValue>, Failure> {
        let reply = self.wait(self.ask(worker, &message(request))).await?;
        Ok(Reply {
            step: get(&reply, "step").as_f64(),
            rate: get(&reply, "rate").as_f64(),
            bytes: present(&reply, "bytes"),
        })
    }

    fn stop(&self, worker: &JsValue) {
        self.js.stop(worker);
    }

    fn workers(&self) -> Vec<JsValue> {
        self.js.workers().to_vec()
    }

    /// The script keeps the workers; the new ones start paused and are told whether to run.
    fn adopt(&self, workers: &[JsValue]) -> Result<(), Failure> {
        (self.js.adopt(workers.iter().collect())).map_err(|e| self.failure(e))?;
        let mut shown = self.shown.borrow_mut();
        let order = shown.playback.adopted();
        shown.obey(&self.js, order);
        Ok(())
    }

    fn notify(&self, text: &str) {
        self.shown.borrow().notify(text);
    }

    fn show_backend(&self, engine: Backend, how: &str) {
        self.shown.borrow_mut().show_backend(engine, how);
    }

    fn finished(&self) -> bool {
        self.shown.borrow().finished()
    }

    async fn adapter(&self) -> Option<String> {
        self.wait(self.js.adapter()).await.ok()?.as_string()
    }

    async fn time_gpu(&self, request: &Request<JsValue>) -> Result<Timed<JsValue>, Failure> {
        let timed = self.wait(self.js.time_gpu(&message(request))).await?;
        Ok(Timed {
            rate: get(&timed, "rate").as_f64().unwrap_or(0.0),
            probe: present(&timed, "probe"),
            shape: get(&timed, "shape").as_string().unwrap_or_default(),
        })
    }

    fn remember(&self, shape: &str, choice: &Choice) {
        let Choice {
            backend,
            race,
            adapter,
            at,
        } = choice;
        self.js.remember(shape, backend, race, adapter, *at);
    }

    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }
}

/// A flow of the engines, as the page awaits it.
pub(super) type PageFlow = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

/// The promise of `flow`: one instance of the machinery that turns a future into a promise
/// serves every flow.
pub(super) fn promise(flow: PageFlow) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(flow)
}
