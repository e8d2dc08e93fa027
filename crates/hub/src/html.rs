//! Plain HTML pages: the users, a user's flists, and one flist's contents and signatures.
//!
//! No scripts and no styles beyond a few lines; every value from a user or
//! an flist goes through [`escape`].

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};

use crate::api::{self, Download, FilesQuery};
use crate::error::{ApiError, ApiResult};
use crate::state::HubState;

/// Escapes text for HTML element content and quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query value.
fn query_value(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 12px;text-align:left}}\
         code{{font-size:90%}}</style></head>\n<body>\n<p><a href=\"/\">flist hub</a></p>\n<h1>{}</h1>\n{body}</body></html>\n",
        escape(title),
        escape(title)
    ))
}

/// `GET /`: the users.
pub(crate) async fn index(State(state): State<Arc<HubState>>) -> ApiResult<Html<String>> {
    let mut body = format!(
        "<p>Hub key <code>{}</code> (<a href=\"/api/v1/hub/key\">text</a>)</p>\n<table>\n<tr><th>user</th><th>flists</th><th>key</th></tr>\n",
        state.key.public().to_hex()
    );
    for (user, count) in state.db.users()? {
        let name = escape(&user.name);
        let _ = writeln!(
            body,
            "<tr><td><a href=\"/{name}\">{name}</a></td><td>{count}</td><td><code>{}</code></td></tr>",
            escape(&user.key)
        );
    }
    body.push_str("</table>\n");
    Ok(page("flist hub", &body))
}

/// `GET /{user}`: a user's flists and links.
pub(crate) async fn user(
    State(state): State<Arc<HubState>>,
    Path(user): Path<String>,
) -> ApiResult<Html<String>> {
    let found = state
        .db
        .user_by_name(&user)?
        .ok_or_else(|| ApiError::not_found(format!("no user {user:?}")))?;
    let u = escape(&found.name);
    let mut body = format!(
        "<p>key <code>{}</code></p>\n<table>\n<tr><th>flist</th><th>size</th><th>tags</th><th></th></tr>\n",
        escape(&found.key)
    );
    for e in state.db.entries(&user, None)? {
        let n = escape(&e.name);
        let what = match &e.target {
            Some(t) => format!("link to <a href=\"/{0}\">{0}</a>", escape(t)),
            None => format!("{} bytes", e.size),
        };
        let _ = writeln!(
            body,
            "<tr><td><a href=\"/{u}/{n}\">{n}</a></td><td>{what}</td><td>{}</td><td><a href=\"/{u}/{n}.fl\">.fl</a></td></tr>",
            escape(&e.tags.join(", "))
        );
    }
    body.push_str("</table>\n");
    Ok(page(&found.name, &body))
}

/// `GET /{user}/{file}`: `.fl` and `.fl.sig` downloads, else the flist's page.
pub(crate) async fn user_file(
    State(state): State<Arc<HubState>>,
    Path((user, file)): Path<(String, String)>,
    Query(q): Query<FilesQuery>,
) -> ApiResult<Response> {
    for (suffix, what) in [
        (".fl.sig", Download::Sig),
        (".fl.zst", Download::FlZst),
        (".fl", Download::Fl),
    ] {
        if let Some(name) = file.strip_suffix(suffix) {
            return api::download(&state, &user, name, what).await;
        }
    }
    flist_page(state, user, file, q.path.unwrap_or_else(|| "/".into()))
        .await
        .map(IntoResponse::into_response)
}

async fn flist_page(
    state: Arc<HubState>,
    user: String,
    name: String,
    dir: String,
) -> ApiResult<Html<String>> {
    let info = api::info(State(state.clone()), Path((user.clone(), name.clone())))
        .await?
        .0;
    let path = state.objects.fl_path(&info.digest);
    let listing_dir = dir.clone();
    let rows = tokio::task::spawn_blocking(move || api::list_dir(&path, &listing_dir))
        .await
        .map_err(ApiError::internal)??;
    let (u, n) = (escape(&user), escape(&name));
    let mut body = format!(
        "<p><a href=\"/{u}/{n}.fl\">download .fl</a> · <a href=\"/{u}/{n}.fl.sig\">signature</a> · \
         {} files, {} bytes, {} blocks · digest <code>{}</code></p>\n",
        info.files, info.bytes, info.blocks, info.digest
    );
    if info.resolved != format!("{user}/{name}") {
        let _ = writeln!(
            body,
            "<p>link to <a href=\"/{0}\">{0}</a></p>",
            escape(&info.resolved)
        );
    }
    body.push_str("<h2>Signed by</h2>\n<ul>\n");
    for s in &info.signatures {
        let _ = writeln!(
            body,
            "<li><code>{}</code> ({})</li>",
            escape(&s.public_key),
            escape(&s.role)
        );
    }
    let _ = write!(
        body,
        "</ul>\n<h2>{}</h2>\n<table>\n<tr><th>name</th><th>mode</th><th>owner</th><th>size</th></tr>\n",
        escape(&dir)
    );
    for row in rows {
        let child = format!("{}/{}", dir.trim_end_matches('/'), row.name);
        let shown = match (&row.kind[..], &row.target) {
            ("dir", _) => format!(
                "<a href=\"/{u}/{n}?path={}\">{}/</a>",
                query_value(&child),
                escape(&row.name)
            ),
            ("symlink", Some(t)) => format!("{} → {}", escape(&row.name), escape(t)),
            _ => escape(&row.name),
        };
        let _ = writeln!(
            body,
            "<tr><td>{shown}</td><td>{} {}</td><td>{}:{}</td><td>{}</td></tr>",
            escape(&row.kind),
            row.mode,
            row.uid,
            row.gid,
            row.size
        );
    }
    body.push_str("</table>\n");
    Ok(page(&format!("{user}/{name}"), &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(query_value("/usr/lib x&y"), "/usr/lib%20x%26y");
    }
}
