//! The simulated Qonto endpoints. Each takes the world and one authenticated call.

pub(crate) mod attachments;
pub(crate) mod beneficiaries;
pub(crate) mod bulk;
pub(crate) mod oauth;
pub(crate) mod org;
pub(crate) mod requests;
pub(crate) mod sca;
pub(crate) mod transfers;
pub(crate) mod vop;
pub(crate) mod webhooks;

use crate::error::ApiError;
use serde_json::Value;

/// Optional string field of a JSON object (`null` and absent are the same); wrong type → 422.
pub(crate) fn opt_str(v: &Value, key: &str, pointer: &str) -> Result<Option<String>, ApiError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::unprocessable(
            "not_a_string",
            format!("{key} must be a string"),
            &format!("{pointer}/{key}"),
        )),
    }
}

/// Required non-blank string field.
pub(crate) fn req_str(v: &Value, key: &str, pointer: &str) -> Result<String, ApiError> {
    match opt_str(v, key, pointer)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(ApiError::unprocessable(
            "blank",
            format!("{key} must be filled"),
            &format!("{pointer}/{key}"),
        )),
        None => Err(ApiError::missing(&format!("{pointer}/{key}"))),
    }
}

/// Optional array of strings.
pub(crate) fn opt_str_array(v: &Value, key: &str, pointer: &str) -> Result<Vec<String>, ApiError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::unprocessable(
                        "not_a_string",
                        format!("{key} must contain strings"),
                        &format!("{pointer}/{key}"),
                    )
                })
            })
            .collect(),
        Some(_) => Err(ApiError::unprocessable(
            "not_an_array",
            format!("{key} must be an array"),
            &format!("{pointer}/{key}"),
        )),
    }
}

/// The body must be a JSON object.
pub(crate) fn object(v: &Value) -> Result<&Value, ApiError> {
    if v.is_object() {
        Ok(v)
    } else {
        Err(ApiError::bad_json("expected a JSON object"))
    }
}
