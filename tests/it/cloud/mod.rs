//! Cloud nodes against the mock provider server, for every adapter: golden request shapes,
//! a fault matrix (retryable faults recover, permanent ones fail once with a clear error, a
//! paid create is never sent twice), timeouts and cancellation that reach the provider.
//! Key redaction, missing keys, cache keys and param refusals are in `special`.

mod cases;
mod special;

use std::time::Duration;

use switchyard_engine::{NodeContext, NodeError, Outputs, ParamValue, PathRoots, Registry, Value};
use switchyard_mock::{Fault, MockServer, keys};
use switchyard_nodes::cloud::client::ClientConfig;
use switchyard_nodes::cloud::secret::ApiKey;
use switchyard_nodes::cloud::{CloudSettings, ProviderSettings};

use cases::{Body, Case, Yields};

/// Quick polls and backoff; requests get 3 s, room for an unoptimised debug build to encode
/// and decode an image.
pub fn fast_client() -> ClientConfig {
    ClientConfig {
        request_timeout_ms: 3_000,
        backoff_base_ms: 1,
        poll_interval_ms: 5,
        max_polls: 20,
        overall_timeout_ms: 20_000,
        ..ClientConfig::default()
    }
}

/// As [`fast_client`], but a hung request gives up after 400 ms: for the tests that hang on
/// purpose.
fn hang_client() -> ClientConfig {
    ClientConfig { request_timeout_ms: 400, ..fast_client() }
}

/// Every provider pointed at the mock with its key; `wrong_key` replaces one provider's key.
pub fn registry(mock: &MockServer, wrong_key: Option<&str>) -> Registry {
    registry_with(mock, wrong_key, fast_client())
}

fn registry_with(mock: &MockServer, wrong_key: Option<&str>, client: ClientConfig) -> Registry {
    let mut cloud = CloudSettings::default();
    for (name, key) in keys::ALL {
        let key = if wrong_key == Some(name) { wrong(key) } else { key.to_string() };
        let settings = ProviderSettings {
            base_url: Some(mock.base_url(name)),
            api_key: Some(ApiKey::new(key)),
            api_key_env: None,
            client: client.clone(),
        };
        cloud.providers.insert(name.to_string(), settings);
    }
    let mut reg = Registry::new();
    switchyard_nodes::register_with(&mut reg, switchyard_nodes::onnx::OnnxSettings::from_env(), &cloud).unwrap();
    reg
}

/// A wrong key of the same form (Kling's stays an `ACCESS:SECRET` pair).
fn wrong(key: &str) -> String {
    match key.split_once(':') {
        Some((access, _)) => format!("{access}:wrong-secret"),
        None => "wrong-key".into(),
    }
}

/// The node's params: spec defaults, then the case's provider, prompt and overrides.
pub fn params(reg: &Registry, case: &Case) -> Vec<(&'static str, ParamValue)> {
    let spec = reg.get(case.node).unwrap().spec();
    spec.params
        .iter()
        .map(|p| {
            let given = case.params.iter().find(|(n, _)| *n == p.name).map(|(_, v)| v.clone());
            let value = match (p.name, given) {
                (_, Some(v)) => v,
                ("provider", None) => ParamValue::Text(case.provider.into()),
                ("prompt", None) => ParamValue::Text(cases::PROMPT.into()),
                (_, None) => p.default.clone().unwrap_or_else(|| panic!("{}: no value for {}", case.node, p.name)),
            };
            (p.name, value)
        })
        .collect()
}

pub fn context(reg: &Registry, case: &Case, out: &std::path::Path) -> NodeContext {
    let inputs = case
        .input
        .map(|(w, h)| {
            let pixels = (0..w * h).flat_map(|i| [(i % 7) as f32 / 7.0, 0.3, 0.6, 1.0]).collect();
            vec![("image", vec![Value::Image(switchyard_engine::Image::new(w, h, pixels).unwrap())])]
        })
        .unwrap_or_default();
    NodeContext::standalone("gen", inputs, params(reg, case), PathRoots::new(".", out))
}

/// A finished run: the node's result, the mock (for its records) and the output folder.
pub struct Ran {
    pub out: Result<Outputs, NodeError>,
    pub mock: MockServer,
    /// Holds the output folder until the checks are done.
    pub _dir: tempfile::TempDir,
}

impl Ran {
    pub fn count(&self, route: &str) -> usize {
        self.mock.requests_to(route).len()
    }

    pub fn error(&self) -> String {
        match &self.out {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }
}

/// Runs `case` once against a fresh mock scripted with `script`.
pub fn run(case: &Case, wrong_key: bool, script: &[(&str, Vec<Fault>)]) -> Ran {
    run_with(case, wrong_key, script, fast_client())
}

/// [`run`] with hung requests given up after 400 ms.
fn run_hanging(case: &Case, script: &[(&str, Vec<Fault>)]) -> Ran {
    run_with(case, false, script, hang_client())
}

fn run_with(case: &Case, wrong_key: bool, script: &[(&str, Vec<Fault>)], client: ClientConfig) -> Ran {
    let rt = crate::support::runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let mock = MockServer::start(0).await.unwrap();
        for (route, faults) in script {
            mock.script(route, faults.clone());
        }
        let provider = case.provider.split(':').next().unwrap();
        let reg = registry_with(&mock, wrong_key.then_some(provider), client);
        let out = reg.get(case.node).unwrap().run(context(&reg, case, dir.path())).await;
        Ran { out, mock, _dir: dir }
    })
}

