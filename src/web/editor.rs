//! The element's sheet editor: A's and B's text, the problem named under them, Undo and Redo,
//! the note on what an edit reaches, and the buttons that act on one sheet. It owns the undo
//! history ([`SheetEdits`]) and finds its parts once in the element's shadow root; the page
//! hands it the typing and the run it compares an edit with.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, ShadowRoot};

use super::{find_parts, get, set_property, set_text, value};
use crate::element::{self, trained::sheets_problem};
use crate::sheet_edits::SheetEdits;

/// The editor as the page sees it.
pub struct SheetEditor {
    edits: SheetEdits,
    sheet: HtmlElement,
    sheet_b: HtmlElement,
    compare: Element,
    sheets: Element,
    error: Element,
    edit_note: Element,
    undo: Element,
    redo: Element,
    branch: Element,
    apply_live: Element,
    sweep_csv: Element,
    /// The step last looked back at on the schedule: where *Branch here* branches.
    branch_at: Option<u64>,
}

/// The undo history of an editor that let go of its element's parts (the element left the
/// page), for the editor made when it is put back.
pub struct EditHistory(SheetEdits);

impl Default for EditHistory {
    fn default() -> Self {
        EditHistory(SheetEdits::new(""))
    }
}

impl SheetEditor {
    /// The editor in the element's shadow root, with `history` (an earlier editor's, see
    /// [`SheetEditor::into_history`]) or else a history starting at the text it shows.
    pub fn new(root: &ShadowRoot, history: Option<EditHistory>) -> Result<SheetEditor, JsValue> {
        let [sheet, sheet_b, compare, sheets, error, edit_note, undo, redo, branch, apply_live, sweep_csv] =
            find_parts(
                root,
                [
                    "[data-field=sheet]",
                    "[data-field=sheet-b]",
                    "[data-field=compare]",
                    ".sheets",
                    "[data-field=error]",
                    "[data-field=edit-note]",
                    "[data-action=undo]",
                    "[data-action=redo]",
                    "[data-action=branch]",
                    "[data-action=apply-live]",
                    "[data-action=sweep-csv]",
                ],
            )?;
        let edits = match history {
            Some(EditHistory(edits)) => edits,
            None => SheetEdits::new(&value(&sheet)),
        };
        Ok(SheetEditor {
            edits,
            sheet: sheet.unchecked_into(),
            sheet_b: sheet_b.unchecked_into(),
            compare,
            sheets,
            error,
            edit_note,
            undo,
            redo,
            branch,
            apply_live,
            sweep_csv,
            branch_at: None,
        })
    }

    /// The undo history, for an editor made when the element is put back; this one is about to
    /// let go of the element's parts.
    pub fn take_history(&mut self) -> EditHistory {
        EditHistory(std::mem::replace(&mut self.edits, SheetEdits::new("")))
    }

    /// A's text, as the editor holds it (edits not yet applied included).
    pub fn text(&self) -> String {
        value(&self.sheet)
    }

    /// Opens the editor on `text`: its history starts there.
    pub fn open(&mut self, text: &str) {
        self.show(text);
        self.edits = SheetEdits::new(text);
        self.show_undo();
    }

    /// Shows `text` in A's editor (not yet an edit: [`SheetEditor::record`] makes it one).
    pub fn show(&self, text: &str) {
        set_property(&self.sheet, "value", text);
    }

    /// B's text while *compare with B* is ticked.
    pub fn versus(&self) -> Option<String> {
        let ticked = get(&self.compare, "checked").as_bool() == Some(true);
        ticked.then(|| value(&self.sheet_b))
    }

    /// Ticks *compare with B* and shows `versus` in B's editor.
    pub fn compare_with(&self, versus: &str) {
        set_property(&self.compare, "checked", true);
        set_property(&self.sheet_b, "value", versus);
    }

    /// Typing in either editor: checks the sheets now, unless they are too long to check on
    /// every key; returns whether they were (the page checks them at the pause instead).
    pub fn typed(&self) -> bool {
        let (text, versus) = (self.text(), self.versus());
        let long = text.len() + versus.as_ref().map_or(0, String::len) > element::LONG_SHEETS;
        if !long {
            self.check(&text, versus.as_deref());
        }
        long
    }

    /// Names A's problem under the editors, or else B's while *compare with B* is ticked;
    /// returns whether there was one.
    pub fn validate(&self) -> bool {
        self.check(&self.text(), self.versus().as_deref())
    }

    /// Names a problem the engine found (`{message, …}`, or an error) under the editors: its
    /// message says where in which sheet.
    pub fn show_problem(&self, problem: &JsValue) {
        let message = (problem.as_string())
            .or_else(|| get(problem, "message").as_string())
            .unwrap_or_default();
        set_text(&self.error, &message);
    }

    /// The sheet was applied or branched from: nothing is left to say under it.
    pub fn applied(&self) {
        set_text(&self.error, "");
        set_text(&self.edit_note, "");
    }

    /// Records A's text as an edit (for Undo), if it is a new one, and notes whether it
    /// reaches the run that trains `running`, now at `step` and stopping at `until`.
    pub fn record(&mut self, running: &str, step: u64, until: Option<u64>) {
        let text = self.text();
        self.edits.record(&text);
        self.show_undo();
        let note = element::edit_note(running, &text, step, until);
        set_text(&self.edit_note, note.as_deref().unwrap_or(""));
    }

    /// Undo (`back`) or Redo: A's editor shows the text before or after.
    pub fn undo(&mut self, back: bool) {
        let text = if back {
            self.edits.undo()
        } else {
            self.edits.redo()
        };
        if let Some(text) = text.map(str::to_string) {
            self.show(&text);
            self.validate();
        }
        self.show_undo();
    }

    /// Shows B's editor beside A's while *compare with B* is ticked (a copy of A's to edit,
    /// at first). While the run shown is a comparison, Apply live and Branch here are off:
    /// they act on one sheet.
    pub fn show_compare(&self, comparing: bool) {
        let on = self.versus().is_some();
        self.sheet_b.set_hidden(!on);
        let _ = (self.sheets).set_attribute("class", if on { "sheets compare" } else { "sheets" });
        if on && value(&self.sheet_b).is_empty() {
            set_property(&self.sheet_b, "value", self.text());
        }
        set_property(&self.apply_live, "disabled", comparing);
        set_property(&self.branch, "disabled", comparing);
        let csv = if comparing {
            "Download comparison CSV"
        } else {
            "Download sweep CSV"
        };
        set_text(&self.sweep_csv, csv);
    }

    /// The step last looked back at (`None`: none, the live step), said on *Branch here*.
    pub fn set_branch_point(&mut self, step: Option<u64>) {
        self.branch_at = step;
        let label = match self.branch_at {
            None => "Branch here".to_string(),
            Some(step) => format!("Branch at step {step}"),
        };
        set_text(&self.branch, &label);
    }

    pub fn branch_point(&self) -> Option<u64> {
        self.branch_at
    }
}

impl SheetEditor {
    /// Names `sheet`'s problem under the editors, or else `versus`'s; returns whether there
    /// was one.
    fn check(&self, sheet: &str, versus: Option<&str>) -> bool {
        let problem = sheets_problem(sheet, versus);
        set_text(
            &self.error,
            problem.as_ref().map_or("", |p| p.message.as_str()),
        );
        problem.is_some()
    }

    fn show_undo(&self) {
        set_property(&self.undo, "disabled", !self.edits.can_undo());
        set_property(&self.redo, "disabled", !self.edits.can_redo());
    }
}
