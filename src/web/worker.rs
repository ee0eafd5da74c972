//! A training worker's half of the worker protocol. Every message the page sends a worker
//! is one [`Command`], read field by field with each bad field named; [`Worker`] carries it out on its [`Experiment`] and
//! says what to post back, and decides when the worker trains and how long it rests. The
//! worker's script (`www/trainer.js`) only loads the module, relays messages both ways and
//! waits as told.

use std::cell::{Cell, RefCell};

use wasm_bindgen::prelude::*;

use super::{get, js_error, now, set, to_js, Experiment};

/// Training time between frames: the page redraws at most once per vsync anyway.
const CHUNK_MS: f64 = 16.0;
/// One display frame, for a finite speed (steps per frame).
const FRAME_MS: f64 = 16.7;
/// What a worker that shares every core rests after each chunk, so the page finds a core free
/// to draw on (4 ms is the least a worker's repeated timer waits).
const REST_MS: f64 = 4.0;

/// What the page asks of a worker: `{type, …}`, `type` naming the variant in kebab case.
/// Besides their fields, `create`, `resume`, `cpu-rate` and `gpu-rate` carry the run's
/// options ([`super::experiment`]'s `Options`: the whole run's `spec`, and this worker's part
/// of it, `first` and `count`), and `state-at` the run's `spec`, read from the same message;
/// a message with an `id` gets a reply with that `id`.
enum Command {
    /// A fresh run of a sheet.
    Create(Start),
    /// The runs other workers handed over (their checkpoints' bytes, in order, in `parts`).
    Resume(Start, js_sys::Array),
    /// Stop, and train nothing (not even a branch's replay) until `play`: a hand-over.
    Hold,
    /// Train on to step `at` (the CPU; a GPU gives its last read-back), then hand the run over.
    Checkpoint(At),
    /// The latest state kept at or before `at`, for a branch there.
    StateAt(At),
    CpuRate,
    GpuRate,
    Play,
    Pause,
    /// Steps per display frame (`Infinity`: as fast as it goes).
    Speed(Speed),
    /// One step, then a frame.
    Step,
    /// A fresh run of the same sheet from `seed`.
    Reset(Reset),
    LatentsCsv,
    Memory,
    VideoFrames,
    VideoFrame(Index),
    /// A new sheet: `live` keeps the model and step (*Apply live*).
    Sheet(Sheet),
}

/// `run` is the page's number for the run (its frames carry it); `rests`: the worker shares
/// every core with others and rests after each chunk.
struct Start {
    sheet: String,
    run: f64,
    rests: bool,
}

struct At {
    at: f64,
}

struct Speed {
    value: f64,
}

struct Reset {
    seed: u32,
    run: f64,
}

struct Index {
    index: u32,
}

/// `seed`: the whole sweep's first, for a restart (unused live).
struct Sheet {
    sheet: String,
    live: bool,
    run: f64,
    seed: u32,
}

/// Reading a message's fields, each named in the message when it is missing or of the wrong
/// kind.
struct Fields<'a> {
    message: &'a JsValue,
    kind: &'a str,
}

impl Fields<'_> {
    fn wrong(&self, field: &str, expected: &str) -> JsValue {
        js_error(format!(
            "the worker cannot read a {:?} message: its {field} is not {expected}",
            self.kind
        ))
    }

    fn number(&self, field: &str) -> Result<f64, JsValue> {
        get(self.message, field)
            .as_f64()
            .ok_or_else(|| self.wrong(field, "a number"))
    }

    fn whole(&self, field: &str) -> Result<u32, JsValue> {
        let n = self.number(field)?;
        (n.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&n))
            .then_some(n as u32)
            .ok_or_else(|| self.wrong(field, "a whole number"))
    }

    fn text(&self, field: &str) -> Result<String, JsValue> {
        get(self.message, field)
            .as_string()
            .ok_or_else(|| self.wrong(field, "text"))
    }

    /// `false` when absent.
    fn flag(&self, field: &str) -> bool {
        get(self.message, field).is_truthy()
    }

    fn start(&self) -> Result<Start, JsValue> {
        Ok(Start {
            sheet: self.text("sheet")?,
            run: self.number("run")?,
            rests: self.flag("rests"),
        })
    }
}

