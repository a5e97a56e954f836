//! `POST /v2/attachments` (multipart) and `GET /v2/attachments/{id}` (API.md §13).

use crate::error::ApiError;
use crate::http::{Call, Reply};
use crate::state::{Attachment, State};
use crate::util::parse_multipart;
use serde_json::json;

const ALLOWED: [&str; 3] = ["application/pdf", "image/jpeg", "image/png"];

fn sniff(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"%PDF") {
        Some("application/pdf")
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if data.starts_with(&[0x89, b'P', b'N', b'G']) {
        Some("image/png")
    } else {
        None
    }
}

pub(crate) fn upload(st: &mut State, call: &Call) -> Result<Reply, ApiError> {
    let ctype = call.header("content-type").unwrap_or_default();
    if !ctype
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return Err(ApiError::unprocessable(
            "invalid",
            "Content-Type must be multipart/form-data",
            "/file",
        ));
    }
    let parts = parse_multipart(&ctype, call.body)
        .ok_or_else(|| ApiError::unprocessable("invalid", "Malformed multipart body", "/file"))?;
    let Some((_, filename, part_type, data)) = parts.into_iter().find(|p| p.0 == "file") else {
        return Err(ApiError::missing("/file"));
    };
    if data.is_empty() {
        return Err(ApiError::unprocessable(
            "blank",
            "file must not be empty",
            "/file",
        ));
    }
    let declared = part_type
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|t| ALLOWED.contains(&t.as_str()));
    let content_type = match declared.or_else(|| sniff(&data).map(str::to_string)) {
        Some(t) => t,
        None => {
            return Err(ApiError::unprocessable(
                "invalid_file_type",
                "file must be a JPEG, PNG or PDF",
                "/file",
            ))
        }
    };
    let att = Attachment {
        id: st.rng.uuid(),
        file_name: filename.unwrap_or_else(|| "attachment".into()),
        content_type,
        size: data.len(),
        created_at: call.now,
    };
    let json = att.to_json();
    st.attachments.insert(att.id.clone(), att);
    Ok(Reply::Json(200, json!({ "attachment": json })))
}

pub(crate) fn get(st: &mut State, _call: &Call, id: &str) -> Result<Reply, ApiError> {
    let a = st
        .attachments
        .get(id)
        .ok_or_else(|| ApiError::not_found("Attachment", "id"))?;
    Ok(Reply::Json(200, json!({ "attachment": a.to_json() })))
}
