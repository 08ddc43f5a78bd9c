//! What the OpenAPI annotations cannot say, added to the generated document
//! in one pass (`complete`): the aliases the routers serve, a schema per
//! realtime event, the error-code catalogue, and the error responses every
//! operation can give (401 where signed in, 404 where a path names something,
//! 422 where input is read, 500 and 503 everywhere).

use serde_json::{Map, Value, json};

use crate::messages;

/// Paths the routers also serve, as a second name of another: (documented
/// path, alias). The alias gets the same operations with `_api` appended to
/// their `operationId`s.
pub const ALIASES: &[(&str, &str)] = &[
    ("/users/{id}/block", "/api/users/{id}/block"),
    ("/users/{id}/unblock", "/api/users/{id}/unblock"),
    ("/users/{id}/report", "/api/users/{id}/report"),
];

pub const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// What the annotations cannot say, added to the generated document.
pub fn complete(mut doc: Value) -> Value {
    add_aliases(&mut doc);
    add_events(&mut doc);
    add_error_codes(&mut doc);
    add_error_responses(&mut doc);
    doc
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn add_aliases(doc: &mut Value) {
    for (path, alias) in ALIASES {
        let Some(mut item) = doc["paths"].get(*path).cloned() else {
            panic!("alias of an undocumented path {path}");
        };
        for method in METHODS {
            if let Some(op) = item.get_mut(method) {
                let id = op["operationId"].as_str().unwrap_or(method).to_owned();
                op["operationId"] = json!(format!("{id}_api"));
                let said = op["description"].as_str().unwrap_or("").to_owned();
                op["description"] = json!(format!("The same as `{path}`. {said}"));
            }
        }
        doc["paths"][*alias] = item;
    }
}

/// `Event_<type>` for every message the server sends on `/ws` and `/api/events`,
/// `ClientMessage_<type>` for those a client sends on `/ws`; the two operations
/// answer with a `oneOf` of them.
fn add_events(doc: &mut Value) {
    let generated =
        serde_json::to_value(<crate::realtime::protocol::Event as utoipa::PartialSchema>::schema())
            .expect("the event schema is JSON");
    let event_id = json!({
        "type": "string",
        "description": "The event's id (`<ms>-<seq>`): SSE sends it as `id:` too. Reconnect \
                        with `Last-Event-ID` (SSE) or `?last_event_id=` (WS) to get the events \
                        missed in the last 5 minutes."
    });
    let mut events: Vec<(String, Value)> = Vec::new();
    for variant in generated["oneOf"].as_array().into_iter().flatten() {
        let mut variant = flatten(variant);
        let name = event_type(&variant).expect("every event has a type");
        variant["properties"]["event_id"] = event_id.clone();
        events.push((name, variant));
    }
    assert!(!events.is_empty(), "no events in the protocol's schema");
    let type_only = |name: &str| {
        json!({"type": "object", "required": ["type"],
               "properties": {"type": {"type": "string", "enum": [name]}}})
    };
    let ws_only = [
        (
            "pong",
            type_only("pong"),
            "The answer to a client's `ping` (WebSocket only).",
        ),
        (
            "authenticated",
            json!({"type": "object", "required": ["type", "expires_at"], "properties": {
                "type": {"type": "string", "enum": ["authenticated"]},
                "expires_at": {"type": "string", "format": "date-time",
                               "description": "When the new access token expires; the socket lives until then"}}}),
            "The answer to a client's `auth` with a fresh token (WebSocket only).",
        ),
        (
            "error",
            json!({"type": "object", "required": ["type", "error", "code"], "properties": {
                "type": {"type": "string", "enum": ["error"]},
                "error": {"type": "string", "description": "The message, as an HTTP error body has it"},
                "code": {"allOf": [schema_ref("ErrorCode")], "description": "As an HTTP error body has it (`validation_error` for a malformed message)"},
                "details": {"type": "string", "description": "With `validation_error`: what is wrong with the message"},
                "call_session_id": {"type": "string", "description": "The call of the refused signal"},
                "wait_seconds": {"type": "integer", "description": "With `signal_quota`"}}}),
            "A client message the server refused (WebSocket only).",
        ),
    ];
    let client = [
        ("ping", type_only("ping"), "Answered `pong`."),
        (
            "signal",
            json!({"type": "object", "required": ["type", "call_session_id", "payload"], "properties": {
                "type": {"type": "string", "enum": ["signal"]},
                "call_session_id": {"type": "string"},
                "payload": {"type": "object", "description": "SDP offer/answer or ICE candidate, relayed as is (at most 16 KiB)"}}}),
            "WebRTC signaling for the call partner, who gets it as a `signal` event.",
        ),
        (
            "auth",
            json!({"type": "object", "required": ["type", "token"], "properties": {
                "type": {"type": "string", "enum": ["auth"]},
                "token": {"type": "string", "description": "A fresh access token of the same user"}}}),
            "Keeps the socket open past the first token's expiry; answered `authenticated`.",
        ),
    ];
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("components.schemas");
    let mut sse = Vec::new();
    let mut ws = Vec::new();
    for (name, schema) in events {
        let key = format!("Event_{name}");
        schemas.insert(key.clone(), schema);
        sse.push(schema_ref(&key));
        ws.push(schema_ref(&key));
    }
    for (name, mut schema, description) in ws_only {
        schema["description"] = json!(description);
        let key = format!("Event_{name}");
        schemas.insert(key.clone(), schema);
        ws.push(schema_ref(&key));
    }
    let mut client_refs = Vec::new();
    for (name, mut schema, description) in client {
        schema["description"] = json!(description);
        let key = format!("ClientMessage_{name}");
        schemas.insert(key.clone(), schema);
        client_refs.push(schema_ref(&key));
    }
    let one_of = |refs: &[Value]| json!({"oneOf": refs, "discriminator": {"propertyName": "type"}});
    schemas.insert("Event".into(), one_of(&sse));
    schemas.insert("ServerMessage".into(), one_of(&ws));
    schemas.insert("ClientMessage".into(), one_of(&client_refs));

    let ws_op = &mut doc["paths"]["/ws"]["get"];
    ws_op["responses"]["101"]["content"] =
        json!({"application/json": {"schema": schema_ref("ServerMessage")}});
    ws_op["description"] = json!(format!(
        "{} Each WebSocket text message from the server is one `ServerMessage` (an `Event_*`); \
         a client sends `ClientMessage`s. A socket that does not answer pings within \
         `WS_PONG_TIMEOUT_SEC` is closed; it closes with 4001 when its session ends.",
        ws_op["description"].as_str().unwrap_or("")
    ));
    ws_op["x-client-messages"] = schema_ref("ClientMessage");
    let sse_op = &mut doc["paths"]["/api/events"]["get"];
    sse_op["responses"]["200"]["content"] =
        json!({"text/event-stream": {"schema": schema_ref("Event")}});
}

/// One object schema for an `allOf` of inline objects (an event's fields and
/// its `type`), so that each event reads as one object.
fn flatten(schema: &Value) -> Value {
    let Some(parts) = schema["allOf"].as_array() else {
        return schema.clone();
    };
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut description = None;
    for part in parts {
        if part.get("$ref").is_some() {
            return schema.clone();
        }
        // the tag first
        let mut props: Vec<_> = part["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .collect();
        props.sort_by_key(|(k, _)| *k != "type");
        for (k, v) in props {
            properties.insert(k.clone(), v.clone());
        }
        required.extend(part["required"].as_array().into_iter().flatten().cloned());
        description = description.or_else(|| part.get("description").cloned());
    }
    let mut object = json!({"type": "object", "required": required, "properties": properties});
    if let Some(description) = description {
        object["description"] = description;
    }
    object
}

/// The `type` of one generated event schema (`properties.type.enum[0]`,
/// possibly inside an `allOf`).
fn event_type(schema: &Value) -> Option<String> {
    if let Some(name) = schema["properties"]["type"]["enum"][0].as_str() {
        return Some(name.to_owned());
    }
    schema["allOf"].as_array()?.iter().find_map(event_type)
}

/// The catalogue: `ErrorCode` (every code, an enum the error bodies' `code`
/// points to) and `info.x-error-codes` (code, status, messages, when).
fn add_error_codes(doc: &mut Value) {
    let codes: Vec<&str> = messages::ERRORS.iter().map(|e| e.code()).collect();
    let table: Vec<Value> = messages::ERRORS
        .iter()
        .map(|e| {
            json!({
                "code": e.code(),
                "status": e.status,
                "message": e.texts.iter().map(|t| t.documents).collect::<Vec<_>>(),
                "message_en": e.texts.iter().map(|t| t.english).collect::<Vec<_>>(),
                "when": e.when,
            })
        })
        .collect();
    doc["info"]["x-error-codes"] = json!(table);
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("components.schemas");
    schemas.insert(
        "ErrorCode".into(),
        json!({
            "type": "string",
            "enum": codes,
            "description": "The stable name of an error (every error body's `code`); \
                            `info.x-error-codes` and docs/errors.md say when each is sent."
        }),
    );
    for body in [
        "ErrorBody",
        "ValidationErrorBody",
        "RateLimitedBody",
        "NotEnoughGemsBody",
    ] {
        let code = &mut schemas
            .get_mut(body)
            .unwrap_or_else(|| panic!("{body} is a component"))["properties"]["code"];
        let description = code["description"].clone();
        let example = code["example"].clone();
        *code = json!({"allOf": [schema_ref("ErrorCode")]});
        if !description.is_null() {
            code["description"] = description;
        }
        if !example.is_null() {
            code["example"] = example;
        }
    }
}

fn error_response(description: &str, body: &str) -> Value {
    json!({"description": description,
           "content": {"application/json": {"schema": schema_ref(body)}}})
}

fn add_error_responses(doc: &mut Value) {
    let retry_after = json!({"Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer"}}});
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            let secured = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| {
                    s.iter()
                        .any(|r| r.as_object().is_some_and(|r| !r.is_empty()))
                });
            let reads_input = op.contains_key("requestBody")
                || op
                    .get("parameters")
                    .and_then(Value::as_array)
                    .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query" || p["in"] == "path"));
            let responses = op
                .entry("responses")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("responses");
            let mut ensure = |status: &str, description: &str, body: &str| {
                responses
                    .entry(status)
                    .or_insert_with(|| error_response(description, body));
            };
            if secured {
                ensure(
                    "401",
                    "The access token is missing, bad, expired or revoked (`invalid_token`)",
                    "ErrorBody",
                );
            }
            if path.contains('{') {
                ensure("404", "Not found (`not_found`)", "ErrorBody");
            }
            if reads_input {
                ensure(
                    "422",
                    "Malformed input (`validation_error`); `details` says what, per field",
                    "ValidationErrorBody",
                );
            }
            ensure("500", "Server error (`server_error`)", "ErrorBody");
            ensure(
                "503",
                "Redis, Postgres or a provider is unreachable (`service_unavailable`), or the \
                 server is too busy (`server_busy`); try again after `Retry-After`",
                "ErrorBody",
            );
            let id = op["operationId"].as_str().unwrap_or("").to_owned();
            let responses = op["responses"].as_object_mut().expect("responses");
            add_error_details(&id, responses, &retry_after);
        }
    }
}

