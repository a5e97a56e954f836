//! The Qonto client against wiremock: request shapes, lenient responses, error classes, retries.

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector::qonto::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const IBAN: &str = "FR7630006000011234567890189";
const IBAN2: &str = "DE89370400440532013000";

fn config_for(base: &str) -> QontoConfig {
    let mut c = QontoConfig::new(Environment::Custom {
        api_base: base.to_owned(),
        oauth_base: base.to_owned(),
    });
    c.api_key = Some(ApiKeyConfig {
        login: "pied-piper-7132".into(),
        secret_key: "s3cr3t-key".into(),
    });
    c.staging_token = Some("staging-tok".into());
    c.sca_method = ScaMethod::Mock;
    c.request_timeout_ms = 5_000;
    c.retry = RetryConfig {
        max_attempts: 3,
        base_delay_ms: 10,
        max_delay_ms: 40,
        max_retry_after_ms: 5_000,
    };
    c
}

fn client_for(base: &str) -> (QontoClient, Arc<MemoryAuditSink>) {
    let audit = Arc::new(MemoryAuditSink::new());
    let client = QontoClient::builder(config_for(base), "org-1")
        .audit_sink(audit.clone())
        .build()
        .expect("client");
    (client, audit)
}

async fn setup() -> (MockServer, QontoClient, Arc<MemoryAuditSink>) {
    let server = MockServer::start().await;
    let (client, audit) = client_for(&server.uri());
    (server, client, audit)
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

fn hdr<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

fn amount(s: &str) -> Amount {
    Amount::from_str(s).expect("amount")
}

fn transfer_body(amount_str: &str) -> CreateTransfer {
    CreateTransfer {
        vop_proof_token: "proof_123".into(),
        transfer: NewTransfer {
            payee: Payee::BeneficiaryId("ben-1".into()),
            bank_account_id: "acc-1".into(),
            reference: "INV-2026-0042".into(),
            amount: amount(amount_str),
            note: None,
            attachment_ids: vec![],
            scheduled_date: None,
        },
    }
}

fn transfer_json(id: &str, status: &str) -> Value {
    json!({"id": id, "initiator_id": "m1", "bank_account_id": "acc-1", "amount": 1100.5,
           "amount_cents": 110050, "amount_currency": "EUR", "status": status,
           "beneficiary_id": "ben-1", "reference": "INV-2026-0042", "note": null,
           "declined_reason": null, "scheduled_date": "2026-12-01",
           "created_at": "2025-04-22T12:00:00Z", "updated_at": "2025-04-22T12:00:00Z",
           "processed_at": null, "completed_at": null, "transaction_id": null,
           "recurring_transfer_id": null, "some_new_field": {"x": 1}})
}

// ---------------------------------------------------------------------------------------------
// Organization, accounts, headers

#[tokio::test]
async fn organization_sends_api_key_staging_token_and_reads_leniently() {
    let (server, client, _) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/organization"))
        .and(header("Authorization", "pied-piper-7132:s3cr3t-key"))
        .and(header("X-Qonto-Staging-Token", "staging-tok"))
        .and(header("Accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"organization": {
            "id": "cb47", "name": "Elektro", "slug": "elektro-tesla-gmbh-3066",
            "legal_share_capital": 1000, "contract_signed_at": "2022-12-01 08:57:00.123047",
            "address": {"street": "x"},
            "bank_accounts": [
              {"id": "ext", "iban": "", "currency": "EUR", "status": "active", "main": false,
               "is_external_account": true},
              {"id": "018f", "slug": "main-1", "iban": IBAN, "bic": "TRZOFR21XXX", "currency": "EUR",
               "balance": 100, "balance_cents": 10000, "authorized_balance": "99.50",
               "authorized_balance_cents": null, "name": "Main", "status": "active", "main": true,
               "is_external_account": false, "account_number": null,
               "updated_at": "2021-03-23T14:00:46.967Z"}]}})))
        .expect(1)
        .mount(&server)
        .await;
    let org = client.get_organization().await.expect("org");
    let main = org.main_eur_account().expect("main account");
    assert_eq!(main.id, "018f");
    assert_eq!(
        main.available(),
        Some(Decimal::from_str("99.50").expect("dec"))
    );
    assert_eq!(main.balance_cents, Some(10_000));
}

#[tokio::test]
async fn bank_accounts_are_listed_over_pages_and_fetched_by_id() {
    let (server, client, _) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/bank_accounts"))
        .and(query_param("page", "1"))
        .and(query_param("per_page", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "bank_accounts": [{"id": "a1", "status": "active", "main": true, "currency": "EUR"}],
            "meta": {"current_page": 1, "next_page": 2, "total_pages": 2}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/bank_accounts"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "bank_accounts": [{"id": "a2", "status": "closed", "balance_cents": "1255"}],
            "meta": {"current_page": 2, "next_page": null, "total_pages": 2}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/bank_accounts/a1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "bank_account": {"id": "a1", "authorized_balance_cents": 5000}})))
        .mount(&server)
        .await;
    let accounts = client.list_bank_accounts().await.expect("accounts");
    assert_eq!(
        accounts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["a1", "a2"]
    );
    assert_eq!(accounts[1].balance_cents, Some(1255));
    let a = client.get_bank_account("a1").await.expect("account");
    assert_eq!(a.available(), Some(Decimal::new(5000, 2)));
}

