//! Which workers train the element's run, and on which engine. A start trains on the GPU
//! where the element's plan says so and on the CPU where that fails; a move stops every worker
//! at one step and has new ones on the other engine go on from their checkpoints; a timing
//! races the GPU engine against the CPU's at the run's shape and moves the run where the GPU
//! wins clearly. The flows wait on the page's workers through [`Host`] (the element's script
//! spawns them, posts to them and routes their replies); the native tests drive them with a
//! fake.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};

use super::trained::{Asked, WorkerPart};
use super::{Runs, TrainedRun};
use crate::backend_choice::{
    backend_change, choice_is_current, moves_to_gpu, race_label, thousands,
};
use crate::run::RunSpec;
use crate::settings::Backend;

/// Why a flow did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A worker it waited on was stopped (a newer start, the element removed): nothing to
    /// show, the newer work goes on.
    Stopped,
    /// What went wrong, to show.
    Problem(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Stopped => f.write_str("the training worker was stopped"),
            Failure::Problem(p) => f.write_str(p),
        }
    }
}

/// What the flows ask a worker: the worker protocol's messages, which the page posts as
/// `{type, …}` objects, `type` naming the variant in kebab case and the fields beside it.
/// `P` is a worker's checkpoint as the page holds it: the flows pass them on, never read them.
#[derive(Debug, Clone)]
pub enum Request<P> {
    /// A fresh run of the sheet.
    Create(Start<P>),
    /// The run other workers handed over, from their checkpoints (`Start::parts`).
    Resume(Start<P>),
    /// Stop training until told to play: a hand-over follows.
    Hold,
    /// Train on to step `at`, then hand the run over.
    Checkpoint { at: u64 },
    /// The GPU engine's steps/s at the run's shape.
    GpuRate(Timing),
    /// The CPU engine's steps/s at one worker's part.
    CpuRate(Timing),
}

/// One worker's start: its part of the run (its fields go beside the others), the sheet, the
/// engine, the page's number for the run (its frames carry it) and, on a resume, every
/// worker's checkpoint in order.
#[derive(Debug, Clone)]
pub struct Start<P> {
    pub part: WorkerPart,
    pub sheet: String,
    pub backend: Backend,
    pub run: u64,
    /// A branch: the worker replays the steps before its states silently.
    pub branch: bool,
    pub parts: Vec<P>,
}

#[derive(Debug, Clone)]
pub struct Timing {
    pub spec: RunSpec,
    pub first: usize,
    pub count: usize,
    pub backend: Backend,
}

/// What a worker answers: the fields the flows read.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<P> {
    /// `hold`: the step it stopped at.
    pub step: Option<f64>,
    /// A timing: steps per second.
    pub rate: Option<f64>,
    /// `checkpoint`: its part of the run.
    pub bytes: Option<P>,
}

impl<P> Default for Reply<P> {
    fn default() -> Self {
        Reply {
            step: None,
            rate: None,
            bytes: None,
        }
    }
}

/// The GPU engine timed at the run's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed<W> {
    /// Steps per second.
    pub rate: f64,
    /// The worker that timed it, to move into, where this element timed it.
    pub probe: Option<W>,
    /// Where the page remembers a choice for the run's shape, as it named the shape when the
    /// timing began (the attributes may change while it runs).
    pub shape: String,
}

/// An engine chosen for a run's shape, as this origin remembers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub backend: String,
    /// The race as the readout showed it.
    pub race: String,
    pub adapter: String,
    /// When, in ms since the epoch.
    pub at: f64,
}

/// The page's side of the flows: its workers, and what the element shows and remembers.
// Implemented by the page and by the tests' fake, and never boxed: no `Send` bound to spell.
#[allow(async_fn_in_trait)]
pub trait Host {
    type Worker: Clone + PartialEq;
    /// A worker's checkpoint, as the page holds it.
    type Part: Clone;
    /// A new worker with `engine`'s module loaded.
    async fn spawn(&self, engine: Backend) -> Result<Self::Worker, Failure>;
    async fn ask(
        &self,
        worker: &Self::Worker,
        request: &Request<Self::Part>,
    ) -> Result<Reply<Self::Part>, Failure>;
    /// Ends a worker: its unanswered calls fail with [`Failure::Stopped`].
    fn stop(&self, worker: &Self::Worker);
    /// The workers training the run now: none once the element has left the document.
    fn workers(&self) -> Vec<Self::Worker>;
    /// `workers` train the run from now on, and any others stop. Where the element left the
    /// document meanwhile, none of them trains: [`Failure::Stopped`].
    fn adopt(&self, workers: &[Self::Worker]) -> Result<(), Failure>;
    /// Adds a line to the element's notice.
    fn notify(&self, text: &str);
    /// The backend label: the engine, and how it was chosen.
    fn show_backend(&self, engine: Backend, how: &str);
    /// Whether the run shown has trained to its end.
    fn finished(&self) -> bool;
    /// The WebGPU adapter, as `vendor|architecture|device|description` (what a remembered
    /// choice is tied to), or none (the page says why where it matters).
    async fn adapter(&self) -> Option<String>;
    /// The GPU engine timed at the run's shape in a worker of its own by `request`
    /// ([`Request::GpuRate`]); elements of one shape on a page share one timing. A failed
    /// timing stops its worker.
    async fn time_gpu(&self, request: &Request<Self::Part>)
        -> Result<Timed<Self::Worker>, Failure>;
    /// Remembers the engine chosen for the run's shape, as [`Timed::shape`] names it.
    fn remember(&self, shape: &str, choice: &Choice);
    fn now_ms(&self) -> f64;
}

