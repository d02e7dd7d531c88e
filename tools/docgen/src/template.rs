//! Hand-written page templates (`templates/**/*.md.tmpl`).
//!
//! A deliberately small language, a subset of tfplugindocs' Go templates:
//! `{{ .Variable }}` inserts a value of the page (`.Name`, `.Description`,
//! `.SchemaMarkdown`, ...), `{{ tffile "examples/x.tf" }}` and
//! `{{ codefile "shell" "examples/x.sh" }}` insert a file as a fenced code
//! block. Anything else is an error rather than silently copied text.

use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("unclosed `{{{{` at byte {0}")]
    Unclosed(usize),
    #[error("unknown variable `{name}`; this page has: {known}")]
    UnknownVariable { name: String, known: String },
    #[error("unsupported directive `{{{{ {0} }}}}`: only `.Variable`, `tffile \"path\"` and `codefile \"lang\" \"path\"` are understood")]
    Unsupported(String),
    #[error("cannot read {path}: {message}")]
    UnreadableFile { path: String, message: String },
}

/// Renders `template` with `variables`; file paths are relative to `base`.
pub fn render(
    template: &str,
    variables: &BTreeMap<&str, String>,
    base: &Path,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut offset = 0;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or(TemplateError::Unclosed(offset + start))?;
        out.push_str(&expand(after[..end].trim(), variables, base)?);
        let consumed = start + 2 + end + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

fn expand(
    directive: &str,
    variables: &BTreeMap<&str, String>,
    base: &Path,
) -> Result<String, TemplateError> {
    if let Some(name) = directive.strip_prefix('.') {
        return variables
            .get(name)
            .cloned()
            .ok_or_else(|| TemplateError::UnknownVariable {
                name: name.to_owned(),
                known: variables
                    .keys()
                    .map(|k| format!(".{k}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
    }
    let words = quoted_arguments(directive);
    match words.as_slice() {
        [function, path] if function == "tffile" => code_file("terraform", &base.join(path)),
        [function, language, path] if function == "codefile" => {
            code_file(language, &base.join(path))
        }
        _ => Err(TemplateError::Unsupported(directive.to_owned())),
    }
}

/// `tffile "a b.tf"` → `["tffile", "a b.tf"]`.
fn quoted_arguments(directive: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = directive.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut word = String::new();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                word.push(c);
            }
            words.push(word);
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
            words.push(word);
        }
    }
    words
}

/// A file as a fenced code block (empty for an empty file), the way
/// tfplugindocs' `codefile` does it.
pub fn code_file(language: &str, path: &Path) -> Result<String, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|e| TemplateError::UnreadableFile {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(code_block(language, &text))
}

pub fn code_block(language: &str, text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!("```{language}\n{text}\n```")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("Name", "kong_node".to_owned()),
            ("Type", "Data Source".to_owned()),
        ])
    }

    #[test]
    fn variables_and_files_are_expanded() {
        let dir = tempfile_dir();
        std::fs::write(dir.join("ex.tf"), "data \"kong_node\" \"n\" {}\n\n").unwrap();
        std::fs::write(dir.join("import.sh"), "terraform import kong_x.y id\n").unwrap();
        let out = render(
            "# {{ .Name }} ({{.Type}})\n{{ tffile \"ex.tf\" }}\n{{codefile \"shell\" \"import.sh\"}}",
            &vars(),
            &dir,
        )
        .unwrap();
        assert_eq!(
            out,
            "# kong_node (Data Source)\n```terraform\ndata \"kong_node\" \"n\" {}\n```\n```shell\nterraform import kong_x.y id\n```"
        );
    }

    #[test]
    fn mistakes_are_errors_not_output() {
        let dir = tempfile_dir();
        assert!(matches!(
            render("{{ .Nmae }}", &vars(), &dir),
            Err(TemplateError::UnknownVariable { name, .. }) if name == "Nmae"
        ));
        assert_eq!(
            render("{{ if .HasExample }}", &vars(), &dir),
            Err(TemplateError::Unsupported("if .HasExample".into()))
        );
        assert_eq!(
            render("ok {{ .Name", &vars(), &dir),
            Err(TemplateError::Unclosed(3))
        );
        assert!(matches!(
            render("{{ tffile \"missing.tf\" }}", &vars(), &dir),
            Err(TemplateError::UnreadableFile { .. })
        ));
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "docgen-template-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
