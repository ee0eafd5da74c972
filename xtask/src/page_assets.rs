//! What `build-web` does to the page's scripts, and to the engine's generated bindings, on
//! their way into `dist/`.
//!
//! - The element's styles and markup live in `www/element/` as CSS and HTML, where editors and
//!   linters read them as such. The script names each file as a placeholder string
//!   (`'@element/styles.css@'`), which becomes that file's text, as a JS string literal.
//! - Whole-line comments, blank lines and indentation are left out: they are a third of the
//!   script's bytes and say nothing to a browser. A comment after code on the same line stays,
//!   and so do the line breaks between the lines kept, so no statement changes meaning. The
//!   build refuses what it cannot strip safely: a template literal that spans lines (its text
//!   would change) and code on the line of a block comment's start or end.

use std::path::Path;

use crate::Result;

/// The script `dist/` serves for the element, from the one in `www/` (read from `www`, the
/// folder placeholders are named in).
pub fn element_script(source: &str, www: &Path) -> Result<String> {
    let stripped = strip_comments(source, "color-bottleneck.js")?;
    fill_placeholders(&stripped, www)
}

/// `source` without whole-line comments, blank lines or indentation; `name` is for messages.
pub fn strip_comments(source: &str, name: &str) -> Result<String> {
    let mut kept = Vec::new();
    let mut in_block = false;
    for (number, line) in source.lines().enumerate() {
        let line = line.trim();
        let code_beside_block = || {
            format!(
                "{name}:{}: code shares a line with a block comment's start or end; \
                 build-web drops whole comment lines, so put the code on a line of its own",
                number + 1
            )
        };
        if in_block || line.starts_with("/*") {
            match line.find("*/") {
                Some(end) if !line[end + 2..].trim().is_empty() => return Err(code_beside_block()),
                end => in_block = end.is_none(),
            }
            continue;
        }
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        if line.matches('`').count() % 2 == 1 {
            return Err(format!(
                "{name}:{}: a template literal spans lines; build-web trims lines and cannot \
                 keep its text (join it into one line, or build it from strings)",
                number + 1
            ));
        }
        kept.push(line);
    }
    if in_block {
        return Err(format!("{name}: a block comment is never closed"));
    }
    let mut out = kept.join("\n");
    out.push('\n');
    Ok(out)
}

/// Where a placeholder starts: the folder of the files that fill them.
const PLACEHOLDER: &str = "'@element/";

/// Each `'@element/NAME@'` in `script` replaced by the text of `www/element/NAME`, as a JS
/// string literal.
fn fill_placeholders(script: &str, www: &Path) -> Result<String> {
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some(start) = rest.find(PLACEHOLDER) {
        let Some(len) = rest[start + 2..].find("@'") else {
            return Err(format!(
                "color-bottleneck.js: a placeholder {PLACEHOLDER}… is not closed with @'"
            ));
        };
        let name = &rest[start + 2..start + 2 + len];
        let path = www.join(name);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("color-bottleneck.js names {}: {e}", path.display()))?;
        out.push_str(&rest[..start]);
        let literal = serde_json::to_string(&compact(name, &text)).map_err(|e| e.to_string())?;
        out.push_str(&literal);
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// CSS without its comments, and either file with each line's indentation left out (white
/// space at a line's start is collapsed in both languages, and the line break stays).
fn compact(name: &str, text: &str) -> String {
    let mut text = text.to_string();
    if name.ends_with(".css") {
        while let Some(start) = text.find("/*") {
            let end = text[start..]
                .find("*/")
                .map_or(text.len(), |e| start + e + 2);
            text.replace_range(start..end, "");
        }
    }
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_line_comments_and_indentation_go_and_code_stays() {
        let source = "// a\n/** doc\n * more\n */\nconst a = 1; // kept\n\n  if (a) {\n    f(`x${a}`);\n  }\n";
        assert_eq!(
            strip_comments(source, "t.js").unwrap(),
            "const a = 1; // kept\nif (a) {\nf(`x${a}`);\n}\n"
        );
    }

    #[test]
    fn a_template_literal_over_lines_is_refused_with_its_line() {
        let e = strip_comments("const a = 1;\nconst s = `one\n  two`;\n", "t.js").unwrap_err();
        assert!(e.starts_with("t.js:2:"), "{e}");
        let e = strip_comments("/* open\n", "t.js").unwrap_err();
        assert!(e.contains("never closed"), "{e}");
        for beside in ["/* x */ f();\n", "/* x\n */ f();\n"] {
            let e = strip_comments(beside, "t.js").unwrap_err();
            assert!(e.contains("shares a line"), "{e}");
        }
    }

    #[test]
    fn placeholders_become_string_literals_of_the_files() {
        let www = std::env::temp_dir().join(format!("page-assets-{}", std::process::id()));
        std::fs::create_dir_all(www.join("element")).unwrap();
        std::fs::write(www.join("element/s.css"), "/* why */\n  a { b: 'c' }\n").unwrap();
        std::fs::write(www.join("element/m.html"), "<p>\n  it's \"so\"\n</p>\n").unwrap();
        let out =
            fill_placeholders("x = '@element/s.css@';\ny = '@element/m.html@';\n", &www).unwrap();
        assert_eq!(
            out,
            "x = \"a { b: 'c' }\";\ny = \"<p>\\nit's \\\"so\\\"\\n</p>\";\n"
        );
        let e = fill_placeholders("z = '@element/gone.css@';", &www).unwrap_err();
        assert!(e.contains("gone.css"), "{e}");
        assert_eq!(
            fill_placeholders("s.split('@'); t = '@x@';", &www).unwrap(),
            "s.split('@'); t = '@x@';",
            "only the element's files are placeholders"
        );
        std::fs::remove_dir_all(&www).unwrap();
    }
}