impl Command {
    /// The message's command, or what is wrong with it.
    fn read(message: &JsValue) -> Result<Command, JsValue> {
        let kind = get(message, "type").as_string().unwrap_or_default();
        let f = Fields {
            message,
            kind: &kind,
        };
        Ok(match kind.as_str() {
            "create" => Command::Create(f.start()?),
            "resume" => Command::Resume(
                f.start()?,
                get(message, "parts")
                    .dyn_into::<js_sys::Array>()
                    .map_err(|_| f.wrong("parts", "an array"))?,
            ),
            "hold" => Command::Hold,
            "checkpoint" => Command::Checkpoint(At {
                at: f.number("at")?,
            }),
            "state-at" => Command::StateAt(At {
                at: f.number("at")?,
            }),
            "cpu-rate" => Command::CpuRate,
            "gpu-rate" => Command::GpuRate,
            "play" => Command::Play,
            "pause" => Command::Pause,
            "speed" => Command::Speed(Speed {
                value: f.number("value")?,
            }),
            "step" => Command::Step,
            "reset" => Command::Reset(Reset {
                seed: f.whole("seed")?,
                run: f.number("run")?,
            }),
            "latents-csv" => Command::LatentsCsv,
            "memory" => Command::Memory,
            "video-frames" => Command::VideoFrames,
            "video-frame" => Command::VideoFrame(Index {
                index: f.whole("index")?,
            }),
            "sheet" => Command::Sheet(Sheet {
                sheet: f.text("sheet")?,
                live: f.flag("live"),
                run: f.number("run")?,
                seed: f.whole("seed")?,
            }),
            _ => {
                return Err(js_error(format!(
                    "the worker does not know a {kind:?} message"
                )))
            }
        })
    }
}

/// One worker's state between messages.
#[wasm_bindgen]
pub struct Worker {
    experiment: RefCell<Option<Experiment>>,
    /// The page's number for the run now training (it changes with every fresh start), so the
    /// page can tell a new run's frames from an old one's.
    run: Cell<f64>,
    running: Cell<bool>,
    /// Held for a hand-over: nothing trains, not even a branch's replay, until `play`.
    held: Cell<bool>,
    speed: Cell<f64>,
    rests: Cell<bool>,
    /// The GPU stopped working: the run waits, as of its last read-back, to be handed over.
    lost: Cell<bool>,
    /// When the last training chunk started, and whether it trained at full speed.
    chunk_started: Cell<f64>,
    chunk_fast: Cell<bool>,
}

impl Default for Worker {
    fn default() -> Self {
        Worker {
            experiment: RefCell::new(None),
            run: Cell::new(0.0),
            running: Cell::new(false),
            held: Cell::new(false),
            speed: Cell::new(f64::INFINITY),
            rests: Cell::new(false),
            lost: Cell::new(false),
            chunk_started: Cell::new(0.0),
            chunk_fast: Cell::new(true),
        }
    }
}

/// `{type: 'reply', id, …}`.
fn reply(id: &JsValue) -> js_sys::Object {
    let message = js_sys::Object::new();
    set(&message, "type", "reply");
    set(&message, "id", id.clone());
    message
}

/// A thrown problem as the page reads it: a refused sheet's `{line, column, message}` as it
/// is, an `Error` as `{message}`.
fn problem(e: JsValue) -> JsValue {
    match e.dyn_ref::<js_sys::Error>() {
        Some(error) => {
            let p = js_sys::Object::new();
            set(&p, "message", error.message());
            p.into()
        }
        None => e,
    }
}

#[wasm_bindgen]
impl Worker {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Worker {
        Worker::default()
    }

    /// Carries out one message from the page; returns the messages to post back, in order
    /// (frames, the reply). A message the protocol does not know, or one that fails, is
    /// answered with its problem (a reply with `problem`, or a `failure` without an `id`).
    pub async fn handle(&self, message: JsValue) -> js_sys::Array {
        let out = js_sys::Array::new();
        let id = get(&message, "id");
        if let Err(e) = self.carry_out(&message, &id, &out).await {
            let p = problem(e);
            if id.is_undefined() {
                let failure = js_sys::Object::new();
                set(&failure, "type", "failure");
                // A thrown string is its own message.
                let message = get(&p, "message");
                let message = match message.is_undefined() {
                    true => p.as_string().unwrap_or("the worker failed".into()).into(),
                    false => message,
                };
                set(&failure, "message", message);
                out.push(&failure);
            } else {
                let r = reply(&id);
                set(&r, "problem", p);
                out.push(&r);
            }
        }
        out
    }