/// Error responses annotated without a body get the common one, and without
/// a description the status's name; every 429 and 503 names `Retry-After`;
/// each lists the codes the operation can answer with that status
/// (`x-error-codes`).
fn add_error_details(operation: &str, responses: &mut Map<String, Value>, retry_after: &Value) {
    // an alias answers what its path does
    let operation = operation.strip_suffix("_api").unwrap_or(operation);
    for (status, response) in responses.iter_mut() {
        let Ok(code) = status.parse::<u16>() else {
            continue;
        };
        if code < 400 {
            continue;
        }
        let description = match response["description"].as_str() {
            Some(d) if !d.is_empty() => d.to_owned(),
            _ => warp::http::StatusCode::from_u16(code)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Error")
                .to_owned(),
        };
        if response.get("content").is_none() {
            *response = error_response(&description, "ErrorBody");
        }
        response["description"] = json!(description);
        if code == 429 || code == 503 {
            response["headers"] = retry_after.clone();
        }
        let codes: Vec<&str> = messages::ERRORS
            .iter()
            .filter(|e| e.status == code)
            .filter(|e| e.operations.is_empty() || e.operations.contains(&operation))
            .map(|e| e.code())
            .collect();
        response["x-error-codes"] = json!(codes);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::ops::openapi::document;

    #[test]
    fn operation_ids_are_unique_and_every_operation_has_its_errors() {
        let (text, routes) = document();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let mut ids = HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path}"));
                assert!(ids.insert(id.to_owned()), "operationId {id} twice");
                for status in ["500", "503"] {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{method} {path} {status}"
                    );
                }
                if op.get("security").is_some() {
                    assert!(op["responses"].get("401").is_some(), "{method} {path} 401");
                }
            }
        }
        for (_, alias) in ALIASES {
            assert!(routes.iter().any(|r| r == alias), "{alias}");
        }
        // the catalogue names operations that exist
        for e in messages::ERRORS {
            for op in e.operations {
                assert!(ids.contains(*op), "{} names {op}", e.code());
            }
        }
    }

    #[test]
    fn every_realtime_event_has_a_schema() {
        let (text, _) = document();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in [
            "match_found",
            "match_decided",
            "call_started",
            "call_ended",
            "signal",
            "new_message",
            "broadcast_reply",
            "pong",
            "authenticated",
            "error",
        ] {
            let schema = &schemas[&format!("Event_{name}")];
            assert_eq!(event_type(schema).as_deref(), Some(name), "{schema}");
            assert_eq!(schema["type"], "object", "{schema}");
        }
        let code = &schemas["ErrorBody"]["properties"]["code"];
        assert_eq!(code["allOf"][0]["$ref"], "#/components/schemas/ErrorCode");
    }
}
