//! Cloud nodes against the mock provider server: golden request shapes, fault matrices
//! (retryable faults recover, permanent ones fail clearly, a create is never sent twice),
//! cancellation and key redaction.

use std::time::{Duration, Instant};

use serde_json::json;
use switchyard_engine::{NodeContext, NodeError, ParamValue, PathRoots, Registry, Value};
use switchyard_mock::{Fault, MockServer, keys};
use switchyard_nodes::cloud::client::ClientConfig;
use switchyard_nodes::cloud::secret::ApiKey;
use switchyard_nodes::cloud::{CloudSettings, ProviderSettings};

fn fast_client() -> ClientConfig {
    ClientConfig {
        request_timeout_ms: 400,
        backoff_base_ms: 1,
        poll_interval_ms: 5,
        max_polls: 40,
        overall_timeout_ms: 20_000,
        ..ClientConfig::default()
    }
}

fn registry(mock: &MockServer, key_openai: &str) -> Registry {
    let provider = |key: &str| ProviderSettings {
        base_url: Some(mock.url()),
        api_key: Some(ApiKey::new(key)),
        api_key_env: None,
        client: fast_client(),
    };
    let mut cloud = CloudSettings::default();
    cloud.providers.insert("openai".into(), provider(key_openai));
    cloud.providers.insert("bfl".into(), provider(keys::BFL));
    let mut reg = Registry::new();
    let onnx = switchyard_nodes::onnx::OnnxSettings::from_env();
    switchyard_nodes::register_with(&mut reg, onnx, &cloud).unwrap();
    reg
}

struct Ask {
    provider: &'static str,
    width: i64,
    height: i64,
    seed: i64,
    quality: &'static str,
}

const OPENAI: Ask = Ask { provider: "openai:gpt-image-1", width: 1024, height: 1024, seed: -1, quality: "low" };
const BFL: Ask = Ask { provider: "bfl:flux-2-pro", width: 512, height: 384, seed: 7, quality: "auto" };

fn params(ask: &Ask) -> Vec<(&'static str, ParamValue)> {
    vec![
        ("provider", ParamValue::Text(ask.provider.into())),
        ("prompt", ParamValue::Text("a red fox in snow".into())),
        ("negative_prompt", ParamValue::Text("".into())),
        ("width", ParamValue::Int(ask.width)),
        ("height", ParamValue::Int(ask.height)),
        ("seed", ParamValue::Int(ask.seed)),
        ("steps", ParamValue::Int(0)),
        ("quality", ParamValue::Text(ask.quality.into())),
    ]
}

fn context(ask: &Ask) -> NodeContext {
    NodeContext::standalone("gen", vec![], params(ask), PathRoots::new(".", "."))
}

/// Starts the mock, scripts it, runs the node once; returns the result and the mock.
fn run(ask: &Ask, key: &str, script: &[(&str, Vec<Fault>)]) -> (Result<(u32, u32), NodeError>, MockServer) {
    let rt = crate::support::runtime();
    rt.block_on(async {
        let mock = MockServer::start(0).await.unwrap();
        for (route, faults) in script {
            mock.script(route, faults.clone());
        }
        let reg = registry(&mock, key);
        let out = reg.get("cloud.text_to_image").unwrap().run(context(ask)).await;
        let size = out.map(|o| match o.get("image") {
            Some(Value::Image(i)) => (i.width(), i.height()),
            other => panic!("{other:?}"),
        });
        (size, mock)
    })
}

fn retry_after_ms(status: u16, ms: u32) -> Fault {
    Fault::Status { status, retry_after: None, retry_after_ms: Some(ms) }
}

#[test]
fn openai_request_has_the_exact_wire_shape() {
    let (out, mock) = run(&OPENAI, keys::OPENAI, &[]);
    assert_eq!(out.unwrap(), (1024, 1024));
    let [req] = mock.requests_to("openai.generate").try_into().unwrap();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/v1/images/generations"));
    assert_eq!(req.header("authorization"), Some(format!("Bearer {}", keys::OPENAI).as_str()));
    assert_eq!(req.header("content-type"), Some("application/json"));
    let want =
        json!({ "model": "gpt-image-1", "prompt": "a red fox in snow", "n": 1, "size": "1024x1024", "quality": "low" });
    assert_eq!(req.json(), want);
}