/// Why the live run moves to another engine: the backend label says it, with the step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveReason {
    /// The `backend` attribute changed.
    Attribute,
    /// The GPU won the race shown.
    Faster(String),
    /// The GPU stopped working, for the reason given.
    LostGpu(String),
}

impl MoveReason {
    fn label(&self, step: u64) -> String {
        let step = thousands(step as f64);
        match self {
            MoveReason::Attribute => format!("moved at step {step}, as the backend attribute asks"),
            MoveReason::Faster(race) => format!("moved at step {step}: {race}"),
            MoveReason::LostGpu(why) => {
                format!("WebGPU stopped working ({why}); continuing on the CPU from step {step}")
            }
        }
    }
}

/// How a start went: the run's number, the engine it trains on, and what the backend label
/// says of the choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub run: u64,
    pub engine: Backend,
    pub how: String,
}

/// A flow's future, boxed: the flows call one another, and each is compiled once rather than
/// into every caller.
type Flow<'a, T> = Pin<Box<dyn Future<Output = Result<T, Failure>> + 'a>>;

/// Every flow's output, in order, or the first failure (the rest are dropped): the flows run
/// side by side.
async fn all<T>(flows: Vec<Flow<'_, T>>) -> Result<Vec<T>, Failure> {
    let mut flows: Vec<_> = flows.into_iter().map(Some).collect();
    let mut done: Vec<Option<T>> = flows.iter().map(|_| None).collect();
    poll_fn(|cx| {
        for (flow, out) in flows.iter_mut().zip(&mut done) {
            if let Some(f) = flow {
                if let Poll::Ready(result) = f.as_mut().poll(cx) {
                    *out = Some(result?);
                    *flow = None;
                }
            }
        }
        match flows.iter().all(Option::is_none) {
            true => Poll::Ready(Ok(done.iter_mut().filter_map(Option::take).collect())),
            false => Poll::Pending,
        }
    })
    .await
}

/// One turn at a time, in the order asked: a start or a move waits on several workers, and
/// two interleaved would mix them.
#[derive(Default)]
struct Turns {
    next: Cell<u64>,
    serving: Cell<u64>,
    /// Places given up while they waited (their flows were dropped): skipped when reached.
    abandoned: RefCell<Vec<u64>>,
    waiting: RefCell<Vec<Waker>>,
}

/// A place in the line. Once it is served it is the turn, and dropping it ends the turn; one
/// dropped while it waits gives its place up, so that no later flow waits on it for ever.
struct Ticket<'a> {
    turns: &'a Turns,
    number: u64,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let turns = self.turns;
        if turns.serving.get() == self.number {
            turns.advance();
        } else {
            turns.abandoned.borrow_mut().push(self.number);
        }
    }
}

impl Turns {
    /// The next place in the line is served, past any given up.
    fn advance(&self) {
        let mut next = self.serving.get() + 1;
        let mut abandoned = self.abandoned.borrow_mut();
        while let Some(i) = abandoned.iter().position(|&n| n == next) {
            abandoned.swap_remove(i);
            next += 1;
        }
        drop(abandoned);
        self.serving.set(next);
        for waker in self.waiting.take() {
            waker.wake();
        }
    }

