//! `billbridge demo`: the whole walk of a bill in one process, on this machine, in under a
//! minute — the service (SQLite), the built-in Qonto sandbox and a demo ERP that receives
//! billbridge's signed outcome events. Everything goes through the public HTTP API, exactly
//! as an ERP and a finance person would use it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use anyhow::{bail, Context};
use connector::config::RawSettings;
use connector::http::Application;
use connector::signing::{sign, verify, ReceivedHeaders, WebhookSecret};
use serde_json::{json, Value};

/// Options of `billbridge demo`.
pub struct DemoArgs {
    /// Database file (default: a fresh one in the temporary directory).
    pub db: Option<PathBuf>,
    /// Folder of invoices to ingest (default: the repository's `demo/invoices`).
    pub invoices: Option<PathBuf>,
}

#[derive(Default)]
struct ErpInbox {
    secret: Option<WebhookSecret>,
    /// (webhook-id, type, data) of every verified event.
    events: Vec<(String, String, Value)>,
    refused: usize,
}

async fn erp_receiver(
    req: HttpRequest,
    body: web::Bytes,
    inbox: web::Data<Mutex<ErpInbox>>,
) -> HttpResponse {
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    let Ok(mut inbox) = inbox.lock() else {
        return HttpResponse::InternalServerError().finish();
    };
    let Some(secret) = inbox.secret.clone() else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    let headers = ReceivedHeaders {
        webhook_id: header("webhook-id"),
        webhook_timestamp: header("webhook-timestamp"),
        webhook_signature: header("webhook-signature"),
    };
    if verify(
        std::slice::from_ref(&secret),
        &headers,
        &body,
        chrono::Utc::now(),
        Duration::from_secs(300),
    )
    .is_err()
    {
        inbox.refused += 1;
        return HttpResponse::Unauthorized().finish();
    }
    let id = headers.webhook_id.unwrap_or_default().to_string();
    // Receivers dedupe on webhook-id: a retried event is acknowledged, not processed twice.
    if inbox.events.iter().any(|(seen, _, _)| *seen == id) {
        return HttpResponse::NoContent().finish();
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let kind = v["type"].as_str().unwrap_or("?").to_string();
    inbox.events.push((id, kind, v["data"].clone()));
    HttpResponse::NoContent().finish()
}

fn default_invoices() -> PathBuf {
    let here = PathBuf::from("demo/invoices");
    if here.is_dir() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo/invoices")
}

fn content_type(path: &Path) -> Option<&'static str> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("xml") => Some("application/xml"),
        Some("pdf") => Some("application/pdf"),
        Some("json") => Some("application/json"),
        _ => None,
    }
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut rq = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rq = rq.json(&b);
        }
        let r = rq
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {v}");
        }
        Ok(v)
    }
    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
}

fn money(s: &str) -> String {
    // 12345.60 → 12,345.60
    let (int, frac) = s.split_once('.').unwrap_or((s, "00"));
    let neg = int.starts_with('-');
    let digits: Vec<char> = int.trim_start_matches('-').chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(*c);
    }
    format!("{}{out}.{frac:0<2}", if neg { "-" } else { "" })
}