fn check_yields(case: &Case, out: &Outputs) {
    let size = |v: Option<&Value>| match v {
        Some(Value::Image(i)) => (i.width(), i.height()),
        Some(Value::Mask(m)) => (m.width(), m.height()),
        other => panic!("{}: {other:?}", case.provider),
    };
    match case.yields {
        Yields::Image(w, h) => assert_eq!(size(out.get("image")), (w, h), "{}", case.provider),
        Yields::Cutout(w, h) => {
            assert_eq!(size(out.get("image")), (w, h));
            let Some(Value::Mask(mask)) = out.get("mask") else { panic!("no mask") };
            // The mock cuts a soft oval subject out of its input: clear corners, an opaque middle.
            let (corner, middle) = (mask.values()[0], mask.values()[(h / 2 * w + w / 2) as usize]);
            assert!(corner < 0.01 && middle > 0.99, "the mask is the cut-out's alpha: {corner} {middle}");
        }
        Yields::Video => {
            let Some(Value::Text(path)) = out.get("path") else { panic!("no path") };
            let bytes = std::fs::read(path.as_ref()).unwrap();
            assert_eq!(&bytes[4..8], b"ftyp", "{}: an MP4 file", case.provider);
        }
        Yields::Speech(rate) => {
            let Some(Value::Audio(audio)) = out.get("audio") else { panic!("no audio") };
            assert_eq!((audio.sample_rate_hz, audio.channels), (rate, 1));
            let seconds = audio.samples.len() as f64 / f64::from(rate);
            assert!((1.2..1.5).contains(&seconds), "22 characters at 60 ms: {seconds} s");
            assert!(audio.samples.iter().any(|s| s.abs() > 0.1), "not silence");
        }
    }
}

fn retry_after_ms(status: u16, ms: u32) -> Fault {
    Fault::Status { status, retry_after: None, retry_after_ms: Some(ms) }
}

