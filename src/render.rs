//! The templates of `templates/` and the one function that renders them (docs/config.md). The
//! six files are compiled into the binary; `--templates DIR` reads a team's own copies with
//! the same names instead. Rendering is strict: a variable the context does not provide is an
//! error, never an empty string in a config file.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, syntax::SyntaxConfig};
use serde::Serialize;

use crate::read;
use crate::text;

/// One of the six templates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    Collector,
    Env,
    Java,
    K8s,
    CertManager,
    Declarative,
}

impl Template {
    #[cfg(test)]
    pub const ALL: [Template; 6] = [
        Template::Collector,
        Template::Env,
        Template::Java,
        Template::K8s,
        Template::CertManager,
        Template::Declarative,
    ];

    /// The file name, in `templates/` and in a `--templates DIR`.
    pub fn file_name(self) -> &'static str {
        match self {
            Template::Collector => "collector.yaml",
            Template::Env => "sdk.env",
            Template::Java => "java.txt",
            Template::K8s => "k8s.yaml",
            Template::CertManager => "cert-manager.yaml",
            Template::Declarative => "declarative.yaml",
        }
    }

    /// The copy compiled into the binary.
    pub fn builtin(self) -> &'static str {
        match self {
            Template::Collector => include_str!("../templates/collector.yaml"),
            Template::Env => include_str!("../templates/sdk.env"),
            Template::Java => include_str!("../templates/java.txt"),
            Template::K8s => include_str!("../templates/k8s.yaml"),
            Template::CertManager => include_str!("../templates/cert-manager.yaml"),
            Template::Declarative => include_str!("../templates/declarative.yaml"),
        }
    }
}

/// Renders `template` (the built-in copy, or `DIR/<file name>` with `--templates DIR`) with
/// `ctx`. Every variable the template can look up, in any branch, must be in `ctx`.
pub fn render(
    template: Template,
    templates_dir: Option<&Path>,
    ctx: &impl Serialize,
) -> Result<String> {
    let name = template.file_name();
    let source = match templates_dir {
        None => template.builtin().to_string(),
        Some(dir) => {
            let path = dir.join(name);
            let bytes = read::read_small(&path)
                .with_context(|| format!("--templates `{}` must hold {name}", dir.display()))?;
            String::from_utf8(bytes)
                .map_err(|_| anyhow!("the template `{}` is not UTF-8 text", path.display()))?
        }
    };
    render_source(name, &source, ctx)
}

/// Renders one template source; `name` appears in errors.
pub fn render_source(name: &str, source: &str, ctx: &impl Serialize) -> Result<String> {
    let env = environment()?;
    let tmpl = env
        .template_from_named_str(name, source)
        .map_err(|e| anyhow!("the template `{name}` does not parse: {e:#}"))?;
    let json = serde_json::to_value(ctx).context("cannot build the template context")?;
    let mut vars = tmpl.undeclared_variables(true);
    // `range`, `dict`, `namespace`, ...: the engine's, not the context's
    vars.retain(|v| {
        let root = v.split('.').next().unwrap_or(v);
        !env.globals().any(|(g, _)| g == root)
    });
    check_variables(name, &vars, &json)?;
    // minijinja's alternate form adds a debug dump of the template; the plain one says what
    // went wrong and where
    tmpl.render(Value::from(minijinja::value::Serde(ctx)))
        .map_err(|e| anyhow!("cannot render the template `{name}`: {e}"))
}

/// Strict undefined, the trailing newline kept, block tags on their own lines leave no blank
/// line, and no auto-escaping (the templates quote with the `yaml` and `sh` filters).
fn environment() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    let syntax = SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .map_err(|e| anyhow!("template syntax: {e}"))?;
    env.set_syntax(syntax);
    env.add_filter("yaml", yaml_scalar);
    env.add_filter("sh", shell_word);
    env.add_filter("env", env_value);
    env.set_formatter(one_line);
    env.add_filter("config_value", config_value);
    Ok(env)
}

