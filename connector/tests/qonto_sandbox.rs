//! The Qonto client against the offline simulator (`sandbox` crate): the main flows end to end.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use connector::qonto::*;
use sandbox::{Fault, Plan, Quirks, RunningSandbox, Sandbox, SandboxConfig, SeedBeneficiary};

const ACME_IBAN: &str = "FR7630006000011234567890189";
const ALICE_IBAN: &str = "DE91100000000123456789";

fn config_for(sb: &RunningSandbox) -> QontoConfig {
    let mut c = QontoConfig::new(Environment::Custom {
        api_base: sb.base_url(),
        oauth_base: sb.base_url(),
    });
    let header = sb.api_key_header();
    let (login, secret) = header.split_once(':').expect("login:secret");
    c.api_key = Some(ApiKeyConfig {
        login: login.to_owned(),
        secret_key: secret.to_owned().into(),
    });
    c.staging_token = Some(sb.staging_token().into());
    c.sca_method = ScaMethod::Mock;
    c.retry.base_delay_ms = 20;
    c
}

async fn start(cfg: SandboxConfig) -> (RunningSandbox, QontoClient, Arc<MemoryAuditSink>) {
    let sb = Sandbox::start(cfg).await.expect("sandbox starts");
    sb.set_require_staging_token(true);
    let audit = Arc::new(MemoryAuditSink::new());
    let client = QontoClient::builder(config_for(&sb), "org-sandbox")
        .audit_sink(audit.clone())
        .build()
        .expect("client");
    (sb, client, audit)
}

/// A valid French IBAN built from a number (check digits computed).
fn fr_iban(n: u32) -> String {
    let bban = format!("30006000{n:015}");
    // move "FR00" to the end, letters to numbers (F=15, R=27)
    let digits = format!("{bban}152700");
    let rem = digits
        .bytes()
        .fold(0u32, |acc, b| (acc * 10 + u32::from(b - b'0')) % 97);
    format!("FR{:02}{bban}", 98 - rem)
}

fn amount(s: &str) -> Amount {
    Amount::from_str(s).expect("amount")
}

#[tokio::test]
async fn beneficiaries_over_several_pages_and_by_iban_in_both_shapes() {
    let (sb, client, _) = start(SandboxConfig::default()).await;
    for i in 0..230 {
        let iban = fr_iban(i);
        normalize_iban(&iban).expect("generated IBAN is valid");
        sb.add_beneficiary(SeedBeneficiary::new(
            &format!("Supplier {i}"),
            &iban,
            i % 2 == 0,
        ));
    }
    let all = client
        .list_beneficiaries(&BeneficiaryFilter::default())
        .await
        .expect("all");
    assert_eq!(all.len(), 237, "7 seeded + 230 added, over 3 pages of 100");
    let mut ids: Vec<&str> = all.iter().map(|b| b.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 237);

    let filtered = client
        .list_beneficiaries(&BeneficiaryFilter {
            ibans: vec![ACME_IBAN.into(), ALICE_IBAN.into()],
            ..Default::default()
        })
        .await
        .expect("filtered");
    assert_eq!(filtered.len(), 2);
    let acme = filtered.iter().find(|b| b.iban == ACME_IBAN).expect("acme");
    assert!(acme.trusted);

    // the sandbox's nested `bank_account` shape, and the last page without next_page
    sb.set_quirks(Quirks {
        beneficiary_shape: sandbox::config::BeneficiaryShape::Nested,
        omit_next_page_on_last: true,
        ..Quirks::default()
    });
    let nested = client
        .list_beneficiaries(&BeneficiaryFilter::default())
        .await
        .expect("nested");
    assert_eq!(nested.len(), 237);
    assert!(nested.iter().all(|b| !b.iban.is_empty()));
    let one = client.get_beneficiary(&acme.id).await.expect("get");
    assert_eq!(one.iban, ACME_IBAN);
    sb.stop().await;
}

