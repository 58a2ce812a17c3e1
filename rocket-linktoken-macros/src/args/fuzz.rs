//! Fuzzing the argument parser: arbitrary text lexed into tokens, and generated argument lists
//! whose verdict is known from how they were built.
//!
//! Nothing may panic; `parse` accepts only a valid scope, a `max_uses` within range and a bare
//! `preview`, each once, and refuses everything else. `cargo test` runs each property briefly;
//! `LINKTOKEN_FUZZ_SECS` makes it a long run (see `SECURITY.md`).

use proptest::prelude::*;
use proptest::sample::select;

use super::*;
use crate::fuzzing;

/// What any accepted `Args` must satisfy, however it was written.
fn check_accepted(args: &Args) -> Result<(), TestCaseError> {
    let scope = args.scope.value();
    prop_assert!(!scope.is_empty());
    prop_assert!(
        scope
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:/".contains(c)),
        "accepted the scope {:?}",
        scope
    );
    prop_assert_ne!(args.max_uses, Some(0));
    prop_assert!(!(args.preview && args.max_uses.is_some()));
    Ok(())
}

/// Pieces of argument lists, right and wrong, for token soups.
const PIECES: [&str; 34] = [
    "scope",
    "max_uses",
    "preview",
    "=",
    ",",
    ",",
    "\"unsubscribe\"",
    "\"a:b/c\"",
    "\"\"",
    "\"un subscribe\"",
    "\"caf\u{e9}\"",
    "r#\"x\"#",
    "b\"x\"",
    "c\"x\"",
    "\"x\"suffix",
    "'c'",
    "0",
    "1",
    "4294967295",
    "4294967296",
    "1u8",
    "7xyz",
    "0x10",
    "1_0",
    "1.0",
    "-",
    "::",
    "#",
    "!",
    "(",
    ")",
    "true",
    "r#scope",
    "ttl",
];

/// Arbitrary text and soups of argument pieces.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,60}",
        prop::collection::vec(select(PIECES.to_vec()), 0..12).prop_map(|pieces| pieces.join(" ")),
    ]
}

#[test]
fn arbitrary_tokens_are_accepted_only_when_valid() {
    fuzzing::check(
        "arbitrary_tokens_are_accepted_only_when_valid",
        file!(),
        text(),
        |text| {
            // Text that does not lex never reaches the macro: rustc refuses it first.
            let Ok(tokens) = text.parse::<TokenStream>() else {
                return Ok(());
            };
            if let Ok(args) = parse(tokens) {
                check_accepted(&args)?;
            }
            Ok(())
        },
    );
}

/// A literal, as written.
#[derive(Debug, Clone)]
enum Literal {
    Str {
        content: String,
        raw: bool,
        suffix: &'static str,
    },
    Int {
        value: u64,
        form: IntForm,
        suffix: &'static str,
    },
    Negative(u64),
    /// Anything else: another kind of literal, a path, an expression.
    Other(&'static str),
}

#[derive(Debug, Clone, Copy)]
enum IntForm {
    Decimal,
    Hex,
    Octal,
    Binary,
    Underscored,
}

impl Literal {
    fn text(&self) -> String {
        match self {
            Literal::Str {
                content,
                raw: true,
                suffix,
            } if !content.contains("\"#") && !content.contains('\r') => {
                format!("r#\"{content}\"#{suffix}")
            }
            Literal::Str {
                content, suffix, ..
            } => format!("{content:?}{suffix}"),
            Literal::Int {
                value,
                form,
                suffix,
            } => {
                let digits = match form {
                    IntForm::Decimal => value.to_string(),
                    IntForm::Hex => format!("0x{value:X}"),
                    IntForm::Octal => format!("0o{value:o}"),
                    IntForm::Binary => format!("0b{value:b}"),
                    IntForm::Underscored => format!("{value}_"),
                };
                format!("{digits}{suffix}")
            }
            Literal::Negative(value) => format!("-{value}"),
            Literal::Other(text) => (*text).to_string(),
        }
    }

    /// The scope this literal gives, if it is a valid one.
    fn scope(&self) -> Option<&str> {
        match self {
            Literal::Str {
                content,
                suffix: "",
                ..
            } if !content.is_empty()
                && content
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.:/".contains(c)) =>
            {
                Some(content)
            }
            _ => None,
        }
    }

