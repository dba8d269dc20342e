//! Runs on a Switchyard server: the editor connects with a URL and an API key; then quotes
//! come from the server's catalog and wallet, runs are submitted there, and node events and
//! previews stream back over its event stream into the same replies a local run sends.

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_client::client::Client;
use switchyard_client::protocol::{EventBody, EventMessage, QuoteReply, RunView, SubmitRequest};
use switchyard_engine::{Event, EventKind, NodeId, NodeStatus, RunStatus};
use switchyard_nodes::preview::Preview;
use tokio_util::sync::CancellationToken;

use super::protocol::{Badge, Check, Finished, GraphQuote, Outbox, Reply};

/// Where to connect: the server, an API key, and the account runs bill (unbilled without).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerTarget {
    /// Such as `http://127.0.0.1:8188`.
    pub url: String,
    /// The API key (`sy_…`); never logged or saved into a workflow.
    pub token: String,
    /// The tenant's account to bill.
    pub account: Option<String>,
}

/// A connected server.
pub struct Remote {
    client: Client,
    /// The server's URL, for the status bar.
    pub url: String,
    account: Option<String>,
}

impl Remote {
    /// The server's client.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The account runs bill, if any.
    pub(crate) fn account(&self) -> &Option<String> {
        &self.account
    }
}

/// Connects: the key is checked by listing the tenant's accounts.
pub async fn connect(target: ServerTarget) -> Result<(Remote, String), String> {
    let client = Client::new(&target.url, &target.token);
    let accounts = client.accounts().await.map_err(|e| e.to_string())?;
    if let Some(a) = &target.account
        && !accounts.accounts.iter().any(|w| &w.account == a)
    {
        let known: Vec<&str> = accounts.accounts.iter().map(|w| w.account.as_str()).collect();
        return Err(format!("no account {a} on {}; the key's accounts: {}", target.url, known.join(", ")));
    }
    let what = format!("connected to {}", target.url);
    Ok((Remote { client, url: target.url, account: target.account }, what))
}

fn request(remote: &Remote, check: &Check) -> Result<SubmitRequest, String> {
    let workflow = serde_json::to_value(&check.file).map_err(|e| format!("the graph cannot be sent: {e}"))?;
    Ok(SubmitRequest {
        workflow,
        policy: Some(check.policy.clone()),
        budget: check.budget,
        account: remote.account.clone(),
        ..SubmitRequest::default()
    })
}

/// The server's quote of the graph (its catalog, its prices, its placement).
pub async fn quote(remote: &Remote, check: &Check) -> Result<GraphQuote, String> {
    let reply = remote.client.quote(&request(remote, check)?).await.map_err(|e| e.to_string())?;
    Ok(graph_quote(reply))
}

fn graph_quote(reply: QuoteReply) -> GraphQuote {
    let nodes = reply
        .nodes
        .into_iter()
        .map(|n| {
            let badge = Badge {
                placement: n.placement,
                credits: (n.credits.min, n.credits.max),
                gco2eq: n.gco2eq,
                why: n.why,
                cached: false,
            };
            (n.node, badge)
        })
        .collect();
    let credits = (reply.quote.min, reply.quote.max);
    GraphQuote { nodes, credits, gco2eq: reply.gco2eq, makespan_s: reply.makespan_s, ..GraphQuote::default() }
}

/// The billed account's available credits on the server.
pub async fn balance(remote: &Remote) -> Result<i64, String> {
    let account = remote.account.as_deref().ok_or("no account: connect with one to bill runs on the server")?;
    Ok(remote.client.wallet(account).await.map_err(|e| e.to_string())?.available)
}

/// Submits `check`'s graph and follows it to its end, sending each node event and, at the
/// end, `Finished` with the previews that streamed in. A cancel cancels it on the server.
pub async fn run(remote: Arc<Remote>, check: Check, cancel: CancellationToken, out: Outbox) {
    let submitted = match request(&remote, &check) {
        Ok(req) => remote.client.submit(&req, None).await.map_err(|e| e.to_string()),
        Err(why) => Err(why),
    };
    let run = match submitted {
        Ok(run) => run,
        Err(why) => return out.send(Reply::Refused(format!("the server refused the run: {why}"))),
    };
    let mut seen = Seen::default();
    let watch = remote.client.watch_with(&run.id, true, |e| seen.take(e, &out));
    let ended = tokio::select! {
        ended = watch => ended,
        () = cancel.cancelled() => {
            let _ = remote.client.cancel(&run.id).await;
            remote.client.watch(&run.id, |_| {}).await
        }
    };
    match ended {
        Ok(run) => out.send(Reply::Finished(Box::new(seen.finished(&run)))),
        Err(e) => out.send(Reply::Refused(format!("lost the run {} on the server: {e}", run.id))),
    }
}