/// What `{{ value }}` writes when no filter has quoted it (a comment, a plain word): the text
/// with every control character and line separator escaped (`\n`), so that no value from a
/// flag, a spec or a certificate can end the line it is on and add a key, a document or a
/// command (docs/guarantees.md, "text is data"). The quoting filters mark their output safe.
fn one_line(
    out: &mut minijinja::Output<'_>,
    state: &mut minijinja::State<'_, '_>,
    value: &Value,
) -> Result<(), minijinja::Error> {
    match value.as_str() {
        Some(s) if !value.is_safe() => out
            .write_str(&text::printable(s))
            .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, format!("{e}"))),
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// Static check, so that a misspelt variable fails even in a branch this rendering does not
/// take: each variable the template looks up (`server.cert`) must be a key path of the
/// context. A path through a null (an absent optional part) is the template's to guard.
fn check_variables(name: &str, vars: &HashSet<String>, ctx: &serde_json::Value) -> Result<()> {
    let mut unknown: Vec<&str> = vars
        .iter()
        .map(String::as_str)
        .filter(|var| !resolves(ctx, var))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_unstable();
    let mut known: Vec<&str> = ctx
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    known.sort_unstable();
    bail!(
        "the template `{name}` uses {}, which otelpki does not provide; it provides {}",
        unknown
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", "),
        known.join(", ")
    )
}

fn resolves(ctx: &serde_json::Value, path: &str) -> bool {
    let mut value = ctx;
    for part in path.split('.') {
        match value {
            serde_json::Value::Null => return true,
            serde_json::Value::Object(map) => match map.get(part) {
                Some(v) => value = v,
                None => return false,
            },
            // an attribute of a list or string is a method call (`names|join`), not a key
            _ => return true,
        }
    }
    true
}

/// A YAML scalar: plain when that cannot be misread (a path, a DNS name, a duration),
/// otherwise a double-quoted string on one line: JSON's quoting (valid YAML), with the
/// characters JSON leaves as they are but YAML may not hold raw (DEL, the C1 controls, the
/// Unicode line and paragraph separators, a byte-order mark, non-characters) escaped too.
pub fn yaml_scalar(value: &Value) -> Result<Value, minijinja::Error> {
    let Some(s) = value.as_str() else {
        // numbers, booleans: their own YAML form
        return Ok(Value::from_safe_string(value.to_string()));
    };
    let plain = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        );
    if plain {
        return Ok(Value::from_safe_string(s.to_string()));
    }
    let json = serde_json::to_string(s).map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, format!("{e}"))
    })?;
    let mut quoted = String::with_capacity(json.len());
    for c in json.chars() {
        let raw_in_yaml = c == '\u{7f}'
            || ('\u{80}'..='\u{9f}').contains(&c)
            || matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
            );
        if raw_in_yaml {
            quoted.push_str(&format!("\\u{:04X}", c as u32));
        } else {
            quoted.push(c);
        }
    }
    Ok(Value::from_safe_string(quoted))
}

/// A value of an OpenTelemetry configuration file (the Collector's, a declarative SDK file):
/// a YAML scalar in which every `$` is doubled, since the Collector and the SDKs substitute
/// `${VAR}` in the file (`$$` is a literal `$`).
fn config_value(value: &Value) -> Result<Value, minijinja::Error> {
    match value.as_str() {
        Some(s) => yaml_scalar(&Value::from(s.replace('$', "$$"))),
        None => yaml_scalar(value),
    }
}

/// One shell word: as is when it needs no quoting, otherwise single-quoted. A value with a
/// control character is refused: quoted, a newline would still split the line it is on.
pub fn shell_word(value: &str) -> Result<Value, minijinja::Error> {
    if value.chars().any(text::is_unsafe) {
        return Err(refused(value, "a control character", "a shell command"));
    }
    shlex::try_quote(value)
        .map(|q| Value::from_safe_string(q.into_owned()))
        .map_err(|e| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("`{}` cannot be one shell word: {e}", text::printable(value)),
            )
        })
}

/// The value of a `NAME=value` line in an env file, which `sh` (`set -a; . ./sdk.env`),
/// systemd's `EnvironmentFile=` and `docker --env-file` must all read the same way. Docker
/// takes the rest of the line literally (quotes included), so no quoting can serve all three:
/// a value is written only if none of them would change it (letters, digits and
/// `/ . _ - : + @ % , = [ ]`), and refused otherwise, naming the character.
pub fn env_value(value: &str) -> Result<Value, minijinja::Error> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/._-:+@%,=[]".contains(c);
    match value.chars().find(|&c| !allowed(c)) {
        None if !value.is_empty() => Ok(Value::from_safe_string(value.to_string())),
        None => Err(refused(value, "nothing", "an env file")),
        Some(c) => {
            let what = if text::is_unsafe(c) {
                format!("the control character {}", c.escape_default())
            } else if c == ' ' {
                "a space".to_string()
            } else {
                format!("`{c}`")
            };
            Err(refused(value, &what, "an env file"))
        }
    }
}