// ---------------------------------------------------------------------------------------------
// Beneficiaries

#[tokio::test]
async fn beneficiaries_every_page_with_iban_filter_and_both_shapes() {
    let (server, client, audit) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/sepa/beneficiaries"))
        .and(query_param("page", "1"))
        .and(query_param("per_page", "100"))
        .and(query_param("iban[]", IBAN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "beneficiaries": [{"id": "b1", "name": "ACME SAS", "iban": IBAN, "bic": "AGRIFRPP",
                               "email": null, "activity_tag": "other_expense", "currency": "EUR",
                               "status": "validated", "trusted": true,
                               "created_at": "2023-11-07T05:31:56Z", "updated_at": "2023-11-07T05:31:56Z"}],
            "meta": {"current_page": 1, "next_page": 2, "prev_page": null, "total_pages": 2,
                     "total_count": 2, "per_page": 100}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/sepa/beneficiaries"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            // sandbox shape: IBAN under bank_account; last page omits next_page
            "beneficiaries": [{"id": "b2", "name": "Hans", "status": "pending", "trusted": false,
                               "bank_account": {"iban": IBAN2, "bic": null, "currency": "EUR",
                                                "account_number": null}}],
            "meta": {"current_page": 2, "total_pages": 2}})))
        .expect(1)
        .mount(&server)
        .await;
    let filter = BeneficiaryFilter {
        ibans: vec![IBAN.into(), IBAN2.into()],
        ..Default::default()
    };
    let list = client.list_beneficiaries(&filter).await.expect("list");
    assert_eq!(list.len(), 2);
    assert!(list[0].trusted);
    assert_eq!(list[0].iban, IBAN);
    assert_eq!(list[1].iban, IBAN2);
    assert_eq!(list[1].currency.as_deref(), Some("EUR"));
    let reqs = requests(&server).await;
    let q = reqs[0].url.query().unwrap_or_default().to_owned();
    assert!(
        q.contains(&format!("iban[]={IBAN}&iban[]={IBAN2}")),
        "literal iban[] keys: {q}"
    );
    // the audit log never holds a full IBAN
    let recs = serde_json::to_string(&audit.records()).expect("json");
    assert!(!recs.contains(IBAN) && !recs.contains(IBAN2), "{recs}");
    assert!(recs.contains("FR76…0189"));
}

#[tokio::test]
async fn beneficiary_get_and_create_with_idempotency_key() {
    let (server, client, _) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/sepa/beneficiaries/b1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"beneficiary": {
            "id": "b1", "name": "ACME", "bank_account": {"iban": IBAN}, "status": "validated",
            "trusted": true}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/sepa/beneficiaries"))
        .and(header("X-Qonto-Idempotency-Key", "ben-key-1"))
        .and(header("Content-Type", "application/json"))
        .and(body_json(
            json!({"beneficiary": {"name": "ACME SAS", "iban": IBAN}}),
        ))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"beneficiary": {
            "id": "b9", "name": "ACME SAS", "iban": IBAN, "status": "pending", "trusted": false}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let b = client.get_beneficiary("b1").await.expect("get");
    assert_eq!(b.iban, IBAN);
    let body = Prepared::new(&CreateBeneficiary {
        beneficiary: NewBeneficiary {
            name: "ACME SAS".into(),
            iban: IBAN.into(),
            bic: None,
            email: None,
            activity_tag: None,
        },
    })
    .expect("valid");
    let key = IdempotencyKey::new("ben-key-1").expect("key");
    let created = client
        .create_beneficiary(&body, &key, &ScaOptions::default())
        .await
        .expect("created");
    assert_eq!(created.id, "b9");
    assert!(!created.trusted);
    let reqs = requests(&server).await;
    let post = reqs
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("post");
    assert_eq!(hdr(post, "X-Qonto-2fa-Preference"), Some("mock"));
}

// ---------------------------------------------------------------------------------------------
// VoP

#[tokio::test]
async fn verify_payee_object_token_and_bank_error_with_token() {
    let (server, client, _) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v2/sepa/verify_payee"))
        .and(body_json(
            json!({"iban": IBAN, "beneficiary_name": "John Doe"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "match_result": "MATCH_RESULT_CLOSE_MATCH", "matched_name": "Jon Jones",
            "proof_token": {"token": "proof_1"}})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/sepa/verify_payee"))
        .and(body_json(
            json!({"iban": IBAN2, "beneficiary_name": "Hans"}),
        ))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"errors": [{
            "code": "BAD_REQUEST_ERROR_RESPONDING_BANK_NOT_AVAILABLE", "detail": "bank down",
            "meta": {"proof_token": {"token": "proof_2"}}}], "trace_id": "t-vop"})))
        .mount(&server)
        .await;
    let r = client
        .verify_payee(&VerifyPayeeRequest {
            iban: IBAN.into(),
            beneficiary_name: "John Doe".into(),
        })
        .await
        .expect("vop");
    assert_eq!(r.match_result, MatchResult::CloseMatch);
    assert_eq!(r.matched_name.as_deref(), Some("Jon Jones"));
    assert_eq!(r.proof_token.0, "proof_1");
    let r = client
        .verify_payee(&VerifyPayeeRequest {
            iban: IBAN2.into(),
            beneficiary_name: "Hans".into(),
        })
        .await
        .expect("bank error still gives a token");
    assert_eq!(r.match_result, MatchResult::NotPossible);
    assert_eq!(r.proof_token.0, "proof_2");
    assert!(r.bank_error.is_some());
    // a name longer than 140 characters is refused locally
    let err = client
        .verify_payee(&VerifyPayeeRequest {
            iban: IBAN.into(),
            beneficiary_name: "x".repeat(141),
        })
        .await
        .expect_err("too long");
    assert_eq!(err.class(), ErrorClass::InvalidRequest);
}