    async fn take(&self) -> Ticket<'_> {
        let ticket = Ticket {
            turns: self,
            number: self.next.get(),
        };
        self.next.set(ticket.number + 1);
        poll_fn(|cx| {
            if self.serving.get() == ticket.number {
                Poll::Ready(())
            } else {
                self.waiting.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        ticket
    }
}

/// The element's workers and the run they train.
pub struct Engines<H: Host, F> {
    pub host: H,
    pub trained: Rc<RefCell<TrainedRun>>,
    pub runs: Rc<RefCell<Runs<F>>>,
    engine: Cell<Option<Backend>>,
    turns: Turns,
    /// The run whose lost GPU is being left behind.
    leaving: Cell<u64>,
}

impl<H: Host, F> Engines<H, F> {
    pub fn new(host: H, trained: Rc<RefCell<TrainedRun>>, runs: Rc<RefCell<Runs<F>>>) -> Self {
        Engines {
            host,
            trained,
            runs,
            engine: Cell::new(None),
            turns: Turns::default(),
            leaving: Cell::new(0),
        }
    }

    /// The engine the workers train on, once they do.
    pub fn engine(&self) -> Option<Backend> {
        self.engine.get()
    }

    fn latest(&self) -> u64 {
        self.runs.borrow().latest()
    }

    /// A fresh run of `sheet`, or (`parts`: every worker's kept state, in order) a branch from
    /// them, read from `asked`, on the `plan`'s engine (`remembered`: the race that chose it
    /// on an earlier visit).
    pub async fn start(
        &self,
        sheet: &str,
        parts: Option<Vec<H::Part>>,
        asked: &Asked,
        plan: Backend,
        remembered: Option<&str>,
    ) -> Result<Started, Failure> {
        let _turn = self.turns.take().await;
        let notices = self.trained.borrow_mut().start(asked);
        for notice in notices {
            self.host.notify(&notice);
        }
        let run = self.runs.borrow_mut().begin();
        let branch = parts.is_some();
        let parts = parts.unwrap_or_default();
        let mut engine = Backend::Cpu;
        if plan == Backend::WebGpu {
            match self
                .start_on(Backend::WebGpu, sheet, run, &parts, None, branch)
                .await
            {
                Ok(()) => engine = Backend::WebGpu,
                Err(Failure::Stopped) => return Err(Failure::Stopped),
                Err(problem) => self.host.notify(&format!("{problem}; running on the CPU")),
            }
        }
        if engine == Backend::Cpu {
            self.start_on(Backend::Cpu, sheet, run, &parts, None, branch)
                .await?;
        }
        self.trained.borrow_mut().trains(sheet);
        let how = match remembered {
            Some(race) if engine == plan => format!("remembered: {race}"),
            _ => String::new(),
        };
        Ok(Started { run, engine, how })
    }

    /// New workers on `engine`, each training its part of run `run`: a fresh run of `sheet`,
    /// or the run the checkpoints in `parts` hand over. A sweep on the CPU is shared among
    /// workers; a GPU trains it whole. `worker`: one already spawned on `engine`, to take the
    /// first part. Where any fails, those spawned here stop.
    fn start_on<'a>(
        &'a self,
        engine: Backend,
        sheet: &'a str,
        run: u64,
        parts: &'a [H::Part],
        worker: Option<H::Worker>,
        branch: bool,
    ) -> Flow<'a, ()> {
        Box::pin(async move {
            let shares = self
                .trained
                .borrow_mut()
                .worker_parts(engine == Backend::Cpu);
            let spawned: RefCell<Vec<H::Worker>> = RefCell::default();
            let starts = shares.into_iter().enumerate().map(|(i, part)| {
                let given = worker.clone().filter(|_| i == 0);
                let spawned = &spawned;
                Box::pin(async move {
                    let w = match given {
                        Some(w) => w,
                        None => {
                            let w = self.host.spawn(engine).await?;
                            spawned.borrow_mut().push(w.clone());
                            w
                        }
                    };
                    let start = Start {
                        part,
                        sheet: sheet.to_string(),
                        backend: engine,
                        run,
                        branch,
                        parts: parts.to_vec(),
                    };
                    let request = match parts.is_empty() {
                        true => Request::Create(start),
                        false => Request::Resume(start),
                    };
                    self.host.ask(&w, &request).await.map(|_| w)
                }) as Flow<'_, H::Worker>
            });
            let workers = match all(starts.collect()).await {
                Ok(workers) => workers,
                Err(e) => {
                    for w in spawned.borrow().iter() {
                        self.host.stop(w);
                    }
                    return Err(e);
                }
            };
            self.host.adopt(&workers)?;
            self.engine.set(Some(engine));
            Ok(())
        })
    }

