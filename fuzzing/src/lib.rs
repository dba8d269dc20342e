//! The bodies of the fuzz targets, one per kind of untrusted input. Each takes arbitrary
//! bytes and must return without panicking, whatever they hold; errors are fine. `fuzz/`
//! runs them under libFuzzer (`cargo +nightly fuzz run NAME`); the test suite runs them over
//! the seeds in `seeds/` and random mutations of them, so a regression shows up in CI too.
#![deny(missing_docs)]

use std::path::Path;
use std::sync::OnceLock;

use switchyard_engine::{CompileOptions, Registry, load_workflow};
use switchyard_nodes::cloud::call::error_message;
use switchyard_nodes::cloud::client::parse_retry_after;
use switchyard_nodes::cloud::guard::Reach;
use switchyard_nodes::cloud::output::{decode_audio, decode_image};
use switchyard_nodes::cloud::secret::ApiKey;

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// The fuzz targets by name, for the smoke run.
pub const TARGETS: [(&str, Target); 10] = [
    ("provider_reply", provider_reply),
    ("workflow", workflow),
    ("manifest", manifest),
    ("catalog", catalog),
    ("server_request", server_request),
    ("comfy_import", comfy_import),
    ("comfy_prompt", comfy_prompt),
    ("library_push", library_push),
    ("stripe_webhook", stripe_webhook),
    ("usage_export", usage_export),
];

/// Splits the input at the first `\n--\n` (or not at all): a header part and a body part.
fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.windows(4).position(|w| w == b"\n--\n") {
        Some(at) => (&data[..at], &data[at + 4..]),
        None => (&[], data),
    }
}

/// What a provider sends back: wait hints, a result URL, an error body, an echoed key,
/// and result bytes under a media type. The first part holds header lines (`name: value`),
/// the second the body.
pub fn provider_reply(data: &[u8]) {
    let (head, body) = split(data);
    let head = String::from_utf8_lossy(head);
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.split_once(':').filter(|(n, _)| n.trim().eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()))
    };
    let _ = parse_retry_after(header("retry-after-ms"), header("retry-after"));
    let media_type = header("content-type").unwrap_or("audio/L16;rate=24000;channels=1");
    let _ = decode_audio(body, media_type);
    if body.len() <= 1 << 20 {
        let _ = decode_image(body);
    }
    let text = String::from_utf8_lossy(body);
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body) {
        let _ = error_message(&doc);
    }
    if let Some(location) = header("location")
        && let Ok(url) = reqwest::Url::parse(location)
    {
        let _ = Reach::for_base(header("x-base").unwrap_or("http://127.0.0.1:9/v1")).refuse(&url);
    }
    let key = ApiKey::new(header("x-key").unwrap_or("sk-Fuzz/Key+1 2=3"));
    let _ = key.redact(&text);
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(switchyard_nodes::builtin_registry)
}

/// A workflow file, parsed and validated against the built-in nodes (with inputs confined,
/// so the path checks run too).
pub fn workflow(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let inputs = Some((std::env::temp_dir(), switchyard_engine::InputRoots { confine: true, roots: Vec::new() }));
    let opts = CompileOptions { max_nodes: 2_000, inputs };
    let full = load_workflow(text, registry(), &[], &opts);
    // The streamed read takes only what the full read accepts.
    let streamed = switchyard_engine::compile_streamed(text, registry(), &[], &opts);
    assert!(streamed.is_none() || full.is_ok(), "the streamed read took a file the full read refuses");
}

/// A ComfyUI workflow file, in the API or the UI format, imported, then validated as the
/// Switchyard workflow it becomes.
pub fn comfy_import(data: &[u8]) {
    static MAPPING: OnceLock<Option<switchyard_comfy::Mapping>> = OnceLock::new();
    let Some(mapping) = MAPPING.get_or_init(|| switchyard_comfy::Mapping::builtin().ok()) else { return };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let prompt = if switchyard_comfy::is_ui(&value) {
        match switchyard_comfy::flatten(value, mapping) {
            Ok(flat) => flat.prompt,
            Err(_) => return,
        }
    } else {
        match switchyard_comfy::api_of(value) {
            Ok(prompt) => prompt,
            Err(_) => return,
        }
    };
    if let Ok(imported) = switchyard_comfy::import_api(&prompt, mapping, registry(), "fuzz")
        && let Ok(text) = serde_json::to_string(&imported.workflow)
    {
        workflow(text.as_bytes());
    }
}

/// A ComfyUI client's request: the first part holds header lines (the cookie a browser
/// signs in with), the second a `POST /prompt` body, checked, then translated and validated
/// as the server does. Its `filename`/`subfolder` strings are tried as `/view` names too.
pub fn comfy_prompt(data: &[u8]) {
    use switchyard_server::untrusted::{check_prompt, cookie, safe_path};
    static MAPPING: OnceLock<Option<switchyard_comfy::Mapping>> = OnceLock::new();
    let (head, body) = split(data);
    let mut headers = reqwest::header::HeaderMap::new();
    for line in String::from_utf8_lossy(head).lines() {
        if let Ok(value) = reqwest::header::HeaderValue::from_str(line.trim()) {
            headers.append(reqwest::header::COOKIE, value);
        }
    }
    let _ = cookie(&headers, "switchyard_key");
    let text = String::from_utf8_lossy(body);
    let (sub, name) = text.split_once('\n').unwrap_or(("", &text));
    let _ = safe_path(sub, name);
    let Ok(checked) = check_prompt(body) else { return };
    let Some(mapping) = MAPPING.get_or_init(|| switchyard_comfy::Mapping::builtin().ok()) else { return };
    if let Ok(imported) = switchyard_comfy::import_api(&checked.prompt, mapping, registry(), "prompt")
        && let Ok(text) = serde_json::to_string(&imported.workflow)
    {
        workflow(text.as_bytes());
    }
}