#[tokio::test]
async fn bulk_verify_payee_both_documented_shapes() {
    let (server, client, _) = setup().await;
    let request = BulkVerifyPayeeRequest {
        requests: vec![
            BulkVerifyPayeeItem {
                id: "req_001".into(),
                beneficiary_name: "John Doe".into(),
                iban: IBAN.into(),
            },
            BulkVerifyPayeeItem {
                id: "req_002".into(),
                beneficiary_name: "J Smith".into(),
                iban: IBAN2.into(),
            },
        ],
    };
    // older docs: string token, error_code string
    Mock::given(method("POST"))
        .and(path("/v2/sepa/bulk_verify_payee"))
        .and(body_json(json!({"requests": [
            {"id": "req_001", "beneficiary_name": "John Doe", "iban": IBAN},
            {"id": "req_002", "beneficiary_name": "J Smith", "iban": IBAN2}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "proof_token": "proof_str",
            "requests": [{"id": "req_001", "response": {"match_result": "MATCH_RESULT_MATCH"}},
                         {"id": "req_002", "error_code": "BAD_REQUEST_ERROR_RESPONDING_BANK_NOT_AVAILABLE"}]})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    // newer: object token, error object
    Mock::given(method("POST"))
        .and(path("/v2/sepa/bulk_verify_payee"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "proof_token": {"token": "proof_obj"},
            "requests": [{"id": "req_001", "response": {"match_result": "MATCH_RESULT_NO_MATCH"}},
                         {"id": "req_002", "error": {"code": "SINGLE_REQUEST_ERROR_CODE_X", "detail": "d"}}]})))
        .mount(&server)
        .await;
    let a = client.bulk_verify_payee(&request).await.expect("a");
    assert_eq!(a.proof_token.0, "proof_str");
    assert_eq!(a.requests[0].match_result, Some(MatchResult::Match));
    assert_eq!(
        a.requests[1].error.as_ref().map(|e| e.code.as_str()),
        Some("BAD_REQUEST_ERROR_RESPONDING_BANK_NOT_AVAILABLE")
    );
    let b = client.bulk_verify_payee(&request).await.expect("b");
    assert_eq!(b.proof_token.0, "proof_obj");
    assert_eq!(b.requests[0].match_result, Some(MatchResult::NoMatch));
    assert_eq!(
        b.requests[1]
            .error
            .as_ref()
            .and_then(|e| e.detail.as_deref()),
        Some("d")
    );
}

// ---------------------------------------------------------------------------------------------
// Transfers and SCA

#[tokio::test]
async fn transfer_sca_challenge_then_replay_with_same_key_and_bytes() {
    let (server, client, audit) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v2/sepa/transfers"))
        .and(header("X-Qonto-Sca-Session-Token", "sca-tok-64"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"transfer": transfer_json("t1", "pending")})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/sepa/transfers"))
        .respond_with(
            ResponseTemplate::new(428)
                .insert_header("X-Tyk-Trace-Id", "trace-428")
                .set_body_json(json!({"action_type": "transfer.single.create",
                    "code": "sca_required", "message": "SCA required",
                    "sca_recovery_token": "x", "sca_session_token": "sca-tok-64",
                    "trace_id": "trace-body"})),
        )
        .mount(&server)
        .await;
    let body = Prepared::new(&transfer_body("1100.5")).expect("body");
    let persisted = body.as_bytes().to_vec();
    let key = IdempotencyKey::new("bill-42-1").expect("key");
    let err = client
        .create_transfer(&body, &key, &ScaOptions::first_attempt())
        .await
        .expect_err("428");
    assert_eq!(err.class(), ErrorClass::ScaRequired);
    assert!(!err.is_transient());
    assert_eq!(err.trace_id(), Some("trace-428"));
    let token = err.sca_session_token().cloned().expect("token");
    assert_eq!(token.expose(), "sca-tok-64");
    assert!(
        !format!("{err:?}").contains("sca-tok-64"),
        "token redacted in Debug"
    );

    // replay from persisted bytes
    let replay_body = Prepared::<CreateTransfer>::from_persisted(persisted.clone()).expect("bytes");
    let t = client
        .create_transfer(
            &replay_body,
            &key,
            &ScaOptions::replay(Some(ScaMethod::Mock), token),
        )
        .await
        .expect("replay");
    assert_eq!(t.status, TransferStatus::Pending);
    assert_eq!(t.amount_eur(), Some(Decimal::new(110_050, 2)));
    assert_eq!(t.amount, Some(Decimal::from_str("1100.5").expect("d")));

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2, "428 is not retried");
    for r in &reqs {
        assert_eq!(hdr(r, "X-Qonto-Idempotency-Key"), Some("bill-42-1"));
        assert_eq!(hdr(r, "X-Qonto-2fa-Preference"), Some("mock"));
        assert_eq!(r.body, persisted, "same body bytes");
    }
    assert_eq!(hdr(&reqs[0], "X-Qonto-Sca-Session-Token"), None);
    let sent: Value = serde_json::from_slice(&reqs[0].body).expect("json");
    assert_eq!(
        sent,
        json!({"vop_proof_token": "proof_123", "transfer": {"beneficiary_id": "ben-1",
               "bank_account_id": "acc-1", "reference": "INV-2026-0042", "amount": "1100.50"}})
    );
    let recs = serde_json::to_string(&audit.records()).expect("json");
    assert!(
        !recs.contains("sca-tok-64") && !recs.contains("s3cr3t") && !recs.contains("staging-tok")
    );
    assert!(recs.contains("bill-42-1") && recs.contains("trace-428"));
}

