//! Standard Webhooks signing, checked against an independent implementation: the published
//! `standardwebhooks` crate (DESIGN §8: our code agreeing with itself proves nothing).

use chrono::{DateTime, TimeZone as _, Utc};
use connector::signing::{
    sign, verify, HeaderValues, ReceivedHeaders, VerifyError, WebhookSecret, WebhookSecretError,
    DEFAULT_TOLERANCE, HEADER_WEBHOOK_ID, HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP,
};
use secrecy::ExposeSecret as _;
use standardwebhooks::Webhook;

const BODY: &[u8] = br#"{"type":"bill.paid","data":{"bill_id":"b_1","amount":"1100.50"}}"#;

/// The test vector published with the Standard Webhooks specification (also in the reference
/// libraries' test suites).
const VECTOR_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const VECTOR_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
const VECTOR_TS: i64 = 1_649_367_553;
const VECTOR_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
const VECTOR_SIG: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

fn secret(text: &str) -> WebhookSecret {
    WebhookSecret::parse(text).expect("valid test secret")
}

fn at(ts: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(ts, 0).single().expect("valid timestamp")
}

fn received(h: &HeaderValues) -> ReceivedHeaders<'_> {
    ReceivedHeaders {
        webhook_id: Some(&h.webhook_id),
        webhook_timestamp: Some(&h.webhook_timestamp),
        webhook_signature: Some(&h.webhook_signature),
    }
}

fn header_map(h: &HeaderValues) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in h.pairs() {
        map.insert(name, value.parse().expect("header-safe value"));
    }
    map
}

/// The reference implementation, holding `s`, as an ERP receiver would set it up.
fn reference(s: &WebhookSecret) -> Webhook {
    Webhook::new(s.expose_whsec().expose_secret()).expect("reference accepts our secret text")
}

fn msg_id() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}

#[test]
fn official_test_vector() {
    let s = secret(VECTOR_SECRET);
    assert_eq!(s.len(), 24);
    let h = sign(std::slice::from_ref(&s), VECTOR_ID, VECTOR_TS, VECTOR_BODY);
    assert_eq!(h.webhook_signature, VECTOR_SIG);
    assert_eq!(h.webhook_id, VECTOR_ID);
    assert_eq!(h.webhook_timestamp, "1649367553");
    // The reference agrees on the vector too (so the vector is what we think it is).
    assert_eq!(
        Webhook::new(VECTOR_SECRET)
            .unwrap()
            .sign(VECTOR_ID, VECTOR_TS, VECTOR_BODY)
            .unwrap(),
        VECTOR_SIG
    );
    let headers = ReceivedHeaders {
        webhook_id: Some(VECTOR_ID),
        webhook_timestamp: Some("1649367553"),
        webhook_signature: Some(VECTOR_SIG),
    };
    verify(
        &[s],
        &headers,
        VECTOR_BODY,
        at(VECTOR_TS + 60),
        DEFAULT_TOLERANCE,
    )
    .unwrap();
}

#[test]
fn our_signatures_verify_with_standardwebhooks() {
    for len in [WebhookSecret::MIN_LEN, 32, 48, WebhookSecret::MAX_LEN] {
        let s = WebhookSecret::generate_with_len(len).unwrap();
        let h = sign(
            std::slice::from_ref(&s),
            &msg_id(),
            Utc::now().timestamp(),
            BODY,
        );
        reference(&s)
            .verify(BODY, &header_map(&h))
            .unwrap_or_else(|e| panic!("reference refused our {len}-byte signature: {e}"));
        // And it refuses our signature over another body.
        assert!(reference(&s).verify(b"{}", &header_map(&h)).is_err());
    }
}

#[test]
fn standardwebhooks_signatures_verify_with_ours() {
    let s = WebhookSecret::generate().unwrap();
    let id = msg_id();
    let ts = Utc::now().timestamp();
    let sig = reference(&s).sign(&id, ts, BODY).unwrap();
    let ts_text = ts.to_string();
    let headers = ReceivedHeaders {
        webhook_id: Some(&id),
        webhook_timestamp: Some(&ts_text),
        webhook_signature: Some(&sig),
    };
    verify(
        std::slice::from_ref(&s),
        &headers,
        BODY,
        Utc::now(),
        DEFAULT_TOLERANCE,
    )
    .unwrap();

    // Among decoys and entries of other versions, as the reference's own tests send them.
    let many = format!(
        "v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ= v1a,Zm9v v2,bar {sig} \
         v1,9DfC1c3eeOrXB6w/5dIDydLNQaEyww5KalE5jLBZucE="
    );
    let headers = ReceivedHeaders {
        webhook_signature: Some(&many),
        ..headers
    };
    verify(&[s], &headers, BODY, Utc::now(), DEFAULT_TOLERANCE).unwrap();
}

