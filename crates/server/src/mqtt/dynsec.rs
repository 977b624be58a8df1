//! Who may publish as a logger, kept by the broker: Mosquitto's dynamic-security plugin, driven
//! through its topic API (`$CONTROL/dynamic-security/v1`) with assetlog's own account as the
//! plugin's admin (docs/MQTT.md).
//!
//! Each logger gets a broker client whose username is its logger id and whose password is its
//! device key, and a role of its own that allows exactly its topics: publish to its `events` and
//! `heartbeat`, subscribe to and receive its `ack` and `error`. Everything else stays denied by
//! the plugin's default ACLs. The server's own role lets it publish every logger's `ack` and
//! `error`.
//!
//! Here are the commands and the reading of their answers; sending them is the link's.

use serde_json::{Value, json};

use super::topics::{self, Inbound, Outbound};

/// The control topic and its answers.
pub const CONTROL: &str = "$CONTROL/dynamic-security/v1";
pub const RESPONSE: &str = "$CONTROL/dynamic-security/v1/response";

/// The role that lets the assetlog server answer loggers.
pub const SERVER_ROLE: &str = "assetlog-server";

/// The role of one logger.
pub fn logger_role(logger_id: &str) -> String {
    format!("assetlog-logger-{logger_id}")
}

fn acl(kind: &str, topic: String) -> Value {
    json!({"acltype": kind, "topic": topic, "allow": true})
}

/// Commands that create the server's role and give it to `username` (assetlog's account). The
/// broker disconnects every client of an account whose roles change, the one that asked
/// included, so the answer may not come: a `getClient` tells whether it took.
pub fn server_role(username: &str) -> Vec<Value> {
    let any = "+";
    vec![
        json!({
            "command": "createRole",
            "rolename": SERVER_ROLE,
            "acls": [
                acl("publishClientSend", topics::outbound(any, Outbound::Ack)),
                acl("publishClientSend", topics::outbound(any, Outbound::Error)),
            ],
        }),
        json!({"command": "addClientRole", "username": username, "rolename": SERVER_ROLE}),
    ]
}

/// Commands that create a logger's role and client. An existing client is not touched here:
/// it may not be a logger's ([`ours`] decides before its password is set).
pub fn create_logger(logger_id: &str, key: &str) -> Vec<Value> {
    let role = logger_role(logger_id);
    let mut acls = Vec::new();
    for kind in Inbound::ALL {
        acls.push(acl("publishClientSend", topics::inbound(logger_id, kind)));
    }
    for kind in [Outbound::Ack, Outbound::Error] {
        let topic = topics::outbound(logger_id, kind);
        acls.push(acl("subscribeLiteral", topic.clone()));
        acls.push(acl("publishClientReceive", topic));
    }
    vec![
        json!({"command": "createRole", "rolename": role, "acls": acls}),
        // Bound to its id as client id too: no logger takes another client's session.
        json!({
            "command": "createClient",
            "username": logger_id,
            "password": key,
            "clientid": logger_id,
            "roles": [{"rolename": role}],
        }),
    ]
}

pub fn get_client(username: &str) -> Vec<Value> {
    vec![json!({"command": "getClient", "username": username})]
}

/// A logger client's new key (and its client id, for a client made before it was bound to one).
pub fn set_password(logger_id: &str, key: &str) -> Vec<Value> {
    vec![
        json!({"command": "setClientPassword", "username": logger_id, "password": key}),
        json!({"command": "setClientId", "username": logger_id, "clientid": logger_id}),
    ]
}

/// Commands that remove a logger's client (which disconnects it) and its role.
pub fn delete_logger(logger_id: &str) -> Vec<Value> {
    vec![
        json!({"command": "deleteClient", "username": logger_id}),
        json!({"command": "deleteRole", "rolename": logger_role(logger_id)}),
    ]
}

pub fn get_default_acl_access() -> Vec<Value> {
    vec![json!({"command": "getDefaultACLAccess"})]
}

/// Of a `getDefaultACLAccess` answer, the defaults that would let any client publish or
/// subscribe where no role says otherwise: with those, a logger could publish as another.
pub fn open_defaults(response: &Value) -> Vec<&str> {
    let Some(acls) = response.pointer("/data/acls").and_then(Value::as_array) else {
        return Vec::new();
    };
    acls.iter()
        .filter(|a| a.get("allow").and_then(Value::as_bool) == Some(true))
        .filter_map(|a| a.get("acltype").and_then(Value::as_str))
        .filter(|kind| ["publishClientSend", "subscribe"].contains(kind))
        .collect()
}

