//! The flows a reader's button or the element's API starts: Reset, Apply, Branch here, a
//! link, another seed. Each changes the run shown, with the workers, and says what went wrong
//! in the notice or under the editor.

use wasm_bindgen::prelude::*;

use super::ElementCore;
use crate::element::engines::Failure;
use crate::element::trained::{sheets_problem, Asked};
use crate::element::{ask_states_again, states_agree, Apply};
use crate::web::element::{
    error_text, link_problem, present, problem, promise, read_asked, rejection_of,
};
use crate::web::{find_part, get, set, set_property, to_js};

/// A message to a worker: `kind` with `fields`.
pub(super) fn message(kind: &str, fields: &[(&str, JsValue)]) -> js_sys::Object {
    let message = js_sys::Object::new();
    set(&message, "type", kind);
    for (key, value) in fields {
        set(&message, key, value.clone());
    }
    message
}

impl ElementCore {
    /// Opens a `#run=` link: its settings go to the seed field and the attributes, its note to
    /// the notice; returns its sheet, or throws what is wrong with it.
    pub(super) fn open_link(&self, hash: &str) -> Result<String, JsValue> {
        let run = (self.0.trained.borrow_mut().open_link(hash)).map_err(link_problem)?;
        if let Some(note) = run.revision_note(crate::share::ENGINE_REVISION) {
            self.notify(&note);
        }
        let spec = &run.spec;
        let attributes = [
            ("latent-dims", spec.latent_dims as u64),
            ("batch-size", spec.batch_size as u64),
            ("runs", spec.runs as u64),
        ];
        self.show_spec(Some(spec.seed), &attributes)?;
        Ok(run.sheet)
    }

    pub(super) fn twin(&self) -> ElementCore {
        ElementCore(self.0.clone())
    }

    /// The promise of `flow` on this core; a failure rejects it as the page expects (newer
    /// work taking over rejects with the host's `stopped`).
    pub(super) fn flow(
        &self,
        flow: impl AsyncFnOnce(&ElementCore) -> Result<(), Failure> + 'static,
    ) -> js_sys::Promise {
        let core = self.twin();
        promise(Box::pin(async move {
            match flow(&core).await {
                Ok(()) => Ok(JsValue::UNDEFINED),
                Err(failure) => Err(rejection_of(failure, core.js().stopped())),
            }
        }))
    }

    /// What a start would read now.
    pub(super) fn asked(&self) -> Result<Asked, Failure> {
        read_asked(self.js().asked()).map_err(problem)
    }

    pub(super) async fn create(
        &self,
        sheet: &str,
        parts: Option<Vec<JsValue>>,
    ) -> Result<(), Failure> {
        let parts = parts.map_or(JsValue::NULL, |p| {
            p.into_iter().collect::<js_sys::Array>().into()
        });
        self.0
            .host
            .wait(self.js().create(sheet, parts))
            .await
            .map(drop)
    }

    /// Sends every worker `kind` with `fields`; their replies, in order.
    pub(super) async fn ask_all(
        &self,
        kind: &str,
        fields: &[(&str, JsValue)],
    ) -> Result<Vec<JsValue>, Failure> {
        let message = message(kind, fields);
        let asks: js_sys::Array = (self.js().workers().iter())
            .map(|w| JsValue::from(self.0.host.ask(&w, &message)))
            .collect();
        let replies = self.0.host.wait(js_sys::Promise::all(&asks)).await?;
        Ok(js_sys::Array::from(&replies).to_vec())
    }

    /// Puts a run's settings where a start reads them: the seed field and the attributes.
    pub(super) fn show_spec(
        &self,
        seed: Option<u64>,
        attributes: &[(&str, u64)],
    ) -> Result<(), JsValue> {
        let shown = self.shown();
        if let Some(seed) = seed {
            let field = find_part(&shown.root, "[data-field=seed]")?;
            set_property(&field, "value", seed.to_string());
        }
        for (name, value) in attributes {
            shown.node.set_attribute(name, &value.to_string())?;
        }
        Ok(())
    }