#[tokio::test]
async fn verification_of_payee_results() {
    let (sb, client, _) = start(SandboxConfig::default()).await;
    let m = client
        .verify_payee(&VerifyPayeeRequest {
            iban: "FR7610002006000000141790000".into(),
            beneficiary_name: "Default Match Person".into(),
        })
        .await
        .expect("vop");
    assert_eq!(m.match_result, MatchResult::Match);
    assert!(!m.proof_token.0.is_empty());
    let unavailable = client
        .verify_payee(&VerifyPayeeRequest {
            iban: "ES9121000418450200051332".into(),
            beneficiary_name: "Someone".into(),
        })
        .await
        .expect("bank unavailable still gives a token");
    assert_eq!(unavailable.match_result, MatchResult::NotPossible);
    assert!(unavailable.bank_error.is_some());
    assert!(!unavailable.proof_token.0.is_empty());

    let request = BulkVerifyPayeeRequest {
        requests: vec![
            BulkVerifyPayeeItem {
                id: "a".into(),
                beneficiary_name: "ACME SAS".into(),
                iban: ACME_IBAN.into(),
            },
            BulkVerifyPayeeItem {
                id: "b".into(),
                beneficiary_name: "Alice Wonderland".into(),
                iban: ALICE_IBAN.into(),
            },
        ],
    };
    for shape in [
        sandbox::config::ProofTokenShape::Object,
        sandbox::config::ProofTokenShape::String,
    ] {
        sb.set_quirks(Quirks {
            bulk_proof_token_shape: shape,
            ..Quirks::default()
        });
        let r = client.bulk_verify_payee(&request).await.expect("bulk vop");
        assert!(!r.proof_token.0.is_empty(), "{shape:?}");
        assert_eq!(r.requests.len(), 2);
        let a = r.requests.iter().find(|e| e.id == "a").expect("a");
        assert_eq!(a.match_result, Some(MatchResult::Match));
    }
    sb.stop().await;
}

#[tokio::test]
async fn single_transfer_to_trusted_beneficiary_then_followed_until_settled() {
    let (sb, client, audit) = start(SandboxConfig::default()).await;
    let org = client.get_organization().await.expect("org");
    let account = org.main_eur_account().expect("main account").clone();
    assert_eq!(account.id, sb.bank_account_id());
    assert!(account.available().is_some());

    let bens = client
        .list_beneficiaries(&BeneficiaryFilter {
            ibans: vec![ACME_IBAN.into()],
            trusted: Some(true),
            ..Default::default()
        })
        .await
        .expect("bens");
    let acme = bens.first().expect("acme");
    let vop = client
        .verify_payee(&VerifyPayeeRequest {
            iban: ACME_IBAN.into(),
            beneficiary_name: acme.name.clone(),
        })
        .await
        .expect("vop");
    let body = Prepared::new(&CreateTransfer {
        vop_proof_token: vop.proof_token.0.clone(),
        transfer: NewTransfer {
            payee: Payee::BeneficiaryId(acme.id.clone()),
            bank_account_id: account.id.clone(),
            reference: "INV-2026-0042".into(),
            amount: amount("1100.5"),
            note: None,
            attachment_ids: vec![],
            scheduled_date: None,
        },
    })
    .expect("body");
    let key = IdempotencyKey::new("bill-42-attempt-1").expect("key");
    let t = client
        .create_transfer(&body, &key, &ScaOptions::default())
        .await
        .expect("trusted: no SCA");
    assert_eq!(t.status, TransferStatus::Pending);
    assert_eq!(t.amount_eur(), Some(rust_decimal::Decimal::new(110_050, 2)));

    sb.advance_clock(Duration::from_secs(2 * 3600));
    let t = client.get_transfer(&t.id).await.expect("get");
    assert_eq!(t.status, TransferStatus::Settled);
    let list = client
        .list_transfers_by_ids(std::slice::from_ref(&t.id))
        .await
        .expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, TransferStatus::Settled);
    let fresh = client.get_bank_account(&account.id).await.expect("account");
    assert!(fresh.available() < account.available());

    let recs = serde_json::to_string(&audit.records()).expect("json");
    assert!(!recs.contains(ACME_IBAN));
    assert!(!recs.contains(&sb.staging_token()));
    assert!(!recs.contains(sandbox::DEFAULT_SECRET));
    sb.stop().await;
}

#[tokio::test]
async fn keyed_write_dropped_after_commit_is_retried_and_created_once() {
    let (sb, client, _) = start(SandboxConfig::default()).await;
    let account = sb.bank_account_id();
    let acme = sb
        .beneficiaries()
        .into_iter()
        .find(|b| b.iban == ACME_IBAN)
        .expect("acme");
    let vop = client
        .verify_payee(&VerifyPayeeRequest {
            iban: ACME_IBAN.into(),
            beneficiary_name: acme.name.clone(),
        })
        .await
        .expect("vop");
    sb.add_fault(Fault::commit_then_drop("POST", "/v2/sepa/transfers").times(1));
    sb.add_fault(Fault::server_error("GET", "/v2/sepa/transfers/*", 503).times(1));
    let body = Prepared::new(&CreateTransfer {
        vop_proof_token: vop.proof_token.0,
        transfer: NewTransfer {
            payee: Payee::BeneficiaryId(acme.id),
            bank_account_id: account,
            reference: "INV-DROP-1".into(),
            amount: amount("10"),
            note: None,
            attachment_ids: vec![],
            scheduled_date: None,
        },
    })
    .expect("body");
    let t = client
        .create_transfer(&body, &IdempotencyKey::random(), &ScaOptions::default())
        .await
        .expect("retried with the same key");
    assert_eq!(sb.transfer_log().len(), 1, "one transfer despite the retry");
    client.get_transfer(&t.id).await.expect("503 then ok");
    sb.stop().await;
}

