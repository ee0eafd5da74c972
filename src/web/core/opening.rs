//! How the element opens: the sheet its link, attribute or `src` gives (or the default one,
//! where that gives none that trains), the editor on it, and the picker of shipped sheets.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::ElementCore;
use crate::element::engines::Failure;
use crate::element::SheetSource;
use crate::element::{open_sheet, sheet_request_failed, sheet_response_problem, sheet_source};
use crate::web::element::{error_text, problem};
use crate::web::{find_part, get, set, set_options, to_js};

/// How long a sheet may take to arrive: a server that never answers must not leave the
/// element waiting with nothing said.
const SHEET_TIMEOUT_MS: f64 = 10_000.0;

/// The default sheet, beside the element's script.
const DEFAULT_SHEET: &str = "dopesheets/ex-1.5.csv";

impl ElementCore {
    /// The sheet at `src` (a URL, or a path beside the element's script), or what the notice
    /// says of why it cannot be had.
    pub(super) async fn fetch_sheet(&self, src: &str) -> Result<String, String> {
        let answer = self.js().fetch(src, SHEET_TIMEOUT_MS);
        match wasm_bindgen_futures::JsFuture::from(answer).await {
            Err(e) => {
                let late = get(&e, "name").as_string().as_deref() == Some("TimeoutError");
                let timeout = late.then_some(SHEET_TIMEOUT_MS / 1000.0);
                Err(sheet_request_failed(src, timeout, &error_text(&e)))
            }
            Ok(res) => {
                let status = get(&res, "status").as_f64().unwrap_or(0.0) as u16;
                let kind = get(&res, "type").as_string().unwrap_or_default();
                match sheet_response_problem(src, status, &kind) {
                    Some(problem) => Err(problem),
                    None => Ok(get(&res, "text").as_string().unwrap_or_default()),
                }
            }
        }
    }

    /// The sheet the element was given, or why it has none.
    async fn given_sheet(&self, source: SheetSource) -> Result<String, String> {
        match source {
            SheetSource::Link(link) => self.open_link(&link).map_err(|e| error_text(&e)),
            SheetSource::Inline(text) => Ok(text),
            SheetSource::Fetch(src) => {
                let base = self.js().base();
                self.fetch_sheet(&src.unwrap_or(format!("{base}{DEFAULT_SHEET}")))
                    .await
            }
        }
    }

    /// Fills the picker with the shipped sheets `dopesheets/index.json` names; an embed that
    /// ships none offers only the sheet shown.
    async fn load_picker(&self) {
        let base = self.js().base();
        let index = self
            .js()
            .fetch(&format!("{base}dopesheets/index.json"), SHEET_TIMEOUT_MS);
        let text = match wasm_bindgen_futures::JsFuture::from(index).await {
            Ok(res) if (200.0..300.0).contains(&get(&res, "status").as_f64().unwrap_or(0.0)) => {
                get(&res, "text").as_string()
            }
            _ => None,
        };
        let parsed = js_sys::JSON::parse(&text.unwrap_or_default()).unwrap_or(JsValue::NULL);
        let names: Vec<String> = match js_sys::Array::is_array(&parsed) {
            true => (js_sys::Array::from(&parsed).iter())
                .filter_map(|n| n.as_string())
                .collect(),
            false => Vec::new(),
        };
        let Ok(picker) = find_part(&self.shown().root, "[data-field=picker]") else {
            return;
        };
        let choices = names.iter().map(|n| (n.as_str(), n.as_str()));
        set_options(
            picker.unchecked_ref(),
            [("(current)", "")].into_iter().chain(choices),
        );
    }

    /// A shipped sheet picked: it goes into the editor, to be applied, with the bottleneck
    /// its name asks for.
    pub(super) async fn pick_sheet(&self, name: String) -> Result<(), Failure> {
        if name.is_empty() {
            return Ok(());
        }
        let base = self.js().base();
        let text = self.fetch_sheet(&format!("{base}dopesheets/{name}")).await;
        let text = text.map_err(Failure::Problem)?;
        self.show_sheet(&text);
        let dims = crate::settings::latent_dims_of_sheet(&name).unwrap_or(4);
        self.show_spec(None, &[("latent-dims", dims as u64)])
            .map_err(problem)?;
        self.validate();
        Ok(())
    }
}

#[wasm_bindgen]
impl ElementCore {
    /// Opens the element on the sheet its `run` link, linkable `address`, `dopesheet` or `src`
    /// gives ([`sheet_source`]), and fills the picker. A link, attribute or URL that gives no
    /// usable sheet is named in the notice and the default sheet trains; a broken sheet stays
    /// in the editor with its located problem, to be fixed. Resolves with `{train, editor,
    /// problem}`: the sheet to train, and what the editor opens on.
    pub fn open(
        &self,
        run: Option<String>,
        address: Option<String>,
        dopesheet: Option<String>,
        src: Option<String>,
    ) -> js_sys::Promise {
        let core = self.twin();
        crate::web::element::promise(Box::pin(async move {
            let source = sheet_source(
                run.as_deref(),
                address.as_deref(),
                dopesheet.as_deref(),
                src.as_deref(),
            );
            let given = core.given_sheet(source).await;
            let opening = open_sheet(given.as_deref().map_err(String::as_str));
            if let Some(notice) = &opening.notice {
                core.notify(notice);
            }
            // The editor shows the default sheet only where the default trains.
            let fallback = match opening.train {
                Some(_) => None,
                None => {
                    let base = core.js().base();
                    let default = core.fetch_sheet(&format!("{base}{DEFAULT_SHEET}")).await;
                    Some(default.map_err(crate::web::js_error)?)
                }
            };
            // The picker fills in beside the opening: the editor does not wait for it.
            let picker = core.twin();
            wasm_bindgen_futures::spawn_local(async move { picker.load_picker().await });
            let out: JsValue = js_sys::Object::new().into();
            set(&out, "train", opening.train.or(fallback.clone()));
            set(&out, "editor", opening.editor.or(fallback));
            set(&out, "problem", to_js(&opening.problem));
            Ok(out)
        }))
    }
}