#[tokio::test]
async fn sca_not_enrolled_and_session_poll_and_mocked_decisions() {
    let (server, client, _) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v2/sepa/transfers"))
        .respond_with(ResponseTemplate::new(428).set_body_json(json!({
            "code": "sca_not_enrolled", "message": "You must enable SCA to perform this action",
            "trace_id": "t-ne"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/sca_sessions/tok-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"result": "waiting", "canceled_at": null})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/sca_sessions/tok-expired"))
        .respond_with(ResponseTemplate::new(412).set_body_json(json!({"message": "expired"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/mocked_sca_sessions/tok-1/allow"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"message": "Success"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/mocked_sca_sessions/tok-1/deny"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"message": "Success"})))
        .expect(1)
        .mount(&server)
        .await;
    let body = Prepared::new(&transfer_body("10")).expect("body");
    let err = client
        .create_transfer(&body, &IdempotencyKey::random(), &ScaOptions::default())
        .await
        .expect_err("not enrolled");
    assert_eq!(err.class(), ErrorClass::ScaNotEnrolled);
    assert_eq!(err.trace_id(), Some("t-ne"));
    let tok = ScaSessionToken::new("tok-1");
    let s = client.get_sca_session(&tok).await.expect("session");
    assert_eq!(s.result, ScaResult::Waiting);
    let e = client
        .get_sca_session(&ScaSessionToken::new("tok-expired"))
        .await
        .expect_err("412");
    assert_eq!(e.class(), ErrorClass::ScaSessionInvalid);
    client
        .decide_mocked_sca_session(&tok, MockScaDecision::Allow)
        .await
        .expect("allow");
    client
        .decide_mocked_sca_session(&tok, MockScaDecision::Deny)
        .await
        .expect("deny");
}

#[tokio::test]
async fn mocked_sca_is_refused_in_production() {
    let mut config = config_for("http://127.0.0.1:9");
    config.environment = Environment::Production;
    config.sca_method = ScaMethod::PairedDevice;
    config.staging_token = None;
    let client = QontoClient::builder(config, "org").build().expect("client");
    let e = client
        .decide_mocked_sca_session(&ScaSessionToken::new("t"), MockScaDecision::Allow)
        .await
        .expect_err("refused");
    assert!(matches!(e, QontoError::Config(_)));
}

#[tokio::test]
async fn transfers_get_list_by_ids_and_cancel() {
    let (server, client, _) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/sepa/transfers/t1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"transfer": transfer_json("t1", "settled")})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/sepa/transfers"))
        .and(query_param("ids[]", "t1"))
        .and(query_param("ids[]", "t2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "transfers": [transfer_json("t1", "settled"), transfer_json("t2", "declined"),
                          {"id": "t3", "status": "brand_new_status", "amount": "12.55", "amount_cents": "1255"}],
            "meta": {"current_page": 1, "next_page": null, "total_pages": 1}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/sepa/transfers/t1/cancel"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let t = client.get_transfer("t1").await.expect("t1");
    assert!(t.status.is_final());
    let ids: Vec<String> = vec!["t1".into(), "t2".into()];
    let list = client.list_transfers_by_ids(&ids).await.expect("list");
    assert_eq!(list.len(), 3);
    assert_eq!(list[1].status, TransferStatus::Declined);
    assert_eq!(list[2].status, TransferStatus::Unknown);
    assert_eq!(list[2].amount_eur(), Some(Decimal::new(1255, 2)));
    let reqs = requests(&server).await;
    let q = reqs[1].url.query().unwrap_or_default().to_owned();
    assert!(q.starts_with("ids[]=t1&ids[]=t2"), "{q}");
    client
        .cancel_transfer("t1", None, &ScaOptions::default())
        .await
        .expect("cancel");
    let too_many: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    let e = client
        .list_transfers_by_ids(&too_many)
        .await
        .expect_err("too many");
    assert_eq!(e.class(), ErrorClass::InvalidRequest);
}

fn bulk_body() -> CreateBulkTransfer {
    CreateBulkTransfer {
        vop_proof_token: "proof_bulk".into(),
        bank_account_id: "acc-1".into(),
        bulk_transfers: vec![
            BulkTransferItem {
                client_transfer_id: "c1".into(),
                payee: Payee::BeneficiaryId("ben-1".into()),
                reference: "INV-1".into(),
                amount: amount("100.5"),
                scheduled_date: None,
                note: None,
                attachment_ids: vec![],
            },
            BulkTransferItem {
                client_transfer_id: "c2".into(),
                payee: Payee::Inline(NewBeneficiary {
                    name: "Alice".into(),
                    iban: IBAN2.into(),
                    bic: Some("COBADEFFXXX".into()),
                    email: None,
                    activity_tag: None,
                }),
                reference: "INV-2".into(),
                amount: amount("42"),
                scheduled_date: None,
                note: Some("n".into()),
                attachment_ids: vec![],
            },
        ],
    }
}

#[tokio::test]
async fn bulk_create_bare_and_get_wrapped_with_doc_quirks() {
    let (server, client, _) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v2/sepa/bulk_transfers"))
        .and(header("X-Qonto-Idempotency-Key", "run-7-chunk-1"))
        .and(body_json(json!({"vop_proof_token": "proof_bulk", "bank_account_id": "acc-1",
            "bulk_transfers": [
              {"client_transfer_id": "c1", "beneficiary_id": "ben-1", "reference": "INV-1", "amount": "100.50"},
              {"client_transfer_id": "c2", "beneficiary": {"name": "Alice", "iban": IBAN2, "bic": "COBADEFFXXX"},
               "reference": "INV-2", "amount": "42.00", "note": "n"}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "bulk-1", "total_count": 2, "completed_count": 0, "failed_count": 0,
            "pending_count": 2, "results": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/sepa/bulk_transfers/bulk-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"bulk_transfer": {
            "id": "bulk-1", "total_count": 3, "completed_ount": 1, "failed_count": 1, "pending_count": 1,
            "results": [
              {"client_transfer_id": "c1", "status": "completed", "transfer_id": "t1", "errors": null},
              {"client_transfer_id": "c2", "status": "failed", "transfer_id": null,
               "errors": [{"errors": [{"code": "invalid", "detail": "Invalid IBAN",
                                       "source": {"pointer": "/bank_account_id"}}]}]},
              {"client_transfer_id": "c3", "status": "pending", "transfer_id": null, "errors": null}]}})))
        .mount(&server)
        .await;
    let body = Prepared::new(&bulk_body()).expect("body");
    let key = IdempotencyKey::new("run-7-chunk-1").expect("key");
    let b = client
        .create_bulk_transfer(&body, &key, &ScaOptions::default())
        .await
        .expect("bulk");
    assert_eq!(b.id, "bulk-1");
    assert_eq!(b.pending_count, Some(2));
    let g = client.get_bulk_transfer("bulk-1").await.expect("get");
    assert_eq!(g.completed_count, Some(1));
    assert_eq!(g.results[0].transfer_id.as_deref(), Some("t1"));
    assert_eq!(g.results[1].status, BulkResultStatus::Failed);
    assert_eq!(
        g.results[1].errors[0].detail.as_deref(),
        Some("Invalid IBAN")
    );
    assert_eq!(
        g.results[1].errors[0].pointer.as_deref(),
        Some("/bank_account_id")
    );
    assert!(g.results[2].errors.is_empty());
}

#[tokio::test]
async fn bulk_plan_restriction_and_insufficient_funds_and_policy() {
    let (server, client, _) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v2/sepa/bulk_transfers"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            json!({"errors": [{"code": "forbidden",
            "detail": "The organization’s price plan does not allow to do bulk transfer."}],
            "trace_id": "t403"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/sepa/transfers"))
        .and(header("X-Qonto-Idempotency-Key", "k-funds"))
        .respond_with(
            ResponseTemplate::new(422)
                .set_body_json(json!({"errors": [{"code": "insufficient_funds",
            "detail": "Insufficient funds"}]})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/sepa/transfers"))
        .and(header("X-Qonto-Idempotency-Key", "k-policy"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"errors": [{"code": "payment_policy_approval_required"}]})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/sepa/transfers"))
        .and(header("X-Qonto-Idempotency-Key", "k-vop"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"errors": [{"code": "vop_proof_token_invalid"}]})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/sepa/transfers"))
        .and(header("X-Qonto-Idempotency-Key", "k-scope"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(json!({"errors": [{"code": "forbidden",
            "detail": "missing required oauth scope"}]})),
        )
        .mount(&server)
        .await;
    let body = Prepared::new(&bulk_body()).expect("body");
    let e = client
        .create_bulk_transfer(&body, &IdempotencyKey::random(), &ScaOptions::default())
        .await
        .expect_err("403");
    assert_eq!(e.class(), ErrorClass::PlanForbidsBulk);
    assert_eq!(e.trace_id(), Some("t403"));
    let t = Prepared::new(&transfer_body("10")).expect("t");
    let cases = [
        ("k-funds", ErrorClass::InsufficientFunds),
        ("k-policy", ErrorClass::ApprovalRequired),
        ("k-vop", ErrorClass::VopToken),
        ("k-scope", ErrorClass::Forbidden),
    ];
    for (k, class) in cases {
        let e = client
            .create_transfer(
                &t,
                &IdempotencyKey::new(k).expect("k"),
                &ScaOptions::default(),
            )
            .await
            .expect_err(k);
        assert_eq!(e.class(), class, "{k}: {e}");
        assert!(!e.is_transient());
    }
    // none of these is retried
    assert_eq!(requests(&server).await.len(), 5);
}

// ---------------------------------------------------------------------------------------------
// Attachments, requests, webhooks

#[tokio::test]
async fn attachment_upload_is_multipart_with_file_part() {
    let (server, client, _) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v2/attachments"))
        .and(header("X-Qonto-Idempotency-Key", "att-1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"attachment": {
            "id": "71c32755-d0c3-4d82-9a78-774caa9d8556", "file_name": "inv.pdf", "extra": 1}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let file = AttachmentUpload {
        file_name: "inv.pdf".into(),
        content_type: "application/pdf".into(),
        bytes: bytes::Bytes::from_static(b"%PDF-1.7 fake"),
    };
    let a = client
        .upload_attachment(&file, &IdempotencyKey::new("att-1").expect("k"))
        .await
        .expect("upload");
    assert_eq!(a.id, "71c32755-d0c3-4d82-9a78-774caa9d8556");
    let reqs = requests(&server).await;
    let ct = hdr(&reqs[0], "content-type").unwrap_or_default();
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    let body = String::from_utf8_lossy(&reqs[0].body);
    assert!(body.contains("name=\"file\""));
    assert!(body.contains("filename=\"inv.pdf\""));
    assert!(body.contains("Content-Type: application/pdf"));
    assert!(body.contains("%PDF-1.7 fake"));
    let bad = AttachmentUpload {
        content_type: "text/plain".into(),
        ..file
    };
    assert!(client
        .upload_attachment(&bad, &IdempotencyKey::random())
        .await
        .is_err());
}

#[tokio::test]
async fn multi_transfer_request_body_and_response() {
    let (server, client, _) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v2/requests/multi_transfers"))
        .and(header("X-Qonto-Idempotency-Key", "req-1"))
        .and(body_json(
            json!({"request_multi_transfer": {"note": "Bills of March",
            "transfers": [{"amount": "2000.50", "currency": "EUR", "credit_iban": IBAN,
                           "credit_account_name": "URSSAF", "credit_account_currency": "EUR",
                           "reference": "Invoice 2023-01"}]}}),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"request_multi_transfer": {
            "id": "r1", "request_type": "multi_transfer", "status": "pending", "initiator_id": "m",
            "note": "Bills of March", "total_transfers_amount": "2000.50",
            "total_transfers_amount_currency": "EUR", "total_transfers_count": 1,
            "created_at": "2023-02-16T17:33:38.215Z", "transfers": []}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let body = Prepared::new(&CreateMultiTransferRequest {
        request_multi_transfer: MultiTransferRequestData {
            note: "Bills of March".into(),
            transfers: vec![RequestTransferItem::eur(
                amount("2000.5"),
                IBAN.into(),
                "URSSAF".into(),
                "Invoice 2023-01".into(),
            )],
            scheduled_date: None,
            debit_iban: None,
        },
    })
    .expect("body");
    let r = client
        .create_multi_transfer_request(
            &body,
            &IdempotencyKey::new("req-1").expect("k"),
            &ScaOptions::default(),
        )
        .await
        .expect("request");
    assert_eq!(r.status, "pending");
    assert_eq!(r.total_transfers_amount, Some(Decimal::new(200_050, 2)));
}

#[tokio::test]
async fn webhook_subscriptions_create_list_delete() {
    let (server, client, _) = setup().await;
    let secret = "whsec_0123456789abcdef0123456789abcdef";
    Mock::given(method("POST"))
        .and(path("/v2/webhook_subscriptions"))
        .and(body_json(
            json!({"callback_url": "https://erp.example/hooks/qonto",
            "types": ["v1/transactions"], "secret": secret}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": "w1", "organization_id": "o", "membership_id": "m",
            "callback_url": "https://erp.example/hooks/qonto", "types": ["v1/transactions"],
            "description": null, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z", "secret": secret})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/webhook_subscriptions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"webhook_subscriptions": [
            {"id": "w1", "callback_url": "https://erp.example/hooks/qonto", "types": ["v1/transactions"]}]})))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v2/webhook_subscriptions/w1"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let created = client
        .create_webhook_subscription(
            &NewWebhookSubscription {
                callback_url: "https://erp.example/hooks/qonto".into(),
                types: vec!["v1/transactions".into()],
                secret: Some(secret.into()),
                description: None,
            },
            None,
        )
        .await
        .expect("create");
    assert_eq!(created.id, "w1");
    assert!(created.secret.is_some());
    assert!(!format!("{created:?}").contains(secret));
    let list = client.list_webhook_subscriptions().await.expect("list");
    assert_eq!(list.len(), 1);
    client
        .delete_webhook_subscription("w1")
        .await
        .expect("delete");
}

// ---------------------------------------------------------------------------------------------
// Strict sending

#[tokio::test]
async fn invalid_bodies_are_refused_before_sending() {
    let mut t = transfer_body("10");
    t.transfer.reference = "Facture n°12".into();
    assert!(Prepared::new(&t).is_err());
    let mut t = transfer_body("10");
    t.transfer.reference = "A".repeat(100);
    assert!(Prepared::new(&t).is_err(), "not truncated: refused");
    let t = transfer_body("30000.01");
    assert!(Prepared::new(&t).is_err(), "attachment needed above 30k");
    let mut t = transfer_body("30000.01");
    t.transfer.attachment_ids = vec!["a".into()];
    assert!(Prepared::new(&t).is_ok());
    assert!(Amount::from_str("10.005").is_err());
    let mut b = bulk_body();
    b.bulk_transfers[1].client_transfer_id = "c1".into();
    assert!(Prepared::new(&b).is_err(), "duplicate client_transfer_id");
    let mut b = bulk_body();
    b.bulk_transfers[0].reference = "B".repeat(140);
    assert!(Prepared::new(&b).is_ok(), "bulk allows 140");
    let mut b = bulk_body();
    b.bulk_transfers.clear();
    assert!(Prepared::new(&b).is_err());
    let mut b = bulk_body();
    b.bulk_transfers[1].payee = Payee::Inline(NewBeneficiary {
        name: "Alice".into(),
        iban: "DE89 3704 0044 0532 0130 00".into(),
        bic: None,
        email: None,
        activity_tag: None,
    });
    assert!(Prepared::new(&b).is_err(), "IBAN must be normalised");
}

// ---------------------------------------------------------------------------------------------
// Retries and transient errors

#[tokio::test]
async fn rate_limit_retry_after_is_honoured() {
    let (server, client, _) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/sepa/transfers/t1"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .insert_header("X-Tyk-Trace-Id", "t429"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/sepa/transfers/t1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"transfer": transfer_json("t1", "pending")})),
        )
        .mount(&server)
        .await;
    let start = Instant::now();
    client.get_transfer("t1").await.expect("after retry");
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "waited for Retry-After"
    );
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn service_unavailable_retry_after_is_honoured_too() {
    let (server, client, _) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/organization"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/organization"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"organization": {"id": "o"}})),
        )
        .mount(&server)
        .await;
    let start = Instant::now();
    client.get_organization().await.expect("after retry");
    assert!(start.elapsed() >= Duration::from_millis(950));
}