#[test]
fn rotation_signs_with_both_and_accepts_either() {
    let old = WebhookSecret::generate().unwrap();
    let new = WebhookSecret::generate_with_len(64).unwrap();
    let now = Utc::now();
    let h = sign(
        &[new.clone(), old.clone()],
        &msg_id(),
        now.timestamp(),
        BODY,
    );
    assert_eq!(h.webhook_signature.split(' ').count(), 2);
    assert!(h.webhook_signature.split(' ').all(|e| e.starts_with("v1,")));

    // A receiver holding only one of them (reference or ours) accepts the message.
    for holder in [&old, &new] {
        reference(holder).verify(BODY, &header_map(&h)).unwrap();
        verify(
            std::slice::from_ref(holder),
            &received(&h),
            BODY,
            now,
            DEFAULT_TOLERANCE,
        )
        .unwrap();
    }
    // A stranger does not.
    let stranger = WebhookSecret::generate().unwrap();
    assert!(reference(&stranger).verify(BODY, &header_map(&h)).is_err());

    // Inbound rotation: we hold both, the sender still signs with the old one only.
    let only_old = sign(std::slice::from_ref(&old), &msg_id(), now.timestamp(), BODY);
    verify(
        &[new.clone(), old.clone()],
        &received(&only_old),
        BODY,
        now,
        DEFAULT_TOLERANCE,
    )
    .unwrap();
    // ... and once the old one is retired, its signatures are refused.
    let err = verify(&[new], &received(&only_old), BODY, now, DEFAULT_TOLERANCE).unwrap_err();
    assert_eq!(err, VerifyError::BadSignature);
}

#[test]
fn timestamps_outside_tolerance_are_refused() {
    let s = secret(VECTOR_SECRET);
    let now = at(1_700_000_000);
    let check = |ts: i64| {
        let h = sign(std::slice::from_ref(&s), "msg_1", ts, BODY);
        verify(
            std::slice::from_ref(&s),
            &received(&h),
            BODY,
            now,
            DEFAULT_TOLERANCE,
        )
    };
    // Exactly ±5 minutes is still accepted.
    check(now.timestamp() - 300).unwrap();
    check(now.timestamp() + 300).unwrap();

    let old = check(now.timestamp() - 301).unwrap_err();
    assert_eq!(old.code(), "expired");
    assert!(matches!(
        old,
        VerifyError::Expired {
            age_secs: 301,
            tolerance_secs: 300
        }
    ));
    let future = check(now.timestamp() + 301).unwrap_err();
    assert_eq!(future.code(), "bad_timestamp");
    assert!(matches!(
        future,
        VerifyError::FromTheFuture {
            ahead_secs: 301,
            ..
        }
    ));
    assert_eq!(check(0).unwrap_err().code(), "expired");

    // The reference refuses the same ones (it uses the real clock, so sign around now).
    let real_now = Utc::now().timestamp();
    for ts in [real_now - 400, real_now + 400] {
        let h = sign(std::slice::from_ref(&s), "msg_1", ts, BODY);
        assert!(Webhook::new(VECTOR_SECRET)
            .unwrap()
            .verify(BODY, &header_map(&h))
            .is_err());
    }
}

#[test]
fn malformed_timestamps_are_refused() {
    let s = secret(VECTOR_SECRET);
    for ts in [
        "soon",
        "1.7e9",
        "-5",
        "+1700000000",
        "1700000000.5",
        "99999999999999999999",
    ] {
        let headers = ReceivedHeaders {
            webhook_id: Some("msg_1"),
            webhook_timestamp: Some(ts),
            webhook_signature: Some(VECTOR_SIG),
        };
        let err = verify(
            std::slice::from_ref(&s),
            &headers,
            BODY,
            Utc::now(),
            DEFAULT_TOLERANCE,
        )
        .unwrap_err();
        assert_eq!(err, VerifyError::BadTimestamp, "{ts}");
        assert_eq!(err.code(), "bad_timestamp");
    }
}

