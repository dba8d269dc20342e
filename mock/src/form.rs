//! A small `multipart/form-data` reader, so routes can check required fields and tests can
//! assert on a form's exact fields.

/// One form field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field name.
    pub name: String,
    /// The file name, for file parts.
    pub filename: Option<String>,
    /// The part's content type, when given.
    pub content_type: Option<String>,
    /// The value.
    pub data: Vec<u8>,
}

/// The fields of a request's body, by its `content-type` header; `None` if it is not a form.
pub fn of_request(headers: &axum::http::HeaderMap, body: &[u8]) -> Option<Vec<Field>> {
    parse(headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or(""), body)
}

/// A field's bytes.
pub fn get<'a>(fields: &'a [Field], name: &str) -> Option<&'a [u8]> {
    fields.iter().find(|f| f.name == name).map(|f| f.data.as_slice())
}

/// A field's text (`None` if absent or not UTF-8).
pub fn text<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    get(fields, name).and_then(|v| std::str::from_utf8(v).ok())
}

/// The fields of `body`, given its `content-type`; `None` if it is not a well-formed form.
pub fn parse(content_type: &str, body: &[u8]) -> Option<Vec<Field>> {
    let boundary = content_type
        .strip_prefix("multipart/form-data")?
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut fields = Vec::new();
    for part in split(body, delimiter.as_bytes()).into_iter().skip(1) {
        if part.starts_with(b"--") {
            break;
        }
        let part = part.strip_prefix(b"\r\n")?;
        let split_at = part.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&part[..split_at]);
        let data = part[split_at + 4..].strip_suffix(b"\r\n")?.to_vec();
        let param = |key: &str| {
            head.split(';')
                .find_map(|p| p.trim().strip_prefix(&format!("{key}=\"")).map(|v| v.trim_end_matches('"').to_string()))
        };
        let content_type = head.lines().find_map(|l| {
            l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.trim().to_string())
        });
        fields.push(Field { name: param("name")?, filename: param("filename"), content_type, data });
    }
    Some(fields)
}

fn split<'a>(body: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.windows(delimiter.len()).position(|w| w == delimiter) {
        parts.push(&rest[..at]);
        rest = &rest[at + delimiter.len()..];
    }
    parts.push(rest);
    parts
}