#[tokio::test]
async fn rate_limit_error_carries_retry_after_when_attempts_run_out() {
    let server = MockServer::start().await;
    let mut config = config_for(&server.uri());
    config.retry.max_attempts = 1;
    let client = QontoClient::builder(config, "org").build().expect("client");
    Mock::given(method("GET"))
        .and(path("/v2/organization"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .mount(&server)
        .await;
    let e = client.get_organization().await.expect_err("429");
    assert!(e.is_transient());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(e.class(), ErrorClass::Transient);
}

#[tokio::test]
async fn server_errors_are_retried_for_reads_and_keyed_writes_only() {
    let (server, client, audit) = setup().await;
    // reads: two 503 then 200
    Mock::given(method("GET"))
        .and(path("/v2/sepa/transfers/t1"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(json!({"errors": [{"code": "unknown", "detail": "Unknown error"}]})),
        )
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/sepa/transfers/t1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"transfer": transfer_json("t1", "pending")})),
        )
        .mount(&server)
        .await;
    // keyed write: one 502 then 201
    Mock::given(method("POST"))
        .and(path("/v2/sepa/transfers"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/sepa/transfers"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"transfer": transfer_json("t9", "pending")})),
        )
        .mount(&server)
        .await;
    // unkeyed write: 500 always
    Mock::given(method("POST"))
        .and(path("/v2/sepa/transfers/t1/cancel"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/sepa/bulk_verify_payee"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;

    client.get_transfer("t1").await.expect("read retried");
    let body = Prepared::new(&transfer_body("10")).expect("b");
    let key = IdempotencyKey::new("keyed-1").expect("k");
    let t = client
        .create_transfer(&body, &key, &ScaOptions::default())
        .await
        .expect("keyed write retried");
    assert_eq!(t.id, "t9");
    let e = client
        .cancel_transfer("t1", None, &ScaOptions::default())
        .await
        .expect_err("unkeyed");
    assert!(e.is_transient() && e.outcome_unknown());
    let e = client
        .bulk_verify_payee(&BulkVerifyPayeeRequest {
            requests: vec![BulkVerifyPayeeItem {
                id: "1".into(),
                beneficiary_name: "A".into(),
                iban: IBAN.into(),
            }],
        })
        .await
        .expect_err("unkeyed POST");
    assert_eq!(e.status(), Some(500));

    let reqs = requests(&server).await;
    let count = |m: &str, p: &str| {
        reqs.iter()
            .filter(|r| r.method.as_str() == m && r.url.path() == p)
            .count()
    };
    assert_eq!(count("GET", "/v2/sepa/transfers/t1"), 3);
    assert_eq!(count("POST", "/v2/sepa/transfers"), 2);
    assert_eq!(
        count("POST", "/v2/sepa/transfers/t1/cancel"),
        1,
        "never retried"
    );
    assert_eq!(
        count("POST", "/v2/sepa/bulk_verify_payee"),
        1,
        "never retried"
    );
    // the keyed write was retried with the same key and bytes
    let posts: Vec<&Request> = reqs
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == "/v2/sepa/transfers")
        .collect();
    assert!(
        posts
            .iter()
            .all(|r| hdr(r, "X-Qonto-Idempotency-Key") == Some("keyed-1")
                && r.body == body.as_bytes())
    );
    let recs = audit.records();
    assert!(recs
        .iter()
        .any(|r| r.outcome == CallOutcome::Failed(ErrorClass::Transient) && r.attempt == 2));
}

/// A server that reads the request then closes the connection without answering
/// (the "commit then drop" case: the request may have been processed).
async fn drop_server() -> (String, Arc<AtomicUsize>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 65_536];
            let _ = tokio::time::timeout(Duration::from_millis(200), sock.read(&mut buf)).await;
            drop(sock);
        }
    });
    (format!("http://{addr}"), hits)
}