#[test]
fn bfl_creates_polls_and_downloads_with_the_exact_wire_shape() {
    let (out, mock) = run(&BFL, keys::OPENAI, &[]);
    assert_eq!(out.unwrap(), (512, 384));
    let [create] = mock.requests_to("bfl.create").try_into().unwrap();
    assert_eq!(create.path, "/v1/flux-2-pro");
    assert_eq!(create.header("x-key"), Some(keys::BFL));
    assert_eq!(
        create.json(),
        json!({ "prompt": "a red fox in snow", "width": 512, "height": 384, "output_format": "png", "seed": 7 })
    );
    let polls = mock.requests_to("bfl.poll");
    assert_eq!(polls.len(), 3, "two Pending, then Ready");
    assert!(polls.iter().all(|p| p.header("x-key") == Some(keys::BFL)));
    let [file] = mock.requests_to("files").try_into().unwrap();
    assert_eq!(file.header("x-key"), None, "the key never goes to the delivery URL");
}

#[test]
fn retryable_faults_recover_and_honour_retry_after() {
    let started = Instant::now();
    let faults = vec![retry_after_ms(429, 150), Fault::status(500), Fault::status(503)];
    let (out, mock) = run(&OPENAI, keys::OPENAI, &[("openai.generate", faults)]);
    assert_eq!(out.unwrap(), (1024, 1024));
    assert_eq!(mock.requests_to("openai.generate").len(), 4, "three refusals, then one success");
    assert!(started.elapsed() >= Duration::from_millis(150), "waited out retry-after-ms");

    let script = [
        ("bfl.create", vec![Fault::Status { status: 429, retry_after: Some(0), retry_after_ms: None }]),
        ("bfl.poll", vec![Fault::status(502), Fault::Malformed]),
        ("files", vec![Fault::Truncated]),
    ];
    let (out, mock) = run(&BFL, keys::OPENAI, &script);
    assert!(out.is_err(), "a malformed poll reply is not guessed at: {out:?}");
    assert_eq!(mock.requests_to("bfl.create").len(), 2);
    let (out, mock) =
        run(&BFL, keys::OPENAI, &[script[0].clone(), ("bfl.poll", vec![Fault::status(502)]), script[2].clone()]);
    assert_eq!(out.unwrap(), (512, 384), "429 on create, 502 on a poll and a cut download all recover");
    assert_eq!(mock.requests_to("files").len(), 2, "the truncated download was fetched again");
}

#[test]
fn permanent_faults_fail_once_with_a_clear_error() {
    let cases: [(&Ask, &str, &str, Vec<Fault>, &str); 4] = [
        (&OPENAI, "wrong-key", "openai.generate", vec![], "authentication failed"),
        (&OPENAI, keys::OPENAI, "openai.generate", vec![Fault::Moderated], "refused by content moderation"),
        (&OPENAI, keys::OPENAI, "openai.generate", vec![Fault::Malformed], "body is not JSON"),
        (&BFL, keys::OPENAI, "bfl.poll", vec![Fault::Moderated], "refused by content moderation"),
    ];
    for (ask, key, route, faults, expected) in cases {
        let (out, mock) = run(ask, key, &[(route, faults)]);
        let err = out.unwrap_err().to_string();
        assert!(err.contains(expected), "{route}: {err}");
        let creates = mock.requests().iter().filter(|r| r.method == "POST").count();
        assert_eq!(creates, 1, "{route}: not retried");
    }
    let (out, mock) = run(&OPENAI, keys::OPENAI, &[("openai.generate", vec![Fault::Moderated])]);
    assert!(out.unwrap_err().to_string().contains("(request req_"), "names the request id");
    drop(mock);
}

#[test]
fn an_ambiguous_create_is_never_sent_twice() {
    for (ask, route) in [(&OPENAI, "openai.generate"), (&BFL, "bfl.create")] {
        for fault in [Fault::Hang, Fault::status(502), Fault::status(504)] {
            let (out, mock) = run(ask, keys::OPENAI, &[(route, vec![fault.clone()])]);
            let err = out.unwrap_err().to_string();
            assert!(err.contains("outcome unknown") && err.contains("not re-sent"), "{route} {fault:?}: {err}");
            assert_eq!(mock.requests_to(route).len(), 1, "{route} {fault:?}: sent once");
        }
    }
}