    /// Whether the worker has training to do now: the page plays, or a branch's parents are
    /// replaying (they train whether or not the page plays, unless the worker is held).
    pub fn wants_to_train(&self) -> bool {
        let experiment = self.experiment.borrow();
        let Some(e) = experiment.as_ref() else {
            return false;
        };
        self.running.get() || (!self.held.get() && e.replaying())
    }

    /// Trains one chunk (16 ms at full speed, else `speed` steps) and returns the frame to
    /// post (a failed step is in the frame's `error`).
    pub async fn train_chunk(&self) -> js_sys::Array {
        let out = js_sys::Array::new();
        self.chunk_started.set(now());
        let replaying = (self.experiment.borrow().as_ref()).is_some_and(|e| e.replaying());
        let fast = self.speed.get() == f64::INFINITY || replaying;
        self.chunk_fast.set(fast);
        let trained = match self.experiment.borrow().as_ref() {
            Some(e) => {
                let (budget, steps) = match fast {
                    true => (CHUNK_MS, u32::MAX),
                    false => (1e9, self.speed.get().clamp(0.0, u32::MAX as f64) as u32),
                };
                e.train(budget, steps);
                true
            }
            None => false,
        };
        if trained {
            self.publish(&out).await;
        }
        out
    }

    /// How long to rest before the next chunk: a finite speed waits out the rest of its
    /// display frame; a worker that shares every core rests a little; otherwise 0.
    pub fn rest_ms(&self) -> f64 {
        if self.chunk_fast.get() {
            if self.rests.get() {
                REST_MS
            } else {
                0.0
            }
        } else {
            FRAME_MS - (now() - self.chunk_started.get())
        }
    }
}

impl Worker {
    /// Posts the experiment's frame: `{type: 'frame', run, …}`. A finished, failed or
    /// GPU-lost run stops playing.
    async fn publish(&self, out: &js_sys::Array) {
        // Out of its cell while the read-back is awaited: nothing else runs meanwhile (the
        // worker's script awaits each call), and no borrow is held across the await.
        let Some(experiment) = self.experiment.take() else {
            return;
        };
        let frame = experiment.sync().await;
        self.experiment.replace(Some(experiment));
        if frame.finished || frame.error.is_some() || frame.gpu_lost.is_some() {
            self.running.set(false);
        }
        self.lost.set(frame.gpu_lost.is_some());
        let message = to_js(&frame);
        set(&message, "type", "frame");
        set(&message, "run", self.run.get());
        out.push(&message);
    }

