//! The intake service and admin API over real HTTP, on SQLite and (when configured) PostgreSQL.

mod support;

use support::{databases, TestApp, CII, JSON, UBL};

#[tokio::test]
async fn health_ready_metrics_openapi() {
    for db in databases().await {
        let app = TestApp::spawn(&db).await;
        let r = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{db}");
        let r = app
            .client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap();
        let doc: serde_json::Value = r.json().await.unwrap();
        for path in [
            "/v1/sources/{source_id}/bills",
            "/v1/bills",
            "/v1/bills/{bill_id}/release",
            "/v1/audit",
            "/readyz",
        ] {
            assert!(doc["paths"].get(path).is_some(), "openapi lacks {path}");
        }
        let r = app
            .client
            .get(app.url("/no/such/route"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
        let metrics = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("billbridge_http_requests_total"),
            "{metrics}"
        );
    }
}

#[tokio::test]
async fn signed_intake_creates_once_and_repeats_return_the_bill() {
    for db in databases().await {
        let app = TestApp::spawn(&db).await;
        let (_, token) = app.org("Acme").await;
        let (src, secret) = app.source(&token, "erp").await;

        let r = app
            .send(&src, &secret, "msg_1", "application/xml", UBL.as_bytes())
            .await;
        assert_eq!(r.status(), 201, "{db}");
        let bill: serde_json::Value = r.json().await.unwrap();
        assert_eq!(bill["status"], "ready");
        assert_eq!(bill["number"], "FA-2026-0042");
        assert_eq!(bill["amount_due"], "1100.10");
        assert_eq!(bill["iban"], "FR7630006000011234567890189");
        let id = bill["id"].as_str().unwrap().to_string();

        // Same webhook-id: the same bill, 200.
        let r = app
            .send(&src, &secret, "msg_1", "application/xml", UBL.as_bytes())
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["id"],
            id.as_str()
        );
        // Same document under another webhook-id: still the same bill.
        let r = app
            .send(&src, &secret, "msg_2", "application/xml", UBL.as_bytes())
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["id"],
            id.as_str()
        );
        // Same webhook-id, another body: refused.
        let r = app
            .send(&src, &secret, "msg_1", "application/xml", CII.as_bytes())
            .await;
        assert_eq!(r.status(), 409);

        // JSON bills repeat by external id.
        let r = app
            .send(&src, &secret, "msg_3", "application/json", JSON.as_bytes())
            .await;
        assert_eq!(r.status(), 201);
        let json_bill: serde_json::Value = r.json().await.unwrap();
        assert_eq!(json_bill["external_id"], "ERP-4711");
        let again = JSON.replace(
            "\"due_date\": \"2026-12-02\"",
            "\"due_date\":\"2026-12-02\"",
        );
        let r = app
            .send(&src, &secret, "msg_4", "application/json", again.as_bytes())
            .await;
        assert_eq!(r.status(), 200);

        // The bill with its history, and the audit log.
        let r = app
            .client
            .get(app.url(&format!("/v1/bills/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["history"][0]["to_status"], "ready");
        let audit: serde_json::Value = app
            .client
            .get(app.url(&format!("/v1/audit?bill_id={id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(audit[0]["action"], "bill.received");
        assert_eq!(audit[0]["details"]["iban"], "FR76…0189");
    }
}

#[tokio::test]
async fn forged_unsigned_expired_oversized_and_wrong_type_are_refused() {
    for db in databases().await {
        let app = TestApp::spawn(&db).await;
        let (_, token) = app.org("Acme").await;
        let (src, secret) = app.source(&token, "erp").await;
        let url = app.url(&format!("/v1/sources/{src}/bills"));
        let code =
            |v: serde_json::Value| v["error"]["code"].as_str().unwrap_or_default().to_string();

        // Forged: signed with another secret.
        let other = connector::signing::WebhookSecret::generate().unwrap();
        let r = app
            .send(&src, &other, "m1", "application/xml", UBL.as_bytes())
            .await;
        assert_eq!(r.status(), 401);
        assert_eq!(code(r.json().await.unwrap()), "bad_signature");

        // Unsigned.
        let r = app
            .client
            .post(&url)
            .header("content-type", "application/xml")
            .body(UBL)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(code(r.json().await.unwrap()), "missing_headers");

        // Expired (a captured request replayed ten minutes later).
        let old = chrono::Utc::now().timestamp() - 600;
        let h = connector::signing::sign(std::slice::from_ref(&secret), "m2", old, UBL.as_bytes());
        let r = app
            .client
            .post(&url)
            .header("content-type", "application/xml")
            .header("webhook-id", h.webhook_id)
            .header("webhook-timestamp", h.webhook_timestamp)
            .header("webhook-signature", h.webhook_signature)
            .body(UBL)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(code(r.json().await.unwrap()), "expired");

        // Tampered body under a valid signature.
        let h = connector::signing::sign(
            std::slice::from_ref(&secret),
            "m3",
            chrono::Utc::now().timestamp(),
            UBL.as_bytes(),
        );
        let r = app
            .client
            .post(&url)
            .header("content-type", "application/xml")
            .header("webhook-id", h.webhook_id)
            .header("webhook-timestamp", h.webhook_timestamp)
            .header("webhook-signature", h.webhook_signature)
            .body(UBL.replace("1100.10", "9100.10"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);

        // Oversized (limit 1 MiB in tests) and wrong content type.
        let big = vec![b' '; 2 * 1024 * 1024];
        let r = app.send(&src, &secret, "m4", "application/xml", &big).await;
        assert_eq!(r.status(), 413);
        assert_eq!(code(r.json().await.unwrap()), "too_large");
        let r = app.send(&src, &secret, "m5", "text/plain", b"hello").await;
        assert_eq!(r.status(), 415);

        // Unreadable document: 422 with the adapters' code, and the payload is kept.
        let r = app
            .send(&src, &secret, "m6", "application/xml", b"<Invoice")
            .await;
        assert_eq!(r.status(), 422);
        assert_eq!(code(r.json().await.unwrap()), "malformed_xml");
        let audit: serde_json::Value = app
            .client
            .get(app.url("/v1/audit"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(audit[0]["action"], "bill.rejected");
        assert_eq!(audit[0]["details"]["code"], "malformed_xml");

        // Unknown source, malformed source id.
        let r = app
            .send(
                "src_00000000000000000000000000000000",
                &secret,
                "m7",
                "application/xml",
                UBL.as_bytes(),
            )
            .await;
        assert_eq!(r.status(), 404);
        let r = app
            .send("nope", &secret, "m8", "application/xml", UBL.as_bytes())
            .await;
        assert_eq!(r.status(), 404);

        // Nothing but rejections: no bill exists.
        let page: serde_json::Value = app
            .client
            .get(app.url("/v1/bills"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["bills"].as_array().unwrap().len(), 0);
    }
}

#[tokio::test]
async fn fifty_concurrent_submissions_make_one_bill() {
    for db in databases().await {
        let app = std::sync::Arc::new(TestApp::spawn(&db).await);
        let (_, token) = app.org("Acme").await;
        let (src, secret) = app.source(&token, "erp").await;
        let mut tasks = Vec::new();
        for i in 0..50 {
            let (app, src, secret) = (app.clone(), src.clone(), secret.clone());
            tasks.push(tokio::spawn(async move {
                // Half reuse one webhook-id (retries), half are fresh deliveries of the same bytes.
                let id = if i % 2 == 0 {
                    "same".to_string()
                } else {
                    format!("m{i}")
                };
                app.send(&src, &secret, &id, "application/xml", UBL.as_bytes())
                    .await
                    .status()
                    .as_u16()
            }));
        }
        let mut created = 0;
        for t in tasks {
            match t.await.unwrap() {
                201 => created += 1,
                200 => {}
                other => panic!("unexpected status {other} on {db}"),
            }
        }
        assert_eq!(created, 1, "{db}");
        let page: serde_json::Value = app
            .client
            .get(app.url("/v1/bills"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["bills"].as_array().unwrap().len(), 1, "{db}");
    }
}

#[tokio::test]
async fn organizations_cannot_see_each_other() {
    for db in databases().await {
        let app = TestApp::spawn(&db).await;
        let (_, a) = app.org("A").await;
        let (_, b) = app.org("B").await;
        let (src_a, secret_a) = app.source(&a, "erp").await;
        let r = app
            .send(&src_a, &secret_a, "m1", "application/xml", UBL.as_bytes())
            .await;
        let bill: serde_json::Value = r.json().await.unwrap();
        let id = bill["id"].as_str().unwrap();

        let get = |token: &str, path: String| {
            let req = app
                .client
                .get(app.url(&path))
                .bearer_auth(token.to_string());
            async move { req.send().await.unwrap() }
        };
        assert_eq!(get(&a, format!("/v1/bills/{id}")).await.status(), 200);
        assert_eq!(get(&b, format!("/v1/bills/{id}")).await.status(), 404);
        assert_eq!(get(&b, format!("/v1/sources/{src_a}")).await.status(), 404);
        let page: serde_json::Value = get(&b, "/v1/bills".into()).await.json().await.unwrap();
        assert!(page["bills"].as_array().unwrap().is_empty());
        let audit: serde_json::Value = get(&b, "/v1/audit".into()).await.json().await.unwrap();
        assert!(audit.as_array().unwrap().is_empty());
        let r = app
            .client
            .post(app.url(&format!("/v1/bills/{id}/cancel")))
            .bearer_auth(&b)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let r = app
            .client
            .post(app.url(&format!("/v1/sources/{src_a}/rotate-secret")))
            .bearer_auth(&b)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        // Org tokens cannot manage organizations; no token, no access.
        let r = app
            .client
            .get(app.url("/v1/orgs"))
            .bearer_auth(&a)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let r = app.client.get(app.url("/v1/bills")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = app
            .client
            .get(app.url("/v1/bills"))
            .bearer_auth("bb_forged")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
}

#[tokio::test]
async fn iban_change_and_duplicates_are_held_until_a_person_decides() {
    for db in databases().await {
        let app = TestApp::spawn(&db).await;
        let (_, token) = app.org("Acme").await;
        let (src, secret) = app.source(&token, "erp").await;
        let (src2, secret2) = app.source(&token, "upload").await;
        let r = app
            .send(&src, &secret, "m1", "application/xml", UBL.as_bytes())
            .await;
        assert_eq!(r.status(), 201);

        // Same supplier, a new invoice paying a different IBAN: the classic fraud pattern.
        let changed = UBL.replace("FA-2026-0042", "FA-2026-0043").replace(
            "FR76 3000 6000 0112 3456 7890 189",
            "DE89 3704 0044 0532 0130 00",
        );
        let r = app
            .send(&src, &secret, "m2", "application/xml", changed.as_bytes())
            .await;
        let held: serde_json::Value = r.json().await.unwrap();
        assert_eq!(held["status"], "held");
        assert_eq!(held["hold_reasons"], serde_json::json!(["iban_changed"]));
        let id = held["id"].as_str().unwrap();
        let r = app
            .client
            .post(app.url(&format!("/v1/bills/{id}/release")))
            .bearer_auth(&token)
            .json(&serde_json::json!({"note": "called the supplier"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["status"],
            "ready"
        );
        // Once approved, that IBAN is known: the next bill paying it is not held.
        let third = changed.replace("FA-2026-0043", "FA-2026-0044");
        let r = app
            .send(&src, &secret, "m3", "application/xml", third.as_bytes())
            .await;
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["status"],
            "ready"
        );

        // The same invoice from another source (here as CII would be the same seller+number+amount):
        let r = app
            .send(
                &src2,
                &secret2,
                "m4",
                "application/xml",
                UBL.replace(
                    "<cbc:BuyerReference>",
                    "<cbc:Note>copy</cbc:Note><cbc:BuyerReference>",
                )
                .as_bytes(),
            )
            .await;
        assert_eq!(r.status(), 201);
        let dup: serde_json::Value = r.json().await.unwrap();
        assert_eq!(dup["hold_reasons"], serde_json::json!(["duplicate"]));

        // A credit note cannot be released.
        let credit = CII.replace("<ram:TypeCode>380", "<ram:TypeCode>381");
        let r = app
            .send(&src, &secret, "m5", "application/xml", credit.as_bytes())
            .await;
        let cn: serde_json::Value = r.json().await.unwrap();
        assert_eq!(cn["status"], "held");
        let r = app
            .client
            .post(app.url(&format!("/v1/bills/{}/release", cn["id"].as_str().unwrap())))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409);

        // Hold, then cancel; filters and pagination.
        let r = app
            .client
            .post(app.url(&format!("/v1/bills/{id}/hold")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["hold_reasons"],
            serde_json::json!(["manual"])
        );
        let r = app
            .client
            .post(app.url(&format!("/v1/bills/{id}/cancel")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["status"],
            "canceled"
        );
        let page: serde_json::Value = app
            .client
            .get(app.url("/v1/bills?status=held"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["bills"].as_array().unwrap().len(), 2);
        let page: serde_json::Value = app
            .client
            .get(app.url("/v1/bills?limit=2"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["bills"].as_array().unwrap().len(), 2);
        let cursor = page["next_cursor"].as_str().unwrap();
        let next: serde_json::Value = app
            .client
            .get(app.url(&format!("/v1/bills?limit=2&cursor={cursor}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(next["bills"].as_array().unwrap().len(), 2);
        let r = app
            .client
            .get(app.url("/v1/bills?due_before=not-a-date"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    }
}

#[tokio::test]
async fn secret_rotation_accepts_both_during_the_grace_period() {
    for db in databases().await {
        let app = TestApp::spawn(&db).await;
        let (_, token) = app.org("Acme").await;
        let (src, old) = app.source(&token, "erp").await;
        let r = app
            .client
            .post(app.url(&format!("/v1/sources/{src}/rotate-secret")))
            .bearer_auth(&token)
            .json(&serde_json::json!({"grace_seconds": 3600}))
            .send()
            .await
            .unwrap();
        let new = connector::signing::WebhookSecret::parse(
            r.json::<serde_json::Value>().await.unwrap()["signing_secret"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            app.send(&src, &old, "a", "application/xml", UBL.as_bytes())
                .await
                .status(),
            201
        );
        assert_eq!(
            app.send(&src, &new, "b", "application/xml", CII.as_bytes())
                .await
                .status(),
            201
        );
        // Without grace, the old secret stops working at once.
        let r = app
            .client
            .post(app.url(&format!("/v1/sources/{src}/rotate-secret")))
            .bearer_auth(&token)
            .json(&serde_json::json!({"grace_seconds": 0}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            app.send(&src, &new, "c", "application/json", JSON.as_bytes())
                .await
                .status(),
            401
        );
    }
}

#[tokio::test]
async fn json_mapping_reads_an_erp_payload() {
    for db in databases().await {
        let app = TestApp::spawn(&db).await;
        let (_, token) = app.org("Acme").await;
        let (src, secret) = app.source(&token, "erp").await;
        let bad = app
            .client
            .put(app.url(&format!("/v1/sources/{src}/mapping")))
            .bearer_auth(&token)
            .json(&serde_json::json!({"fields": {"number": "no-pointer"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
        let r = app
            .client
            .put(app.url(&format!("/v1/sources/{src}/mapping")))
            .bearer_auth(&token)
            .json(&serde_json::json!({"fields": {
                "external_id": "/id", "number": "/doc/no", "payable_amount": "/open",
                "seller.name": "/vendor/name", "seller.vat_id": "/vendor/vat", "payment.iban": "/vendor/iban"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let payload = br#"{"id": "V-77", "doc": {"no": "R-1"}, "open": "99.90", "vendor": {"name": "Schmidt KG", "vat": "DE123456789", "iban": "DE89370400440532013000"}}"#;
        let r = app
            .send(&src, &secret, "m1", "application/json", payload)
            .await;
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["external_id"], "V-77");
        assert_eq!(v["amount_due"], "99.90");
        assert_eq!(v["status"], "ready");
    }
}

#[tokio::test]
async fn concurrent_first_bills_of_a_new_supplier_are_all_accepted() {
    // Twenty different invoices of one supplier nobody knows yet, at the same moment: they race
    // to create the supplier and its IBAN; every one must still become a bill.
    for db in databases().await {
        let app = std::sync::Arc::new(TestApp::spawn(&db).await);
        let (_, token) = app.org("Acme").await;
        let (src, secret) = app.source(&token, "erp").await;
        let mut tasks = Vec::new();
        for i in 0..20 {
            let (app, src, secret) = (app.clone(), src.clone(), secret.clone());
            tasks.push(tokio::spawn(async move {
                let body = UBL.replace("FA-2026-0042", &format!("RACE-{i}"));
                app.send(
                    &src,
                    &secret,
                    &format!("m{i}"),
                    "application/xml",
                    body.as_bytes(),
                )
                .await
                .status()
                .as_u16()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 201, "{db}");
        }
        let page: serde_json::Value = app
            .client
            .get(app.url("/v1/bills?status=ready&limit=100"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["bills"].as_array().unwrap().len(), 20, "{db}");
    }
}