    /// Every worker's reply to `request`, in order.
    async fn ask_all(&self, request: &Request<H::Part>) -> Result<Vec<Reply<H::Part>>, Failure> {
        let workers = self.host.workers();
        let asks = workers
            .iter()
            .map(|w| Box::pin(self.host.ask(w, request)) as Flow<'_, Reply<H::Part>>);
        all(asks.collect()).await
    }

    /// Moves live run `run` to `engine`: every worker stops at one step and hands over its
    /// part (weights, Adam's moments, anchor, sampler, video so far), and new workers go on
    /// from there; the history on the page stays. `worker`: one already on `engine`, to take
    /// the first part (it stops where the run has moved on). Returns the step it moved at.
    pub fn move_to<'a>(
        &'a self,
        engine: Backend,
        run: u64,
        why: &'a MoveReason,
        worker: Option<H::Worker>,
    ) -> Flow<'a, Option<u64>> {
        Box::pin(async move {
            let _turn = self.turns.take().await;
            if run != self.latest() || self.host.workers().is_empty() {
                if let Some(w) = worker {
                    self.host.stop(&w);
                }
                return Ok(None);
            }
            let held = self.ask_all(&Request::Hold).await?;
            let at = (held.iter()).filter_map(|h| h.step).fold(0.0, f64::max) as u64;
            let handed = self.ask_all(&Request::Checkpoint { at }).await?;
            let Some(parts) = handed
                .into_iter()
                .map(|p| p.bytes)
                .collect::<Option<Vec<_>>>()
            else {
                return Err(Failure::Problem(
                    "a worker handed over no checkpoint".into(),
                ));
            };
            let next = self.runs.borrow_mut().begin();
            let sheet = self.trained.borrow().sheet().to_string();
            let moved = match self
                .start_on(engine, &sheet, next, &parts, worker.clone(), false)
                .await
            {
                Ok(()) => engine,
                Err(Failure::Problem(p)) if engine != Backend::Cpu => {
                    // The worker given for the first part failed with the rest.
                    if let Some(w) = &worker {
                        self.host.stop(w);
                    }
                    self.host.notify(&format!("{p}; staying on the CPU"));
                    self.start_on(Backend::Cpu, &sheet, next, &parts, None, false)
                        .await?;
                    Backend::Cpu
                }
                Err(e) => return Err(e),
            };
            self.runs.borrow_mut().show(next);
            let how = match moved == engine {
                true => why.label(at),
                false => String::new(),
            };
            self.host.show_backend(moved, &how);
            Ok((moved == engine).then_some(at))
        })
    }

    /// The `backend` attribute became `asked` while workers train: the live run moves to the
    /// engine it names, with its checkpoint, or the GPU is timed as for a fresh start on `auto`
    /// ([`backend_change`]); `comparing`: the run is a comparison, which stays on the CPU.
    pub async fn backend_changed(
        &self,
        asked: Option<&str>,
        comparing: bool,
        gpu_offered: bool,
    ) -> Result<(), Failure> {
        let Some(engine) = self.engine.get() else {
            return Ok(());
        };
        let change = backend_change(asked, engine, comparing, gpu_offered);
        if let Some(notice) = &change.notice {
            self.host.notify(notice);
        }
        let run = self.latest();
        if let Some(to) = change.move_to {
            self.move_to(to, run, &MoveReason::Attribute, None).await?;
        }
        if change.time_gpu {
            self.time_gpu(run, None).await?;
        }
        Ok(())
    }

    /// The GPU stopped working (`reason`): the run goes on on the CPU engine from its last
    /// read-back, and the notice says so. Once per run.
    pub async fn leave_lost_gpu(&self, reason: &str) -> Result<(), Failure> {
        let run = self.latest();
        if self.leaving.replace(run) == run {
            return Ok(());
        }
        let why = MoveReason::LostGpu(reason.to_string());
        if let Some(step) = self.move_to(Backend::Cpu, run, &why, None).await? {
            self.host.notify(&why.label(step));
        }
        Ok(())
    }

    /// Times the GPU engine at run `run`'s shape in a worker of its own while the CPU trains,
    /// then the CPU engine at one worker's part; remembers the choice, and moves the run to
    /// the GPU where it wins clearly ([`moves_to_gpu`]). `stored`: the choice remembered on an
    /// earlier visit, which holds while it is current.
    pub async fn time_gpu(&self, run: u64, stored: Option<Choice>) -> Result<(), Failure> {
        // Still the newest run, and still trained here.
        let current = || run == self.latest() && !self.host.workers().is_empty();
        let shown = || self.engine.get().unwrap_or(Backend::Cpu);
        let Some(adapter) = self.host.adapter().await else {
            return Ok(());
        };
        if !current() {
            return Ok(());
        }
        if let Some(stored) =
            stored.filter(|s| choice_is_current(s.at, self.host.now_ms(), &s.adapter, &adapter))
        {
            self.host
                .show_backend(shown(), &format!("remembered: {}", stored.race));
            return Ok(());
        }
        self.host.show_backend(shown(), "timing webgpu…");
        let spec = self.trained.borrow().spec();
        let gpu_rate = Request::GpuRate(Timing {
            spec,
            first: 0,
            count: spec.runs,
            backend: Backend::WebGpu,
        });
        let Timed {
            rate: gpu,
            probe,
            shape,
        } = match self.host.time_gpu(&gpu_rate).await {
            Ok(timed) => timed,
            // No GPU engine, it cannot take this run, or the worker timing it (perhaps
            // another element's) was stopped: the CPU's engine goes on.
            Err(_) => {
                if current() {
                    self.host.show_backend(shown(), "");
                }
                return Ok(());
            }
        };
        let stop_probe = || {
            if let Some(p) = &probe {
                self.host.stop(p);
            }
        };
        if !current() {
            stop_probe();
            return Ok(());
        }
        // On the CPU a sweep's parts train side by side: its speed is one worker's at its part.
        let count = self.trained.borrow().first_part_runs();
        let timing = Timing {
            spec,
            first: 0,
            count,
            backend: Backend::Cpu,
        };
        let first = self.host.workers().into_iter().next();
        let cpu = match first {
            Some(w) => (self.host.ask(&w, &Request::CpuRate(timing)).await)
                .ok()
                .and_then(|r| r.rate)
                .unwrap_or(0.0),
            None => 0.0,
        };
        let moves = moves_to_gpu(cpu, gpu);
        let chosen = if moves { Backend::WebGpu } else { Backend::Cpu };
        let race = race_label(gpu, cpu, chosen.name());
        self.host.remember(
            &shape,
            &Choice {
                backend: chosen.name().to_string(),
                race: race.clone(),
                adapter,
                at: self.host.now_ms(),
            },
        );
        if !current() || !moves || self.host.finished() {
            stop_probe();
            if current() {
                self.host.show_backend(shown(), &race);
            }
            return Ok(());
        }
        self.move_to(Backend::WebGpu, run, &MoveReason::Faster(race), probe)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::Context;

    use super::*;

    const SHEET: &str = "STEP,PHASE,ACTION,lr,loss-recon\n0,One,,0.01,1\n300,,,,\n";

    /// Polls `flow` to its end; the fake's calls pend once each, so flows polled together
    /// interleave.
    fn finish<T>(flow: impl Future<Output = T>) -> T {
        let mut flow = pin!(flow);
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..10_000 {
            if let Poll::Ready(v) = flow.as_mut().poll(&mut cx) {
                return v;
            }
        }
        panic!("the flow never finished")
    }

    async fn pend_once() {
        let mut pended = false;
        poll_fn(|_| match std::mem::replace(&mut pended, true) {
            true => Poll::Ready(()),
            false => Poll::Pending,
        })
        .await
    }

    /// Workers are numbers; everything the flows do is written to `log`.
    #[derive(Default)]
    struct Fake {
        log: RefCell<Vec<String>>,
        spawned: Cell<u32>,
        workers: RefCell<Vec<u32>>,
        refuses: Cell<Option<Backend>>,
        /// The worker whose start fails.
        breaks: Cell<Option<u32>>,
        gpu_rate: Cell<f64>,
        cpu_rate: Cell<f64>,
        no_adapter: Cell<bool>,
        gone: Cell<bool>,
        /// Runs begun while the GPU is timed (a reset meanwhile).
        runs: RefCell<Option<Rc<RefCell<Runs<()>>>>>,
    }

    impl Fake {
        fn note(&self, line: String) {
            self.log.borrow_mut().push(line);
        }
    }

    impl Host for &Fake {
        type Worker = u32;
        type Part = u8;

        async fn spawn(&self, engine: Backend) -> Result<u32, Failure> {
            pend_once().await;
            if self.refuses.get() == Some(engine) {
                return Err(Failure::Problem(format!("no {} engine", engine.name())));
            }
            let w = self.spawned.get() + 1;
            self.spawned.set(w);
            self.note(format!("spawn {} #{w}", engine.name()));
            Ok(w)
        }

        async fn ask(&self, w: &u32, request: &Request<u8>) -> Result<Reply<u8>, Failure> {
            pend_once().await;
            let (what, reply) = match request {
                Request::Create(s) | Request::Resume(s) => {
                    if self.breaks.get() == Some(*w) {
                        return Err(Failure::Problem("the sheet broke".into()));
                    }
                    let kind = ["create", "resume"][usize::from(!s.parts.is_empty())];
                    let parts = &s.parts;
                    let what = format!(
                        "{kind} {} run {} runs {}+{} parts {parts:?}",
                        s.backend.name(),
                        s.run,
                        s.part.first,
                        s.part.count
                    );
                    (what, Reply::default())
                }
                Request::Hold => {
                    let step = Some(f64::from(*w) * 100.0);
                    (
                        "hold".into(),
                        Reply {
                            step,
                            ..Reply::default()
                        },
                    )
                }
                Request::Checkpoint { at } => {
                    let bytes = Some(*w as u8);
                    (
                        format!("checkpoint {at}"),
                        Reply {
                            bytes,
                            ..Reply::default()
                        },
                    )
                }
                Request::CpuRate(t) | Request::GpuRate(t) => {
                    let rate = Some(self.cpu_rate.get());
                    (
                        format!("cpu-rate {}", t.count),
                        Reply {
                            rate,
                            ..Reply::default()
                        },
                    )
                }
            };
            self.note(format!("#{w} {what}"));
            Ok(reply)
        }

        fn stop(&self, w: &u32) {
            self.note(format!("stop #{w}"));
        }

        fn workers(&self) -> Vec<u32> {
            self.workers.borrow().clone()
        }

        fn adopt(&self, workers: &[u32]) -> Result<(), Failure> {
            self.note(format!("adopt {workers:?}"));
            match self.gone.get() {
                true => Err(Failure::Stopped),
                false => {
                    *self.workers.borrow_mut() = workers.to_vec();
                    Ok(())
                }
            }
        }

        fn notify(&self, text: &str) {
            self.note(format!("notice: {text}"));
        }

        fn show_backend(&self, engine: Backend, how: &str) {
            self.note(format!("label {}: {how}", engine.name()));
        }

        fn finished(&self) -> bool {
            false
        }

        async fn adapter(&self) -> Option<String> {
            (!self.no_adapter.get()).then(|| "gpu".into())
        }

        async fn time_gpu(&self, request: &Request<u8>) -> Result<Timed<u32>, Failure> {
            let probe = self.spawn(Backend::WebGpu).await?;
            let Request::GpuRate(timing) = request else {
                panic!("not a timing: {request:?}")
            };
            self.note(format!("#{probe} gpu-rate {}", timing.count));
            if let Some(runs) = self.runs.borrow().as_ref() {
                runs.borrow_mut().begin();
            }
            Ok(Timed {
                rate: self.gpu_rate.get(),
                probe: Some(probe),
                shape: "the shape".into(),
            })
        }

        fn remember(&self, shape: &str, choice: &Choice) {
            assert_eq!(shape, "the shape", "remembered where the timing named it");
            self.note(format!("remember {}: {}", choice.backend, choice.race));
        }

        fn now_ms(&self) -> f64 {
            1_000.0
        }
    }

    fn asked(runs: &str, workers: &str) -> Asked {
        Asked {
            runs: Some(runs.into()),
            workers: Some(workers.into()),
            cores: 4,
            ..Asked::default()
        }
    }

    fn engines(fake: &Fake) -> Engines<&Fake, ()> {
        Engines::new(fake, Rc::default(), Rc::default())
    }

    fn log(fake: &Fake) -> Vec<String> {
        fake.log.take()
    }

    /// Engines that started a run of `runs` seeds in `workers` CPU workers, the log emptied.
    fn started<'a>(fake: &'a Fake, runs: &str, workers: &str) -> Engines<&'a Fake, ()> {
        let e = engines(fake);
        finish(e.start(SHEET, None, &asked(runs, workers), Backend::Cpu, None)).unwrap();
        log(fake);
        e
    }

    #[test]
    fn a_start_on_the_cpu_shares_the_sweep_among_its_workers() {
        let fake = Fake::default();
        let e = engines(&fake);
        let started = finish(e.start(SHEET, None, &asked("8", "2"), Backend::Cpu, None));
        let expected = Started {
            run: 1,
            engine: Backend::Cpu,
            how: String::new(),
        };
        assert_eq!(started, Ok(expected));
        let mut lines = log(&fake);
        lines[..4].sort();
        assert_eq!(
            lines,
            [
                "#1 create cpu run 1 runs 0+4 parts []",
                "#2 create cpu run 1 runs 4+4 parts []",
                "spawn cpu #1",
                "spawn cpu #2",
                "adopt [1, 2]",
            ]
        );
        assert_eq!(e.engine(), Some(Backend::Cpu));
        assert_eq!(e.trained.borrow().sheet(), SHEET);
    }

    #[test]
    fn a_gpu_trains_the_whole_sweep_and_the_label_says_why_it_was_chosen() {
        let fake = Fake::default();
        let e = engines(&fake);
        let race = "webgpu 9,000 · cpu 1,000 steps/s → webgpu";
        let started = finish(e.start(SHEET, None, &asked("8", "2"), Backend::WebGpu, Some(race)));
        assert_eq!(started.unwrap().how, format!("remembered: {race}"));
        assert_eq!(
            log(&fake),
            [
                "spawn webgpu #1",
                "#1 create webgpu run 1 runs 0+8 parts []",
                "adopt [1]"
            ]
        );
    }

    #[test]
    fn a_gpu_that_cannot_start_leaves_the_run_on_the_cpu_and_says_so() {
        let fake = Fake::default();
        fake.refuses.set(Some(Backend::WebGpu));
        let e = engines(&fake);
        let started = finish(e.start(SHEET, None, &asked("1", "1"), Backend::WebGpu, Some("r")));
        assert_eq!((started.unwrap().engine), Backend::Cpu);
        assert_eq!(
            log(&fake),
            [
                "notice: no webgpu engine; running on the CPU",
                "spawn cpu #1",
                "#1 create cpu run 1 runs 0+1 parts []",
                "adopt [1]",
            ]
        );
    }

    #[test]
    fn a_worker_that_fails_to_start_stops_the_others_and_none_is_adopted() {
        let fake = Fake::default();
        fake.breaks.set(Some(2));
        let e = engines(&fake);
        let started = finish(e.start(SHEET, None, &asked("8", "2"), Backend::Cpu, None));
        assert_eq!(started, Err(Failure::Problem("the sheet broke".into())));
        let lines = log(&fake);
        assert!(lines.contains(&"stop #1".to_string()) && lines.contains(&"stop #2".to_string()));
        assert!(!lines.iter().any(|l| l.starts_with("adopt")), "{lines:?}");
        assert_eq!(e.engine(), None);
    }

    #[test]
    fn workers_started_after_the_element_left_the_document_are_stopped() {
        let fake = Fake::default();
        fake.gone.set(true);
        let e = engines(&fake);
        let started = finish(e.start(SHEET, None, &asked("1", "1"), Backend::Cpu, None));
        assert_eq!(started, Err(Failure::Stopped));
        assert_eq!(e.engine(), None);
    }

    #[test]
    fn a_branch_resumes_every_worker_from_the_kept_states() {
        let fake = Fake::default();
        let e = engines(&fake);
        let parts = Some(vec![7, 8]);
        finish(e.start(SHEET, parts, &asked("2", "2"), Backend::Cpu, None)).unwrap();
        let lines = log(&fake);
        assert!(lines.contains(&"#1 resume cpu run 1 runs 0+1 parts [7, 8]".to_string()));
        assert!(lines.contains(&"#2 resume cpu run 1 runs 1+1 parts [7, 8]".to_string()));
    }

    #[test]
    fn a_move_hands_every_workers_checkpoint_at_the_latest_step_to_the_new_ones() {
        let fake = Fake::default();
        let e = started(&fake, "8", "2");
        let moved = finish(e.move_to(Backend::WebGpu, 1, &MoveReason::Attribute, None));
        assert_eq!(moved, Ok(Some(200)));
        assert_eq!(
            log(&fake),
            [
                "#1 hold",
                "#2 hold",
                "#1 checkpoint 200",
                "#2 checkpoint 200",
                "spawn webgpu #3",
                "#3 resume webgpu run 2 runs 0+8 parts [1, 2]",
                "adopt [3]",
                "label webgpu: moved at step 200, as the backend attribute asks",
            ]
        );
        assert_eq!(e.runs.borrow().shown(), 2);
        assert_eq!(e.engine(), Some(Backend::WebGpu));
    }

    #[test]
    fn a_move_the_gpu_refuses_goes_on_on_the_cpu() {
        let fake = Fake::default();
        let e = engines(&fake);
        finish(e.start(SHEET, None, &asked("1", "1"), Backend::Cpu, None)).unwrap();
        fake.refuses.set(Some(Backend::WebGpu));
        log(&fake);
        let moved = finish(e.move_to(Backend::WebGpu, 1, &MoveReason::Attribute, None));
        assert_eq!(moved, Ok(None));
        let lines = log(&fake);
        assert_eq!(
            lines[2..],
            [
                "notice: no webgpu engine; staying on the CPU",
                "spawn cpu #2",
                "#2 resume cpu run 2 runs 0+1 parts [1]",
                "adopt [2]",
                "label cpu: ",
            ]
        );
    }

    #[test]
    fn a_move_for_a_run_that_was_replaced_only_stops_its_worker() {
        let fake = Fake::default();
        let e = engines(&fake);
        finish(e.start(SHEET, None, &asked("1", "1"), Backend::Cpu, None)).unwrap();
        e.runs.borrow_mut().begin();
        log(&fake);
        let moved = finish(e.move_to(Backend::WebGpu, 1, &MoveReason::Attribute, Some(9)));
        assert_eq!((moved, log(&fake)), (Ok(None), vec!["stop #9".to_string()]));
    }

    fn timed(gpu: f64, cpu: f64, runs: &str) -> (Fake, Vec<String>) {
        let fake = Fake::default();
        fake.gpu_rate.set(gpu);
        fake.cpu_rate.set(cpu);
        let e = engines(&fake);
        finish(e.start(SHEET, None, &asked(runs, "2"), Backend::Cpu, None)).unwrap();
        log(&fake);
        finish(e.time_gpu(1, None)).unwrap();
        let lines = log(&fake);
        (fake, lines)
    }

    #[test]
    fn a_clearly_faster_gpu_takes_the_run_over_in_the_worker_that_timed_it() {
        let (_, lines) = timed(3_000.0, 1_000.0, "8");
        let race = "webgpu 3,000 · cpu 1,000 steps/s → webgpu";
        assert_eq!(
            lines,
            [
                "label cpu: timing webgpu…".to_string(),
                "spawn webgpu #3".into(),
                "#3 gpu-rate 8".into(),
                // On the CPU a sweep's speed is one worker's at its part.
                "#1 cpu-rate 4".into(),
                format!("remember webgpu: {race}"),
                "#1 hold".into(),
                "#2 hold".into(),
                "#1 checkpoint 200".into(),
                "#2 checkpoint 200".into(),
                "#3 resume webgpu run 2 runs 0+8 parts [1, 2]".into(),
                "adopt [3]".into(),
                format!("label webgpu: moved at step 200: {race}"),
            ]
        );
    }

    #[test]
    fn a_gpu_that_is_not_clearly_faster_leaves_the_run_and_its_worker_stops() {
        let (_, lines) = timed(1_200.0, 1_000.0, "1");
        let race = "webgpu 1,200 · cpu 1,000 steps/s → cpu";
        assert_eq!(
            lines[4..],
            [
                format!("remember cpu: {race}"),
                "stop #2".into(),
                format!("label cpu: {race}"),
            ]
        );
    }

    #[test]
    fn without_an_adapter_or_with_a_current_remembered_choice_nothing_is_timed() {
        let fake = Fake::default();
        let e = started(&fake, "1", "1");
        fake.no_adapter.set(true);
        finish(e.time_gpu(1, None)).unwrap();
        assert_eq!(log(&fake), Vec::<String>::new());
        fake.no_adapter.set(false);
        let stored = |adapter: &str, at: f64| Choice {
            backend: "cpu".into(),
            race: "an old race".into(),
            adapter: adapter.into(),
            at,
        };
        finish(e.time_gpu(1, Some(stored("gpu", 0.0)))).unwrap();
        assert_eq!(log(&fake), ["label cpu: remembered: an old race"]);
        // Another adapter, or a choice from the future: timed again.
        for other in [stored("another gpu", 0.0), stored("gpu", 5_000.0)] {
            finish(e.time_gpu(1, Some(other))).unwrap();
            assert_eq!(log(&fake)[0], "label cpu: timing webgpu…");
        }
    }

    #[test]
    fn a_run_replaced_while_the_gpu_is_timed_remembers_nothing_and_stops_the_worker() {
        let fake = Fake::default();
        fake.gpu_rate.set(9_000.0);
        let e = engines(&fake);
        finish(e.start(SHEET, None, &asked("1", "1"), Backend::Cpu, None)).unwrap();
        *fake.runs.borrow_mut() = Some(e.runs.clone());
        log(&fake);
        finish(e.time_gpu(1, None)).unwrap();
        let lines = log(&fake);
        assert_eq!(
            lines.last().map(String::as_str),
            Some("stop #2"),
            "{lines:?}"
        );
        assert!(!lines.iter().any(|l| l.starts_with("remember")));
    }

    #[test]
    fn starts_asked_together_take_turns_in_the_order_asked() {
        let fake = Fake::default();
        let e = engines(&fake);
        let (a, b) = (asked("1", "1"), asked("1", "1"));
        let started = finish(all(vec![
            Box::pin(e.start("a", None, &a, Backend::Cpu, None)),
            Box::pin(e.start("b", None, &b, Backend::Cpu, None)),
        ]));
        let runs: Vec<u64> = started.unwrap().iter().map(|s| s.run).collect();
        assert_eq!(runs, [1, 2]);
        assert_eq!(
            log(&fake),
            [
                "spawn cpu #1",
                "#1 create cpu run 1 runs 0+1 parts []",
                "adopt [1]",
                "spawn cpu #2",
                "#2 create cpu run 2 runs 0+1 parts []",
                "adopt [2]",
            ]
        );
        assert_eq!(e.trained.borrow().sheet(), "b");
    }

    #[test]
    fn the_backend_attribute_moves_the_live_run_times_the_gpu_or_leaves_a_comparison() {
        let fake = Fake::default();
        fake.gpu_rate.set(100.0);
        fake.cpu_rate.set(1_000.0);
        let e = engines(&fake);
        finish(e.backend_changed(Some("webgpu"), false, true)).unwrap();
        assert_eq!(
            log(&fake),
            Vec::<String>::new(),
            "no workers yet: nothing moves"
        );
        finish(e.start(SHEET, None, &asked("1", "1"), Backend::Cpu, None)).unwrap();
        log(&fake);
        finish(e.backend_changed(Some("cpu"), false, true)).unwrap();
        assert_eq!(log(&fake), Vec::<String>::new(), "already there");
        finish(e.backend_changed(Some("webgpu"), false, true)).unwrap();
        let lines = log(&fake);
        let said = "label webgpu: moved at step 100, as the backend attribute asks";
        assert_eq!(lines.last().map(String::as_str), Some(said), "{lines:?}");
        finish(e.backend_changed(Some("cpu"), true, true)).unwrap();
        let notice =
            "notice: a comparison trains on the CPU; the backend applies to the next single sheet";
        assert_eq!(log(&fake), [notice]);
        finish(e.backend_changed(Some("cpu"), false, true)).unwrap();
        log(&fake);
        finish(e.backend_changed(Some("fast"), false, true)).unwrap();
        let lines = log(&fake);
        assert!(
            lines[0].starts_with("notice: ") && lines[0].contains("fast"),
            "{lines:?}"
        );
        assert_eq!(lines[1], "label cpu: timing webgpu…", "{lines:?}");
    }

    #[test]
    fn a_start_dropped_while_it_waits_for_its_turn_gives_the_turn_up() {
        let fake = Fake::default();
        let e = engines(&fake);
        let (a, b, c) = (asked("1", "1"), asked("1", "1"), asked("1", "1"));
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = Box::pin(e.start("a", None, &a, Backend::Cpu, None));
        assert!(
            first.as_mut().poll(&mut cx).is_pending(),
            "a's worker is spawning"
        );
        let mut second = Box::pin(e.start("b", None, &b, Backend::Cpu, None));
        assert!(
            second.as_mut().poll(&mut cx).is_pending(),
            "b waits for a's turn"
        );
        drop(second);
        assert_eq!(finish(first).map(|s| s.run), Ok(1));
        let third = finish(e.start("c", None, &c, Backend::Cpu, None));
        assert_eq!(third.map(|s| s.run), Ok(2), "c is not kept waiting for b");
        assert_eq!(e.trained.borrow().sheet(), "c");
    }

    #[test]
    fn a_lost_gpu_is_left_once_for_the_cpu_and_the_notice_says_so() {
        let fake = Fake::default();
        let e = engines(&fake);
        finish(e.start(SHEET, None, &asked("1", "1"), Backend::WebGpu, None)).unwrap();
        log(&fake);
        let left = finish(all(vec![
            Box::pin(e.leave_lost_gpu("device lost")),
            Box::pin(e.leave_lost_gpu("device lost")),
        ]));
        assert_eq!(left, Ok(vec![(), ()]));
        let lines = log(&fake);
        let said = "WebGPU stopped working (device lost); continuing on the CPU from step 100";
        assert_eq!(lines.iter().filter(|l| l.starts_with("spawn")).count(), 1);
        assert_eq!(
            lines[lines.len() - 2..],
            [format!("label cpu: {said}"), format!("notice: {said}")]
        );
    }
}
