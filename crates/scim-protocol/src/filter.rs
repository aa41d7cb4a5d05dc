//! The filter grammar of RFC 7644 §3.4.2.2: a lexer shared with PATCH paths ([`crate::path`]),
//! a recursive-descent parser, and the limits that keep hostile input cheap.
//!
//! Our own grammar rather than the `scim_v2` crate (see docs/decisions/0002-filter-grammar.md):
//! `scim_v2` 1.0 is robust (no panics under fuzzing, depth and term limits), but it rejects
//! RFC-valid `not(...)` and `False`, reports positions relative to the trimmed input, names
//! lexer regexes in its "expected" lists (`userName eq "x" and` reports "expected and or or"),
//! uses an n-ary AST unlike ours, and adds lalrpop-util, regex and fluent-uri to a pure crate.
//!
//! Grammar, with the leniencies real clients need:
//! ```text
//! filter    = or
//! or        = and *("or" and)
//! and       = atom *("and" atom)
//! atom      = "(" or ")" / "not" "(" or ")" / attrPath "[" valFilter "]"
//!           / attrPath "pr" / attrPath compareOp compValue
//! valFilter = or, whose atoms are relative paths and never value paths
//! attrPath  = [URN ":"] ATTRNAME ["." ATTRNAME]   ; the URN runs to the last ':'
//! ```
//! Keywords (`and`, `or`, `not`, operators, `true`/`false`/`null`) ignore case, as ABNF quoted
//! strings do. Whitespace separates tokens but is only required where two words meet.

use serde_json::Number;

use crate::ast::{AttrPath, CompValue, CompareOp, Filter};
use crate::error::{Result, ScimError};

/// The longest filter (or PATCH path) accepted, in bytes. Longer input is an `invalidFilter`.
pub const MAX_FILTER_LEN: usize = 4096;

/// The deepest nesting accepted: each `(`, `not (` and `[` opens one level. The parser recurses
/// only per level, so this bounds its stack; chains of `and`/`or` are loops, not recursion.
pub const MAX_FILTER_DEPTH: usize = 32;

/// Parses a filter (`?filter=` or a SearchRequest's `filter`).
///
/// Errors are [`ScimError::InvalidFilter`] with the byte offset into `input`, what the parser
/// expected there, and the token it found (`None` at the end of input).
pub fn parse_filter(input: &str) -> Result<Filter> {
    let mut p = Parser::new(input)?;
    let filter = p.or_expr(false)?;
    p.expect_end("'and', 'or' or end of input")?;
    Ok(filter)
}

/// A token, with its byte span in the input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    pub start: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A `.` that starts a token: the one in `emails[type eq "work"].value`.
    Dot,
    /// An attribute path or keyword: letters, digits and `_ - . : $`.
    Word(&'a str),
    Str(String),
    Num(Number),
    /// A character no token starts with.
    Other(char),
    End,
}

impl Tok<'_> {
    /// How an error message names the token.
    fn describe(&self) -> Option<String> {
        Some(match self {
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Dot => "'.'".into(),
            Tok::Word(w) => format!("'{}'", clip(w)),
            Tok::Str(s) => format!("string {}", clip(&serde_json::Value::from(s.as_str()).to_string())),
            Tok::Num(n) => format!("number {n}"),
            Tok::Other(c) => format!("{c:?}"),
            Tok::End => return None,
        })
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self, Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
    }
}

/// Cuts long tokens in error messages.
fn clip(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

pub(crate) fn error(position: usize, expected: impl Into<String>, found: Option<String>) -> ScimError {
    ScimError::InvalidFilter { position, expected: expected.into(), found }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '$')
}

/// The tokenizer and parser shared by filters and PATCH paths. Tokens are read lazily with one
/// token of lookahead.
pub(crate) struct Parser<'a> {
    src: &'a str,
    pos: usize,
    peeked: Option<Token<'a>>,
    depth: usize,
}

impl<'a> Parser<'a> {
    /// Refuses input over [`MAX_FILTER_LEN`] before reading any of it.
    pub fn new(src: &'a str) -> Result<Self> {
        if src.len() > MAX_FILTER_LEN {
            return Err(error(
                MAX_FILTER_LEN,
                format!("at most {MAX_FILTER_LEN} bytes"),
                Some(format!("{} bytes", src.len())),
            ));
        }
        Ok(Self { src, pos: 0, peeked: None, depth: 0 })
    }