/// A library push and the merge it may cause: the first part is a push body (checked as
/// the server checks one), the parts after `\n--\n` are up to three workflows (base, ours,
/// theirs) merged both ways and diffed. Merging a change with no change must give the
/// change.
pub fn library_push(data: &[u8]) {
    use switchyard_library::{diff, merge, revision_hash};
    use switchyard_server::untrusted::check_push;
    let (body, rest) = split(data);
    let _ = check_push(body);
    let files: Vec<switchyard_engine::format::WorkflowFile> =
        rest.split(|b| *b == 0).take(3).filter_map(|part| serde_json::from_slice(part).ok()).collect();
    let [base, ours, theirs] = match files.as_slice() {
        [a, b, c] => [a, b, c],
        [a, b] => [a, b, a],
        [a] => [a, a, a],
        _ => return,
    };
    let none = Default::default();
    let m = merge(base, ours, theirs, &none);
    let _ = merge(base, theirs, ours, &none);
    let _ = diff(base, &m.file);
    let alone = merge(base, ours, base, &none);
    assert!(
        alone.is_clean() && revision_hash(&alone.file) == revision_hash(ours),
        "a change merged with no change is the change"
    );
}

/// A Stripe webhook delivery: the `Stripe-Signature` header, then after `\n--\n` the raw
/// body. Neither the signature check nor the event reader panics, and the body signed with
/// the endpoint's secret always verifies.
pub fn stripe_webhook(data: &[u8]) {
    use switchyard_ops::stripe::{read_event, sign, verify};
    const NOW_S: i64 = 1_796_000_000;
    let (header, body) = split(data);
    let secrets = ["whsec_fuzz".to_string()];
    let _ = verify(std::str::from_utf8(header).ok(), body, &secrets, NOW_S, 300);
    let _ = read_event(body);
    let good = sign(&secrets[0], NOW_S, body);
    assert_eq!(verify(Some(&good), body, &secrets, NOW_S, 300), Ok(NOW_S), "a signed body verifies");
}

/// A provider's usage export, read in every format (rows sorted through the external sort
/// with a small chunk, so spilling and merging are exercised): no format panics, and every
/// row read comes back out of the sort.
pub fn usage_export(data: &[u8]) {
    use switchyard_ops::reconcile::formats::{Format, Rates, read};
    use switchyard_ops::reconcile::sorted::Sorter;
    for format in [Format::OpenAi, Format::Replicate, Format::ElevenLabs, Format::BflCredits, Format::Csv] {
        let mut sorter = Sorter::new(3);
        let mut rows = 0usize;
        let read_ok = read(format, data, Rates::default(), &mut |row| {
            rows += 1;
            Ok(sorter.push(row)?)
        });
        if read_ok.is_ok() {
            let back = sorter.finish().map(|s| s.filter(Result::is_ok).count()).unwrap_or(rows);
            assert_eq!(back, rows, "the sort keeps every row");
        }
    }
}

/// A local model's TOML manifest.
pub fn manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = switchyard_nodes::onnx::manifest::parse(Path::new("/fuzz/model.toml"), text);
}

/// The provider catalog (TOML) and its carbon-intensity table (CSV), split at `\n--\n`.
pub fn catalog(data: &[u8]) {
    let (csv, toml) = split(data);
    let (Ok(csv), Ok(toml)) = (std::str::from_utf8(csv), std::str::from_utf8(toml)) else { return };
    let _ = switchyard_catalog::Catalog::parse(toml, csv);
}

/// What a client sends the server: header lines (`name: value`) and a body. The
/// authorization, range and idempotency headers go through the server's own parsers, and
/// the body through the parses and checks of a run's and a farm run's submission and of
/// each call of the farm's worker protocol.
pub fn server_request(data: &[u8]) {
    use switchyard_server::untrusted::{
        bearer, byte_range, check_farm_submit, check_submit, check_work_body, split_token,
    };
    let (head, body) = split(data);
    let mut headers = reqwest::header::HeaderMap::new();
    for line in String::from_utf8_lossy(head).lines() {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()),
            reqwest::header::HeaderValue::from_str(value.trim()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    if let Some(token) = bearer(&headers) {
        let _ = split_token(token);
    }
    if let Some(range) = headers.get("range").and_then(|v| v.to_str().ok()) {
        for size in [0, 1, 1000, u64::MAX] {
            let _ = byte_range(Some(range), size);
        }
    }
    let _ = check_submit(body);
    let _ = check_farm_submit(body);
    for call in ["register", "claim", "heartbeat", "renew", "lost", "complete", "task", "preview", "spend"] {
        let _ = check_work_body(call, body);
    }
}