    fn experiment(&self) -> Result<std::cell::Ref<'_, Experiment>, JsValue> {
        let e = self.experiment.borrow();
        match e.is_some() {
            true => Ok(std::cell::Ref::map(e, |e| e.as_ref().expect("checked"))),
            false => Err(js_error("the worker has no run yet")),
        }
    }

    async fn carry_out(
        &self,
        message: &JsValue,
        id: &JsValue,
        out: &js_sys::Array,
    ) -> Result<(), JsValue> {
        let command = Command::read(message)?;
        let r = reply(id);
        match command {
            Command::Create(Start { sheet, run, rests }) => {
                let created = Experiment::create(sheet, message.clone());
                self.start(created, run, rests, out, &r).await?;
            }
            Command::Resume(Start { sheet, run, rests }, parts) => {
                let resumed = Experiment::resume(sheet, message.clone(), parts);
                self.start(resumed, run, rests, out, &r).await?;
            }
            Command::Hold => {
                self.running.set(false);
                self.held.set(true);
                let step = self
                    .experiment
                    .borrow()
                    .as_ref()
                    .map_or(0.0, |e| e.step_index());
                set(&r, "step", step);
            }
            Command::Checkpoint(At { at }) => {
                self.running.set(false);
                self.held.set(true);
                if self.experiment()?.backend() == "cpu" {
                    let e = self.experiment()?;
                    while e.step_index() < at && !e.finished() && e.last_error().is_none() {
                        e.train(1e9, (at - e.step_index()) as u32);
                    }
                } else if !self.lost.get() {
                    self.publish(out).await;
                }
                let bytes = self.experiment()?.checkpoint();
                set(&r, "bytes", js_sys::Uint8Array::from(&bytes[..]));
            }
            Command::StateAt(At { at }) => {
                let kept = match self.experiment.borrow().as_ref() {
                    None => None,
                    Some(e) => e
                        .kept_step_at(at, message.clone())?
                        .map(|step| (step, e.state_at(step))),
                };
                let (step, bytes) = match kept {
                    Some((step, Some(bytes))) => (
                        JsValue::from(step),
                        js_sys::Uint8Array::from(&bytes[..]).into(),
                    ),
                    Some((step, None)) => (JsValue::from(step), JsValue::NULL),
                    None => (JsValue::NULL, JsValue::NULL),
                };
                set(&r, "bytes", bytes);
                set(&r, "step", step);
            }
            Command::CpuRate => set(&r, "rate", Experiment::cpu_rate(message.clone())?),
            #[cfg(feature = "webgpu")]
            Command::GpuRate => {
                set(&r, "rate", Experiment::gpu_rate(message.clone()).await?);
            }
            #[cfg(not(feature = "webgpu"))]
            Command::GpuRate => return Err(js_error("this module has no GPU engine")),
            Command::Play => {
                let e = self.experiment()?;
                self.running.set(!e.finished() && !self.lost.get());
                self.held.set(false);
                return Ok(());
            }
            Command::Pause => {
                self.running.set(false);
                return Ok(());
            }
            Command::Speed(Speed { value }) => {
                self.speed.set(value);
                return Ok(());
            }
            Command::Step => {
                self.running.set(false);
                self.experiment()?.train(1e9, 1);
                self.publish(out).await;
                return Ok(());
            }
            Command::Reset(Reset { seed, run }) => {
                self.experiment()?.reset(seed)?;
                self.run.set(run);
                self.publish(out).await;
                set(&r, "run", run);
            }
            Command::LatentsCsv => set(&r, "csv", self.experiment()?.latents_csv()),
            Command::Memory => {
                let memory = wasm_bindgen::memory();
                set(&r, "wasm", get(&get(&memory, "buffer"), "byteLength"));
                let heap = get(&get(&js_sys::global(), "performance"), "memory");
                let used = get(&heap, "usedJSHeapSize");
                set(
                    &r,
                    "heap",
                    if used.is_undefined() {
                        JsValue::NULL
                    } else {
                        used
                    },
                );
            }
            Command::VideoFrames => set(&r, "frames", self.experiment()?.video_frames()),
            Command::VideoFrame(Index { index }) => {
                let pixels = self.experiment()?.video_frame(index)?;
                set(&r, "pixels", js_sys::Uint8Array::from(&pixels[..]));
            }
            Command::Sheet(Sheet {
                sheet,
                live,
                run,
                seed,
            }) => {
                let at = self.experiment()?.set_dopesheet(sheet, live, seed)?;
                self.run.set(run);
                self.publish(out).await;
                set(&r, "run", run);
                set(&r, "at", at);
            }
        }
        if !id.is_undefined() {
            out.push(&r);
        }
        Ok(())
    }

    /// Replaces the experiment with a new one (the old one is dropped first: its memory goes
    /// back before the new one takes its own), posts its first frame and fills in the reply.
    async fn start(
        &self,
        experiment: impl std::future::Future<Output = Result<Experiment, JsValue>>,
        run: f64,
        rests: bool,
        out: &js_sys::Array,
        reply: &js_sys::Object,
    ) -> Result<(), JsValue> {
        self.experiment.replace(None);
        self.lost.set(false);
        self.held.set(false);
        let experiment = experiment.await?;
        self.experiment.replace(Some(experiment));
        self.rests.set(rests);
        self.run.set(run);
        // After the first frame: a GPU lost at its read-back has moved the run to the CPU.
        self.publish(out).await;
        set(reply, "run", run);
        set(reply, "backend", self.experiment()?.backend());
        Ok(())
    }
}
