//! Text from a sheet, an attribute or a URL, made safe for the format it is written into.
//!
//! Phase, action and property names are whatever a sheet's author typed, and exports end up
//! in blog posts and spreadsheets: a name must come out as the same text in every format,
//! never as markup, table structure or a formula. Ordinary names come out unchanged, so the
//! golden exports stay byte for byte what the seed writes.

use std::borrow::Cow;

/// A cell of a Markdown (GFM pipe) table, showing `text` as it is.
///
/// `\` is escaped first so that the escapes added after it cannot be undone by one in the
/// text; `|` would end the cell; `[`, `]` and `` ` `` would start a link, an image or a code
/// span; `*`, `_` and `~` would start emphasis or (GFM) strikethrough; `<` and `>` would pass
/// HTML through renderers that allow it, so they become character references. `&` becomes
/// `&amp;` only where it could start a character reference (before a letter, digit or `#`): a
/// bare `&` shows as itself in CommonMark, and the seed's `Primary & secondary` keeps its
/// bytes. A cell is one line, so line breaks become spaces.
pub fn markdown_cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '|' | '[' | ']' | '`' | '*' | '_' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' if chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphanumeric() || *n == '#') =>
            {
                out.push_str("&amp;")
            }
            '\r' => {
                // A CR LF pair is one line break, one space.
                chars.next_if_eq(&'\n');
                out.push(' ');
            }
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A CSV field (RFC 4180) that a spreadsheet reads as the text it holds.
///
/// A field that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to
/// Excel, LibreOffice and Google Sheets (`=HYPERLINK(…)` sends data away), so such a field gets
/// a leading `'`, which they take as "this is text"; a finite number such as `-0.5` or
/// `-1e-3` stays a number. Then a field holding `,`, `"`, CR or LF is quoted, its quotes
/// doubled. Anything else is returned as it is.
pub fn csv_cell(text: &str) -> Cow<'_, str> {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r'])
        && !text.parse::<f64>().is_ok_and(f64::is_finite);
    let text: Cow<str> = if formula {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    };
    if text.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", text.replace('"', "\"\"")))
    } else {
        text
    }
}

/// Text for XML or HTML, in an element or a quoted attribute (either quote): `&`, `<`, `>`,
/// `"` and `'` as character references, so that nothing in it can close the attribute or
/// open a tag.
pub fn xml_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cells_escape_structure_and_html() {
        assert_eq!(
            markdown_cell(r"a|b\c <img src=x> &amp; [x](y) `z`"),
            r"a\|b\\c &lt;img src=x&gt; &amp;amp; \[x\](y) \`z\`"
        );
        assert_eq!(markdown_cell("two\r\nlines\nhere\r"), "two lines here ");
        assert_eq!(markdown_cell("&#60;"), "&amp;#60;");
        assert_eq!(
            markdown_cell("*star* _under_ **bold** ~~gone~~ &lt;b&gt;"),
            r"\*star\* \_under\_ \*\*bold\*\* \~\~gone\~\~ &amp;lt;b&amp;gt;"
        );
        // An escaped pipe in the text stays escaped: `\|` is a backslash, then a pipe.
        assert_eq!(markdown_cell(r"\|"), r"\\\|");
    }

    #[test]
    fn ordinary_markdown_cells_are_unchanged() {
        for text in [
            "Primary & secondary",
            "All hues",
            "anchor",
            "loss-recon",
            "lr:log",
            "a & b &",
            "",
        ] {
            assert_eq!(markdown_cell(text), text);
        }
    }

    #[test]
    fn csv_cells_quote_as_rfc_4180_does() {
        assert_eq!(csv_cell("plain"), "plain");
        assert!(matches!(csv_cell("plain"), Cow::Borrowed(_)));
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("cr\r"), "\"cr\r\"");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        assert_eq!(csv_cell("=1+2"), "'=1+2");
        assert_eq!(csv_cell("+2"), "+2");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("\rx"), "\"'\rx\"");
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_cell("-"), "'-");
        assert_eq!(csv_cell("-inf"), "'-inf");
        // Numbers stay numbers.
        for number in ["-0.5", "-1e-3", "-2.5e-07", "+1", "-0.0", "-.5"] {
            assert_eq!(csv_cell(number), number);
        }
        // Not at the start: no formula.
        assert_eq!(csv_cell("a=b"), "a=b");
    }

    #[test]
    fn xml_text_escapes_every_delimiter() {
        assert_eq!(
            xml_text(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(
            xml_text("https://example.org/cb/"),
            "https://example.org/cb/"
        );
    }
}