async fn bulk_with_sca(quirks: Quirks) {
    let (sb, client, _) = start(SandboxConfig::default()).await;
    sb.set_quirks(quirks);
    let account = sb.bank_account_id();
    let acme = sb
        .beneficiaries()
        .into_iter()
        .find(|b| b.iban == ACME_IBAN)
        .expect("acme");
    let vop = client
        .bulk_verify_payee(&BulkVerifyPayeeRequest {
            requests: vec![
                BulkVerifyPayeeItem {
                    id: "c1".into(),
                    beneficiary_name: "ACME SAS".into(),
                    iban: ACME_IBAN.into(),
                },
                BulkVerifyPayeeItem {
                    id: "c2".into(),
                    beneficiary_name: "Alice In Wonderland".into(),
                    iban: ALICE_IBAN.into(),
                },
            ],
        })
        .await
        .expect("bulk vop");
    let c1 = uuid::Uuid::new_v4().to_string();
    let c2 = uuid::Uuid::new_v4().to_string();
    let body = Prepared::new(&CreateBulkTransfer {
        vop_proof_token: vop.proof_token.0.clone(),
        bank_account_id: account,
        bulk_transfers: vec![
            BulkTransferItem {
                client_transfer_id: c1.clone(),
                payee: Payee::BeneficiaryId(acme.id),
                reference: "INV-1".into(),
                amount: amount("100.50"),
                scheduled_date: None,
                note: None,
                attachment_ids: vec![],
            },
            BulkTransferItem {
                client_transfer_id: c2.clone(),
                payee: Payee::Inline(NewBeneficiary {
                    name: "Alice In Wonderland".into(),
                    iban: ALICE_IBAN.into(),
                    bic: None,
                    email: None,
                    activity_tag: None,
                }),
                reference: "INV-2".into(),
                amount: amount("42"),
                scheduled_date: None,
                note: None,
                attachment_ids: vec![],
            },
        ],
    })
    .expect("body");
    // what the engine persists before the call
    let persisted = body.as_bytes().to_vec();
    let key = IdempotencyKey::new(format!("run-1-chunk-{c1}")).expect("key");
    let err = client
        .create_bulk_transfer(&body, &key, &ScaOptions::default())
        .await
        .expect_err("inline beneficiary: SCA");
    let token = err.sca_session_token().cloned().expect("challenge");
    assert_eq!(
        client.get_sca_session(&token).await.expect("poll").result,
        ScaResult::Waiting
    );
    client
        .decide_mocked_sca_session(&token, MockScaDecision::Allow)
        .await
        .expect("allow");
    assert_eq!(
        client.get_sca_session(&token).await.expect("poll").result,
        ScaResult::Allow
    );
    let replay = Prepared::<CreateBulkTransfer>::from_persisted(persisted).expect("bytes");
    let bulk = client
        .create_bulk_transfer(&replay, &key, &ScaOptions::replay(None, token))
        .await
        .expect("replay");
    let fetched = client.get_bulk_transfer(&bulk.id).await.expect("get");
    assert_eq!(fetched.results.len(), 2);
    let ids: Vec<String> = fetched
        .results
        .iter()
        .filter_map(|r| r.transfer_id.clone())
        .collect();
    assert_eq!(ids.len(), 2, "{:?}", fetched.results);
    assert!(fetched
        .results
        .iter()
        .all(|r| r.status == BulkResultStatus::Completed));
    assert!(fetched.results.iter().any(|r| r.client_transfer_id == c2));
    let transfers = client.list_transfers_by_ids(&ids).await.expect("list");
    assert_eq!(transfers.len(), 2);
    sb.stop().await;
}

#[tokio::test]
async fn bulk_with_sca_via_mock_allow_then_transfers_listed() {
    bulk_with_sca(Quirks::default()).await;
}

#[tokio::test]
async fn bulk_with_sca_against_the_other_documented_shapes() {
    bulk_with_sca(Quirks {
        bulk_create_wrapped: false,
        bulk_completed_count_typo: true,
        bulk_error_shape: sandbox::config::BulkErrorShape::Nested,
        bulk_proof_token_shape: sandbox::config::ProofTokenShape::String,
        sca_flat_body: false,
        transfer_create_status: 201,
        bulk_create_status: 201,
        ..Quirks::default()
    })
    .await;
}

