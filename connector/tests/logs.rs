//! Captured logs of a whole intake session hold no secret, no token and no full IBAN.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use support::{TestApp, UBL};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_hold_no_secret_and_no_full_iban() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .json()
        .with_writer(move || writer.clone())
        .init();

    for db in support::databases().await {
        let app = TestApp::spawn(&db).await;
        let (_, token) = app.org("Acme").await;
        let (src, secret) = app.source(&token, "erp").await;
        assert_eq!(
            app.send(&src, &secret, "m1", "application/xml", UBL.as_bytes())
                .await
                .status(),
            201
        );
        let forged = connector::signing::WebhookSecret::generate().unwrap();
        assert_eq!(
            app.send(&src, &forged, "m2", "application/xml", UBL.as_bytes())
                .await
                .status(),
            401
        );
        let changed = UBL.replace("FA-2026-0042", "X-1").replace(
            "FR76 3000 6000 0112 3456 7890 189",
            "DE89 3704 0044 0532 0130 00",
        );
        app.send(&src, &secret, "m3", "application/xml", changed.as_bytes())
            .await;

        let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        assert!(logs.contains("bill received"), "the capture works");
        use secrecy::ExposeSecret;
        let whsec = secret.expose_whsec();
        let whsec = whsec.expose_secret();
        for needle in [
            token.as_str(),
            whsec,
            &whsec["whsec_".len()..],
            support::ADMIN_TOKEN,
            "FR7630006000011234567890189",
            "FR76 3000 6000 0112 3456 7890 189",
            "DE89370400440532013000",
        ] {
            assert!(!logs.contains(needle), "the logs leak {needle:?}");
        }
    }
}
