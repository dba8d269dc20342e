//! Cloud behaviour beyond the per-adapter matrix: params a provider cannot honour, a missing
//! key, key redaction end to end, and endpoint-scoped cache keys.

use switchyard_engine::{NodeError, ParamValue, PathRoots, Registry};
use switchyard_mock::MockServer;
use switchyard_nodes::cloud::{CloudSettings, ProviderSettings};

use super::cases::{self, Case};
use super::{fast_client, params, registry, run};

/// The provider's case with some params overridden.
fn with(provider: &str, overrides: &[(&'static str, ParamValue)]) -> Case {
    let mut base = case(provider);
    for (n, v) in overrides {
        base.params.retain(|(m, _)| m != n);
        base.params.push((n, v.clone()));
    }
    base
}

fn case(provider: &str) -> Case {
    cases::all().into_iter().find(|c| c.provider == provider).unwrap()
}

#[test]
fn params_a_provider_cannot_honour_fail_before_any_request() {
    let int = ParamValue::Int;
    let text = |s: &str| ParamValue::Text(s.into());
    let refusals = [
        (with("openai:gpt-image-1", &[("seed", int(3))]), "cannot honour seed"),
        (with("openai:gpt-image-1", &[("width", int(1000))]), "cannot honour width/height"),
        (with("bfl:flux-2-pro", &[("width", int(500))]), "cannot honour width"),
        (with("bfl:flux-2-pro", &[("quality", text("high"))]), "cannot honour quality"),
        (with("stability:core", &[("width", int(1000)), ("height", int(700))]), "10:7"),
        (with("stability:core", &[("steps", int(30))]), "cannot honour steps"),
        (with("runway:gen4_turbo", &[("duration_s", int(12))]), "2 to 10 seconds"),
        (with("runway:gen4_turbo", &[("negative_prompt", text("blur"))]), "negative_prompt"),
        (with("kling:kling-v1-6", &[("seed", int(1))]), "cannot honour seed"),
        (with("luma:photon-1", &[("seed", int(1))]), "cannot honour seed"),
        (with("recraft:recraftv3", &[("width", int(1000))]), "Recraft makes"),
        (with("ideogram:v3", &[("steps", int(20))]), "cannot honour steps"),
        (with("fal:fal-ai/flux/dev", &[("negative_prompt", text("x"))]), "negative_prompt"),
        (with("elevenlabs:eleven_multilingual_v2", &[("voice", text("no such/voice"))]), "not an ElevenLabs voice id"),
    ];
    for (case, expected) in refusals {
        let ran = run(&case, false, &[]);
        let err = ran.out.as_ref().unwrap_err();
        assert!(matches!(err, NodeError::Invalid(_)) && err.to_string().contains(expected), "{}: {err}", case.provider);
        assert!(ran.mock.requests().is_empty(), "{}: nothing was sent", case.provider);
    }
}

#[test]
fn a_provider_that_does_not_serve_a_capability_is_refused_at_validation() {
    let rt = crate::support::runtime();
    rt.block_on(async {
        let mock = MockServer::start(0).await.unwrap();
        let reg = registry(&mock, None);
        let node = reg.get("cloud.image_to_video").unwrap();
        let problem = node.check_param("provider", &ParamValue::Text("openai:gpt-image-1".into())).unwrap_err();
        assert!(problem.message.contains("openai does not serve image_to_video"), "{}", problem.message);
        assert!(problem.help.contains("runway") && problem.help.contains("kling"), "{}", problem.help);
    });
}

#[test]
fn a_missing_key_fails_before_sending_and_says_where_to_set_it() {
    let rt = crate::support::runtime();
    rt.block_on(async {
        let mock = MockServer::start(0).await.unwrap();
        let mut cloud = CloudSettings::default();
        let settings = ProviderSettings {
            base_url: Some(mock.base_url("openai")),
            api_key: None,
            api_key_env: Some("SWITCHYARD_TEST_NO_SUCH_KEY".into()),
            client: fast_client(),
        };
        cloud.providers.insert("openai".into(), settings);
        let mut reg = Registry::new();
        switchyard_nodes::register_with(&mut reg, switchyard_nodes::onnx::OnnxSettings::from_env(), &cloud).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ctx = super::context(&reg, &case("openai:gpt-image-1"), dir.path());
        let err = reg.get("cloud.text_to_image").unwrap().run(ctx).await.unwrap_err().to_string();
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
    let settings = format!("[providers.openai]\nbase_url = \"{}\"\nmax_retries = 1\n", mock.base_url("openai"));
    std::fs::write(&config, settings).unwrap();
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
        let (reg_a, reg_b) = (registry(&a, None), registry(&b, None));
        let case = case("openai:gpt-image-1");
        let params = params(&reg_a, &case);
        let roots = PathRoots::new(".", ".");
        let fp = |reg: &Registry| reg.get("cloud.text_to_image").unwrap().fingerprint(&params, &roots).unwrap();
        assert!(fp(&reg_a).is_some());
        assert_ne!(fp(&reg_a), fp(&reg_b));
    });
}

/// The cloud templates run end to end through the binary against the mock: every output file
/// is written and every executed cloud node leaves a metering record in the report.
#[test]
fn cloud_templates_run_end_to_end_with_metering_in_the_report() {
    let rt = crate::support::runtime();
    let mock = rt.block_on(MockServer::start(0)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut settings = String::new();
    for (name, _) in switchyard_mock::keys::ALL {
        settings += &format!("[providers.{name}]\nbase_url = \"{}\"\npoll_interval_ms = 5\n", mock.base_url(name));
    }
    std::fs::write(tmp.path().join("switchyard.toml"), settings).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases: [(&str, &[&str], usize); 3] =
        [("cloud-draft", &["png"], 1), ("cloud-shot", &["png", "mp4", "png"], 3), ("cloud-voiceover", &["wav"], 1)];
    for (template, extensions, metered) in cases {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"));
        for info in switchyard_nodes::cloud::PROVIDERS {
            let key = switchyard_mock::keys::ALL.iter().find(|(n, _)| *n == info.name).unwrap().1;
            cmd.env(info.key_env, key);
        }
        let out = cmd
            .current_dir(tmp.path())
            .args(["run", "--json", "--no-disk-cache", "--out", "out"])
            .arg(root.join(format!("workflows/{template}.json")))
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert_eq!(report["status"], "succeeded", "{template}: {}", String::from_utf8_lossy(&out.stdout));
        let nodes: Vec<serde_json::Value> =
            report["runs"].as_array().unwrap().iter().flat_map(|r| r["nodes"].as_array().cloned().unwrap()).collect();
        let files: Vec<String> = nodes
            .iter()
            .flat_map(|n| n["files"].as_array().cloned().unwrap_or_default())
            .map(|f| f.as_str().unwrap().to_string())
            .collect();
        let mut got: Vec<&str> = files.iter().map(|f| f.rsplit('.').next().unwrap()).collect();
        let mut want = extensions.to_vec();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{template}: {files:?}");
        assert!(files.iter().all(|f| std::fs::metadata(tmp.path().join(f)).or_else(|_| std::fs::metadata(f)).is_ok()));
        let metering = nodes.iter().filter(|n| n["metering"].is_object()).count();
        assert_eq!(metering, metered, "{template}: one metering record per cloud node");
    }
}

/// The shipped catalog and the adapters agree: every catalog model is on a provider with an
/// adapter that serves each capability the catalog lists, and the capability names match.
#[test]
fn the_catalog_prices_only_what_the_adapters_serve() {
    use switchyard_nodes::cloud::ask::Capability;
    let names: Vec<&str> = Capability::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(names, switchyard_catalog::CAPABILITIES);
    let catalog = switchyard_catalog::Catalog::builtin();
    for model in &catalog.models {
        let provider = model.id.split(':').next().unwrap();
        let info = switchyard_nodes::cloud::PROVIDERS.iter().find(|p| p.name == provider);
        let info = info.unwrap_or_else(|| panic!("{}: no adapter", model.id));
        for serve in &model.serves {
            assert!(info.serves.iter().any(|c| c.name() == serve), "{}: the adapter does not serve {serve}", model.id);
        }
    }
}

/// The catalog's `takes_no` lists and the adapters agree: every param a catalog model takes
/// no value for is refused by its adapter before any request (so placement, which skips
/// such models, and the adapter, which refuses them, can never disagree).
#[test]
fn the_catalogs_takes_no_lists_match_what_the_adapters_refuse() {
    let catalog = switchyard_catalog::Catalog::builtin();
    let spec_of = |node: &str| switchyard_nodes::builtin_registry().get(node).map(|n| n.spec().clone());
    let mut checked = 0;
    for model in &catalog.models {
        let provider = model.id.split(':').next().unwrap();
        for serve in &model.serves {
            let node = format!("cloud.{serve}");
            let Some(spec) = spec_of(&node) else { continue };
            for param in &model.takes_no {
                let Some(value) = a_set_value(param) else { continue };
                if !spec.params.iter().any(|p| p.name == param.as_str()) {
                    continue;
                }
                let Some(mut case) =
                    cases::all().into_iter().find(|c| c.node == node && c.provider.starts_with(provider))
                else {
                    continue;
                };
                case.provider = Box::leak(model.id.clone().into_boxed_str());
                let name: &'static str = Box::leak(param.clone().into_boxed_str());
                case.params.retain(|(n, _)| *n != name);
                case.params.push((name, value));
                let ran = run(&case, false, &[]);
                let err = ran.out.as_ref().err();
                let refused = matches!(err, Some(NodeError::Invalid(m)) if m.contains(name));
                assert!(refused, "{} takes no {param}, but its adapter said {err:?}", model.id);
                assert!(ran.mock.requests().is_empty(), "{}: nothing was sent", model.id);
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} takes_no entries were checked");
}

/// A value other than the default for a portable param.
fn a_set_value(param: &str) -> Option<ParamValue> {
    Some(match param {
        "seed" => ParamValue::Int(7),
        "steps" => ParamValue::Int(20),
        "quality" => ParamValue::Text("high".into()),
        "strength" => ParamValue::Float(0.5),
        "negative_prompt" => ParamValue::Text("blur".into()),
        "prompt" => ParamValue::Text("a fox".into()),
        _ => return None,
    })
}