#[tokio::test]
async fn connection_dropped_is_transient_retried_when_safe_only() {
    let (base, hits) = drop_server().await;
    let (client, _) = client_for(&base);
    let e = client.get_organization().await.expect_err("dropped");
    assert!(e.is_transient(), "{e:?}");
    assert!(matches!(e, QontoError::Network { .. }));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        3,
        "read retried up to max_attempts"
    );

    hits.store(0, Ordering::SeqCst);
    let e = client
        .cancel_transfer("t1", None, &ScaOptions::default())
        .await
        .expect_err("dropped");
    assert!(e.is_transient() && e.outcome_unknown());
    assert_eq!(hits.load(Ordering::SeqCst), 1, "unkeyed write not retried");

    hits.store(0, Ordering::SeqCst);
    let body = Prepared::new(&transfer_body("10")).expect("b");
    let e = client
        .create_transfer(&body, &IdempotencyKey::random(), &ScaOptions::default())
        .await
        .expect_err("dropped");
    assert!(e.is_transient());
    assert_eq!(hits.load(Ordering::SeqCst), 3, "keyed write retried");
}

#[tokio::test]
async fn timeouts_are_transient() {
    let server = MockServer::start().await;
    let mut config = config_for(&server.uri());
    config.request_timeout_ms = 200;
    config.retry.max_attempts = 1;
    let client = QontoClient::builder(config, "org").build().expect("client");
    Mock::given(method("GET"))
        .and(path("/v2/organization"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let e = client.get_organization().await.expect_err("timeout");
    assert!(matches!(
        e,
        QontoError::Network {
            kind: NetworkErrorKind::Timeout,
            ..
        }
    ));
    assert!(e.is_transient());
}

#[tokio::test]
async fn unauthorized_api_key_and_gateway_404_keep_trace_id() {
    let (server, client, _) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/organization"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"errors": [{"code": "unauthorized",
            "detail": "Invalid credentials"}], "trace_id": "t401"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/sepa/transfers/nope"))
        .respond_with(
            ResponseTemplate::new(404)
                .insert_header("x-tyk-trace-id", "tyk-1")
                .set_body_string("Not Found"),
        )
        .mount(&server)
        .await;
    let e = client.get_organization().await.expect_err("401");
    assert_eq!(e.class(), ErrorClass::Unauthorized);
    assert_eq!(e.trace_id(), Some("t401"));
    let e = client.get_transfer("nope").await.expect_err("404");
    assert_eq!(e.class(), ErrorClass::NotFound);
    assert_eq!(e.trace_id(), Some("tyk-1"));
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn api_is_usable_as_dyn_trait() {
    let (server, client, _) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/sepa/bulk_transfers/b1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "b1", "results": null})),
        )
        .mount(&server)
        .await;
    let api: Arc<dyn QontoApi> = Arc::new(client);
    let b = api.get_bulk_transfer("b1").await.expect("bulk");
    assert!(b.results.is_empty());
}

#[test]
fn config_deserialises_from_toml_like_json() {
    let c: QontoConfig = serde_json::from_value(json!({
        "environment": {"custom": {"api_base": "http://127.0.0.1:1", "oauth_base": "http://127.0.0.1:2"}},
        "api_key": {"login": "l", "secret_key": "s"},
        "sca_method": "paired-device",
    }))
    .expect("config");
    assert_eq!(c.environment.token_url(), "http://127.0.0.1:2/oauth2/token");
    assert_eq!(c.sca_method, ScaMethod::PairedDevice);
    assert!(!format!("{c:?}").contains("\"s\""));
    let c: QontoConfig = serde_json::from_value(json!({"environment": "sandbox"})).expect("config");
    assert!(c.validate().is_err(), "sandbox needs a staging token");
    assert_eq!(c.environment.api_base(), SANDBOX_API_BASE);
    let c: QontoConfig =
        serde_json::from_value(json!({"environment": "production", "sca_method": "mock"}))
            .expect("config");
    assert!(c.validate().is_err(), "mock is sandbox-only");
}