#[tokio::test]
async fn solo_basic_plan_forbids_bulk() {
    let (sb, client, _) = start(SandboxConfig::default()).await;
    sb.set_plan(Plan::SoloBasic);
    let acme = sb
        .beneficiaries()
        .into_iter()
        .find(|b| b.iban == ACME_IBAN)
        .expect("acme");
    let vop = client
        .bulk_verify_payee(&BulkVerifyPayeeRequest {
            requests: vec![BulkVerifyPayeeItem {
                id: "1".into(),
                beneficiary_name: "ACME SAS".into(),
                iban: ACME_IBAN.into(),
            }],
        })
        .await
        .expect("vop");
    let body = Prepared::new(&CreateBulkTransfer {
        vop_proof_token: vop.proof_token.0,
        bank_account_id: sb.bank_account_id(),
        bulk_transfers: vec![BulkTransferItem {
            client_transfer_id: "c1".into(),
            payee: Payee::BeneficiaryId(acme.id),
            reference: "INV-1".into(),
            amount: amount("1"),
            scheduled_date: None,
            note: None,
            attachment_ids: vec![],
        }],
    })
    .expect("body");
    let e = client
        .create_bulk_transfer(&body, &IdempotencyKey::random(), &ScaOptions::default())
        .await
        .expect_err("plan");
    assert_eq!(e.class(), ErrorClass::PlanForbidsBulk, "{e}");
    assert!(e.trace_id().is_some());
    sb.stop().await;
}

async fn oauth_client(sb: &RunningSandbox) -> QontoClient {
    let mut config = config_for(sb);
    config.api_key = None;
    config.oauth = Some(OAuthAppConfig {
        client_id: sandbox::DEFAULT_CLIENT_ID.into(),
        client_secret: sandbox::DEFAULT_CLIENT_SECRET.into(),
        redirect_uri: "http://localhost/cb".into(),
        scopes: vec![
            "offline_access".into(),
            "organization.read".into(),
            "payment.write".into(),
        ],
        refresh_margin_secs: 120,
    });
    let oauth =
        Arc::new(OAuthClient::new(&config, Arc::new(TracingAuditSink)).expect("oauth client"));
    let code = sb.authorization_code(
        sandbox::DEFAULT_CLIENT_ID,
        "http://localhost/cb",
        &["offline_access", "organization.read", "payment.write"],
    );
    let store = Arc::new(InMemoryTokenStore::new());
    oauth
        .connect("cred", &code, store.as_ref())
        .await
        .expect("connect");
    QontoClient::builder(config, "org")
        .oauth(oauth, "cred", store)
        .build()
        .expect("client")
}

#[tokio::test]
async fn oauth_code_exchange_and_bearer_calls_against_the_sandbox() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let client = oauth_client(&sb).await;
    let org = client.get_organization().await.expect("org");
    assert!(org.main_eur_account().is_some());
    sb.stop().await;
}

#[tokio::test]
async fn untrusted_single_transfer_with_oauth_and_mock_sca() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    sb.set_quirks(Quirks {
        sca_requires_oauth: true,
        ..Quirks::default()
    });
    let client = oauth_client(&sb).await;
    let vop = client
        .verify_payee(&VerifyPayeeRequest {
            iban: ALICE_IBAN.into(),
            beneficiary_name: "Alice In Wonderland".into(),
        })
        .await
        .expect("vop");
    let body = Prepared::new(&CreateTransfer {
        vop_proof_token: vop.proof_token.0,
        transfer: NewTransfer {
            payee: Payee::Inline(NewBeneficiary {
                name: "Alice In Wonderland".into(),
                iban: ALICE_IBAN.into(),
                bic: None,
                email: None,
                activity_tag: None,
            }),
            bank_account_id: sb.bank_account_id(),
            reference: "INV-7".into(),
            amount: amount("250"),
            note: None,
            attachment_ids: vec![],
            scheduled_date: None,
        },
    })
    .expect("body");
    let key = IdempotencyKey::new("bill-7-attempt-1").expect("key");
    let err = client
        .create_transfer(&body, &key, &ScaOptions::default())
        .await
        .expect_err("SCA");
    let token = err.sca_session_token().cloned().expect("challenge");
    assert!(sb.transfer_log().is_empty(), "nothing created by the 428");
    // replay before approval: the session is not usable yet
    let early = client
        .create_transfer(&body, &key, &ScaOptions::replay(None, token.clone()))
        .await
        .expect_err("412");
    assert_eq!(early.class(), ErrorClass::ScaSessionInvalid);
    client
        .decide_mocked_sca_session(&token, MockScaDecision::Allow)
        .await
        .expect("allow");
    let t = client
        .create_transfer(&body, &key, &ScaOptions::replay(None, token))
        .await
        .expect("replay");
    assert_eq!(t.status, TransferStatus::Pending);
    assert_eq!(sb.transfer_log().len(), 1);
    sb.stop().await;
}
