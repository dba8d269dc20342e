//! A load generator for `/v1/events`, run as a process of its own: `clients` WebSocket
//! clients follow one run until it ends. It prints `ready` once every client is connected,
//! then one JSON line: events delivered per client (least and most), and the delay from an
//! event's emission to its arrival (p50, p99, max).
//!
//! `events-load URL KEY RUN [--clients 1000]`

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use switchyard_server::protocol::EventMessage;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

type Stream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, key: &str) -> Result<Stream, String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    let auth = format!("Bearer {key}").parse().map_err(|_| "a malformed key".to_string())?;
    request.headers_mut().insert("authorization", auth);
    tokio_tungstenite::connect_async(request).await.map(|(s, _)| s).map_err(|e| e.to_string())
}

/// Follows the stream until the run ends: the number of events and each one's delay (ms).
async fn follow(mut stream: Stream) -> (usize, Vec<i64>) {
    let mut delays = Vec::new();
    while let Some(Ok(msg)) = stream.next().await {
        let Message::Text(text) = msg else { continue };
        let Ok(event) = serde_json::from_str::<EventMessage>(&text) else { continue };
        delays.push(now_ms() - event.at_ms.unwrap_or_else(now_ms));
        let state = event.event.as_ref().and_then(|e| e.state.as_deref());
        if event.kind == "run" && matches!(state, Some("succeeded" | "failed" | "cancelled")) {
            break;
        }
    }
    (delays.len(), delays)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(base), Some(key), Some(run)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: events-load URL KEY RUN [--clients N]");
        std::process::exit(2);
    };
    let clients: usize = match args.get(3).map(String::as_str) {
        Some("--clients") => args.get(4).and_then(|n| n.parse().ok()).unwrap_or(1000),
        _ => 1000,
    };
    let url = format!("{}/v1/events?run={run}", base.replacen("http", "ws", 1));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let line = rt.block_on(async {
        let mut streams = Vec::with_capacity(clients);
        for _ in 0..clients {
            match connect(&url, key).await {
                Ok(s) => streams.push(s),
                Err(e) => return format!("{{\"error\":{:?}}}", e),
            }
        }
        println!("ready");
        let started = Instant::now();
        let tasks: Vec<_> = streams.into_iter().map(|s| tokio::spawn(follow(s))).collect();
        let (mut counts, mut delays) = (Vec::new(), Vec::new());
        for t in tasks {
            if let Ok(Ok((n, d))) = tokio::time::timeout(Duration::from_secs(300), t).await {
                counts.push(n);
                delays.extend(d);
            }
        }
        delays.sort_unstable();
        let pct = |p: f64| delays.get(((delays.len() as f64 * p) as usize).min(delays.len().saturating_sub(1))).copied().unwrap_or(0);
        format!(
            "{{\"clients\":{},\"events_min\":{},\"events_max\":{},\"delivered\":{},\"seconds\":{:.3},\"delay_p50_ms\":{},\"delay_p99_ms\":{},\"delay_max_ms\":{}}}",
            counts.len(),
            counts.iter().min().unwrap_or(&0),
            counts.iter().max().unwrap_or(&0),
            delays.len(),
            started.elapsed().as_secs_f64(),
            pct(0.5),
            pct(0.99),
            delays.last().copied().unwrap_or(0)
        )
    });
    println!("{line}");
}
