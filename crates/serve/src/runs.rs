//! The runs under the served paths, for the page: `GET /api/runs` lists each
//! run directory with its configuration and its `status.json` (state,
//! iteration, speed, latest sample: what the training binary last wrote);
//! `GET /api/runs/{id}/loss.svg` draws its loss plot now, from its CSVs, as
//! the run's own `loss.svg` is drawn. Only reads.

use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use charrnn::config::TrainConfig;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Server;
use crate::api::blocking;
use crate::catalog::STATUS;
use crate::error::{ApiError, ApiResult};

/// `GET /api/runs`: every run directory served, newest status first read
/// from disk on each call (a run started in another terminal appears).
pub async fn runs(State(server): State<Arc<Server>>) -> ApiResult<Json<Value>> {
    let list = blocking(move || {
        server
            .catalog
            .entries()
            .into_iter()
            .filter_map(|e| Some(describe(&e.id, &e.run_dir?)))
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(Json(json!({ "runs": list })))
}

fn describe(id: &str, dir: &Path) -> Value {
    let config_text = std::fs::read_to_string(dir.join("config.toml")).unwrap_or_default();
    let config = TrainConfig::parse(&config_text)
        .ok()
        .and_then(|c| serde_json::to_value(c).ok());
    let status = std::fs::read(dir.join(STATUS))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    json!({
        "id": id,
        "config": config,
        "config_text": config_text,
        "status": status,
        "has_checkpoint": dir.join(charrnn::checkpoint::FILE_NAME).is_file(),
        "validates": dir.join("eval.csv").is_file(),
    })
}

#[derive(Deserialize)]
pub struct Size {
    width: Option<u32>,
    height: Option<u32>,
}

/// `GET /api/runs/{id}/loss.svg[?width=W&height=H]`: the run's loss plot as
/// it stands now, `loss.svg`'s size unless told (each side 200 to 4,000
/// pixels; the page asks for its own width, so the labels keep their size).
pub async fn loss_svg(
    State(server): State<Arc<Server>>,
    UrlPath(id): UrlPath<String>,
    Query(size): Query<Size>,
) -> ApiResult<Response> {
    let side = |v: Option<u32>, default: u32| v.unwrap_or(default).clamp(200, 4000);
    let size = (
        side(size.width, charrnn::plot::SIZE.0),
        side(size.height, charrnn::plot::SIZE.1),
    );
    let dir = server
        .catalog
        .find(&id)
        .and_then(|e| e.run_dir)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("unknown run {id:?}")))?;
    let svg = blocking(move || {
        let config = std::fs::read_to_string(dir.join("config.toml")).unwrap_or_default();
        let t = TrainConfig::parse(&config).map_or(1, |c| c.seq_length);
        charrnn::plot::loss_svg(&dir, t, size)
    })
    .await?
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response())
}
