//! The OpenAPI 3.1 document at `/v1/openapi.json`, built from the same route table the
//! router is built from (so every served route is documented, and nothing else), with
//! request and reply schemas generated from the protocol types (schemars, JSON Schema
//! 2020-12, which OpenAPI 3.1 uses as is).

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};

/// What a route takes and gives, for the document.
#[derive(Clone)]
pub(crate) struct Doc {
    pub method: &'static str,
    /// The path under `/v1`, in axum's and OpenAPI's shared `{param}` syntax.
    pub path: &'static str,
    pub summary: &'static str,
    body: Option<Body>,
    /// The success status and its reply.
    reply: (u16, Reply),
    /// Error statuses it may answer, besides 401 and 429 (every route has those).
    errors: &'static [u16],
    query: &'static [(&'static str, &'static str)],
    /// The last path parameter takes the rest of the path (`a/b.png`).
    rest: bool,
}

#[derive(Clone)]
enum Body {
    Json(fn(&mut SchemaGenerator) -> Value),
    /// Raw bytes with their media type (uploads).
    File,
}

#[derive(Clone)]
enum Reply {
    Json(fn(&mut SchemaGenerator) -> Value),
    /// Bytes, with `Range` (downloads).
    File,
    /// A WebSocket upgrade.
    Upgrade,
}

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Value {
    g.subschema_for::<T>().to_value()
}

impl Doc {
    pub(crate) fn new(method: &'static str, path: &'static str, summary: &'static str) -> Self {
        Self { method, path, summary, body: None, reply: (200, Reply::File), errors: &[], query: &[], rest: false }
    }

    /// The last path parameter takes the rest of the path, slashes and all.
    pub(crate) fn rest_of_path(mut self) -> Self {
        self.rest = true;
        self
    }

    /// The path in axum's syntax: a rest-of-path parameter is `{*name}` there.
    pub(crate) fn route_path(&self) -> String {
        match (self.rest, self.path.rfind('{')) {
            (true, Some(at)) => format!("{}{{*{}", &self.path[..at], &self.path[at + 1..]),
            _ => self.path.to_string(),
        }
    }

    pub(crate) fn body<T: JsonSchema>(mut self) -> Self {
        self.body = Some(Body::Json(schema::<T>));
        self
    }

    pub(crate) fn file_body(mut self) -> Self {
        self.body = Some(Body::File);
        self
    }

    pub(crate) fn reply<T: JsonSchema>(mut self, status: u16) -> Self {
        self.reply = (status, Reply::Json(schema::<T>));
        self
    }

    pub(crate) fn file_reply(mut self) -> Self {
        self.reply = (200, Reply::File);
        self
    }

    pub(crate) fn upgrade(mut self) -> Self {
        self.reply = (101, Reply::Upgrade);
        self
    }

    pub(crate) fn errors(mut self, errors: &'static [u16]) -> Self {
        self.errors = errors;
        self
    }

    pub(crate) fn query(mut self, query: &'static [(&'static str, &'static str)]) -> Self {
        self.query = query;
        self
    }

    fn operation(&self, g: &mut SchemaGenerator) -> Value {
        let mut op = json!({
            "summary": self.summary,
            "operationId": format!("{}{}", self.method, self.path.replace(['/', '{', '}'], "_")),
            "security": [{ "bearer": [] }],
        });
        let mut params: Vec<Value> = path_params(self.path)
            .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        params.extend(
            self.query.iter().map(
                |(name, kind)| json!({ "name": name, "in": "query", "required": false, "schema": { "type": kind } }),
            ),
        );
        if !params.is_empty() {
            op["parameters"] = params.into();
        }
        match &self.body {
            Some(Body::Json(f)) => {
                op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": f(g) } } })
            }
            Some(Body::File) => {
                let bytes = json!({ "schema": { "type": "string", "contentMediaType": "application/octet-stream" } });
                op["requestBody"] = json!({ "required": true, "content": { "*/*": bytes } })
            }
            None => {}
        }
        let mut responses = Map::new();
        let (status, reply) = &self.reply;
        let success = match reply {
            Reply::Json(f) => json!({ "description": "OK", "content": { "application/json": { "schema": f(g) } } }),
            Reply::File => json!({
                "description": "The bytes; 206 with `Content-Range` for a `Range` request.",
                "content": { "*/*": { "schema": { "type": "string", "contentMediaType": "application/octet-stream" } } }
            }),
            Reply::Upgrade => json!({ "description": "Switching to the WebSocket protocol." }),
        };
        responses.insert(status.to_string(), success);
        if matches!(reply, Reply::File) && self.method == "get" {
            responses.insert("206".into(), json!({ "description": "Part of the bytes." }));
        }
        let error = json!({ "$ref": "#/components/responses/Error" });
        for code in self.errors.iter().chain(&[401, 429]) {
            responses.insert(code.to_string(), error.clone());
        }
        op["responses"] = responses.into();
        op
    }
}

/// The `{param}` names of a path.
pub(crate) fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

/// The document for `docs` (the `/v1` routes).
pub(crate) fn document(docs: &[Doc]) -> Value {
    let mut generator =
        SchemaSettings::draft2020_12().with(|s| s.definitions_path = "#/components/schemas/".into()).into_generator();
    let mut paths = Map::new();
    for doc in docs {
        let op = doc.operation(&mut generator);
        let item = paths.entry(format!("/v1{}", doc.path)).or_insert_with(|| json!({}));
        item[doc.method] = op;
    }
    let error = schema::<crate::protocol::ErrorBody>(&mut generator);
    let schemas = generator.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Switchyard server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A persistent, authenticated run queue. Every route needs an API key \
                            (`Authorization: Bearer sy_…`); every query is scoped to the key's tenant.",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                "Error": {
                    "description": "An error: its code, what is wrong and how to fix it.",
                    "content": { "application/json": { "schema": error } }
                }
            },
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        }
    })
}