    /// The use limit this literal gives, if it is a valid one.
    fn max_uses(&self) -> Option<u32> {
        match self {
            Literal::Int {
                value,
                suffix: "" | "u32",
                ..
            } => u32::try_from(*value).ok().filter(|&n| n >= 1),
            _ => None,
        }
    }
}

fn string_literal() -> impl Strategy<Value = Literal> {
    let char = prop_oneof![
        8 => "[A-Za-z0-9_.:/-]",
        1 => select(vec![
            " ", "\u{e9}", "\"", "\\", "\n", "\r", "\0", "\t", "#", "\u{202e}", "\u{1f600}",
            "\u{301}",
        ])
        .prop_map(String::from),
    ];
    (
        prop::collection::vec(char, 0..8),
        any::<bool>(),
        prop_oneof![6 => Just(""), 1 => select(vec!["x", "u32", "_a"])],
    )
        .prop_map(|(chars, raw, suffix)| Literal::Str {
            content: chars.concat(),
            raw,
            suffix,
        })
}

fn int_literal() -> impl Strategy<Value = Literal> {
    let value = prop_oneof![
        0u64..5,
        1u64..=u64::from(u32::MAX),
        u64::from(u32::MAX) - 2..u64::from(u32::MAX) + 3,
        any::<u64>(),
    ];
    let form = select(vec![
        IntForm::Decimal,
        IntForm::Hex,
        IntForm::Octal,
        IntForm::Binary,
        IntForm::Underscored,
    ]);
    let suffix = prop_oneof![
        6 => Just(""),
        1 => select(vec!["u32", "u64", "usize", "i64", "u8", "zz"]),
    ];
    (value, form, suffix).prop_map(|(value, form, suffix)| Literal::Int {
        value,
        form,
        suffix,
    })
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        3 => string_literal(),
        3 => int_literal(),
        1 => (0u64..5).prop_map(Literal::Negative),
        1 => select(vec![
            "b\"x\"", "c\"x\"", "'c'", "b'x'", "1.0", "1e3", "true", "N", "SCOPE", "1 + 1",
            "(1)", "(\"a\")", "{ 1 }", "concat!(\"a\")", "-\"a\"",
        ])
        .prop_map(Literal::Other),
    ]
}

/// One argument, as written.
#[derive(Debug, Clone)]
enum Arg {
    /// `key = literal`.
    Value(&'static str, Literal),
    /// `key` alone.
    Bare(&'static str),
    /// `key(...)`.
    List(&'static str, &'static str),
}

impl Arg {
    fn key(&self) -> &'static str {
        match self {
            Arg::Value(key, _) | Arg::Bare(key) | Arg::List(key, _) => key,
        }
    }

    fn text(&self) -> String {
        match self {
            Arg::Value(key, literal) => format!("{key} = {}", literal.text()),
            Arg::Bare(key) => (*key).to_string(),
            Arg::List(key, inside) => format!("{key}({inside})"),
        }
    }
}

fn arg() -> impl Strategy<Value = Arg> {
    let key = prop_oneof![
        6 => select(vec!["scope", "max_uses", "preview"]),
        1 => select(vec!["ttl", "Scope", "max_use", "r#scope", "rocket_linktoken::scope"]),
    ];
    prop_oneof![
        6 => (key.clone(), literal()).prop_map(|(key, literal)| Arg::Value(key, literal)),
        2 => key.clone().prop_map(Arg::Bare),
        1 => (key, select(vec!["", "\"a\"", "1"])).prop_map(|(key, inside)| Arg::List(key, inside)),
    ]
}

/// An argument list: the arguments, what separates them, and whether a comma trails.
#[derive(Debug, Clone)]
struct ArgList {
    args: Vec<(Arg, &'static str)>,
    trailing: bool,
}

fn arg_list() -> impl Strategy<Value = ArgList> {
    let separator = prop_oneof![12 => Just(","), 1 => select(vec!["", ";", ",,"])];
    (
        prop::collection::vec((arg(), separator), 0..5),
        any::<bool>(),
    )
        .prop_map(|(args, trailing)| ArgList { args, trailing })
}

impl ArgList {
    fn text(&self) -> String {
        let mut text = String::new();
        for (i, (arg, separator)) in self.args.iter().enumerate() {
            if i > 0 {
                text.push_str(separator);
                text.push(' ');
            }
            text.push_str(&arg.text());
        }
        if self.trailing && !self.args.is_empty() {
            text.push(',');
        }
        text
    }

    /// What `parse` must answer: the scope, use limit and preview flag, or `None` for an
    /// error.
    fn verdict(&self) -> Option<(String, Option<u32>, bool)> {
        if self
            .args
            .iter()
            .skip(1)
            .any(|(_, separator)| *separator != ",")
        {
            return None;
        }
        let mut seen = Vec::new();
        let (mut scope, mut max_uses, mut preview) = (None, None, false);
        for (arg, _) in &self.args {
            let key = arg.key();
            if !["scope", "max_uses", "preview"].contains(&key) || seen.contains(&key) {
                return None;
            }
            seen.push(key);
            match (key, arg) {
                ("scope", Arg::Value(_, literal)) => scope = Some(literal.scope()?.to_string()),
                ("max_uses", Arg::Value(_, literal)) => max_uses = Some(literal.max_uses()?),
                ("preview", Arg::Bare(_)) => preview = true,
                _ => return None,
            }
        }
        if preview && max_uses.is_some() {
            return None;
        }
        Some((scope?, max_uses, preview))
    }
}

#[test]
fn generated_arguments_are_accepted_exactly_when_valid() {
    fuzzing::check(
        "generated_arguments_are_accepted_exactly_when_valid",
        file!(),
        arg_list(),
        |list| {
            let text = list.text();
            let tokens = text.parse::<TokenStream>();
            prop_assert!(tokens.is_ok(), "{} does not lex", text);
            match (parse(tokens.unwrap()), list.verdict()) {
                (Ok(args), expected) => {
                    check_accepted(&args)?;
                    let accepted = (args.scope.value(), args.max_uses, args.preview);
                    prop_assert_eq!(Some(accepted), expected, "for {}", text);
                }
                (Err(error), Some(expected)) => {
                    prop_assert!(
                        false,
                        "{} refused ({}), expected {:?}",
                        text,
                        error,
                        expected
                    )
                }
                (Err(_), None) => {}
            }
            Ok(())
        },
    );
}
