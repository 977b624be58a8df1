use std::io::Write;
use std::process::Stdio;

use assetlog_server::domain::UserId;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn the_first_user_signs_up_as_admin_of_a_new_tenant() {
    let app = spawn_app().await;
    let resp = app
        .post(
            "/api/v1/auth/signup",
            &json!({"email": "Ada@Plant.example", "password": PASSWORD, "tenant_name": "Plant A"}),
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    assert!(body["token"].as_str().unwrap().len() > 32);
    assert_eq!(body["user"]["email"], "ada@plant.example");
    assert_eq!(body["user"]["role"], "admin");
    assert_eq!(body["tenant"]["name"], "Plant A");
    assert!(body["user"].get("password_hash").is_none());

    let me = app
        .get_json("/api/v1/auth/me", body["token"].as_str().unwrap())
        .await;
    assert_eq!(me["user"]["email"], "ada@plant.example");
    assert_eq!(me["tenant"]["name"], "Plant A");
}

#[tokio::test]
async fn signup_is_closed_after_the_first_user_unless_opened() {
    let app = spawn_app().await;
    app.signup("first@a.example", "A").await;
    let resp = app
        .post(
            "/api/v1/auth/signup",
            &json!({"email": "second@b.example", "password": PASSWORD, "tenant_name": "B"}),
            None,
        )
        .await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;

    let open = spawn_app_with(|c| c.open_signup = true).await;
    open.signup("first@a.example", "A").await;
    open.signup("second@b.example", "B").await;
    let email_taken = open
        .post(
            "/api/v1/auth/signup",
            &json!({"email": "FIRST@a.example", "password": PASSWORD, "tenant_name": "C"}),
            None,
        )
        .await;
    assert_error(email_taken, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test]
async fn login_answers_the_same_401_for_an_unknown_email_and_a_wrong_password() {
    let app = spawn_app().await;
    app.signup("ada@a.example", "A").await;
    let ok = app.login("ada@a.example", PASSWORD).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["user"]["role"], "admin");

    let wrong: Value = app
        .login("ada@a.example", "wrong password")
        .await
        .json()
        .await
        .unwrap();
    let unknown: Value = app
        .login("nobody@a.example", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"]["code"], "unauthorized");
    assert_error(
        app.login("nobody@a.example", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn logout_revokes_the_token() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let resp = app
        .post("/api/v1/auth/logout", &json!({}), Some(&admin.token))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let me = app.get("/api/v1/auth/me", Some(&admin.token)).await;
    assert_error(me, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn admins_manage_the_people_of_their_tenant_and_others_cannot() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let viewer = app.add_user(&admin, "vic@a.example", "viewer").await;
    let operator = app.add_user(&admin, "otto@a.example", "operator").await;

    let users = app.get_json("/api/v1/users", &admin.token).await;
    let emails: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["ada@a.example", "vic@a.example", "otto@a.example"]);

    for who in [&viewer, &operator] {
        assert_error(
            app.get("/api/v1/users", Some(&who.token)).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        let create = app
            .post(
                "/api/v1/users",
                &json!({"email": "x@a.example", "password": PASSWORD, "role": "admin"}),
                Some(&who.token),
            )
            .await;
        assert_error(create, StatusCode::FORBIDDEN, "forbidden").await;
        let delete = app
            .send(
                Method::DELETE,
                &format!("/api/v1/users/{}", admin.user_id),
                None,
                Some(&who.token),
            )
            .await;
        assert_error(delete, StatusCode::FORBIDDEN, "forbidden").await;
    }

    let last_admin = app
        .send(
            Method::DELETE,
            &format!("/api/v1/users/{}", admin.user_id),
            None,
            Some(&admin.token),
        )
        .await;
    assert_error(last_admin, StatusCode::CONFLICT, "conflict").await;

    let resp = app
        .send(
            Method::DELETE,
            &format!("/api/v1/users/{}", viewer.user_id),
            None,
            Some(&admin.token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    // Deleting a user ends their sessions at once.
    assert_error(
        app.get("/api/v1/auth/me", Some(&viewer.token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        app.login("vic@a.example", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let again = app
        .send(
            Method::DELETE,
            &format!("/api/v1/users/{}", viewer.user_id),
            None,
            Some(&admin.token),
        )
        .await;
    assert_error(again, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn admins_change_roles_at_once_but_never_leave_a_tenant_without_an_admin() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let val = app.add_user(&admin, "val@a.example", "viewer").await;
    let set_role = |user: UserId, body: Value, token: String| {
        let app = &app;
        async move {
            app.send(
                Method::PATCH,
                &format!("/api/v1/users/{user}"),
                Some(&body),
                Some(&token),
            )
            .await
        }
    };
    let role = |r: &str| json!({ "role": r });

    // A viewer may not change anyone's role, not even their own.
    let denied = set_role(val.user_id, role("admin"), val.token.clone()).await;
    assert_error(denied, StatusCode::FORBIDDEN, "forbidden").await;

    let resp = set_role(val.user_id, role("operator"), admin.token.clone()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["role"], "operator");
    assert_eq!(body["email"], "val@a.example");
    // Their open session has the new role at once.
    let me = app.get_json("/api/v1/auth/me", &val.token).await;
    assert_eq!(me["user"]["role"], "operator");

    // The only admin cannot step down; with a second admin, they can.
    let refused = set_role(admin.user_id, role("viewer"), admin.token.clone()).await;
    assert_error(refused, StatusCode::CONFLICT, "conflict").await;
    let promoted = set_role(val.user_id, role("admin"), admin.token.clone()).await;
    assert_eq!(promoted.status(), StatusCode::OK);
    let stepped_down = set_role(admin.user_id, role("viewer"), admin.token.clone()).await;
    assert_eq!(stepped_down.status(), StatusCode::OK);
    let me = app.get_json("/api/v1/auth/me", &admin.token).await;
    assert_eq!(me["user"]["role"], "viewer");

    // Bad input changes nothing.
    for body in [
        role("owner"),
        json!({}),
        json!({"role": "viewer", "email": "x@a.example"}),
    ] {
        let resp = set_role(val.user_id, body, val.token.clone()).await;
        assert_error(resp, StatusCode::BAD_REQUEST, "invalid_field").await;
    }
    let missing = set_role(UserId(999_999), role("viewer"), val.token.clone()).await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found").await;
    let users = app.get_json("/api/v1/users", &val.token).await;
    let roles: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["viewer", "admin"]);
}

#[tokio::test]
async fn bad_sign_up_and_user_input_is_refused() {
    let app = spawn_app().await;
    for (body, code) in [
        (
            json!({"email": "not-an-email", "password": PASSWORD, "tenant_name": "A"}),
            "invalid_email",
        ),
        (
            json!({"email": "a@a.example", "password": "short", "tenant_name": "A"}),
            "weak_password",
        ),
        (
            json!({"email": "a@a.example", "password": PASSWORD, "tenant_name": "  "}),
            "invalid_tenant_name",
        ),
        (
            json!({"email": "a@a.example", "password": PASSWORD}),
            "invalid_field",
        ),
        (
            json!({"email": 5, "password": PASSWORD, "tenant_name": "A"}),
            "invalid_field",
        ),
    ] {
        assert_error(
            app.post("/api/v1/auth/signup", &body, None).await,
            StatusCode::BAD_REQUEST,
            code,
        )
        .await;
    }
    // None of those created anyone: the first real sign-up still works.
    let admin = app.signup("a@a.example", "A").await;
    let bad_role = app
        .post(
            "/api/v1/users",
            &json!({"email": "b@a.example", "password": PASSWORD, "role": "owner"}),
            Some(&admin.token),
        )
        .await;
    assert_error(bad_role, StatusCode::BAD_REQUEST, "invalid_field").await;
    let users = app.get_json("/api/v1/users", &admin.token).await;
    assert_eq!(users.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_command_line_adds_a_user_who_can_then_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut command = assetlog();
    if let Some(url) = crate::helpers::test_database(&data) {
        command.env("DATABASE_URL", url);
    }
    let mut child = command
        .args([
            "user",
            "add",
            "--tenant",
            "Plant B",
            "--email",
            "boss@b.example",
            "--role",
            "admin",
            "--data-dir",
        ])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Plant B"));

    let server = ServerProcess::start(&data, &[]);
    let app = server.app(dir);
    let resp = app.login("boss@b.example", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["tenant"]["name"], "Plant B");
    assert_eq!(body["user"]["role"], "admin");
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let store = app.store.as_ref().unwrap();
    let token = "alt_expired_for_the_test";
    let hash = assetlog_server::secrets::hash_secret(token);
    store
        .create_session(admin.user_id, hash, now_ms() - 1)
        .await
        .unwrap();
    assert_error(
        app.get("/api/v1/auth/me", Some(token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let fresh = "alt_fresh_for_the_test";
    store
        .create_session(
            admin.user_id,
            assetlog_server::secrets::hash_secret(fresh),
            now_ms() + 60_000,
        )
        .await
        .unwrap();
    assert_eq!(
        app.get("/api/v1/auth/me", Some(fresh)).await.status(),
        StatusCode::OK
    );
}

/// What sign-up says of an email with an account: that it has one, never where.
const EMAIL_UNAVAILABLE: &str =
    "this email cannot be used for a new account: if it is yours, sign in";

#[tokio::test]
async fn signup_tells_nothing_of_other_tenants() {
    let app = spawn_app_with(|c| c.open_signup = true).await;
    let acme = app.signup("boss@acme.example", "ACME").await;
    // Another company's name is no refusal: names are labels, tenants their own.
    let other = app.signup("boss@other.example", "ACME").await;
    assert_ne!(other.tenant_id, acme.tenant_id);
    assert_eq!(
        app.get_json("/api/v1/users", &other.token)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // An email with an account: told so (its owner should sign in), but not where.
    let taken = app
        .post(
            "/api/v1/auth/signup",
            &json!({"email": "Boss@ACME.example", "password": PASSWORD, "tenant_name": "New"}),
            None,
        )
        .await;
    let message = assert_error(taken, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(message, EMAIL_UNAVAILABLE);
    let login = app.login("boss@acme.example", PASSWORD).await;
    assert_eq!(
        login.json::<Value>().await.unwrap()["tenant"]["id"],
        acme.tenant_id
    );
}

#[tokio::test]
async fn creating_a_user_whose_email_is_taken_says_no_more_than_needed() {
    let app = spawn_app_with(|c| {
        c.open_signup = true;
        c.auth_attempts_per_account = 3;
    })
    .await;
    let a = app.signup("boss@a.example", "A").await;
    let b = app.signup("boss@b.example", "B").await;
    app.add_user(&b, "val@b.example", "viewer").await;
    let create = |email: &'static str| {
        let app = &app;
        let token = a.token.clone();
        async move {
            let body = json!({"email": email, "password": PASSWORD, "role": "viewer"});
            app.post("/api/v1/users", &body, Some(&token)).await
        }
    };
    // Someone of another tenant: the same words as sign-up, nothing of B.
    let elsewhere = assert_error(
        create("val@b.example").await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert_eq!(elsewhere, EMAIL_UNAVAILABLE);
    // One of the admin's own people: said so.
    let mine = assert_error(
        create("boss@a.example").await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert_eq!(mine, "this email is already one of your people");
    // Successes give their attempt back; failures add up: probing a list of addresses stops.
    app.add_user(&a, "new@a.example", "viewer").await;
    assert_error(
        create("boss@b.example").await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    let probing = create("val@b.example").await;
    assert!(probing.headers().contains_key("retry-after"));
    assert_error(probing, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    let people = app.get_json("/api/v1/users", &a.token).await;
    assert_eq!(people.as_array().unwrap().len(), 2, "{people}");
}

#[tokio::test]
async fn easy_passwords_are_refused_at_signup_and_user_creation() {
    let app = spawn_app().await;
    for easy in [
        "        ",
        "aaaaaaaa",
        "12345678",
        "aaaaaaaaaa",
        "1234567890",
        "ada@a.example1",
    ] {
        let body = json!({"email": "ada@a.example", "password": easy, "tenant_name": "A"});
        let resp = app.post("/api/v1/auth/signup", &body, None).await;
        let message = assert_error(resp, StatusCode::BAD_REQUEST, "weak_password").await;
        assert!(
            message.contains("at least 10 characters") || message.contains("too easy to guess"),
            "{easy:?}: {message}"
        );
    }
    // Nothing was stored: the first sign-up is still open.
    let admin = app.signup("ada@a.example", "A").await;
    for easy in ["          ", "qwertyuiop", "password12"] {
        let body = json!({"email": "val@a.example", "password": easy, "role": "viewer"});
        let resp = app.post("/api/v1/users", &body, Some(&admin.token)).await;
        assert_error(resp, StatusCode::BAD_REQUEST, "weak_password").await;
    }
    assert_eq!(
        app.get_json("/api/v1/users", &admin.token)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