    /// Restarts with `runs` seeds from `seed` (1: the full single-run view of that seed).
    pub(super) async fn open_runs(&self, runs: u32, seed: u64) -> Result<(), Failure> {
        self.replace_view();
        (self.show_spec(Some(seed), &[("runs", runs as u64)])).map_err(problem)?;
        // The sheet that trains, not the editor's unapplied text (the editor's before any start).
        let trained = self.0.trained.borrow().sheet().to_string();
        let sheet = match trained.is_empty() {
            true => self.shown().editor.text(),
            false => trained,
        };
        self.create(&sheet, None).await?;
        self.play();
        Ok(())
    }

    pub(super) async fn reset_flow(&self) -> Result<(), Failure> {
        if self.js().workers().length() == 0 {
            return Ok(());
        }
        self.replace_view();
        let run = self.0.runs.borrow_mut().begin();
        let (settings, _, problems) = self.asked()?.read();
        for problem in &problems {
            self.notify(problem);
        }
        let seed = settings.spec.seed;
        self.0.trained.borrow_mut().reseed(seed);
        self.keep_address();
        let fields = [("seed", (seed as f64).into()), ("run", (run as f64).into())];
        self.ask_all("reset", &fields).await?;
        self.restarted(run);
        self.validate();
        self.play_if_paused_by_run();
        Ok(())
    }

    pub(super) async fn apply_flow(
        &self,
        sheet: String,
        live: bool,
        versus: Option<String>,
    ) -> Result<(), Failure> {
        if self.shown().board.is_none() {
            return Err(Failure::Problem("not ready".to_string()));
        }
        // Apply & restart starts from the seed field, as Reset does.
        let (settings, _, problems) = self.asked()?.read();
        let dims_changed = self.dims() != Some(settings.spec.latent_dims);
        let route =
            (self.0.trained.borrow()).apply_route(&sheet, versus.as_deref(), live, dims_changed);
        let route = route.map_err(|problem| {
            self.show_problem(to_js(&problem));
            Failure::Problem(problem.message)
        })?;
        self.replace_view();
        let saved = self.0.trained.borrow().clone();
        if let Err(failure) = self
            .apply_by(route, &sheet, versus, settings.spec.seed)
            .await
        {
            self.0.trained.borrow_mut().restore_lineage(&saved);
            if let Failure::Problem(problem) = &failure {
                self.show_problem(problem.into());
            }
            return Err(failure);
        }
        self.show_sheet(&sheet);
        self.applied();
        if !live {
            for problem in &problems {
                self.notify(problem);
            }
        }
        // The workers took the sheet: whatever happens from here is not a failure to apply it.
        self.play_if_paused_by_run();
        Ok(())
    }

    /// Hands `sheet` to the workers the way `route` says.
    async fn apply_by(
        &self,
        route: Apply,
        sheet: &str,
        versus: Option<String>,
        seed: u64,
    ) -> Result<(), Failure> {
        let live = route == Apply::Live;
        if route == Apply::NewWorkers {
            self.0.trained.borrow_mut().fresh(versus);
            return self.create(sheet, None).await;
        }
        let run = {
            let mut runs = self.0.runs.borrow_mut();
            if live {
                runs.latest()
            } else {
                runs.begin()
            }
        };
        let fields = [
            ("sheet", sheet.into()),
            ("live", live.into()),
            ("run", (run as f64).into()),
            ("seed", (seed as f64).into()),
        ];
        let replies = self.ask_all("sheet", &fields).await?;
        // Applied live, the run trained the old sheet up to the first worker's step.
        let at = replies.first().and_then(|r| get(r, "at").as_f64());
        let live_at = at.filter(|_| live).map(|a| a as u64);
        self.0.trained.borrow_mut().applied(sheet, live_at, seed);
        self.keep_address();
        self.took_sheet(sheet).map_err(problem)?;
        if !live {
            self.restarted(run);
        }
        Ok(())
    }

