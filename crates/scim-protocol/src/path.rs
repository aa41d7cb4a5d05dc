//! PATCH paths (RFC 7644 §3.5.2): `PATH = attrPath / valuePath [subAttr]`, read with the
//! filter lexer so both grammars agree on names, URNs, strings and limits.
//!
//! The parser checks syntax only. Whether `nosuchattr` names an attribute of the resource is
//! the PATCH engine's question, since it knows the resource type.

use crate::ast::PatchPath;
use crate::error::{Result, ScimError};
use crate::filter::{Parser, Tok, error, is_attr_name, parse_attr_path};

/// Parses a PATCH operation's `path`: `title`, `name.givenName`,
/// `emails[type eq "work"].value`, `urn:...:enterprise:2.0:User:manager.value`.
///
/// Errors are [`ScimError::InvalidPath`], whose message carries the byte position, what was
/// expected and what was found.
pub fn parse_patch_path(input: &str) -> Result<PatchPath> {
    parse(input).map_err(|e| match e {
        ScimError::InvalidFilter { position, expected, found } => ScimError::InvalidPath(format!(
            "invalid path at position {position}: expected {expected}, found {}",
            found.as_deref().unwrap_or("end of input")
        )),
        other => other,
    })
}

fn parse(input: &str) -> Result<PatchPath> {
    let mut p = Parser::new(input)?;
    let t = p.next()?;
    let Tok::Word(word) = t.tok else {
        return Err(Parser::unexpected(&t, "an attribute path"));
    };
    let attr = parse_attr_path(word, t.start, true)?;
    let t = p.next()?;
    match t.tok {
        Tok::End => {
            return Ok(PatchPath { attr, filter: None, sub_after_filter: None });
        }
        Tok::LBracket if attr.sub.is_none() => {}
        _ if attr.sub.is_some() => return Err(Parser::unexpected(&t, "end of path")),
        _ => return Err(Parser::unexpected(&t, "'[' or end of path")),
    }
    let filter = p.value_filter(&t)?;
    let t = p.next()?;
    let sub_after_filter = match t.tok {
        Tok::End => None,
        Tok::Dot => {
            let s = p.next()?;
            match s.tok {
                Tok::Word(sub) if is_attr_name(sub) => Some(sub.to_string()),
                // `emails[...].value.x`: point at the second dot.
                Tok::Word(sub) if sub.contains('.') && is_attr_name(&sub[..sub.find('.').unwrap_or(0)]) => {
                    let at = s.start + sub.find('.').unwrap_or(0);
                    return Err(error(at, "end of path", Some("'.'".into())));
                }
                _ => return Err(Parser::unexpected(&s, "a sub-attribute name after '.'")),
            }
        }
        _ => {
            return Err(Parser::unexpected(&t, "'.' and a sub-attribute, or end of path"));
        }
    };
    p.expect_end("end of path")?;
    Ok(PatchPath { attr, filter: Some(filter), sub_after_filter })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::AttrPath;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    /// Asserts that `input` parses to `(urn, name, sub)`, an optional value filter (as its
    /// S-expression) and a sub-attribute after it, and prints back to itself.
    #[track_caller]
    fn path(input: &str, attr: (Option<&str>, &str, Option<&str>), filter: Option<&str>, after: Option<&str>) {
        let p = parse_patch_path(input).unwrap_or_else(|e| panic!("{input:?} must parse: {e}"));
        let want = AttrPath { urn: attr.0.map(Into::into), name: attr.1.into(), sub: attr.2.map(Into::into) };
        assert_eq!(p.attr, want, "attribute of {input:?}");
        assert_eq!(p.filter.as_ref().map(ToString::to_string).as_deref(), filter, "filter of {input:?}");
        assert_eq!(p.sub_after_filter.as_deref(), after, "sub-attribute after the filter in {input:?}");
        assert_eq!(p.to_string(), input, "{input:?} prints back as written");
    }

    /// Asserts that `input` is an invalidPath whose message names `position` and `expected`.
    #[track_caller]
    fn rejects(input: &str, position: usize, expected: &str) {
        match parse_patch_path(input) {
            Err(ScimError::InvalidPath(msg)) => {
                assert!(msg.contains(&format!("position {position}:")), "{input:?}: position {position} in {msg:?}");
                assert!(msg.contains(expected), "{input:?}: {expected:?} in {msg:?}");
            }
            other => panic!("{input:?} must be an invalidPath, got {other:?}"),
        }
    }

    /// The PATCH paths of RFC 7644 §3.5.2 and the ones Entra and Okta send parse into the
    /// attribute, the value filter and the sub-attribute after it.
    #[test]
    fn patch_paths() {
        path("title", (None, "title", None), None, None);
        path("name.givenName", (None, "name", Some("givenName")), None, None);
        path(r#"emails[type eq "work"]"#, (None, "emails", None), Some(r#"(eq type "work")"#), None);
        path(r#"emails[type eq "work"].value"#, (None, "emails", None), Some(r#"(eq type "work")"#), Some("value"));
        path(
            r#"addresses[type eq "work"].streetAddress"#,
            (None, "addresses", None),
            Some(r#"(eq type "work")"#),
            Some("streetAddress"),
        );
        path(r#"members[value eq "2819c223"]"#, (None, "members", None), Some(r#"(eq value "2819c223")"#), None);
        path(
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
            (None, "members", None),
            Some(r#"(eq value "2819c223-7f76-453a-919d-413861904646")"#),
            None,
        );
        path(&format!("{ENTERPRISE}:department"), (Some(ENTERPRISE), "department", None), None, None);
        path(&format!("{ENTERPRISE}:manager.value"), (Some(ENTERPRISE), "manager", Some("value")), None, None);
        path(
            "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
            (Some("urn:ietf:params:scim:schemas:core:2.0:User"), "name", Some("givenName")),
            None,
            None,
        );
        path(
            r#"emails[type eq "work" and not (primary eq true)].display"#,
            (None, "emails", None),
            Some(r#"(and (eq type "work") (not (eq primary true)))"#),
            Some("display"),
        );
    }

    /// A path naming a whole extension reads as URN plus attribute; `as_schema_urn` recovers it.
    #[test]
    fn whole_extension_path() {
        let p = parse_patch_path(ENTERPRISE).unwrap();
        assert_eq!(
            p.attr.as_schema_urn().as_deref(),
            Some(ENTERPRISE),
            "the PATCH engine can spot a whole-schema path"
        );
    }

    /// Malformed paths are invalidPath errors with the byte position and what was expected.
    #[test]
    fn errors() {
        for (input, position, expected) in [
            ("", 0, "an attribute path"),
            (r#"emails[type eq"#, 14, "a value"),
            (r#"emails[type eq "work""#, 21, "']'"),
            (r#"emails[type eq "work"]."#, 23, "a sub-attribute name"),
            (r#"emails[type eq "work"].value.x"#, 28, "end of path"),
            (r#"emails[type eq "work"]value"#, 22, "'.' and a sub-attribute"),
            (r#"emails[type eq "work"].value[x pr]"#, 28, "end of path"),
            ("name.givenName.x", 14, "at most one sub-attribute"),
            ("name.givenName[x pr]", 14, "end of path"),
            ("title eq", 6, "'[' or end of path"),
            ("urn:ietf:params:scim:schemas:core:2.0:User:", 43, "an attribute name"),
            ("[type pr]", 0, "an attribute path"),
            (r#"emails[urn:a:b:type pr]"#, 7, "no schema URN"),
        ] {
            rejects(input, position, expected);
        }
        let long = "a".repeat(crate::filter::MAX_FILTER_LEN + 1);
        rejects(&long, crate::filter::MAX_FILTER_LEN, "at most 4096 bytes");
    }
}
