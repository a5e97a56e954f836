//! Helpers shared by the HTTP tests.
#![allow(dead_code)]

use reqwest::{Client, RequestBuilder, Response};
use sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use serde_json::Value;

pub struct T {
    pub sb: RunningSandbox,
    pub http: Client,
    pub base: String,
    pub auth: String,
}

pub async fn start() -> T {
    start_with(SandboxConfig::default()).await
}

pub async fn start_with(cfg: SandboxConfig) -> T {
    let sb = Sandbox::start(cfg).await.expect("sandbox starts");
    let base = sb.base_url();
    let auth = sb.api_key_header();
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    T {
        sb,
        http,
        base,
        auth,
    }
}

impl T {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http
            .get(self.url(path))
            .header("Authorization", &self.auth)
    }
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.http
            .post(self.url(path))
            .header("Authorization", &self.auth)
    }
    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.http
            .patch(self.url(path))
            .header("Authorization", &self.auth)
    }
    pub fn control(&self, path: &str) -> RequestBuilder {
        self.http.post(self.url(&format!("/_sandbox{path}")))
    }
    pub async fn ben_id(&self, name: &str) -> String {
        self.sb
            .beneficiaries()
            .into_iter()
            .find(|b| b.name == name)
            .map(|b| b.id)
            .expect("seeded beneficiary")
    }
    pub async fn ben_iban(&self, name: &str) -> String {
        self.sb
            .beneficiaries()
            .into_iter()
            .find(|b| b.name == name)
            .map(|b| b.iban)
            .expect("seeded beneficiary")
    }
    /// VoP for one IBAN, returns the proof token.
    pub async fn vop(&self, iban: &str, name: &str) -> String {
        let v = json(
            self.post("/v2/sepa/verify_payee")
                .json(&serde_json::json!({"iban": iban, "beneficiary_name": name}))
                .send()
                .await
                .expect("send"),
        )
        .await;
        v["proof_token"]["token"]
            .as_str()
            .expect("token")
            .to_string()
    }
    /// Body of a single transfer to a beneficiary id.
    pub async fn transfer_body(&self, ben_name: &str, amount: &str, reference: &str) -> Value {
        let id = self.ben_id(ben_name).await;
        let iban = self.ben_iban(ben_name).await;
        let token = self.vop(&iban, ben_name).await;
        serde_json::json!({
            "vop_proof_token": token,
            "transfer": {"beneficiary_id": id, "bank_account_id": self.sb.bank_account_id(),
                         "reference": reference, "amount": amount}
        })
    }
}

pub async fn json(r: Response) -> Value {
    let text = r.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}