#[test]
fn params_a_provider_cannot_honour_fail_before_any_request() {
    let cases = [
        (Ask { seed: 3, ..OPENAI }, "cannot honour seed"),
        (Ask { width: 1000, ..OPENAI }, "cannot honour width/height"),
        (Ask { width: 500, ..BFL }, "cannot honour width"),
        (Ask { quality: "high", ..BFL }, "cannot honour quality"),
    ];
    for (ask, expected) in cases {
        let (out, mock) = run(&ask, keys::OPENAI, &[]);
        let err = out.unwrap_err();
        assert!(matches!(err, NodeError::Invalid(_)) && err.to_string().contains(expected), "{err}");
        assert!(mock.requests().is_empty(), "nothing was sent");
    }
}

#[test]
fn a_task_that_never_finishes_times_out_and_cancel_stops_polling() {
    let (out, _mock) = run(&BFL, keys::OPENAI, &[("bfl.create", vec![Fault::NeverFinish])]);
    assert!(out.unwrap_err().to_string().contains("no result within"));
    let rt = crate::support::runtime();
    rt.block_on(async {
        let mock = MockServer::start(0).await.unwrap();
        mock.script("bfl.create", [Fault::NeverFinish]);
        let reg = registry(&mock, keys::OPENAI);
        let ctx = context(&BFL);
        let token = ctx.cancellation().clone();
        let started = Instant::now();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            token.cancel();
        });
        let out = reg.get("cloud.text_to_image").unwrap().run(ctx).await;
        assert!(matches!(out, Err(NodeError::Cancelled)), "{:?}", out.err());
        assert!(started.elapsed() < Duration::from_secs(2));
    });
}

#[test]
fn a_missing_key_fails_before_sending_and_says_where_to_set_it() {
    let rt = crate::support::runtime();
    rt.block_on(async {
        let mock = MockServer::start(0).await.unwrap();
        let mut cloud = CloudSettings::default();
        let client = fast_client();
        let settings = ProviderSettings {
            base_url: Some(mock.url()),
            api_key: None,
            api_key_env: Some("SWITCHYARD_TEST_NO_SUCH_KEY".into()),
            client,
        };
        cloud.providers.insert("openai".into(), settings);
        let mut reg = Registry::new();
        switchyard_nodes::register_with(&mut reg, switchyard_nodes::onnx::OnnxSettings::from_env(), &cloud).unwrap();
        let err = reg.get("cloud.text_to_image").unwrap().run(context(&OPENAI)).await.unwrap_err().to_string();
        assert!(err.contains("SWITCHYARD_TEST_NO_SUCH_KEY") && err.contains("[providers.openai]"), "{err}");
        assert!(mock.requests().is_empty());
    });
}

/// The key never appears in logs (at trace level), events, the summary or outputs, even when
/// the provider echoes it back in an error.
#[test]
fn the_api_key_is_redacted_from_logs_events_and_errors() {
    let secret = "sk-test-redaction-7f3a9c1e5b";
    let rt = crate::support::runtime();
    let mock = rt.block_on(MockServer::start(0)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("switchyard.toml");
    std::fs::write(&config, format!("[providers.openai]\nbase_url = \"{}\"\nmax_retries = 1\n", mock.url())).unwrap();
    let workflow = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/cloud-draft.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .current_dir(tmp.path())
        .env("OPENAI_API_KEY", secret)
        .env("SWITCHYARD_LOG", "trace")
        .args(["run", "--json", "--events-json", "--no-disk-cache", "--out", "out"])
        .arg(&workflow)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("authentication failed") && stdout.contains("[redacted]"), "{stdout}");
    assert!(!stdout.contains(secret) && !stderr.contains(secret), "the key leaked:\n{stdout}\n{stderr}");
    let [req] = mock.requests_to("openai.generate").try_into().unwrap();
    assert_eq!(req.header("authorization"), Some(format!("Bearer {secret}").as_str()), "it was sent where it belongs");
    assert!(!std::fs::read_to_string(&workflow).unwrap().contains(secret));
}

/// A result cached from one endpoint (the mock, a proxy) is never served for another.
#[test]
fn the_cache_key_includes_the_provider_endpoint() {
    let rt = crate::support::runtime();
    rt.block_on(async {
        let (a, b) = (MockServer::start(0).await.unwrap(), MockServer::start(0).await.unwrap());
        let node_a = registry(&a, keys::OPENAI);
        let node_b = registry(&b, keys::OPENAI);
        let params = params(&OPENAI);
        let roots = PathRoots::new(".", ".");
        let fp = |reg: &Registry| reg.get("cloud.text_to_image").unwrap().fingerprint(&params, &roots).unwrap();
        assert!(fp(&node_a).is_some());
        assert_ne!(fp(&node_a), fp(&node_b));
    });
}
