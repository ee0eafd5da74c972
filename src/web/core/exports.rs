//! What the element hands out about the run shown: its link, the snippets that embed it, the
//! address of a linkable page, and its sheet as Markdown. The script puts them on the
//! clipboard, in the address bar or in a download.

use wasm_bindgen::prelude::*;

use super::ElementCore;
use crate::web::element::error_text;
use crate::web::{find_part, hash_of, set_property};

#[wasm_bindgen]
impl ElementCore {
    /// The link that reopens the run shown, for a site at `base`, shown in the share box; a
    /// run too large for a link is said so in the notice (`undefined`).
    pub fn share(&self, base: &str) -> Option<String> {
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
    pub fn embed(&self, base: &str) -> Option<String> {
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
    pub fn address(&self) -> String {
        hash_of(self.0.trained.borrow().shared()).unwrap_or_default()
    }

    /// The trained sheet as the seed's Markdown table; a sheet that has none is named under
    /// the editor (`undefined`).
    pub fn markdown(&self) -> Option<String> {
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
}
