mod common;

#[tokio::test]
async fn starts_and_serves_the_organization() {
    let t = common::start().await;
    let r = t.get("/v2/organization").send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-tyk-trace-id"));
    let v = common::json(r).await;
    let acc = &v["organization"]["bank_accounts"][0];
    assert_eq!(acc["id"], t.sb.bank_account_id());
    assert_eq!(acc["authorized_balance_cents"], 100_000_000);
    assert_eq!(acc["iban"], sandbox::DEFAULT_ACCOUNT_IBAN);
    t.sb.stop().await;
}
