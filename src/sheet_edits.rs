//! Undo and redo for the page's sheet editor: the texts the sheet went through, and where in
//! them the editor stands. The editor records a text when the reader pauses typing, loads a
//! shipped sheet, applies or branches; undoing walks back through those texts and redoing
//! forward, and a new text after an undo forgets the texts that were undone.

/// Texts kept, oldest dropped first: a sheet is a few kilobytes, so this is well under a
/// megabyte.
pub const MAX_EDITS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetEdits {
    texts: Vec<String>,
    /// The text the editor shows: `texts[at]`.
    at: usize,
}

impl SheetEdits {
    pub fn new(text: &str) -> Self {
        SheetEdits {
            texts: vec![text.to_string()],
            at: 0,
        }
    }

    /// The editor now shows `text`. Returns whether it was recorded (not when it is the text
    /// already current).
    pub fn record(&mut self, text: &str) -> bool {
        if self.texts[self.at] == text {
            return false;
        }
        self.texts.truncate(self.at + 1);
        self.texts.push(text.to_string());
        if self.texts.len() > MAX_EDITS {
            self.texts.remove(0);
        }
        self.at = self.texts.len() - 1;
        true
    }

    /// The text before the current one, now current; `None` at the oldest.
    pub fn undo(&mut self) -> Option<&str> {
        self.at = self.at.checked_sub(1)?;
        Some(&self.texts[self.at])
    }

    /// The text after the current one, now current; `None` at the newest.
    pub fn redo(&mut self) -> Option<&str> {
        if self.at + 1 >= self.texts.len() {
            return None;
        }
        self.at += 1;
        Some(&self.texts[self.at])
    }

    pub fn can_undo(&self) -> bool {
        self.at > 0
    }

    pub fn can_redo(&self) -> bool {
        self.at + 1 < self.texts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_and_redo_walk_the_recorded_texts() {
        let mut edits = SheetEdits::new("a");
        assert!(!edits.can_undo() && !edits.can_redo());
        assert_eq!(edits.undo(), None);
        assert!(edits.record("ab"));
        assert!(!edits.record("ab"), "the same text twice is one edit");
        assert!(edits.record("abc"));
        assert_eq!(edits.undo(), Some("ab"));
        assert_eq!(edits.undo(), Some("a"));
        assert_eq!(edits.undo(), None);
        assert_eq!(edits.redo(), Some("ab"));
        assert!(edits.can_redo());
        // A new text after an undo forgets what was undone.
        assert!(edits.record("ax"));
        assert_eq!(edits.redo(), None);
        assert_eq!(edits.undo(), Some("ab"));
        assert_eq!(edits.undo(), Some("a"));
    }

    #[test]
    fn the_oldest_texts_go_first() {
        let mut edits = SheetEdits::new("0");
        for i in 1..=MAX_EDITS + 5 {
            edits.record(&i.to_string());
        }
        let mut oldest = String::new();
        while let Some(t) = edits.undo() {
            oldest = t.to_string();
        }
        assert_eq!(oldest, "6", "{MAX_EDITS} texts kept, the newest");
    }
}
