//! What the element hands out about the run shown: its link, the snippets that embed it, the
//! address of a linkable page, and its files (the figure, the latents, the sheet as Markdown,
//! the sweep's table). The script's platform calls put them on the clipboard or in a download.

use wasm_bindgen::prelude::*;

use super::flows::message;
use super::ElementCore;
use crate::element::controls::Download;
use crate::element::engines::Failure;
use crate::web::element::{error_text, problem};
use crate::web::{find_part, get, hash_of, set_property};

impl ElementCore {
    /// Shows the link to the run (and, `embed`, the snippets that embed it on a blog) and puts
    /// it on the clipboard, where the page may write there: it is on screen either way.
    pub(super) fn share_link(&self, embed: bool) {
        let base = self.js().base();
        let link = match embed {
            true => self.embed(&base),
            false => self.share(&base),
        };
        if let Some(link) = link {
            self.js().copy(&link);
        }
    }

    /// Downloads `what`; nothing where there is nothing to hand out yet.
    pub(super) async fn download(&self, what: Download) -> Result<(), Failure> {
        let (name, content, kind): (&str, JsValue, &str) = match what {
            Download::Png => {
                let canvas: web_sys::HtmlCanvasElement = (self.shown().node.owner_document())
                    .and_then(|d| d.create_element("canvas").ok())
                    .ok_or_else(|| Failure::Problem("no canvas to draw the figure".into()))?
                    .unchecked_into();
                if !self.draw_figure(&canvas) {
                    return Ok(());
                }
                let blob = js_sys::Promise::new(&mut |made, failed| {
                    if let Err(e) = canvas.to_blob(&made) {
                        let _ = failed.call1(&JsValue::NULL, &e);
                    }
                });
                let blob = self.0.host.wait(blob).await?;
                ("color-bottleneck.png", blob, "image/png")
            }
            Download::Svg => match self.shown().board.as_ref() {
                Some(board) => (
                    "color-bottleneck.svg",
                    board.figure_svg().into(),
                    "image/svg+xml",
                ),
                None => return Ok(()),
            },
            Download::Latents => {
                let reply = self.ask_first(message("latents-csv", &[])).await?;
                ("latents.csv", get(&reply, "csv"), "text/csv")
            }
            Download::Markdown => match self.markdown() {
                Some(table) => ("dopesheet.md", table.into(), "text/markdown"),
                None => return Ok(()),
            },
            Download::SweepCsv => {
                let (name, csv) = self.sweep_csv();
                (name, csv.into(), "text/csv")
            }
        };
        if content.is_undefined() || content.is_null() {
            return Ok(());
        }
        (self.js().download(name, &content, kind)).map_err(problem)
    }

    /// On a linkable page, the address carries the run shown, so that a reload opens it
    /// again; a run too large for a link leaves the address without one. A page that may not
    /// rewrite its address (a sandboxed frame) keeps it.
    pub(super) fn keep_address(&self) {
        if !self.shown().node.has_attribute("linkable") {
            return;
        }
        let Some(window) = web_sys::window() else {
            return;
        };
        let hash = self.address();
        let address = match hash.is_empty() {
            false => hash,
            true => {
                let at = window.location();
                let path = at.pathname().unwrap_or_default();
                path + &at.search().unwrap_or_default()
            }
        };
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&address));
        }
    }

    /// The link that reopens the run shown, for a site at `base`, shown in the share box; a
    /// run too large for a link is said so in the notice (`None`).
    fn share(&self, base: &str) -> Option<String> {
        let hash = hash_of(self.0.trained.borrow().shared());
        let hash = match hash {
            Ok(hash) => hash,
            Err(e) => {
                self.notify(&error_text(&e));
                return None;
            }
        };
        let link = format!("{base}index.html{hash}");
        let root = self.shown().root.clone();
        let (field, shelf) = (
            find_part(&root, "[data-field=link]"),
            find_part(&root, ".share"),
        );
        if let (Ok(field), Ok(shelf)) = (field, shelf) {
            set_property(&field, "value", link.as_str());
            let _ = shelf.remove_attribute("hidden");
        }
        Some(link)
    }

    /// The link (as [`ElementCore::share`]) and the snippets that embed the run shown on a
    /// blog, for a site at `base`, shown beside it.
    fn embed(&self, base: &str) -> Option<String> {
        let link = self.share(base)?;
        let snippets = crate::share::embed_snippets(base, self.0.trained.borrow().shared());
        let root = self.shown().root.clone();
        let parts = ["[data-field=snippet-module]", "[data-field=snippet-iframe]"];
        for (selector, snippet) in parts.into_iter().zip(&snippets) {
            if let Ok(field) = find_part(&root, selector) {
                set_property(&field, "value", snippet.as_str());
            }
        }
        if let Ok(shelf) = find_part(&root, ".snippets") {
            let _ = shelf.remove_attribute("hidden");
        }
        Some(link)
    }

    /// The `#run=` hash a linkable page's address keeps, so that a reload opens the run
    /// shown; empty for a run too large for a link.
    fn address(&self) -> String {
        hash_of(self.0.trained.borrow().shared()).unwrap_or_default()
    }

    /// The trained sheet as the seed's Markdown table; a sheet that has none is named under
    /// the editor (`None`).
    fn markdown(&self) -> Option<String> {
        let sheet = self.0.trained.borrow().sheet().to_string();
        match crate::dopesheet::Dopesheet::parse(&sheet) {
            Ok(sheet) => Some(sheet.to_markdown()),
            Err(e) => {
                let problem = crate::element::SheetProblem::from(&e).message;
                self.shown().editor.show_problem(&problem.into());
                None
            }
        }
    }

    /// The sweep's (or comparison's) table, and the name to download it as.
    fn sweep_csv(&self) -> (&'static str, String) {
        let shown = self.shown();
        let csv = (shown.board.as_ref()).map_or_else(String::new, |b| b.sweep_csv());
        (
            ["sweep.csv", "compare.csv"][usize::from(self.comparing())],
            csv,
        )
    }

    /// Draws the figure into `canvas`; false where there is no run to draw yet.
    fn draw_figure(&self, canvas: &web_sys::HtmlCanvasElement) -> bool {
        let shown = self.shown();
        (shown.board.as_ref())
            .map(|b| b.draw_figure(canvas.clone()))
            .is_some()
    }
}
