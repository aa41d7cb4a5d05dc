//! List and search parameters (RFC 7644 §3.4.2): filter, sorting, paging and projection,
//! parsed the same way from a query string and from a `SearchRequest` body.

use serde_json::Value;

use scim_protocol::ScimError;
use scim_protocol::ast::Filter;
use scim_protocol::resource::Projection;

/// The largest page the server returns; a larger `count` is lowered to it (advertised in
/// `/ServiceProviderConfig` as `filter.maxResults`).
pub const MAX_PAGE_SIZE: i64 = 1000;
/// The page size when a client gives no `count`.
pub const DEFAULT_PAGE_SIZE: i64 = 100;

/// A parsed list request.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based (§3.4.2.4).
    pub start_index: i64,
    pub count: i64,
    pub sort_by: Option<String>,
    pub descending: bool,
    /// RFC 9865: `Some("")` starts cursor paging; `Some(c)` continues from `c`.
    pub cursor: Option<String>,
    pub projection: Projection,
}

fn int_param(name: &str, v: &str) -> Result<i64, ScimError> {
    v.trim().parse::<i64>().map_err(|_| ScimError::invalid_value(format!("\"{name}\" must be an integer, not \"{v}\"")))
}

impl ListQuery {
    /// Parses query-string pairs. Parameter names ignore case, as IdPs vary (`startindex`).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, ScimError> {
        let mut q = ListQuery { start_index: 1, count: DEFAULT_PAGE_SIZE, ..Default::default() };
        let (mut attributes, mut excluded) = (None, None);
        for (k, v) in pairs {
            match k.to_ascii_lowercase().as_str() {
                "filter" => q.filter = Some(parse_filter(v)?),
                "startindex" => q.start_index = int_param("startIndex", v)?.max(1),
                "count" => q.count = int_param("count", v)?.clamp(0, MAX_PAGE_SIZE),
                "sortby" => q.sort_by = Some(v.to_string()).filter(|s| !s.is_empty()),
                "sortorder" => q.descending = sort_order(v)?,
                "cursor" => q.cursor = Some(v.to_string()),
                "attributes" => attributes = Some(v.to_string()),
                "excludedattributes" => excluded = Some(v.to_string()),
                _ => {}
            }
        }
        q.projection = Projection::parse(attributes.as_deref(), excluded.as_deref());
        Ok(q)
    }

    /// Parses a `SearchRequest` body (§3.4.3).
    pub fn from_search(body: &Value) -> Result<Self, ScimError> {
        let obj = body.as_object().ok_or_else(|| ScimError::invalid_syntax("a SearchRequest must be a JSON object"))?;
        let mut pairs: Vec<(String, String)> = vec![];
        for (k, v) in obj {
            let text = match (k.to_ascii_lowercase().as_str(), v) {
                ("schemas", _) => continue,
                ("attributes" | "excludedattributes", Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| ScimError::invalid_value(format!("\"{k}\" must list strings")))
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .join(","),
                (_, Value::String(s)) => s.clone(),
                ("startindex" | "count", Value::Number(n)) => n.to_string(),
                (_, Value::Null) => continue,
                _ => return Err(ScimError::invalid_value(format!("\"{k}\" has the wrong type in the SearchRequest"))),
            };
            pairs.push((k.clone(), text));
        }
        Self::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

fn sort_order(v: &str) -> Result<bool, ScimError> {
    match v.to_ascii_lowercase().as_str() {
        "ascending" | "" => Ok(false),
        "descending" => Ok(true),
        _ => Err(ScimError::invalid_value(format!("\"sortOrder\" is \"ascending\" or \"descending\", not \"{v}\""))),
    }
}

fn parse_filter(v: &str) -> Result<Filter, ScimError> {
    scim_protocol::filter::parse_filter(v)
}