#[test]
fn tampering_is_detected() {
    let s = WebhookSecret::generate().unwrap();
    let now = Utc::now();
    let h = sign(std::slice::from_ref(&s), "msg_a", now.timestamp(), BODY);
    let ok = |headers: &ReceivedHeaders<'_>, body: &[u8]| {
        verify(
            std::slice::from_ref(&s),
            headers,
            body,
            now,
            DEFAULT_TOLERANCE,
        )
    };
    ok(&received(&h), BODY).unwrap();

    // Body: one byte changed, one appended, truncated.
    let mut changed = BODY.to_vec();
    changed[20] ^= 0x20;
    let mut longer = BODY.to_vec();
    longer.push(b' ');
    for body in [&changed[..], &longer[..], &BODY[..BODY.len() - 1], &b""[..]] {
        let err = ok(&received(&h), body).unwrap_err();
        assert_eq!(err, VerifyError::BadSignature);
        assert_eq!(err.code(), "bad_signature");
    }
    // Id and timestamp are covered by the signature as well.
    let other_ts = (now.timestamp() - 1).to_string();
    let moved = ReceivedHeaders {
        webhook_timestamp: Some(&other_ts),
        ..received(&h)
    };
    assert_eq!(ok(&moved, BODY).unwrap_err(), VerifyError::BadSignature);
    let renamed = ReceivedHeaders {
        webhook_id: Some("msg_b"),
        ..received(&h)
    };
    assert_eq!(ok(&renamed, BODY).unwrap_err(), VerifyError::BadSignature);
    // And the reference sees the tampered body the same way.
    assert!(reference(&s).verify(&changed, &header_map(&h)).is_err());
}

#[test]
fn wrong_secret_is_refused() {
    let ours = WebhookSecret::generate().unwrap();
    let theirs = WebhookSecret::generate().unwrap();
    let now = Utc::now();
    let h = sign(
        std::slice::from_ref(&theirs),
        "msg_a",
        now.timestamp(),
        BODY,
    );
    let err = verify(&[ours], &received(&h), BODY, now, DEFAULT_TOLERANCE).unwrap_err();
    assert_eq!(err.code(), "bad_signature");
    // No secret configured: nothing verifies.
    let err = verify(&[], &received(&h), BODY, now, DEFAULT_TOLERANCE).unwrap_err();
    assert_eq!(err, VerifyError::BadSignature);
}

#[test]
fn malformed_or_unknown_signatures_are_refused_or_skipped() {
    let s = secret(VECTOR_SECRET);
    let now = at(VECTOR_TS);
    let check = |sig: &str| {
        let headers = ReceivedHeaders {
            webhook_id: Some(VECTOR_ID),
            webhook_timestamp: Some("1649367553"),
            webhook_signature: Some(sig),
        };
        verify(
            std::slice::from_ref(&s),
            &headers,
            VECTOR_BODY,
            now,
            DEFAULT_TOLERANCE,
        )
    };
    let good = VECTOR_SIG.trim_start_matches("v1,");
    // The right bytes under another version prefix do not count.
    for sig in [
        format!("v1a,{good}"),
        format!("v2,{good}"),
        format!("V1,{good}"),
        good.to_owned(),
        "v1,".to_owned(),
        "v1,not base64!!".to_owned(),
        format!("v1,{}", &good[..10]),
        "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkx=".to_owned(),
    ] {
        assert_eq!(check(&sig), Err(VerifyError::BadSignature), "{sig}");
    }
    // Unknown versions and garbage next to a good entry are skipped; extra spaces are fine.
    check(&format!("v2,abc v1,%%% {VECTOR_SIG}")).unwrap();
    check(&format!("  {VECTOR_SIG}   v1a,xyz ")).unwrap();
}

