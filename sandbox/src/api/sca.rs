//! SCA sessions: poll and the sandbox's mocked allow/deny (API.md §7).

use crate::error::ApiError;
use crate::http::{Call, Reply};
use crate::state::{ScaResult, State};
use serde_json::json;

pub(crate) fn poll(st: &mut State, call: &Call, token: &str) -> Result<Reply, ApiError> {
    let Some(s) = st.sca.get(token) else {
        return Err(ApiError::ScaPrecondition {
            code: "sca_session_not_found",
            message: "SCA session not found or expired".into(),
        });
    };
    let result = s.poll_result(call.now);
    Ok(Reply::Json(
        200,
        json!({"result": result, "canceled_at": null}),
    ))
}

pub(crate) fn mock_decide(
    st: &mut State,
    call: &Call,
    token: &str,
    allow: bool,
) -> Result<Reply, ApiError> {
    let Some(s) = st.sca.get_mut(token) else {
        return Err(ApiError::ScaPrecondition {
            code: "sca_session_not_found",
            message: "SCA session not found".into(),
        });
    };
    if s.expired(call.now) {
        return Err(ApiError::ScaPrecondition {
            code: "sca_session_expired",
            message: "The SCA session expired".into(),
        });
    }
    if s.used {
        return Err(ApiError::ScaPrecondition {
            code: "sca_session_used",
            message: "The SCA session was already used".into(),
        });
    }
    s.result = if allow {
        ScaResult::Allow
    } else {
        ScaResult::Deny
    };
    tracing::info!(allow, "mocked SCA session decided");
    Ok(Reply::Json(200, json!({"message": "Success"})))
}
