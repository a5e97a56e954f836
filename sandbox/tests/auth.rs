//! API key, staging token, OAuth 2.0 authorization code with rotating refresh tokens.
mod common;

use std::collections::HashMap;
use std::time::Duration;

#[tokio::test]
async fn api_key_auth_and_errors() {
    let t = common::start().await;
    // no header
    let r = t.http.get(t.url("/v2/organization")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let v = common::json(r).await;
    assert_eq!(v["errors"][0]["code"], "unauthorized");
    assert!(v["trace_id"].is_string());
    // wrong secret; Basic/Bearer-wrapped API keys are not accepted
    for bad in [
        "acme-sandbox-4242:nope".to_string(),
        format!("Bearer {}", t.auth),
        format!("Basic {}", t.auth),
    ] {
        let r = t
            .http
            .get(t.url("/v2/organization"))
            .header("Authorization", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    // right key
    let r = t.get("/v2/bank_accounts").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v = common::json(r).await;
    assert_eq!(v["bank_accounts"][0]["main"], true);
    let id = v["bank_accounts"][0]["id"].as_str().unwrap().to_string();
    let r = t
        .get(&format!("/v2/bank_accounts/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        common::json(r).await["bank_account"]["balance_cents"],
        100_000_000
    );
    let r = t.get("/v2/bank_accounts/nope").send().await.unwrap();
    assert_eq!(r.status(), 404);
    // unknown route: gateway-style text/plain 404
    let r = t.get("/v2/nothing-here").send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    t.sb.stop().await;
}

#[tokio::test]
async fn staging_token_required_gives_html() {
    let cfg = sandbox::SandboxConfig {
        require_staging_token: true,
        ..Default::default()
    };
    let t = common::start_with(cfg).await;
    let r = t.get("/v2/organization").send().await.unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("<html"));
    let r = t
        .get("/v2/organization")
        .header("X-Qonto-Staging-Token", sandbox::DEFAULT_STAGING_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // the OAuth token endpoint is guarded too
    let r = t
        .http
        .post(t.url("/oauth2/token"))
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // switch off at runtime
    t.sb.set_require_staging_token(false);
    assert_eq!(
        t.get("/v2/organization").send().await.unwrap().status(),
        200
    );
    t.sb.stop().await;
}

async fn authorize(t: &common::T, scope: &str) -> (String, String) {
    let r = t
        .http
        .get(t.url("/oauth2/auth"))
        .query(&[
            ("client_id", sandbox::DEFAULT_CLIENT_ID),
            ("redirect_uri", "http://localhost:9/cb"),
            ("response_type", "code"),
            ("scope", scope),
            ("state", "state-1234567"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with("http://localhost:9/cb?"));
    let q: HashMap<String, String> =
        serde_urlencoded::from_str(loc.split_once('?').unwrap().1).unwrap();
    assert_eq!(q["state"], "state-1234567");
    (q["code"].clone(), loc)
}

async fn token(t: &common::T, form: &[(&str, &str)]) -> reqwest::Response {
    let mut f: Vec<(&str, &str)> = vec![
        ("client_id", sandbox::DEFAULT_CLIENT_ID),
        ("client_secret", sandbox::DEFAULT_CLIENT_SECRET),
    ];
    f.extend_from_slice(form);
    t.http
        .post(t.url("/oauth2/token"))
        .form(&f)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn oauth_code_flow_and_refresh_rotation() {
    let t = common::start().await;
    let (code, _) = authorize(&t, "offline_access openid organization.read").await;
    let r = token(
        &t,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:9/cb"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let v = common::json(r).await;
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["expires_in"], 3600);
    assert!(v["id_token"].is_string());
    let access = v["access_token"].as_str().unwrap().to_string();
    let refresh = v["refresh_token"].as_str().unwrap().to_string();
    assert!(access.starts_with("ory_at_") && refresh.starts_with("ory_rt_"));

    // the code is single use
    let r = token(
        &t,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:9/cb"),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(common::json(r).await["error"], "invalid_grant");

    let bearer = format!("Bearer {access}");
    let r = t
        .http
        .get(t.url("/v2/organization"))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // missing scope
    let r = t
        .http
        .post(t.url("/v2/sepa/verify_payee"))
        .header("Authorization", &bearer)
        .json(&serde_json::json!({"iban": "DE89370400440532013000", "beneficiary_name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v = common::json(r).await;
    assert!(v["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("missing required oauth scope"));

    // rotation: first use gives a new pair; the old one still works for 60 s, then not
    let r = token(
        &t,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(r.status(), 200);
    let v2 = common::json(r).await;
    let refresh2 = v2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh2, refresh);
    t.sb.advance_clock(Duration::from_secs(30));
    let r = token(
        &t,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(r.status(), 200, "grace period");
    t.sb.advance_clock(Duration::from_secs(31));
    let r = token(
        &t,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(common::json(r).await["error"], "invalid_grant");
    let r = token(
        &t,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh2),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);

    // access tokens live one hour
    t.sb.advance_clock(Duration::from_secs(3600));
    let r = t
        .http
        .get(t.url("/v2/organization"))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // bad client
    let r = t
        .http
        .post(t.url("/oauth2/token"))
        .form(&[
            ("client_id", "x"),
            ("client_secret", "y"),
            ("grant_type", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(common::json(r).await["error"], "invalid_client");
    t.sb.stop().await;
}

#[tokio::test]
async fn oauth_code_expires_after_ten_minutes_and_v2_alias() {
    let t = common::start().await;
    let (code, _) = authorize(&t, "organization.read").await;
    t.sb.advance_clock(Duration::from_secs(601));
    let r = token(
        &t,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:9/cb"),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    let (code, _) = authorize(&t, "organization.read").await;
    // redirect_uri must match
    let r = token(
        &t,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://evil/cb"),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    // /v2/oauth2/token alias (API.md §14.3); no refresh token without offline_access
    let code = t.sb.authorization_code(
        sandbox::DEFAULT_CLIENT_ID,
        "http://localhost:9/cb",
        &["organization.read"],
    );
    let r = t
        .http
        .post(t.url("/v2/oauth2/token"))
        .form(&[
            ("client_id", sandbox::DEFAULT_CLIENT_ID),
            ("client_secret", sandbox::DEFAULT_CLIENT_SECRET),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:9/cb"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v = common::json(r).await;
    assert!(v.get("refresh_token").is_none());
    // state is required
    let r = t
        .http
        .get(t.url("/oauth2/auth"))
        .query(&[
            ("client_id", sandbox::DEFAULT_CLIENT_ID),
            ("redirect_uri", "http://localhost:9/cb"),
            ("response_type", "code"),
            ("scope", "organization.read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert!(r.headers()["location"].to_str().unwrap().contains("error="));
    t.sb.stop().await;
}
