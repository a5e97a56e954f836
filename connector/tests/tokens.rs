//! API tokens of an organization: listed without their value, revoked one by one, and a
//! revoked token stops authenticating at once. One organization cannot revoke another's.

mod support;

use connector::store::orgs::Principal;
use connector::store::{Store, StoreError};

#[tokio::test]
async fn a_revoked_token_stops_authenticating() {
    for url in support::databases().await {
        let store = Store::connect(&url, 2).await.unwrap();
        store.migrate().await.unwrap();
        let a = store.create_org("A").await.unwrap();
        let b = store.create_org("B").await.unwrap();
        let (first, first_token) = store.create_token(Some(&a.id), "first").await.unwrap();
        let (second, second_token) = store.create_token(Some(&a.id), "second").await.unwrap();
        let (other, other_token) = store.create_token(Some(&b.id), "b").await.unwrap();

        let listed = store.scoped(&a.id).list_tokens().await.unwrap();
        assert_eq!(
            listed.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
            vec![first.clone(), second.clone()]
        );
        assert!(listed.iter().all(|t| t.revoked_at.is_none()));

        // B cannot revoke A's token, nor A B's.
        assert!(matches!(
            store.scoped(&b.id).revoke_token(&first, "test").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store.scoped(&a.id).revoke_token(&other, "test").await,
            Err(StoreError::NotFound(_))
        ));

        let revoked = store
            .scoped(&a.id)
            .revoke_token(&first, "test")
            .await
            .unwrap();
        assert!(revoked.revoked_at.is_some());
        assert_eq!(store.authenticate(&first_token).await.unwrap(), None);
        assert_eq!(
            store.authenticate(&second_token).await.unwrap(),
            Some(Principal::Org(a.id.clone()))
        );
        assert_eq!(
            store.authenticate(&other_token).await.unwrap(),
            Some(Principal::Org(b.id.clone()))
        );
        // Twice is a conflict that says when.
        match store.scoped(&a.id).revoke_token(&first, "test").await {
            Err(StoreError::Conflict(m)) => assert!(m.contains("already revoked"), "{m}"),
            other => panic!("{other:?}"),
        }
        // The revocation is in the audit log.
        let audit = store
            .scoped(&a.id)
            .audit(&Default::default())
            .await
            .unwrap();
        assert!(audit
            .iter()
            .any(|e| e.action == "token.revoked" && e.details["token_id"] == first.as_str()));
    }
}