pub async fn run(args: DemoArgs) -> anyhow::Result<bool> {
    let started = Instant::now();
    let dir =
        std::env::temp_dir().join(format!("billbridge-demo-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let db = args.db.unwrap_or_else(|| dir.join("demo.db"));
    let invoices = args.invoices.unwrap_or_else(default_invoices);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&invoices)
        .with_context(|| format!("reading the demo invoices in {}", invoices.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| content_type(p).is_some())
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no .xml, .pdf or .json invoice in {}", invoices.display());
    }

    println!("billbridge demo — the service, the built-in Qonto sandbox and a demo ERP, all on this machine.");
    println!("No real money moves. Database: {}\n", db.display());

    // The service, on SQLite, with the built-in sandbox settling within seconds.
    let admin = format!("demo-admin-{}", uuid::Uuid::new_v4().simple());
    let mut raw = RawSettings::default();
    raw.database.url = format!("sqlite://{}?mode=rwc", db.display());
    raw.server.bind = "127.0.0.1:0".into();
    raw.security.admin_token = Some(admin.clone());
    raw.security.key_file = dir.join("billbridge.key").display().to_string();
    raw.log.level = "error".into();
    raw.engine.follow_interval_secs = 1;
    raw.webhooks.poll_interval_ms = 100;
    raw.webhooks.retry_schedule_secs = vec![1, 2, 5, 10];
    raw.sandbox.processing_delay_secs = 1;
    raw.sandbox.settlement_delay_secs = 2;
    let settings = raw.validate()?;
    let app = Application::build(settings).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    println!(
        "[1/6] billbridge listens on {base} (Qonto sandbox at {})",
        app.sandbox_url().unwrap_or_default()
    );
    tokio::spawn(app.run());

    // The demo ERP: receives and verifies billbridge's signed events.
    let inbox = web::Data::new(Mutex::new(ErpInbox::default()));
    let erp_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let erp_url = format!("http://{}/billbridge/events", erp_listener.local_addr()?);
    let data = inbox.clone();
    let erp = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/billbridge/events", web::post().to(erp_receiver))
    })
    .workers(1)
    .disable_signals()
    .listen(erp_listener)?
    .run();
    tokio::spawn(erp);

    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{base}/v1/orgs"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "Demo Industries SAS" }))
        .send()
        .await?
        .json()
        .await?;
    let api = Api {
        client: client.clone(),
        base: base.clone(),
        token: created["token"].as_str().unwrap_or_default().to_string(),
    };
    let source = api
        .post("/v1/sources", json!({ "name": "demo-erp", "kind": "erp" }))
        .await?;
    let source_id = source["source"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let intake_secret =
        WebhookSecret::parse(source["signing_secret"].as_str().unwrap_or_default())?;
    let cb = api
        .call(
            reqwest::Method::PUT,
            &format!("/v1/sources/{source_id}/callback"),
            Some(json!({ "url": erp_url })),
        )
        .await?;
    let callback_secret = WebhookSecret::parse(cb["callback_secret"].as_str().unwrap_or_default())?;
    inbox
        .lock()
        .map_err(|_| anyhow::anyhow!("inbox lock"))?
        .secret = Some(callback_secret);
    println!("[2/6] demo ERP listens on {erp_url}; organization and source created\n");

    // Intake: the ERP sends each invoice, signed.
    println!(
        "[3/6] the ERP sends {} invoices (UBL, CII, Factur-X PDF, JSON), signed:",
        files.len()
    );
    let mut outcome: BTreeMap<String, usize> = BTreeMap::new();
    for f in &files {
        let body = std::fs::read(f)?;
        let ct = content_type(f).unwrap_or("application/octet-stream");
        let msg = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let h = sign(
            std::slice::from_ref(&intake_secret),
            &msg,
            chrono::Utc::now().timestamp(),
            &body,
        );
        let r = client
            .post(format!("{base}/v1/sources/{source_id}/bills"))
            .header("content-type", ct)
            .header("webhook-id", h.webhook_id)
            .header("webhook-timestamp", h.webhook_timestamp)
            .header("webhook-signature", h.webhook_signature)
            .body(body)
            .send()
            .await?;
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let line = match status {
            200 | 201 => {
                let st = v["status"].as_str().unwrap_or("?");
                let holds: Vec<&str> = v["hold_reasons"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                    .unwrap_or_default();
                let key = if holds.is_empty() {
                    st.to_string()
                } else {
                    format!("held: {}", holds.join(", "))
                };
                *outcome.entry(key.clone()).or_default() += 1;
                format!(
                    "{:<28} {:<28} {:>12} {}  {}",
                    name,
                    v["seller_name"]
                        .as_str()
                        .unwrap_or("-")
                        .chars()
                        .take(28)
                        .collect::<String>(),
                    money(v["amount_due"].as_str().unwrap_or("0")),
                    v["currency"].as_str().unwrap_or(""),
                    key
                )
            }
            _ => {
                *outcome.entry("rejected".into()).or_default() += 1;
                format!(
                    "{name:<28} rejected: {}",
                    v["error"]["code"].as_str().unwrap_or("?")
                )
            }
        };
        println!("      {line}");
    }
    println!(
        "      → {}\n",
        outcome
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(" · ")
    );

    // The finance person asks to pay every ready bill.
    println!("[4/6] a finance person clicks \"Pay\" on every ready bill:");
    let run = api
        .post("/v1/payment-runs", json!({ "sca_method": "mock" }))
        .await?;
    let run_id = run["id"].as_str().unwrap_or_default().to_string();
    let preview = wait_run(
        &api,
        &run_id,
        &["awaiting_confirmation", "canceled"],
        Duration::from_secs(30),
    )
    .await?;
    let s = &preview["summary"];
    println!(
        "      preview of {run_id}: {} bills, {} EUR in {} chunk(s); {} to trusted beneficiaries (no SCA), {} need SCA",
        s["bill_count"], money(s["total"].as_str().unwrap_or("0")), s["chunks"], s["without_sca"], s["needing_sca"]
    );
    for sup in s["suppliers"].as_array().into_iter().flatten() {
        println!(
            "        {:<32} {:>3} bill(s) {:>12} EUR  {}  {}",
            sup["name"]
                .as_str()
                .unwrap_or("?")
                .chars()
                .take(32)
                .collect::<String>(),
            sup["count"],
            money(sup["total"].as_str().unwrap_or("0")),
            sup["iban_masked"].as_str().unwrap_or(""),
            if sup["trusted"] == true {
                "trusted"
            } else {
                "new payee"
            }
        );
    }
    for w in s["warnings"].as_array().into_iter().flatten() {
        println!("      warning: {}", w["message"].as_str().unwrap_or(""));
    }
    for r in s["removed"].as_array().into_iter().flatten() {
        println!(
            "      taken out: {} ({})",
            r["bill_id"].as_str().unwrap_or(""),
            r["reason"].as_str().unwrap_or("")
        );
    }
    let mut accept = Vec::new();
    for t in preview["transfers"].as_array().into_iter().flatten() {
        let vop = t["vop_result"].as_str().unwrap_or("");
        if vop != "MATCH_RESULT_MATCH" && t["vop_decision"].is_null() && t["status"] == "planned" {
            println!(
                "      payee check {}: invoice says \"{}\", the bank holds \"{}\" → reviewed and accepted",
                vop.trim_start_matches("MATCH_RESULT_"),
                t["creditor_name"].as_str().unwrap_or(""),
                t["vop_matched_name"].as_str().unwrap_or("?")
            );
            accept.push(t["id"].clone());
        }
    }
    if preview["status"] == "canceled" {
        bail!("nothing to pay: {}", preview["reason"]);
    }
    api.post(
        &format!("/v1/payment-runs/{run_id}/confirm"),
        json!({ "accept_payees": accept }),
    )
    .await?;
    println!("      confirmed\n");

    // SCA: Qonto asks the user to approve on their phone; the sandbox stands in for it.
    println!("[5/6] Qonto at work:");
    let mut approved = false;
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut last = String::new();
    let final_run = loop {
        let v = api.get(&format!("/v1/payment-runs/{run_id}")).await?;
        let status = v["status"].as_str().unwrap_or("").to_string();
        if status != last {
            println!("      run status: {status}");
            last = status.clone();
        }
        if status == "awaiting_sca" && !approved {
            let waiting: usize = v["chunks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["status"] == "awaiting_sca")
                .map(|c| c["transfer_count"].as_u64().unwrap_or(0) as usize)
                .sum();
            println!("      Qonto asks the user to approve {waiting} transfer(s) to new payees in the Qonto app (strong customer authentication).");
            println!("      In the sandbox, billbridge approves the mocked SCA session on the user's behalf.");
            api.post(&format!("/v1/payment-runs/{run_id}/sca/allow"), json!({}))
                .await?;
            approved = true;
        }
        if [
            "completed",
            "partially_failed",
            "failed",
            "denied",
            "expired",
            "canceled",
        ]
        .contains(&status.as_str())
        {
            break v;
        }
        if Instant::now() > deadline {
            bail!("the payment run did not finish in time (status {status})");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    // Wait for the ERP to hear about every paid bill.
    let paid: Vec<String> = final_run["transfers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["status"] == "settled")
        .filter_map(|t| t["bill_id"].as_str().map(str::to_string))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = {
            let inbox = inbox.lock().map_err(|_| anyhow::anyhow!("inbox lock"))?;
            inbox
                .events
                .iter()
                .filter(|(_, k, d)| {
                    k == "bill.paid"
                        && d["bill_id"]
                            .as_str()
                            .is_some_and(|b| paid.iter().any(|p| p == b))
                })
                .count()
        };
        if got >= paid.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The final table.
    println!(
        "\n[6/6] result after {:.1} s:",
        started.elapsed().as_secs_f64()
    );
    let bills = api.get("/v1/bills?limit=500").await?;
    let mut by_status: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for b in bills["bills"].as_array().into_iter().flatten() {
        by_status
            .entry(b["status"].as_str().unwrap_or("?").to_string())
            .or_default()
            .push(b.clone());
    }
    println!(
        "      {:<10} {:<24} {:<28} {:>12}  why",
        "status", "invoice", "supplier", "EUR"
    );
    for (status, list) in &by_status {
        for b in list {
            let why = b["hold_reasons"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            println!(
                "      {:<10} {:<24} {:<28} {:>12}  {}",
                status,
                b["number"]
                    .as_str()
                    .unwrap_or("-")
                    .chars()
                    .take(24)
                    .collect::<String>(),
                b["seller_name"]
                    .as_str()
                    .unwrap_or("-")
                    .chars()
                    .take(28)
                    .collect::<String>(),
                money(b["amount_due"].as_str().unwrap_or("0")),
                why
            );
        }
    }
    let (events, refused) = {
        let inbox = inbox.lock().map_err(|_| anyhow::anyhow!("inbox lock"))?;
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for (_, k, _) in &inbox.events {
            *counts.entry(k.clone()).or_default() += 1;
        }
        (counts, inbox.refused)
    };
    println!(
        "\n      totals: {}",
        by_status
            .iter()
            .map(|(k, v)| format!("{} {k}", v.len()))
            .collect::<Vec<_>>()
            .join(" · ")
    );
    println!(
        "      the ERP received and verified {} signed event(s): {}{}",
        events.values().sum::<usize>(),
        events
            .iter()
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect::<Vec<_>>()
            .join(", "),
        if refused > 0 {
            format!(" ({refused} refused)")
        } else {
            String::new()
        }
    );
    let paid_events = events.get("bill.paid").copied().unwrap_or(0);
    let ok = final_run["status"] == "completed" && paid_events >= paid.len() && !paid.is_empty();
    println!(
        "      payment run {}: {}; {} bill(s) paid, {} bill.paid event(s) delivered to the ERP",
        run_id,
        final_run["status"].as_str().unwrap_or("?"),
        paid.len(),
        paid_events
    );
    println!(
        "\ndone in {:.1} s. Try it with your own invoices: billbridge demo --invoices DIR",
        started.elapsed().as_secs_f64()
    );
    Ok(ok)
}

async fn wait_run(api: &Api, id: &str, want: &[&str], within: Duration) -> anyhow::Result<Value> {
    let deadline = Instant::now() + within;
    loop {
        let v = api.get(&format!("/v1/payment-runs/{id}")).await?;
        if want.iter().any(|w| v["status"] == *w) {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("payment run {id} stayed {}", v["status"]);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
