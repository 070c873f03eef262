//! `GET /api/runs/{id}/metrics`: a run directory's `metrics.csv` (iter, loss,
//! smooth_loss) and `eval.csv` (iter, train_loss, val_loss) as JSON rows.
//! With `?stream=true` (or `Accept: text/event-stream`), server-sent events:
//! `rows` with every row so far, then `rows` again with each batch of new
//! rows as the run (training in another process) appends them. Only reads.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio_stream::wrappers::ReceiverStream;

use crate::Server;
use crate::error::ApiError;

/// How often a stream looks for new rows.
const POLL: Duration = Duration::from_millis(250);

#[derive(Deserialize)]
pub struct MetricsQuery {
    #[serde(default)]
    stream: bool,
}

pub async fn metrics(
    State(server): State<Arc<Server>>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<MetricsQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(dir) = server.catalog.find(&id).and_then(|e| e.run_dir) else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            format!("unknown run {id:?} (a served run directory's name; see GET /api/models)"),
        )
        .into_response();
    };
    let wants_events = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !(q.stream || wants_events) {
        let (metrics, eval) = (
            read_rows(&dir, "metrics.csv", 0),
            read_rows(&dir, "eval.csv", 0),
        );
        return Json(json!({ "id": id, "metrics": metrics, "eval": eval })).into_response();
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(16);
    tokio::spawn(follow(dir, tx));
    Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Sends the rows of both files, then every new row, until the client goes.
async fn follow(dir: PathBuf, tx: tokio::sync::mpsc::Sender<Result<Event, Infallible>>) {
    let (mut seen_metrics, mut seen_eval) = (0, 0);
    let mut first = true;
    loop {
        let (metrics, eval) = (
            read_rows(&dir, "metrics.csv", seen_metrics),
            read_rows(&dir, "eval.csv", seen_eval),
        );
        if first || !metrics.is_empty() || !eval.is_empty() {
            seen_metrics += metrics.len();
            seen_eval += eval.len();
            let data = json!({ "metrics": metrics, "eval": eval }).to_string();
            if tx
                .send(Ok(Event::default().event("rows").data(data)))
                .await
                .is_err()
            {
                return;
            }
            first = false;
        }
        tokio::time::sleep(POLL).await;
        if tx.is_closed() {
            return;
        }
    }
}

/// The complete rows of `dir/file` after the first `skip`, each an object
/// from the header's names to numbers (a row still being written, without
/// its newline, is left for the next read).
fn read_rows(dir: &Path, file: &str, skip: usize) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(dir.join(file)) else {
        return Vec::new();
    };
    let mut lines = text.split_inclusive('\n');
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let names: Vec<&str> = header.trim().split(',').collect();
    lines
        .filter(|l| l.ends_with('\n'))
        .skip(skip)
        .map(|l| {
            let row: Map<String, Value> = names
                .iter()
                .zip(l.trim().split(','))
                .map(|(n, v)| {
                    (
                        n.to_string(),
                        v.parse::<f64>().map_or(Value::Null, |x| json!(x)),
                    )
                })
                .collect();
            Value::Object(row)
        })
        .collect()
}