#[test]
fn missing_headers_are_named() {
    let s = secret(VECTOR_SECRET);
    let full = ReceivedHeaders {
        webhook_id: Some(VECTOR_ID),
        webhook_timestamp: Some("1649367553"),
        webhook_signature: Some(VECTOR_SIG),
    };
    let now = at(VECTOR_TS);
    let cases = [
        (
            ReceivedHeaders {
                webhook_id: None,
                ..full
            },
            HEADER_WEBHOOK_ID,
        ),
        (
            ReceivedHeaders {
                webhook_id: Some(""),
                ..full
            },
            HEADER_WEBHOOK_ID,
        ),
        (
            ReceivedHeaders {
                webhook_timestamp: None,
                ..full
            },
            HEADER_WEBHOOK_TIMESTAMP,
        ),
        (
            ReceivedHeaders {
                webhook_timestamp: Some(" "),
                ..full
            },
            HEADER_WEBHOOK_TIMESTAMP,
        ),
        (
            ReceivedHeaders {
                webhook_signature: None,
                ..full
            },
            HEADER_WEBHOOK_SIGNATURE,
        ),
        (ReceivedHeaders::default(), HEADER_WEBHOOK_ID),
    ];
    for (headers, name) in cases {
        let err = verify(
            std::slice::from_ref(&s),
            &headers,
            VECTOR_BODY,
            now,
            DEFAULT_TOLERANCE,
        )
        .unwrap_err();
        assert_eq!(err, VerifyError::MissingHeader(name));
        assert_eq!(err.code(), "missing_headers");
        assert!(err.to_string().contains(name));
    }
    // Reading through a lookup function, as a handler would with its request headers.
    let map = header_map(&sign(
        std::slice::from_ref(&s),
        VECTOR_ID,
        VECTOR_TS,
        VECTOR_BODY,
    ));
    let headers = ReceivedHeaders::from_fn(|n| map.get(n).and_then(|v| v.to_str().ok()));
    verify(&[s], &headers, VECTOR_BODY, now, DEFAULT_TOLERANCE).unwrap();
}

#[test]
fn non_utf8_bodies_are_signed_as_bytes() {
    let s = WebhookSecret::generate().unwrap();
    let body = [0xff, 0x00, 0xfe, b'.', 0x80];
    let now = Utc::now();
    let h = sign(std::slice::from_ref(&s), "msg_bin", now.timestamp(), &body);
    verify(
        std::slice::from_ref(&s),
        &received(&h),
        &body,
        now,
        DEFAULT_TOLERANCE,
    )
    .unwrap();
    assert!(verify(&[s], &received(&h), &body[1..], now, DEFAULT_TOLERANCE).is_err());
}

#[test]
fn secret_text_and_length_bounds() {
    // 24 and 64 bytes are the bounds; 23 and 65 are refused, as text and as bytes.
    use base64::Engine as _;
    let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![0x5a; n]);
    for n in [24, 32, 64] {
        let s = secret(&format!("whsec_{}", b64(n)));
        assert_eq!(s.len(), n);
        assert!(WebhookSecret::from_bytes(&vec![1; n]).is_ok());
        assert!(WebhookSecret::generate_with_len(n).is_ok());
    }
    for n in [0, 16, 23, 65, 128] {
        let err = WebhookSecret::parse(&format!("whsec_{}", b64(n))).unwrap_err();
        assert_eq!(err, WebhookSecretError::BadLength { len: n });
        assert_eq!(
            WebhookSecret::from_bytes(&vec![1; n]).unwrap_err(),
            WebhookSecretError::BadLength { len: n }
        );
        assert!(WebhookSecret::generate_with_len(n).is_err());
    }
    assert_eq!(
        WebhookSecret::parse("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap_err(),
        WebhookSecretError::MissingPrefix
    );
    assert_eq!(
        WebhookSecret::parse("whsec_not*base64*at*all").unwrap_err(),
        WebhookSecretError::BadBase64
    );
    // Padding optional on input; our text form is `whsec_` + padded standard base64.
    let unpadded = format!("whsec_{}", b64(32).trim_end_matches('='));
    let s: WebhookSecret = unpadded.parse().unwrap();
    assert_eq!(
        s.expose_whsec().expose_secret(),
        &format!("whsec_{}", b64(32))
    );
    assert_eq!(
        secret(VECTOR_SECRET).expose_whsec().expose_secret(),
        VECTOR_SECRET
    );

    // Fresh secrets are random and never show up in Debug output.
    let a = WebhookSecret::generate().unwrap();
    let b = WebhookSecret::generate().unwrap();
    let (ta, tb) = (a.expose_whsec(), b.expose_whsec());
    assert_ne!(ta.expose_secret(), tb.expose_secret());
    let shown = format!("{a:?} {:?}", [&a, &b]);
    assert!(!shown.contains(&ta.expose_secret()[6..]), "{shown}");
    assert!(!shown.contains(&tb.expose_secret()[6..]), "{shown}");
}