fn refused(value: &str, what: &str, into: &str) -> minijinja::Error {
    let why = if into == "an env file" {
        " (sh, systemd and docker --env-file read such a line differently)"
    } else {
        ""
    };
    minijinja::Error::new(
        minijinja::ErrorKind::InvalidOperation,
        format!(
            "`{}` holds {what}, which cannot be written safely into {into}{why}; use a --dir \
             path and names made of letters, digits and / . _ - : only",
            text::printable(value)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in template renders from every sample context of the `config` command
    /// (each branch: mTLS on and off, agent and gateway, gRPC and HTTP, every key type),
    /// and every variable each template can look up exists. A template that names an
    /// unknown variable fails here, not in a user's hands.
    #[test]
    fn every_builtin_template_renders() {
        let samples = crate::config::sample_contexts();
        for template in Template::ALL {
            let ctxs: Vec<_> = samples.iter().filter(|(t, _)| *t == template).collect();
            assert!(!ctxs.is_empty(), "no sample context for {template:?}");
            for (_, ctx) in ctxs {
                let out = render(template, None, ctx)
                    .unwrap_or_else(|e| panic!("{}: {e:#}", template.file_name()));
                assert!(
                    out.ends_with('\n'),
                    "{}: trailing newline",
                    template.file_name()
                );
                assert!(
                    !out.contains("\n\n\n"),
                    "{}: stray blank lines",
                    template.file_name()
                );
            }
        }
    }

    #[test]
    fn unknown_variable_is_an_error() {
        let ctx = serde_json::json!({"server": {"cert": "/x"}});
        // referenced in a branch that is not taken: still an error
        let src = "{% if false %}{{ server.cret }}{% endif %}{{ server.cert }}\n";
        let err = render_source("t.yaml", src, &ctx).unwrap_err();
        assert!(format!("{err:#}").contains("`server.cret`"), "{err:#}");
        // and at render time (strict undefined) for what static analysis cannot see
        let src = "{% for s in [server] %}{{ s.key }}{% endfor %}\n";
        let err = render_source("t.yaml", src, &ctx).unwrap_err();
        assert!(format!("{err:#}").contains("undefined"), "{err:#}");
    }

    #[test]
    fn the_engines_own_functions_are_not_unknown_variables() {
        let ctx = serde_json::json!({"names": ["a", "b"]});
        let src = "{% for i in range(2) %}{{ names[i] }}{% endfor %}\n";
        assert_eq!(render_source("t", src, &ctx).unwrap(), "ab");
    }

    #[test]
    fn trailing_newline_is_kept() {
        let ctx = serde_json::json!({});
        assert_eq!(render_source("t", "a\n", &ctx).unwrap(), "a\n");
    }

    #[test]
    fn yaml_scalars_quote_what_yaml_would_misread() {
        let q = |s: &str| yaml_scalar(&Value::from(s)).unwrap().to_string();
        assert_eq!(q("/etc/otel/certs/ca.crt"), "/etc/otel/certs/ca.crt");
        assert_eq!(
            q("otel-collector.observability.svc"),
            "otel-collector.observability.svc"
        );
        assert_eq!(q("127.0.0.1"), "\"127.0.0.1\"");
        assert_eq!(q("::1"), "\"::1\"");
        assert_eq!(q("/tmp/a b: c #d"), "\"/tmp/a b: c #d\"");
        assert_eq!(q("yes"), "\"yes\"");
        assert_eq!(q("*.example.com"), "\"*.example.com\"");
        assert_eq!(yaml_scalar(&Value::from(256)).unwrap().to_string(), "256");
    }

    #[test]
    fn config_values_escape_substitution() {
        let q = |s: &str| config_value(&Value::from(s)).unwrap().to_string();
        assert_eq!(q("/etc/otel/certs/ca.crt"), "/etc/otel/certs/ca.crt");
        assert_eq!(q("/tmp/${HOME}/ca.crt"), "\"/tmp/$${HOME}/ca.crt\"");
        assert_eq!(q("a$$b"), "\"a$$$$b\"");
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        let w = |s: &str| shell_word(s).unwrap().to_string();
        assert_eq!(w("/etc/otel/ca.crt"), "/etc/otel/ca.crt");
        assert_eq!(w("/tmp/a b/ca.crt"), "'/tmp/a b/ca.crt'");
        assert!(shell_word("/tmp/a\nb").is_err());
    }

    /// Hostile values (newlines, quotes, `#`, `---`, `$()`, backticks, NUL, ESC, Unicode line
    /// separators) in each position a template can put them: a comment, a YAML value, a shell
    /// word and an env-file value. Each either stays on its line and reads back as itself, or
    /// is refused.
    const HOSTILE: &[&str] = &[
        "a\nkind: ClusterRoleBinding",
        "a\r\n---\nkind: Secret",
        "x\"; touch /tmp/pwned; \"",
        "$(touch /tmp/pwned)",
        "`id`",
        "a # b",
        "---",
        "a\u{0}b",
        "\u{1b}[2K\u{1b}[1Gok",
        "a\u{2028}b\u{2029}c\u{85}d",
        "it's",
        "key: value",
        "{a: b}",
        "[x]",
        "&anchor *alias",
        "!!binary AAAA",
        "\u{7f}\u{9b}\u{feff}\u{fffe}",
    ];

    fn render_one(src: &str, value: &str) -> Result<String> {
        render_source("t", src, &serde_json::json!({ "v": value }))
    }

    #[test]
    fn hostile_values_stay_on_their_line_or_are_refused() {
        for v in HOSTILE {
            // a comment: escaped, one line
            let out = render_one("# from {{ v }}\nk: 1\n", v).unwrap();
            assert_eq!(out.lines().count(), 2, "{v:?} -> {out:?}");
            assert!(
                !out.chars().any(crate::text::is_unsafe_but_newline),
                "{v:?} -> {out:?}"
            );
            // a YAML value: reads back as itself, one key
            let out = render_one("k: {{ v | yaml }}\n", v).unwrap();
            let doc: serde_norway::Value = serde_norway::from_str(&out).unwrap();
            let map = doc.as_mapping().unwrap();
            assert_eq!(map.len(), 1, "{v:?} -> {out:?}");
            assert_eq!(map.get("k").and_then(|x| x.as_str()), Some(*v), "{out:?}");
            // a shell word: one word that reads back as itself, or refused
            if let Ok(out) = render_one("{{ v | sh }}", v) {
                assert_eq!(shlex::split(&out), Some(vec![v.to_string()]), "{out:?}");
            }
            // an env value: nothing a shell or docker would read differently, or refused
            if let Ok(out) = render_one("{{ v | env }}", v) {
                assert_eq!(out, *v);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn yaml_scalars_read_back_as_themselves(v in "\\PC*|[\\x00-\\x{a0}\\x{2028}\\x{2029}\\x{feff}\\x{fffe}\\x{ffff}]*") {
            let out = render_one("k: {{ v | yaml }}\n", &v).unwrap();
            proptest::prop_assert_eq!(out.lines().count(), 1);
            let doc: serde_norway::Value = serde_norway::from_str(&out).unwrap();
            proptest::prop_assert_eq!(doc.get("k").and_then(|x| x.as_str()), Some(v.as_str()));
        }

        #[test]
        fn comments_are_one_line(v in "\\PC*|[\\x00-\\x{a0}\\x{2028}\\x{2029}]*") {
            let out = render_one("# {{ v }}\n", &v).unwrap();
            proptest::prop_assert_eq!(out.lines().count(), 1);
            proptest::prop_assert!(!out.trim_end_matches('\n').chars().any(crate::text::is_unsafe));
        }

        #[test]
        fn shell_words_and_env_values_read_back_as_themselves(v in "\\PC*|[\\x00-\\x{a0}\\x{2028}]*") {
            if let Ok(out) = render_one("{{ v | sh }}", &v) {
                proptest::prop_assert!(!out.contains('\n'));
                proptest::prop_assert_eq!(shlex::split(&out), Some(vec![v.clone()]));
            }
            if let Ok(out) = render_one("{{ v | env }}", &v) {
                // read by sh as an assignment value, unchanged, and by docker literally
                proptest::prop_assert_eq!(shlex::split(&out), Some(vec![v.clone()]));
                proptest::prop_assert_eq!(out, v);
            }
        }
    }
}