    pub(super) async fn branch_flow(&self) -> Result<(), Failure> {
        if !self.ready() || self.comparing() {
            return Ok(());
        }
        let edited = self.shown().editor.text();
        if let Some(problem) = sheets_problem(&edited, None) {
            self.show_problem(to_js(&problem));
            return Ok(());
        }
        self.replace_view();
        let at = (self.branch_point()).unwrap_or_else(|| self.shown().step());
        let saved = self.0.trained.borrow().clone();
        self.0.trained.borrow_mut().branch(at);
        self.record_edit();
        self.set_branch_point(None);
        // The branch replays the run shown: its seed and bottleneck, whatever the fields say.
        let seed = self.0.trained.borrow().spec().seed;
        let dims = self.dims().unwrap_or_default() as u64;
        self.show_spec(Some(seed), &[("latent-dims", dims)])
            .map_err(problem)?;
        let parts = if at > 0 {
            self.states_at(at).await
        } else {
            None
        };
        if let Err(failure) = self.create(&edited, parts).await {
            self.0.trained.borrow_mut().restore_lineage(&saved);
            return Err(failure);
        }
        self.applied();
        self.play_if_paused_by_run();
        Ok(())
    }

    /// The state each worker kept at or before `at` for the run shown, in order, or `None`
    /// unless every worker has one at one step (the branch then replays from the seed).
    async fn states_at(&self, at: u64) -> Option<Vec<JsValue>> {
        let spec = to_js(&self.0.trained.borrow().spec());
        let ask = async |step: u64| {
            let fields = [("at", (step as f64).into()), ("spec", spec.clone())];
            self.ask_all("state-at", &fields).await.unwrap_or_default()
        };
        let step = |r: &JsValue| {
            get(r, "step")
                .as_f64()
                .filter(|s| *s >= 0.0)
                .map(|s| s as u64)
        };
        let mut replies = ask(at).await;
        let kept: Vec<_> = replies.iter().map(step).collect();
        if let Some(again) = ask_states_again(&kept) {
            replies = ask(again).await;
        }
        let kept: Vec<_> = (replies.iter())
            .map(|r| present(r, "bytes").and_then(|_| step(r)))
            .collect();
        states_agree(&kept).then(|| replies.iter().map(|r| get(r, "bytes")).collect())
    }
}

#[wasm_bindgen]
impl ElementCore {
    /// Trains the run again from the seed field's seed.
    pub fn reset(&self) -> js_sys::Promise {
        self.flow(async |core| core.reset_flow().await)
    }

    /// Trains `sheet` from the start, or (`live`) from the run's step on; `versus`: a second
    /// sheet (B) to train on the same seeds beside it. Rejects on a broken sheet, named under
    /// the editor.
    pub fn set_dopesheet(
        &self,
        sheet: String,
        live: bool,
        versus: Option<String>,
    ) -> js_sys::Promise {
        self.flow(async move |core| core.apply_flow(sheet, live, versus).await)
    }

    /// A `#run=` link pasted into a linkable page's address (`hash`) opens as a new run; one
    /// that cannot be opened is named in the notice, and the address goes back to the run shown.
    pub fn open_pasted_link(&self, hash: String) -> js_sys::Promise {
        self.flow(async move |core| {
            if !hash.starts_with("#run=") {
                return Ok(());
            }
            core.replace_view();
            let sheet = match core.open_link(&hash) {
                Ok(sheet) => sheet,
                Err(e) => {
                    core.notify(&error_text(&e));
                    core.keep_address();
                    return Ok(());
                }
            };
            if let Ok(compare) = find_part(&core.shown().root, "[data-field=compare]") {
                set_property(&compare, "checked", false);
            }
            core.show_sheet(&sheet);
            core.create(&sheet, None).await?;
            core.play_if_paused_by_run();
            Ok(())
        })
    }
}
