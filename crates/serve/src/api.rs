//! The model endpoints: the list, sampling (whole or streamed) and scoring.
//! Requests are checked here, before any work. Samples are drawn by the
//! model's [`crate::batcher`], all concurrent requests' streams in one
//! batch; loading and scoring run on tokio's blocking threads.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use charrnn::data::Vocab;
use charrnn::sample::{next_log_probs, start_inputs};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::Server;
use crate::batcher::Job;
use crate::catalog::{Entry, Loaded};
use crate::error::{ApiError, ApiResult};

/// `GET /api/models`: every model served, loaded if it was not yet.
pub async fn models(State(server): State<Arc<Server>>) -> ApiResult<Json<Value>> {
    let list = blocking(move || {
        server
            .catalog
            .entries()
            .into_iter()
            .map(|e| match server.catalog.load(&e) {
                Ok(m) => describe(&e, &m),
                Err(why) => json!({ "id": e.id, "error": why }),
            })
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(Json(json!({ "models": list })))
}

fn describe(e: &Entry, m: &Loaded) -> Value {
    let spec = m.network.spec();
    json!({
        "id": e.id,
        "kind": spec.kind.to_string(),
        "layers": spec.layers,
        "hidden_size": spec.hidden,
        "vocabulary": String::from_utf8_lossy(&m.vocab.decode(&(0..m.vocab.len() as u32).collect::<Vec<_>>())),
        "vocabulary_size": m.vocab.len(),
        "bytes": m.vocab.is_bytes(),
        "iterations": m.iterations,
        "best_validation": m.best_validation,
        "run": e.run_dir.is_some(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleRequest {
    model: String,
    #[serde(default)]
    prime: String,
    #[serde(default = "default_length")]
    length: usize,
    #[serde(default = "one_f64")]
    temperature: f64,
    #[serde(default = "one_u64")]
    seed: u64,
    #[serde(default = "one_usize")]
    n: usize,
    #[serde(default)]
    stop: Vec<String>,
    #[serde(default)]
    stream: bool,
}

fn default_length() -> usize {
    200
}
fn one_f64() -> f64 {
    1.0
}
fn one_u64() -> u64 {
    1
}
fn one_usize() -> usize {
    1
}

/// `POST /api/sample`: `n` samples (sample i seeded with `seed + i`), each
/// the prime and what follows it, exactly as `charrnn sample` prints it; a
/// sample ends early after any `stop` string (which it keeps). With
/// `"stream": true`, server-sent events: `char` `{"sample", "text"}` per
/// char as it is drawn, `end` `{"sample", "text"}` per sample, then `done`.
pub async fn sample(State(server): State<Arc<Server>>, body: Body) -> Response {
    match sample_checked(server, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn sample_checked(server: Arc<Server>, body: Body) -> ApiResult<Response> {
    let req: SampleRequest = read_json(&server, body).await?;
    let lim = &server.limits;
    if !(req.temperature.is_finite() && req.temperature >= 0.0) {
        return Err(ApiError::bad(format!(
            "temperature must be a number >= 0, not {}",
            req.temperature
        )));
    }
    if req.length == 0 || req.length > lim.length {
        return Err(ApiError::bad(format!(
            "length must be 1 to {}, not {}",
            lim.length, req.length
        )));
    }
    if req.n == 0 || req.n > lim.samples {
        return Err(ApiError::bad(format!(
            "n must be 1 to {}, not {}",
            lim.samples, req.n
        )));
    }
    if req.prime.chars().count() > lim.text {
        return Err(ApiError::bad(format!(
            "prime is longer than {} chars",
            lim.text
        )));
    }
    if req.stop.iter().any(String::is_empty) {
        return Err(ApiError::bad("stop strings must not be empty"));
    }
    let model = model(&server, &req.model).await?;
    let prime = encode(&model.vocab, &req.prime, "prime")?;
    let req = Arc::new(req);
    if !req.stream {
        // Every sample at once (they share the model's batch); each answers
        // on its own channel with its text.
        let waiting: Vec<_> = (0..req.n)
            .map(|i| {
                let (tx, rx) = tokio::sync::oneshot::channel::<String>();
                let text = Arc::new(std::sync::Mutex::new(req.prime.clone()));
                let result = text.clone();
                submit(
                    &model,
                    &prime,
                    &req,
                    i,
                    move |_| true,
                    text,
                    move || {
                        let _ = tx.send(result.lock().expect("sample text").clone());
                    },
                );
                rx
            })
            .collect();
        let mut samples = Vec::with_capacity(req.n);
        for rx in waiting {
            samples.push(rx.await.map_err(|_| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "a sample was lost")
            })?);
        }
        return Ok(Json(json!({ "samples": samples })).into_response());
    }
    // Streamed: samples one after another, each char sent as it is drawn.
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Result<Event, Infallible>>();
    let event = |name: &str, data: Value| Ok(Event::default().event(name).data(data.to_string()));
    tokio::spawn(async move {
        for i in 0..req.n {
            let (end_tx, end_rx) = tokio::sync::oneshot::channel::<()>();
            let text = Arc::new(std::sync::Mutex::new(req.prime.clone()));
            let chars = tx.clone();
            let emit = move |piece: &str| {
                // A client gone (its receiver dropped) stops the drawing.
                chars
                    .send(event("char", json!({ "sample": i, "text": piece })))
                    .is_ok()
            };
            submit(&model, &prime, &req, i, emit, text.clone(), move || {
                let _ = end_tx.send(());
            });
            let _ = end_rx.await;
            let text = text.lock().expect("sample text").clone();
            if tx
                .send(event("end", json!({ "sample": i, "text": text })))
                .is_err()
            {
                return;
            }
        }
        let _ = tx.send(event("done", json!({})));
    });
    Ok(Sse::new(UnboundedReceiverStream::new(rx))
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Queues sample `i` of a request with the model's batcher: the prime,
/// then chars (appended to `text`) until the length or a stop string;
/// `emit` gets each char's text and says whether to go on; `done` runs at
/// the end.
fn submit(
    model: &Loaded,
    prime: &[u32],
    req: &Arc<SampleRequest>,
    i: usize,
    mut emit: impl FnMut(&str) -> bool + Send + 'static,
    text: Arc<std::sync::Mutex<String>>,
    done: impl FnOnce() + Send + 'static,
) {
    let vocab = model.vocab.clone();
    let r = req.clone();
    let start = req.prime.len();
    model.batcher.submit(Job {
        inputs: start_inputs(&model.vocab, prime),
        length: req.length,
        temperature: req.temperature,
        seed: req.seed.wrapping_add(i as u64),
        emit: Box::new(move |id| {
            let piece = symbol(&vocab, id);
            let mut text = text.lock().expect("sample text");
            text.push_str(&piece);
            let stopped = r.stop.iter().any(|s| text[start..].ends_with(s.as_str()));
            emit(&piece) && !stopped
        }),
        done: Box::new(done),
    });
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    model: String,
    text: String,
    /// How many likeliest next chars to list per char.
    #[serde(default = "five")]
    top: usize,
    /// A layer whose hidden state to return per char.
    #[serde(default)]
    hidden_layer: Option<usize>,
}

fn five() -> usize {
    5
}

/// `POST /api/score`: the text's loss (what `charrnn eval` prints for it) and,
/// per char, its log-probability after the chars before it (null for the
/// first, which is only read), the `top` likeliest next chars with their
/// probabilities, and on request one layer's hidden state after it.
pub async fn score(State(server): State<Arc<Server>>, body: Body) -> ApiResult<Json<Value>> {
    let req: ScoreRequest = read_json(&server, body).await?;
    let chars: Vec<char> = req.text.chars().collect();
    if chars.len() < 2 || chars.len() > server.limits.text {
        return Err(ApiError::bad(format!(
            "text must have 2 to {} chars, not {}",
            server.limits.text,
            chars.len()
        )));
    }
    let model = model(&server, &req.model).await?;
    let spec = model.network.spec();
    if let Some(k) = req.hidden_layer.filter(|&k| k >= spec.layers) {
        return Err(ApiError::bad(format!(
            "hidden_layer {k} is out of range: the model has {} layer(s), 0 to {}",
            spec.layers,
            spec.layers - 1
        )));
    }
    let top = req.top.min(model.vocab.len());
    let ids = encode(&model.vocab, &req.text, "text")?;
    blocking(move || {
        let (rows, hidden) = next_log_probs(&model.network, &ids, req.hidden_layer);
        let mut nats = 0.0;
        let per_char: Vec<Value> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                let logprob = (i > 0).then(|| rows[i - 1][id as usize]);
                nats -= logprob.unwrap_or(0.0);
                let mut order: Vec<usize> = (0..rows[i].len()).collect();
                order.sort_by(|&a, &b| rows[i][b].total_cmp(&rows[i][a]));
                let next: Vec<Value> = order[..top]
                    .iter()
                    .map(|&j| json!({ "char": symbol(&model.vocab, j as u32), "p": rows[i][j].exp() }))
                    .collect();
                let mut c = json!({ "char": symbol(&model.vocab, id), "logprob": logprob, "top": next });
                if let Some(h) = hidden.get(i) {
                    c["hidden"] = json!(h);
                }
                c
            })
            .collect();
        let n = (ids.len() - 1) as f64;
        Json(json!({
            "nats_per_char": nats / n,
            "bits_per_char": nats / n / std::f64::consts::LN_2,
            "chars": per_char,
        }))
    })
    .await
}

/// The model `id`, loaded on first use.
async fn model(server: &Arc<Server>, id: &str) -> ApiResult<Arc<Loaded>> {
    let entry = server
        .catalog
        .find(id)
        .ok_or_else(|| ApiError::unknown_model(id))?;
    let s = server.clone();
    blocking(move || s.catalog.load(&entry))
        .await?
        .map_err(|why| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("model {id:?}: {why}"),
            )
        })
}

/// Symbol `id` as text (a byte model's non-UTF-8 byte as U+FFFD).
fn symbol(vocab: &Vocab, id: u32) -> String {
    String::from_utf8_lossy(&vocab.decode(&[id])).into_owned()
}

/// `text`'s ids in the model's vocabulary, or a 400 naming what is not in it.
fn encode(vocab: &Vocab, text: &str, what: &str) -> ApiResult<Vec<u32>> {
    vocab.encode_bytes(text.as_bytes()).map_err(|unknown| {
        let shown: Vec<String> = unknown.iter().take(20).map(|c| format!("{c:?}")).collect();
        ApiError::bad(format!(
            "{what} has {}(s) not in the model's vocabulary: {}",
            vocab.unit(),
            shown.join(", ")
        ))
    })
}

/// The request body as JSON: 408 if the client stalls, 413 over the size
/// limit, 400 with serde's reason if it is not the request's JSON.
pub async fn read_json<T: DeserializeOwned>(server: &Server, body: Body) -> ApiResult<T> {
    let lim = &server.limits;
    let bytes = tokio::time::timeout(lim.body_timeout, read_body(body, lim.body))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {:?}",
                    lim.body_timeout
                ),
            )
        })??;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad(format!("bad JSON request: {e}")))
}

/// The body, up to `limit` bytes. Past the limit the rest is read and
/// dropped (up to 16 times the limit), so that the client, still sending,
/// can read the 413 instead of a reset connection.
async fn read_body(body: Body, limit: usize) -> ApiResult<Vec<u8>> {
    let mut stream = body.into_data_stream();
    let (mut kept, mut total) = (Vec::new(), 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad(format!("cannot read the request body: {e}")))?;
        total += chunk.len();
        if total <= limit {
            kept.extend_from_slice(&chunk);
        } else if total > 16 * limit {
            break;
        }
    }
    if total > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is over {limit} bytes"),
        ));
    }
    Ok(kept)
}

/// Runs `f` on a blocking thread.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )
    })
}