    pub fn peek(&mut self) -> Result<&Token<'a>> {
        if self.peeked.is_none() {
            let t = self.lex()?;
            self.peeked = Some(t);
        }
        Ok(self.peeked.as_ref().expect("just filled"))
    }

    pub fn next(&mut self) -> Result<Token<'a>> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lex(),
        }
    }

    pub fn unexpected(t: &Token<'_>, expected: &str) -> ScimError {
        error(t.start, expected, t.tok.describe())
    }

    pub fn expect_end(&mut self, expected: &str) -> Result<()> {
        let t = self.next()?;
        if t.tok == Tok::End { Ok(()) } else { Err(Self::unexpected(&t, expected)) }
    }

    fn expect(&mut self, tok: Tok<'_>, expected: &str) -> Result<()> {
        let t = self.next()?;
        if t.tok == tok { Ok(()) } else { Err(Self::unexpected(&t, expected)) }
    }

    /// Opens one level of nesting at `t`.
    fn enter(&mut self, t: &Token<'_>) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(error(t.start, format!("at most {MAX_FILTER_DEPTH} levels of nesting"), t.tok.describe()));
        }
        Ok(())
    }

    // ---- lexer ----

    fn lex(&mut self) -> Result<Token<'a>> {
        let rest = &self.src[self.pos..];
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
        let start = self.pos;
        let Some(c) = trimmed.chars().next() else {
            return Ok(Token { tok: Tok::End, start });
        };
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            '.' => Some(Tok::Dot),
            _ => None,
        };
        if let Some(tok) = single {
            self.pos += 1;
            return Ok(Token { tok, start });
        }
        let tok = match c {
            '"' => Tok::Str(self.string()?),
            '-' | '0'..='9' => Tok::Num(self.number()?),
            c if c.is_ascii_alphabetic() || c == '$' || c == '_' => {
                let len = trimmed.find(|c: char| !is_word_char(c)).unwrap_or(trimmed.len());
                self.pos += len;
                Tok::Word(&trimmed[..len])
            }
            c => {
                self.pos += c.len_utf8();
                Tok::Other(c)
            }
        };
        Ok(Token { tok, start })
    }

    /// A JSON string literal (RFC 8259 §7), starting at the opening quote.
    fn string(&mut self) -> Result<String> {
        let src = self.src;
        let open = self.pos;
        let mut out = String::new();
        let mut chars = src[open + 1..].char_indices().map(|(i, c)| (open + 1 + i, c));
        loop {
            let Some((i, c)) = chars.next() else {
                return Err(error(open, "a closing '\"' for the string opened here", None));
            };
            match c {
                '"' => {
                    self.pos = i + 1;
                    return Ok(out);
                }
                '\\' => {
                    let bad = |found: Option<String>| {
                        error(i, "an escape: \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX", found)
                    };
                    let Some((_, e)) = chars.next() else {
                        return Err(bad(None));
                    };
                    match e {
                        '"' | '\\' | '/' => out.push(e),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => {
                            let hi = hex4(&mut chars).ok_or_else(|| {
                                bad(Some(format!("'{}'", src[i..].chars().take(6).collect::<String>())))
                            })?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                // A high surrogate must be followed by `\u` and a low one.
                                let lo = match (chars.next(), chars.next()) {
                                    (Some((_, '\\')), Some((_, 'u'))) => hex4(&mut chars),
                                    _ => None,
                                }
                                .filter(|lo| (0xDC00..0xE000).contains(lo))
                                .ok_or_else(|| {
                                    error(i, "a low surrogate \\uDC00-\\uDFFF after a high surrogate", None)
                                })?;
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            let ch = char::from_u32(code).ok_or_else(|| {
                                error(i, "a Unicode scalar value (a lone low surrogate is not one)", None)
                            })?;
                            out.push(ch);
                        }
                        other => return Err(bad(Some(format!("'\\{other}'")))),
                    }
                }
                c => out.push(c),
            }
        }
    }

    /// A JSON number (RFC 8259 §6): `-? int frac? exp?`.
    fn number(&mut self) -> Result<Number> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while *i < bytes.len() && bytes[*i].is_ascii_digit() {
                *i += 1;
            }
            *i > from
        };
        if bytes[i] == b'-' {
            i += 1;
        }
        if !digits(&mut i) {
            return Err(error(i, "a digit", self.src[i..].chars().next().map(|c| format!("{c:?}"))));
        }
        if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
            i += 1;
            digits(&mut i);
        }
        if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
            i += 1;
            if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
                i += 1;
            }
            if !digits(&mut i) {
                return Err(error(
                    i,
                    "the digits of an exponent",
                    self.src[i..].chars().next().map(|c| format!("{c:?}")),
                ));
            }
        }
        // `12ab` or `1.2.3` is neither a number nor a path.
        let end = self.src[i..].find(|c: char| !is_word_char(c)).map_or(self.src.len(), |n| i + n);
        let lexeme = &self.src[start..end];
        self.pos = end;
        let invalid = || error(start, "a JSON number", Some(format!("'{}'", clip(lexeme))));
        let unsigned = lexeme.strip_prefix('-').unwrap_or(lexeme);
        if end != i || (unsigned.len() > 1 && unsigned.starts_with('0') && unsigned.as_bytes()[1].is_ascii_digit()) {
            return Err(invalid());
        }
        // Integers stay integers; anything else goes through `str::parse`, which rounds
        // correctly, so a printed float reads back as the same float.
        let integer = !lexeme.contains(['.', 'e', 'E']);
        let number = match (lexeme.parse::<i64>(), lexeme.parse::<u64>()) {
            (Ok(n), _) if integer => Number::from(n),
            (_, Ok(n)) if integer => Number::from(n),
            _ => lexeme.parse::<f64>().ok().and_then(Number::from_f64).ok_or_else(invalid)?,
        };
        Ok(number)
    }

    // ---- parser ----

    /// `and *("or" and)`, left-nested. `in_value` is true inside `[...]`.
    pub fn or_expr(&mut self, in_value: bool) -> Result<Filter> {
        let mut left = self.and_expr(in_value)?;
        while self.peek()?.tok.is_keyword("or") {
            self.next()?;
            let right = self.and_expr(in_value)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self, in_value: bool) -> Result<Filter> {
        let mut left = self.atom(in_value)?;
        while self.peek()?.tok.is_keyword("and") {
            self.next()?;
            let right = self.atom(in_value)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn group(&mut self, open: &Token<'_>, in_value: bool) -> Result<Filter> {
        self.enter(open)?;
        let inner = self.or_expr(in_value)?;
        self.expect(Tok::RParen, "'and', 'or' or ')'")?;
        self.depth -= 1;
        Ok(inner)
    }

    fn atom(&mut self, in_value: bool) -> Result<Filter> {
        let t = self.next()?;
        match t.tok {
            Tok::LParen => self.group(&t, in_value),
            // `not` is a keyword only before `(`; otherwise it is an attribute name.
            Tok::Word(w) if w.eq_ignore_ascii_case("not") && self.peek()?.tok == Tok::LParen => {
                let open = self.next()?;
                Ok(Filter::Not(Box::new(self.group(&open, in_value)?)))
            }
            Tok::Word(w) => {
                let path = parse_attr_path(w, t.start, !in_value)?;
                self.after_path(path, in_value)
            }
            _ => Err(Self::unexpected(&t, "an attribute path, '(' or 'not ('")),
        }
    }

    fn after_path(&mut self, path: AttrPath, in_value: bool) -> Result<Filter> {
        let t = self.next()?;
        match t.tok {
            Tok::LBracket if !in_value && path.sub.is_none() => {
                let filter = self.value_filter(&t)?;
                Ok(Filter::ValuePath { path, filter: Box::new(filter) })
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("pr") => Ok(Filter::Present(path)),
            Tok::Word(w) if CompareOp::from_keyword(w).is_some() => {
                let op = CompareOp::from_keyword(w).expect("checked");
                let value = self.comp_value()?;
                Ok(Filter::Compare { path, op, value })
            }
            _ => {
                let expected = if in_value || path.sub.is_some() {
                    "a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le) or 'pr'"
                } else {
                    "a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le), 'pr' or '['"
                };
                Err(Self::unexpected(&t, expected))
            }
        }
    }

    /// The filter between `[` (already read as `open`) and `]`.
    pub fn value_filter(&mut self, open: &Token<'_>) -> Result<Filter> {
        self.enter(open)?;
        let filter = self.or_expr(true)?;
        self.expect(Tok::RBracket, "'and', 'or' or ']'")?;
        self.depth -= 1;
        Ok(filter)
    }

    fn comp_value(&mut self) -> Result<CompValue> {
        let t = self.next()?;
        Ok(match t.tok {
            Tok::Str(s) => CompValue::String(s),
            Tok::Num(n) => CompValue::Number(n),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            _ => {
                return Err(Self::unexpected(&t, "a value: a \"string\", a number, true, false or null"));
            }
        })
    }
}

/// RFC 7644 §3.4.2.2 `ATTRNAME = ALPHA *(nameChar)`, plus RFC 7643's `$ref`.
pub(crate) fn is_attr_name(s: &str) -> bool {
    let s = s.strip_prefix('$').unwrap_or(s);
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Splits a word token into `[URN ":"] name ["." sub]`. The URN is everything up to the last
/// `:`, since URNs hold both colons and dots (`urn:...:enterprise:2.0:User:manager.value`).
pub(crate) fn parse_attr_path(word: &str, start: usize, allow_urn: bool) -> Result<AttrPath> {
    let (urn, rest, rest_start) = match word.rfind(':') {
        Some(i) => (Some(&word[..i]), &word[i + 1..], start + i + 1),
        None => (None, word, start),
    };
    if let Some(urn) = urn {
        if !allow_urn {
            return Err(error(
                start,
                "a sub-attribute name (no schema URN inside '[...]')",
                Some(format!("'{}'", clip(word))),
            ));
        }
        // A URI has a scheme, so `a:b` is not a URN-qualified path.
        if !urn.contains(':') {
            return Err(error(
                start,
                "an attribute name, or a schema URN such as 'urn:ietf:params:scim:schemas:core:2.0:User' before ':'",
                Some(format!("'{}'", clip(word))),
            ));
        }
    }
    let mut parts = rest.splitn(3, '.');
    let name = parts.next().unwrap_or_default();
    let sub = parts.next();
    if parts.next().is_some() {
        let second_dot = rest_start + name.len() + 1 + sub.unwrap_or_default().len();
        return Err(error(second_dot, "at most one sub-attribute ('name.sub')", Some("'.'".into())));
    }
    let check = |segment: &str, at: usize| {
        if is_attr_name(segment) {
            Ok(())
        } else {
            let found = if segment.is_empty() { word } else { segment };
            Err(error(
                at,
                "an attribute name (a letter, then letters, digits, '-' or '_')",
                Some(format!("'{}'", clip(found))),
            ))
        }
    };
    check(name, rest_start)?;
    if let Some(sub) = sub {
        check(sub, rest_start + name.len() + 1)?;
    }
    Ok(AttrPath { urn: urn.map(str::to_string), name: name.to_string(), sub: sub.map(str::to_string) })
}

fn hex4(chars: &mut impl Iterator<Item = (usize, char)>) -> Option<u32> {
    (0..4).try_fold(0u32, |acc, _| Some(acc * 16 + chars.next()?.1.to_digit(16)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Asserts that `input` parses to the S-expression `canonical`, and that printing it back as
    /// SCIM syntax reparses to the same tree.
    #[track_caller]
    fn parses(input: &str, canonical: &str) {
        let filter = parse_filter(input).unwrap_or_else(|e| panic!("{input:?} must parse: {e}"));
        assert_eq!(filter.to_string(), canonical, "canonical form of {input:?}");
        let printed = filter.to_scim_string();
        assert_eq!(parse_filter(&printed).ok(), Some(filter), "{printed:?} must reparse to the same tree");
    }

    /// Asserts that `input` is refused at byte `position` with `expected` in the message.
    #[track_caller]
    fn rejects(input: &str, position: usize, expected: &str) {
        match parse_filter(input) {
            Err(ScimError::InvalidFilter { position: p, expected: e, found }) => {
                assert!(e.contains(expected), "{input:?}: expected {expected:?} in {e:?} (found {found:?})");
                assert_eq!(p, position, "{input:?}: position of the error ({e}, found {found:?})");
            }
            other => panic!("{input:?} must be an invalidFilter, got {other:?}"),
        }
    }

    /// Every example filter of RFC 7644 §3.4.2.2 (Figure 2) parses, with the meaning the RFC gives.
    #[test]
    fn rfc_7644_examples() {
        let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        for (input, canonical) in [
            (r#"userName eq "bjensen""#, r#"(eq userName "bjensen")"#),
            (r#"name.familyName co "O'Malley""#, r#"(co name.familyName "O'Malley")"#),
            (r#"userName sw "J""#, r#"(sw userName "J")"#),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
                r#"(sw urn:ietf:params:scim:schemas:core:2.0:User:userName "J")"#,
            ),
            ("title pr", "(pr title)"),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, r#"(gt meta.lastModified "2011-05-13T04:42:34Z")"#),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, r#"(ge meta.lastModified "2011-05-13T04:42:34Z")"#),
            (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, r#"(lt meta.lastModified "2011-05-13T04:42:34Z")"#),
            (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, r#"(le meta.lastModified "2011-05-13T04:42:34Z")"#),
            (r#"title pr and userType eq "Employee""#, r#"(and (pr title) (eq userType "Employee"))"#),
            (r#"title pr or userType eq "Intern""#, r#"(or (pr title) (eq userType "Intern"))"#),
            (&format!(r#"schemas eq "{enterprise}""#), &format!(r#"(eq schemas "{enterprise}")"#)),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                r#"(and (eq userType "Employee") (or (co emails "example.com") (co emails.value "example.org")))"#,
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                r#"(and (ne userType "Employee") (not (or (co emails "example.com") (co emails.value "example.org"))))"#,
            ),
            (
                r#"userType eq "Employee" and (emails.type eq "work")"#,
                r#"(and (eq userType "Employee") (eq emails.type "work"))"#,
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                r#"(and (eq userType "Employee") (emails [and (eq type "work") (co value "@example.com")]))"#,
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                r#"(or (emails [and (eq type "work") (co value "@example.com")]) (ims [and (eq type "xmpp") (co value "@foo.com")]))"#,
            ),
        ] {
            parses(input, canonical);
        }
    }

    /// `not` binds tighter than `and`, which binds tighter than `or`; parentheses regroup; chains
    /// of one operator nest to the left.
    #[test]
    fn precedence_and_grouping() {
        for (input, canonical) in [
            ("a pr or b pr and c pr", "(or (pr a) (and (pr b) (pr c)))"),
            ("a pr and b pr or c pr", "(or (and (pr a) (pr b)) (pr c))"),
            ("(a pr or b pr) and c pr", "(and (or (pr a) (pr b)) (pr c))"),
            ("a pr and (b pr or c pr) and d pr", "(and (pr a) (or (pr b) (pr c)) (pr d))"),
            ("not (a pr) and b pr", "(and (not (pr a)) (pr b))"),
            ("not (a pr and b pr) or c pr", "(or (not (and (pr a) (pr b))) (pr c))"),
            ("((((a pr))))", "(pr a)"),
            ("a pr and b pr and c pr", "(and (pr a) (pr b) (pr c))"),
            ("a pr or b pr or c pr or d pr", "(or (pr a) (pr b) (pr c) (pr d))"),
            // Printed flat, but the tree keeps the right-nested group (the round trip checks it).
            ("a pr and (b pr and c pr)", "(and (pr a) (pr b) (pr c))"),
            (r#"a eq 1 or not (b co "x")"#, r#"(or (eq a 1) (not (co b "x")))"#),
        ] {
            parses(input, canonical);
        }
        let left = parse_filter("a pr and b pr and c pr").unwrap();
        assert!(
            matches!(&left, Filter::And(l, _) if matches!(**l, Filter::And(..))),
            "chains nest to the left: {left:?}"
        );
    }

    /// Keywords and operators ignore case (ABNF quoted strings do); attribute names keep the
    /// client's spelling; words that look like keywords are attribute names where one is due.
    #[test]
    fn keywords_and_names() {
        for (input, canonical) in [
            (r#"userName EQ "x" AND title PR"#, r#"(and (eq userName "x") (pr title))"#),
            (r#"UserName Eq "john""#, r#"(eq UserName "john")"#),
            ("a eq TRUE or b ne False or c eq NULL", "(or (eq a true) (ne b false) (eq c null))"),
            ("NOT (a pr)", "(not (pr a))"),
            // RFC 7644's ABNF writes `"not" "("` with no space between.
            ("not(a pr)", "(not (pr a))"),
            ("(a pr)and(b pr)", "(and (pr a) (pr b))"),
            ("  a   pr\tand\nb pr  ", "(and (pr a) (pr b))"),
            ("and eq 1", "(eq and 1)"),
            ("not pr", "(pr not)"),
            ("pr pr", "(pr pr)"),
            ("andy eq 1 or ordinal pr", "(or (eq andy 1) (pr ordinal))"),
            (r#"members[$ref eq "x"]"#, r#"(members [eq $ref "x"])"#),
            ("x-y_z eq 1", "(eq x-y_z 1)"),
        ] {
            parses(input, canonical);
        }
    }

    /// URN-qualified paths split at the last ':', whatever dots and colons the URN holds.
    #[test]
    fn urn_paths() {
        let e = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        for (input, urn, name, sub) in [
            (format!(r#"{e}:department eq "Eng""#), e, "department", None),
            (format!(r#"{e}:manager.value eq "26118915""#), e, "manager", Some("value")),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName pr"#.to_string(),
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "name",
                Some("givenName"),
            ),
        ] {
            let f = parse_filter(&input).unwrap();
            let (Filter::Compare { path, .. } | Filter::Present(path)) = &f else { panic!("{f:?}") };
            assert_eq!(path.urn.as_deref(), Some(urn), "{input}");
            assert_eq!(path.name, name, "{input}");
            assert_eq!(path.sub.as_deref(), sub, "{input}");
        }
    }

    /// The lookups Entra and Okta send parse to plain equality tests.
    #[test]
    fn idp_lookups() {
        for (input, canonical) in [
            (r#"userName eq "ann@example.com""#, r#"(eq userName "ann@example.com")"#),
            (r#"externalId eq "0a1b""#, r#"(eq externalId "0a1b")"#),
            (r#"displayName eq "Group""#, r#"(eq displayName "Group")"#),
            (r#"userName eq "a" and externalId eq "b""#, r#"(and (eq userName "a") (eq externalId "b"))"#),
            (
                r#"userName eq "6a9c59b4-c3b0-4e5f-ae6f-2c1bd4d4e9a7""#,
                r#"(eq userName "6a9c59b4-c3b0-4e5f-ae6f-2c1bd4d4e9a7")"#,
            ),
            (r#"members[value eq "2819c223"]"#, r#"(members [eq value "2819c223"])"#),
        ] {
            parses(input, canonical);
        }
    }

    /// Literals are JSON: escapes decode (surrogate pairs included), numbers keep their kind.
    #[test]
    fn literals() {
        for (input, canonical) in [
            (r#"a eq "q\"b\\s\/\n\t\u00e9""#, r#"(eq a "q\"b\\s/\n\té")"#),
            (r#"a eq "\ud83d\ude00""#, "(eq a \"\u{1F600}\")"),
            (r#"a eq "naïve ☃""#, r#"(eq a "naïve ☃")"#),
            ("a eq 42", "(eq a 42)"),
            ("a eq -7", "(eq a -7)"),
            ("a gt 1.5", "(gt a 1.5)"),
            ("a lt 1.5e3", "(lt a 1500.0)"),
            ("a le 2E-2", "(le a 0.02)"),
            ("a eq 0", "(eq a 0)"),
            ("a eq true", "(eq a true)"),
            ("a eq null", "(eq a null)"),
            (r#"a eq """#, r#"(eq a "")"#),
        ] {
            parses(input, canonical);
        }
    }

    /// Errors point at the byte where parsing stopped, say what would have been accepted there,
    /// and name what was found.
    #[test]
    fn errors() {
        for (input, position, expected) in [
            ("", 0, "an attribute path"),
            ("   ", 3, "an attribute path"),
            ("userName eq", 11, "a value"),
            (r#"userName eq "x" and"#, 19, "an attribute path"),
            (r#"userName xx "x""#, 9, "a comparison operator"),
            (r#"(userName eq "x""#, 16, "')'"),
            (r#"userName eq "x")"#, 15, "end of input"),
            (r#"emails[type eq "work""#, 21, "']'"),
            (r#"emails[type eq "work" and value pr"#, 34, "']'"),
            (r#"userName eq "unterminated"#, 12, "closing '\"'"),
            (r#"a eq "\q""#, 6, "an escape"),
            (r#"a eq "\u12""#, 6, "an escape"),
            (r#"a eq "\ud83d""#, 6, "low surrogate"),
            (r#"a eq "\udc00""#, 6, "Unicode scalar value"),
            ("a eq 01", 5, "a JSON number"),
            ("a eq 1.", 5, "a JSON number"),
            ("a eq 12ab", 5, "a JSON number"),
            ("a eq -", 6, "a digit"),
            ("a eq 1e", 7, "exponent"),
            ("a eq yes", 5, "a value"),
            ("a eq 'x'", 5, "a value"),
            ("name.givenName.x eq 1", 14, "at most one sub-attribute"),
            ("name. eq 1", 5, "an attribute name"),
            ("1abc eq 1", 0, "a JSON number"),
            ("a:b eq 1", 0, "schema URN"),
            ("urn:ietf:params:scim:schemas:core:2.0:User: eq 1", 43, "an attribute name"),
            (r#"emails[urn:x:y:type eq "work"]"#, 7, "no schema URN"),
            (r#"emails[type[value eq 1] pr]"#, 11, "a comparison operator"),
            (r#"name.givenName[value eq 1]"#, 14, "a comparison operator"),
            ("not a pr", 4, "a comparison operator"),
            ("a pr b pr", 5, "end of input"),
            (r#"emails[type eq "work"].value eq "x""#, 22, "end of input"),
            ("a = 1", 2, "a comparison operator"),
            (")", 0, "an attribute path"),
            ("a pr or", 7, "an attribute path"),
        ] {
            rejects(input, position, expected);
        }
    }

    /// Input over the limits is an invalidFilter, never a stack overflow or a long parse.
    #[test]
    fn limits() {
        let long = format!("a eq \"{}\"", "x".repeat(MAX_FILTER_LEN));
        rejects(&long, MAX_FILTER_LEN, "at most 4096 bytes");

        let nest = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
        parses(&nest(MAX_FILTER_DEPTH), "(pr a)");
        rejects(&nest(MAX_FILTER_DEPTH + 1), MAX_FILTER_DEPTH, "levels of nesting");

        let nots = |n: usize| format!("{}a pr{}", "not (".repeat(n), ")".repeat(n));
        assert!(parse_filter(&nots(MAX_FILTER_DEPTH)).is_ok(), "{MAX_FILTER_DEPTH} nots are allowed");
        rejects(&nots(MAX_FILTER_DEPTH + 1), MAX_FILTER_DEPTH * 5 + 4, "levels of nesting");

        let brackets =
            format!("emails[{}type pr{}]", "(".repeat(MAX_FILTER_DEPTH - 1), ")".repeat(MAX_FILTER_DEPTH - 1));
        assert!(parse_filter(&brackets).is_ok(), "'[' counts as one level");

        // Thousands of '(' fail fast at the limit instead of recursing.
        rejects(&"(".repeat(MAX_FILTER_LEN), MAX_FILTER_DEPTH, "levels of nesting");
        // The longest chain that fits is a loop, not recursion, and parses.
        let chain = vec!["a pr"; MAX_FILTER_LEN / 9].join(" or ");
        assert!(parse_filter(&chain).is_ok(), "a long flat chain parses");
    }

    /// The S-expression and SCIM printers agree with the documented forms.
    #[test]
    fn printing() {
        let f = parse_filter(r#"a pr and (b eq "x" or c eq 1) and not (d pr)"#).unwrap();
        assert_eq!(f.to_string(), r#"(and (pr a) (or (eq b "x") (eq c 1)) (not (pr d)))"#);
        assert_eq!(f.to_scim_string(), r#"a pr and (b eq "x" or c eq 1) and not (d pr)"#);
        let v = parse_filter(r#"emails[type eq "work" and value co "@example.com"]"#).unwrap();
        assert_eq!(v.to_string(), r#"(emails [and (eq type "work") (co value "@example.com")])"#);
    }

    fn arb_name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("userName".to_string()),
            Just("and".to_string()),
            Just("not".to_string()),
            Just("pr".to_string()),
            Just("$ref".to_string()),
            "[a-zA-Z][a-zA-Z0-9_-]{0,6}",
        ]
    }

    fn arb_path(allow_urn: bool) -> impl Strategy<Value = AttrPath> {
        let urn = if allow_urn {
            prop_oneof![
                3 => Just(None),
                1 => Just(Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_string())),
                1 => "urn:[a-z0-9.]{1,5}:[a-zA-Z0-9.:-]{0,8}[a-z]".prop_map(Some),
            ]
            .boxed()
        } else {
            Just(None).boxed()
        };
        (urn, arb_name(), proptest::option::of(arb_name())).prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
    }

    fn arb_value() -> impl Strategy<Value = CompValue> {
        prop_oneof![
            Just(CompValue::Null),
            any::<bool>().prop_map(CompValue::Bool),
            any::<i64>().prop_map(|n| CompValue::Number(n.into())),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| CompValue::Number(Number::from_f64(f).unwrap())),
            any::<String>().prop_map(CompValue::String),
        ]
    }

    fn arb_op() -> impl Strategy<Value = CompareOp> {
        proptest::sample::select(vec![
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ])
    }

    fn arb_filter_in(allow_urn: bool) -> impl Strategy<Value = Filter> {
        let leaf = prop_oneof![
            arb_path(allow_urn).prop_map(Filter::Present),
            (arb_path(allow_urn), arb_op(), arb_value()).prop_map(|(path, op, value)| Filter::Compare {
                path,
                op,
                value
            }),
        ];
        leaf.prop_recursive(6, 40, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::And(Box::new(l), Box::new(r))),
                (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::Or(Box::new(l), Box::new(r))),
                inner.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        })
    }

    fn arb_filter() -> impl Strategy<Value = Filter> {
        let value_path = (arb_path(true), arb_filter_in(false)).prop_map(|(mut path, filter)| {
            path.sub = None;
            Filter::ValuePath { path, filter: Box::new(filter) }
        });
        prop_oneof![3 => arb_filter_in(true), 1 => value_path].prop_recursive(3, 20, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::And(Box::new(l), Box::new(r))),
                (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::Or(Box::new(l), Box::new(r))),
                inner.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        })
    }

    fn token_soup() -> impl Strategy<Value = String> {
        let piece = proptest::sample::select(vec![
            "a",
            "emails",
            " ",
            "  ",
            "(",
            ")",
            "[",
            "]",
            "\"",
            "\\",
            "\\u",
            "d83d",
            " eq ",
            " and ",
            " or ",
            "not ",
            "not",
            " pr",
            " PR",
            ".",
            ":",
            "urn:ietf:params:scim:",
            "1",
            "-",
            "e",
            "1.5e",
            "true",
            "null",
            "\"x\"",
            "é",
            "\u{0}",
            "$",
            "\t",
            "💥",
            "ne",
            "value",
        ]);
        proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Arbitrary text never panics the filter or path parser.
        #[test]
        fn random_text_never_panics(s in "\\PC{0,80}") {
            let _ = parse_filter(&s);
            let _ = crate::path::parse_patch_path(&s);
        }

        /// Soups of keywords, brackets, quotes and escapes never panic either parser, and any
        /// error position lies within the input.
        #[test]
        fn token_soup_never_panics(s in token_soup()) {
            if let Err(ScimError::InvalidFilter { position, .. }) = parse_filter(&s) {
                prop_assert!(position <= s.len(), "position {position} beyond {}", s.len());
            }
            let _ = crate::path::parse_patch_path(&s);
        }

        /// For generated trees, printing in SCIM syntax and parsing gives the same tree, and the
        /// parse of any accepted text survives a print/parse round trip.
        #[test]
        fn print_parse_round_trip(f in arb_filter()) {
            let printed = f.to_scim_string();
            let reparsed = parse_filter(&printed);
            prop_assert_eq!(reparsed.as_ref().ok(), Some(&f), "{}", printed);
            let again = parse_filter(&reparsed.unwrap().to_scim_string()).unwrap();
            prop_assert_eq!(again, f);
        }
    }
}