/// What the event stream said, node by node.
#[derive(Default)]
struct Seen {
    nodes: HashMap<String, (NodeStatus, Option<String>)>,
    previews: HashMap<String, Preview>,
}

impl Seen {
    fn take(&mut self, e: &EventMessage, out: &Outbox) {
        let Some(body) = &e.event else { return };
        let Some(node) = body.node.as_deref() else { return };
        if e.kind == "preview" {
            // The first image output of a node, as a local run shows.
            if let Some(p) = decode_preview(body) {
                self.previews.entry(node.to_string()).or_insert(p);
            }
            return;
        }
        let Some(kind) = event_kind(body) else { return };
        let status = match &kind {
            EventKind::Finished { .. } => Some((NodeStatus::Executed, None)),
            EventKind::Cached => Some((NodeStatus::Cached, None)),
            EventKind::Failed { message } => Some((NodeStatus::Failed, Some(message.clone()))),
            EventKind::Skipped { reason } => Some((NodeStatus::Skipped, Some(reason.clone()))),
            EventKind::Cancelled => Some((NodeStatus::Cancelled, None)),
            _ => None,
        };
        if let Some(s) = status {
            self.nodes.insert(node.to_string(), s);
        }
        out.send(Reply::Event(Event { item: None, node: NodeId::new(node), kind }));
    }

    fn finished(self, run: &RunView) -> Finished {
        let status = match run.state.as_str() {
            "succeeded" => RunStatus::Succeeded,
            "cancelled" => RunStatus::Cancelled,
            _ => RunStatus::Failed,
        };
        let duration_ms = match (run.started_at_ms, run.finished_at_ms) {
            (Some(a), Some(b)) => (b - a).max(0) as u64,
            _ => 0,
        };
        let nodes = self.nodes.into_iter().map(|(k, (s, e))| (k, s, e)).collect();
        Finished { status, duration_ms, nodes, previews: self.previews.into_iter().collect(), charged: run.charged() }
    }
}

/// A node event from the server in the engine's vocabulary.
fn event_kind(body: &EventBody) -> Option<EventKind> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    Some(match body.what.as_deref()? {
        "queued" => EventKind::Queued,
        "started" => EventKind::Started,
        "progress" => EventKind::Progress { value: body.value.unwrap_or(0), max: body.max.unwrap_or(0) },
        "cached" => EventKind::Cached,
        "finished" => EventKind::Finished { duration_ms: body.duration_ms.unwrap_or(0), files: Vec::new() },
        "failed" => EventKind::Failed { message: text(&body.message) },
        "skipped" => EventKind::Skipped { reason: text(&body.reason) },
        "cancelled" => EventKind::Cancelled,
        _ => return None,
    })
}

/// A preview's PNG as RGBA; `None` for one that does not decode.
fn decode_preview(body: &EventBody) -> Option<Preview> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(body.data.as_deref()?).ok()?;
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    if info.color_type != png::ColorType::Rgba || info.bit_depth != png::BitDepth::Eight {
        return None;
    }
    buf.truncate(info.buffer_size());
    let source = [body.source_width.unwrap_or(info.width), body.source_height.unwrap_or(info.height)];
    Some(Preview { size: [info.width as usize, info.height as usize], rgba: buf, source_size: source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_events_read_back_as_the_engines() {
        let body = |what: &str| EventBody { what: Some(what.into()), ..EventBody::default() };
        assert_eq!(event_kind(&body("started")), Some(EventKind::Started));
        let finished = EventBody { duration_ms: Some(12), ..body("finished") };
        assert_eq!(event_kind(&finished), Some(EventKind::Finished { duration_ms: 12, files: Vec::new() }));
        let failed = EventBody { message: Some("boom".into()), ..body("failed") };
        assert_eq!(event_kind(&failed), Some(EventKind::Failed { message: "boom".into() }));
        assert_eq!(event_kind(&body("teleported")), None);
    }

    #[test]
    fn previews_decode_from_the_servers_png() {
        use base64::Engine as _;
        let picture = Preview { size: [2, 1], rgba: vec![255, 0, 0, 255, 0, 0, 255, 255], source_size: [4, 2] };
        let png = switchyard_nodes::preview::png(&picture).unwrap();
        let body = EventBody {
            data: Some(base64::engine::general_purpose::STANDARD.encode(png)),
            source_width: Some(4),
            source_height: Some(2),
            ..EventBody::default()
        };
        let back = decode_preview(&body).unwrap();
        assert_eq!((back.size, back.rgba, back.source_size), ([2, 1], picture.rgba, [4, 2]));
        assert!(decode_preview(&EventBody { data: Some("not base64!".into()), ..EventBody::default() }).is_none());
    }
}