#[test]
fn every_adapter_sends_the_exact_wire_shape_and_yields_engine_values() {
    for case in cases::all() {
        let ran = run(&case, false, &[]);
        let out = ran.out.as_ref().unwrap_or_else(|e| panic!("{}: {e}", case.provider));
        check_yields(&case, out);
        let metering = out.metering().unwrap_or_else(|| panic!("{}: no metering record", case.provider));
        assert_eq!(metering["provider"], case.provider.split(':').next().unwrap());
        let metered: Vec<&str> = metering["metered"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(metered, case.meters, "{}", case.provider);
        // Ideogram's and Recraft's background-removal replies carry no request or task id.
        let has_id = metering["request_id"].is_string() || metering["task_id"].is_string();
        let no_id = ["ideogram:v3", "recraft:remove-background"].contains(&case.provider);
        assert!(has_id || no_id, "{}: an id to audit", case.provider);
        let [create] = ran.mock.requests_to(case.create.0).try_into().unwrap();
        assert_eq!((create.method.as_str(), create.path.as_str()), ("POST", case.create.1), "{}", case.provider);
        match &case.auth {
            (name, Some(value)) => assert_eq!(create.header(name), Some(value.as_str()), "{}", case.provider),
            (name, None) => assert_eq!(create.header(name).map(|v| v.matches('.').count()), Some(2), "a JWT"),
        }
        match &case.body {
            Body::Json(want) => assert!(cases::matches(want, &create.json()), "{}: {}", case.provider, create.json()),
            Body::Form(want) => {
                let got: Vec<(String, String)> = create
                    .form()
                    .into_iter()
                    .map(|f| {
                        (
                            f.name,
                            if f.filename.is_some() { "*".into() } else { String::from_utf8_lossy(&f.data).into() },
                        )
                    })
                    .collect();
                let want: Vec<(String, String)> = want.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
                assert_eq!(got, want, "{}", case.provider);
            }
        }
        for file in ran.mock.requests_to("files") {
            assert!(file.headers.iter().all(|(n, _)| n != "authorization" && !n.contains("key")), "no key to the CDN");
        }
    }
}

#[test]
fn every_adapter_recovers_from_retryable_faults() {
    for case in cases::all() {
        let mut script = vec![(case.create.0, vec![retry_after_ms(429, 20), Fault::status(503)])];
        if let Some(poll) = case.poll {
            script.push((poll, vec![Fault::status(500), Fault::status(502)]));
        }
        if case.download {
            script.push(("files", vec![Fault::Truncated]));
        }
        let ran = run(&case, false, &script);
        let out = ran.out.as_ref().unwrap_or_else(|e| panic!("{}: {e}", case.provider));
        check_yields(&case, out);
        assert_eq!(ran.count(case.create.0), 3, "{}: two refusals, then the create", case.provider);
        if case.download {
            assert_eq!(ran.count("files"), 2, "{}: the cut download was fetched again", case.provider);
        }
    }
}

#[test]
fn every_adapter_fails_permanent_faults_once_with_a_clear_error() {
    for case in cases::all() {
        let provider = case.provider.split(':').next().unwrap();
        let mut runs =
            vec![(true, Vec::new(), "authentication failed"), (false, vec![Fault::Malformed], "unexpected reply")];
        if case.moderation {
            runs.push((false, vec![Fault::Moderated], "refused by content moderation"));
        }
        for (wrong_key, faults, expected) in runs {
            let ran = run(&case, wrong_key, &[(case.create.0, faults.clone())]);
            let err = ran.error();
            assert!(err.contains(expected) && err.starts_with(provider), "{} {faults:?}: {err}", case.provider);
            assert_eq!(ran.count(case.create.0), 1, "{} {faults:?}: not retried", case.provider);
        }
    }
}

#[test]
fn no_adapter_sends_an_ambiguous_create_twice() {
    for case in cases::all().into_iter().filter(|c| !c.provider.starts_with("kling")) {
        for fault in [Fault::Hang, Fault::status(502), Fault::status(504)] {
            let ran = run_hanging(&case, &[(case.create.0, vec![fault.clone()])]);
            let err = ran.error();
            assert!(
                err.contains("outcome unknown") && err.contains("not re-sent"),
                "{} {fault:?}: {err}",
                case.provider
            );
            assert_eq!(ran.count(case.create.0), 1, "{} {fault:?}: sent once", case.provider);
        }
    }
}

/// Kling's `external_task_id` lets an ambiguous create be settled: a task that was created
/// is found and used; one that was not is created once more under the same id.
#[test]
fn kling_settles_an_ambiguous_create_by_its_external_id() {
    let case = cases::all().into_iter().find(|c| c.provider.starts_with("kling")).unwrap();
    let ran = run_hanging(&case, &[(case.create.0, vec![Fault::LoseReply])]);
    check_yields(&case, ran.out.as_ref().unwrap());
    assert_eq!(ran.count(case.create.0), 1, "the lost reply's task was found, not created again");
    for fault in [Fault::Hang, Fault::status(502)] {
        let ran = run_hanging(&case, &[(case.create.0, vec![fault.clone()])]);
        check_yields(&case, ran.out.as_ref().unwrap_or_else(|e| panic!("{fault:?}: {e}")));
        let creates = ran.mock.requests_to(case.create.0);
        assert_eq!(creates.len(), 2, "{fault:?}: no task existed, so it was sent once more");
        assert_eq!(creates[0].json()["external_task_id"], creates[1].json()["external_task_id"], "under the same id");
    }
}

#[test]
fn async_tasks_that_never_finish_time_out_and_are_cancelled_at_the_provider() {
    for case in cases::all().into_iter().filter(|c| c.poll.is_some()) {
        let ran = run(&case, false, &[(case.create.0, vec![Fault::NeverFinish])]);
        assert!(ran.error().contains("no result within"), "{}: {}", case.provider, ran.error());
        if let Some(cancel) = case.cancel {
            assert_eq!(ran.count(cancel), 1, "{}: the abandoned task was cancelled", case.provider);
        }
    }
}

#[test]
fn cancelling_a_node_stops_polling_and_calls_the_providers_cancel_endpoint() {
    for case in cases::all().into_iter().filter(|c| c.poll.is_some()) {
        let rt = crate::support::runtime();
        let dir = tempfile::tempdir().unwrap();
        rt.block_on(async {
            let mock = MockServer::start(0).await.unwrap();
            mock.script(case.create.0, [Fault::NeverFinish]);
            let reg = registry(&mock, None);
            let ctx = context(&reg, &case, dir.path());
            let token = ctx.cancellation().clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(60)).await;
                token.cancel();
            });
            let started = std::time::Instant::now();
            let out = reg.get(case.node).unwrap().run(ctx).await;
            // The provider had taken the work, so a cancel leaves the outcome for
            // reconciliation rather than claiming nothing was done.
            let unknown = matches!(&out, Err(NodeError::OutcomeUnknown(m)) if m.contains("cancelled"));
            assert!(unknown, "{}: {:?}", case.provider, out.err());
            assert!(started.elapsed() < Duration::from_secs(2));
            if let Some(cancel) = case.cancel {
                assert_eq!(mock.requests_to(cancel).len(), 1, "{}: cancel reached the provider", case.provider);
            }
        });
    }
}

/// Runway answers `THROTTLED` while a task waits for the account's concurrency, and fal
/// answers `IN_QUEUE`; both are waited through.
#[test]
fn queued_and_throttled_tasks_are_waited_through() {
    for (provider, poll, polls) in [("runway", "runway.poll", 4), ("fal", "fal.status", 3)] {
        let case = cases::all().into_iter().find(|c| c.provider.starts_with(provider)).unwrap();
        let ran = run(&case, false, &[]);
        check_yields(&case, ran.out.as_ref().unwrap());
        assert_eq!(ran.count(poll), polls, "{provider}");
    }
}