/// The body of a control request of `commands`, each tagged with `correlation` so that its
/// answer can be told from others on the shared response topic.
pub fn request(mut commands: Vec<Value>, correlation: &str) -> String {
    for c in &mut commands {
        c["correlationData"] = Value::String(correlation.to_owned());
    }
    json!({ "commands": commands }).to_string()
}

/// A control answer read: the correlation it carries, and its commands' answers in order.
pub fn answer(payload: &[u8]) -> Option<(String, Vec<Value>)> {
    let mut body: Value = serde_json::from_slice(payload).ok()?;
    let Value::Array(responses) = body.get_mut("responses")?.take() else {
        return None;
    };
    let correlation = responses
        .first()?
        .get("correlationData")?
        .as_str()?
        .to_owned();
    Some((correlation, responses))
}

/// A command's error, if it had one.
pub fn error(response: &Value) -> Option<&str> {
    response.get("error").and_then(Value::as_str)
}

/// Whether an error only says the thing to create is there already.
pub fn exists(error: &str) -> bool {
    error.contains("already exists") || error.contains("already has")
}

/// Whether an error says the thing to delete is not there.
pub fn missing(error: &str) -> bool {
    error.contains("not found")
}

/// Whether a `getClient` answer shows a logger's client (made by assetlog, with that logger's
/// role): a registration may set only such a client's password. A logger registered as
/// `admin`, say, must not take over the broker account of that name.
pub fn ours(response: &Value, logger_id: &str) -> bool {
    roles(response) == [logger_role(logger_id)]
}

/// The roles a `getClient` answer shows (none for an error).
pub fn roles(response: &Value) -> Vec<&str> {
    response
        .pointer("/data/client/roles")
        .and_then(Value::as_array)
        .map(|roles| {
            roles
                .iter()
                .filter_map(|r| r.get("rolename").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logger_may_publish_only_its_own_topics() {
        let commands = create_logger("L1", "ald_key");
        let acls = commands[0]["acls"].as_array().unwrap();
        let sent: Vec<&str> = acls
            .iter()
            .filter(|a| a["acltype"] == "publishClientSend")
            .map(|a| a["topic"].as_str().unwrap())
            .collect();
        assert_eq!(sent, ["assetlog/v1/L1/events", "assetlog/v1/L1/heartbeat"]);
        assert!(acls.iter().all(|a| {
            let topic = a["topic"].as_str().unwrap();
            topic.starts_with("assetlog/v1/L1/") && !topic.contains(['+', '#'])
        }));
        assert_eq!(commands[1]["roles"][0]["rolename"], "assetlog-logger-L1");
        assert_eq!(
            commands[1]["clientid"], "L1",
            "only under its own client id"
        );
    }

    #[test]
    fn an_answer_is_read_back_by_its_requests_correlation() {
        let sent: Value = serde_json::from_str(&request(get_client("L1"), "c-7")).unwrap();
        assert_eq!(sent["commands"][0]["correlationData"], "c-7");
        let payload =
            br#"{"responses":[{"command":"getClient","correlationData":"c-7","data":{}}]}"#;
        let (correlation, answers) = answer(payload).unwrap();
        assert_eq!((correlation.as_str(), answers.len()), ("c-7", 1));
        assert_eq!(answer(br#"{"responses":[]}"#), None);
        assert_eq!(answer(b"not json"), None);
    }

    #[test]
    fn defaults_that_let_anyone_publish_or_subscribe_are_named() {
        let answer = |publish: bool, subscribe: bool| {
            json!({"command": "getDefaultACLAccess", "data": {"acls": [
                {"acltype": "publishClientSend", "allow": publish},
                {"acltype": "publishClientReceive", "allow": true},
                {"acltype": "subscribe", "allow": subscribe},
                {"acltype": "unsubscribe", "allow": true},
            ]}})
        };
        assert!(
            open_defaults(&answer(false, false)).is_empty(),
            "Mosquitto's own defaults"
        );
        assert_eq!(open_defaults(&answer(true, false)), ["publishClientSend"]);
        assert_eq!(
            open_defaults(&answer(true, true)),
            ["publishClientSend", "subscribe"]
        );
    }

    #[test]
    fn only_a_client_with_the_loggers_role_is_ours() {
        let with = |roles: Value| json!({"data": {"client": {"username": "L1", "roles": roles}}});
        assert!(ours(
            &with(json!([{"rolename": "assetlog-logger-L1"}])),
            "L1"
        ));
        assert!(!ours(&with(json!([{"rolename": "admin"}])), "L1"));
        assert!(!ours(
            &with(json!([{"rolename": "assetlog-logger-L2"}])),
            "L1"
        ));
        assert!(!ours(
            &with(json!([{"rolename": "assetlog-logger-L1"}, {"rolename": "admin"}])),
            "L1"
        ));
        assert!(!ours(&json!({"error": "Client not found"}), "L1"));
    }
}
