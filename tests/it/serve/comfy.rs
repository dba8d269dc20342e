//! ComfyUI's API on `switchyard serve`, with a real HTTP client: Switchyard's node types in
//! the shape of ComfyUI's `/object_info`, at ComfyUI's paths and under `/api/`.

use serde_json::{Value, json};

use super::support::{Client, create_key, serve, serve_logged, serve_with};

#[test]
fn object_info_describes_switchyards_nodes_as_comfyui_does() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "acme", "viewer");
    let server = serve(dir.path());
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let (status, all) = c.get("/object_info", &key).await;
        assert_eq!(status, 200, "{all}");
        let blur = &all["image.blur"];
        assert_eq!(blur["input"]["required"]["image"][0], "IMAGE");
        assert_eq!(blur["input"]["required"]["sigma"][0], "FLOAT");
        assert_eq!(
            (
                blur["input"]["required"]["sigma"][1]["min"].as_f64(),
                blur["input"]["required"]["sigma"][1]["max"].as_f64()
            ),
            (Some(0.0), Some(250.0))
        );
        assert_eq!(blur["input_order"]["required"], json!(["image", "sigma"]));
        assert_eq!(
            (&blur["output"], &blur["output_name"], &blur["output_is_list"]),
            (&json!(["IMAGE"]), &json!(["image"]), &json!([false]))
        );
        assert_eq!(
            (blur["display_name"].as_str(), blur["category"].as_str()),
            (Some("Image Blur"), Some("switchyard/image/filter"))
        );
        assert_eq!(all["image.save"]["output_node"], true);
        assert_eq!(all["image.resize"]["input"]["required"]["filter"][0][0], "nearest", "a choice is a list");
        assert_eq!(all["cloud.text_to_image"]["input"]["required"]["prompt"][1]["multiline"], true);
        assert_eq!(all["image.composite"]["input"]["required"]["mask"][0], "MASK");
        // Prices in ComfyUI's terms: a paid node is an API node with a badge its frontend
        // evaluates (USD, which it shows in its own credits), looked up by the provider.
        let t2i = &all["cloud.text_to_image"];
        assert_eq!(t2i["api_node"], true);
        assert_eq!(t2i["price_badge"]["depends_on"]["widgets"][0]["name"], "provider");
        let expr = t2i["price_badge"]["expr"].as_str().unwrap();
        // (The price itself moves with the catalog's surge and off-peak windows.)
        assert!(expr.contains("\"openai:gpt-image-1\":["), "{expr}");
        assert!(all["image.blur"].get("api_node").is_none() && all["image.blur"].get("price_badge").is_none());

        let (status, one) = c.get("/api/object_info/image.blur", &key).await;
        assert_eq!(status, 200);
        assert_eq!(one, json!({ "image.blur": blur.clone() }), "under /api/ too, one class");
        assert_eq!(c.get("/api/object_info/KSampler", &key).await.1, json!({}), "a class this server lacks: {{}}");
        let (status, _) = c.send(reqwest::Method::GET, "/object_info", None, None).await;
        assert_eq!(status, 401, "a key is needed here as everywhere");
    });
}

/// A ComfyUI socket at `/ws?clientId=` (the key as the `token` query parameter, as a client
/// that cannot send headers does).
async fn comfy_socket(
    url: &str,
    client_id: &str,
    key: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let ws = format!("{}/ws?clientId={client_id}&token={key}", url.replacen("http", "ws", 1));
    tokio_tungstenite::connect_async(ws).await.expect("the socket opens").0
}

/// ComfyUI's messages on a socket until `executing` with `node: null` for `prompt_id`; binary
/// frames are counted as `{"type": "binary", "event": N}`.
async fn messages_until_done(
    socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    prompt_id: &str,
) -> Vec<Value> {
    use futures::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message;
    let mut seen = Vec::new();
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(60), socket.next()).await;
        let msg = next.expect("a message within a minute").expect("the socket stays open").expect("a frame");
        let value = match msg {
            Message::Text(text) => serde_json::from_str::<Value>(&text).unwrap(),
            Message::Binary(bytes) => {
                json!({ "type": "binary", "event": u32::from_be_bytes(bytes[..4].try_into().unwrap()) })
            }
            _ => continue,
        };
        let done =
            value["type"] == "executing" && value["data"]["node"].is_null() && value["data"]["prompt_id"] == prompt_id;
        seen.push(value);
        if done {
            return seen;
        }
    }
}

/// A PNG of `w`×`h` pixels of one colour.
fn png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().unwrap();
    writer.write_image_data(&vec![200u8; (w * h * 4) as usize]).unwrap();
    writer.finish().unwrap();
    out
}

async fn upload(c: &Client, key: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()).mime_str("image/png").unwrap();
    let form = reqwest::multipart::Form::new().part("image", part).text("overwrite", "false");
    let resp = c.http.post(format!("{}/upload/image", c.url)).bearer_auth(key).multipart(form).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

/// ComfyUI's own script flow (its `websockets_api_example.py`): upload an input, post a
/// prompt with a client id, wait on the socket for `executing` with `node: null`, read the
/// history and fetch each image with `/view`. Another tenant's key finds none of it.
#[test]
fn a_comfyui_client_uploads_posts_a_prompt_watches_it_and_fetches_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let (acme, rival) = (create_key(dir.path(), "acme", "runner"), create_key(dir.path(), "rival", "runner"));
    let server = serve(dir.path());
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let (status, uploaded) = upload(&c, &acme, "plate.png", png(64, 48)).await;
        assert_eq!(status, 200, "{uploaded}");
        assert_eq!(uploaded, json!({ "name": "plate.png", "subfolder": "", "type": "input" }));
        let (_, renamed) = upload(&c, &acme, "plate.png", png(8, 8)).await;
        assert_eq!(renamed["name"], "plate (1).png", "another file of that name is kept, not overwritten");
        let mut socket = comfy_socket(&server.url, "client-1", &acme).await;
        let mut theirs = comfy_socket(&server.url, "client-1", &rival).await;
        // A second socket of the same client, which asks for previews with metadata.
        let mut meta = comfy_socket(&server.url, "client-1", &acme).await;
        let flags = json!({ "type": "feature_flags", "data": { "supports_preview_metadata": true } });
        futures::SinkExt::send(&mut meta, tokio_tungstenite::tungstenite::Message::Text(flags.to_string().into()))
            .await
            .unwrap();
        let prompt = json!({
            "1": { "class_type": "LoadImage", "inputs": { "image": "plate.png" } },
            "2": { "class_type": "ImageBlur", "inputs": { "image": ["1", 0], "blur_radius": 3, "sigma": 1.5 } },
            "3": { "class_type": "ImageInvert", "inputs": { "image": ["2", 0] } },
            "4": { "class_type": "SaveImage", "inputs": { "images": ["3", 0], "filename_prefix": "plate" } },
        });
        let body =
            json!({ "prompt": prompt, "client_id": "client-1", "extra_data": { "api_key_comfy_org": "secret-1" } });
        let (status, posted) = c.post("/prompt", &acme, &body).await;
        assert_eq!(status, 200, "{posted}");
        assert_eq!((posted["number"].as_i64(), &posted["node_errors"]), (Some(1), &json!({})));
        let id = posted["prompt_id"].as_str().unwrap().to_string();
        let seen = messages_until_done(&mut socket, &id).await;
        let types: Vec<&str> = seen.iter().map(|m| m["type"].as_str().unwrap()).collect();
        assert_eq!(types[..2], ["status", "feature_flags"], "{types:?}");
        let at = |t: &str| types.iter().position(|x| *x == t).unwrap_or_else(|| panic!("{t} in {types:?}"));
        assert!(at("execution_start") < at("executing") && at("executing") < at("executed"), "{types:?}");
        assert!(at("executed") < at("execution_success"), "{types:?}");
        let executing: Vec<&Value> =
            seen.iter().filter(|m| m["type"] == "executing").map(|m| &m["data"]["node"]).collect();
        for node in ["1", "2", "3", "4"] {
            assert!(executing.contains(&&json!(node)), "node {node} in {executing:?}");
        }
        let previews = seen.iter().filter(|m| m["type"] == "binary").collect::<Vec<_>>();
        assert!(!previews.is_empty() && previews.iter().all(|m| m["event"] == 1), "PNG previews, type 1: {types:?}");
        let with_meta = messages_until_done(&mut meta, &id).await;
        let binary: Vec<&Value> = with_meta.iter().filter(|m| m["type"] == "binary").collect();
        assert!(!binary.is_empty() && binary.iter().all(|m| m["event"] == 4), "previews with metadata, type 4");
        let executed = seen.iter().find(|m| m["type"] == "executed").unwrap();
        assert_eq!(executed["data"]["node"], "4");
        let image = &executed["data"]["output"]["images"][0];
        assert_eq!((image["filename"].as_str(), image["type"].as_str()), (Some("plate_0001.png"), Some("output")));

        let (_, history) = c.get(&format!("/history/{id}"), &acme).await;
        let entry = &history[&id];
        assert_eq!(entry["status"]["status_str"], "success", "{entry}");
        assert_eq!(entry["status"]["completed"], true);
        assert_eq!(entry["outputs"]["4"]["images"][0], *image);
        assert_eq!(entry["prompt"][1], *id.as_str());
        assert_eq!(entry["prompt"][4], json!(["4"]), "outputs_to_execute");
        assert!(!entry.to_string().contains("secret-1"), "a client's credentials are never kept: {entry}");
        let (_, all) = c.get("/api/history?max_items=10", &acme).await;
        assert_eq!(all.as_object().unwrap().len(), 1);

        let view = format!(
            "{}/view?filename={}&subfolder={}&type=output",
            c.url,
            image["filename"].as_str().unwrap(),
            image["subfolder"].as_str().unwrap()
        );
        let got = c.http.get(&view).bearer_auth(&acme).send().await.unwrap();
        assert_eq!(got.status().as_u16(), 200);
        assert_eq!(got.headers()["content-type"], "image/png");
        let bytes = got.bytes().await.unwrap();
        let decoded = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        assert_eq!((decoded.info().width, decoded.info().height), (64, 48));
        let input = format!("{}/view?filename=plate.png&type=input", c.url);
        assert_eq!(c.http.get(&input).bearer_auth(&acme).send().await.unwrap().status().as_u16(), 200);

        // Another tenant: nothing of acme's, by any path, its socket (with the same client
        // id) included.
        let mut heard = Vec::new();
        while let Ok(Some(Ok(msg))) =
            tokio::time::timeout(std::time::Duration::from_millis(300), futures::StreamExt::next(&mut theirs)).await
        {
            heard.push(msg.to_string());
        }
        assert!(heard.iter().all(|m| !m.contains(&id) && !m.contains("executed")), "{heard:?}");
        assert_eq!(c.post("/interrupt", &rival, &json!({ "prompt_id": id })).await.0, 200, "a no-op for the rival");
        assert_eq!(c.http.get(&view).bearer_auth(&rival).send().await.unwrap().status().as_u16(), 404);
        assert_eq!(c.http.get(&input).bearer_auth(&rival).send().await.unwrap().status().as_u16(), 404);
        assert_eq!(c.get(&format!("/history/{id}"), &rival).await.1, json!({}));
        assert_eq!(c.get("/history", &rival).await.1, json!({}));
        assert_eq!(c.get(&format!("/api/jobs/{id}"), &rival).await.0, 404);
        assert_eq!(c.post(&format!("/api/jobs/{id}/cancel"), &rival, &json!({})).await.0, 404);
        let (_, jobs) = c.get("/api/jobs?status=completed", &acme).await;
        assert_eq!(jobs["jobs"][0]["id"], *id.as_str());
        assert_eq!(jobs["jobs"][0]["preview_output"]["filename"], "plate_0001.png");
        assert_eq!(c.get("/api/jobs", &rival).await.1["pagination"]["total"], 0);
        let (status, _) = c.send(reqwest::Method::GET, "/history", None, None).await;
        assert_eq!(status, 401, "a key is needed");
    });
}

/// A prompt that does not validate gets ComfyUI's 400 with per-node errors; a node with no
/// equivalent is named with its id and type; neither queues a run.
#[test]
fn a_prompt_that_fails_validation_gets_comfyuis_node_errors_and_queues_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let acme = create_key(dir.path(), "acme", "runner");
    let server = serve(dir.path());
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let bad_sigma = json!({ "prompt": {
            "5": { "class_type": "EmptyImage", "inputs": { "width": 64, "height": 64, "batch_size": 1, "color": 0 } },
            "6": { "class_type": "image.blur", "inputs": { "image": ["5", 0], "sigma": -4.0 } },
            "7": { "class_type": "SaveImage", "inputs": { "images": ["6", 0], "filename_prefix": "x" } },
        }});
        let (status, reply) = c.post("/prompt", &acme, &bad_sigma).await;
        assert_eq!(status, 400, "{reply}");
        assert_eq!(reply["error"]["type"], "prompt_outputs_failed_validation", "{reply}");
        let node = &reply["node_errors"]["6"];
        assert_eq!(node["class_type"], "image.blur", "{reply}");
        assert_eq!(node["errors"][0]["extra_info"]["input_name"], "sigma", "{reply}");
        assert!(node["errors"][0]["message"].as_str().unwrap().contains("out of range"), "{reply}");

        let unmapped = json!({ "prompt": {
            "3": { "class_type": "KSampler", "inputs": {} },
            "9": { "class_type": "SaveImage", "inputs": { "images": ["3", 0] } },
        }});
        let (status, reply) = c.post("/api/prompt", &acme, &unmapped).await;
        assert_eq!((status, reply["error"]["type"].as_str()), (400, Some("missing_node_type")), "{reply}");
        assert_eq!(reply["node_errors"]["3"]["class_type"], "KSampler");
        let no_outputs = json!({ "prompt": { "5": { "class_type": "EmptyImage", "inputs": {} } } });
        let (status, reply) = c.post("/prompt", &acme, &no_outputs).await;
        assert_eq!((status, reply["error"]["type"].as_str()), (400, Some("prompt_no_outputs")), "{reply}");
        let (_, runs) = c.get("/v1/runs", &acme).await;
        assert_eq!(runs["runs"], json!([]), "nothing was queued");
        assert_eq!(c.get("/prompt", &acme).await.1["exec_info"]["queue_remaining"], 0);
    });
}

/// `/queue` shows waiting prompts, `POST /queue {delete}` cancels them, `front` puts one
/// first, and a replayed `prompt_id` returns the first prompt.
#[test]
fn the_comfyui_queue_lists_deletes_and_replays_prompts() {
    let dir = tempfile::tempdir().unwrap();
    let (acme, rival) = (create_key(dir.path(), "acme", "admin"), create_key(dir.path(), "rival", "admin"));
    let server = serve(dir.path());
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        assert_eq!(c.post("/v1/queue/pause", &acme, &json!({})).await.0, 200);
        let prompt = json!({
            "1": { "class_type": "EmptyImage", "inputs": { "width": 32, "height": 32, "batch_size": 1, "color": 255 } },
            "2": { "class_type": "SaveImage", "inputs": { "images": ["1", 0], "filename_prefix": "q" } },
        });
        let mut ids = Vec::new();
        for n in 0..3 {
            let body = json!({ "prompt": prompt, "prompt_id": format!("p-{n}"), "front": n == 2 });
            let (status, reply) = c.post("/prompt", &acme, &body).await;
            assert_eq!(status, 200, "{reply}");
            ids.push(reply["prompt_id"].as_str().unwrap().to_string());
        }
        assert_eq!(ids, ["p-0", "p-1", "p-2"], "the client's own ids");
        let (_, again) = c.post("/prompt", &acme, &json!({ "prompt": prompt, "prompt_id": "p-0" })).await;
        assert_eq!((again["prompt_id"].as_str(), again["number"].as_i64()), (Some("p-0"), Some(1)), "a replay");
        let (_, queue) = c.get("/queue", &acme).await;
        let pending: Vec<&str> =
            queue["queue_pending"].as_array().unwrap().iter().map(|e| e[1].as_str().unwrap()).collect();
        assert_eq!(pending.len(), 3, "{queue}");
        assert_eq!(c.get("/queue", &rival).await.1["queue_pending"], json!([]));
        assert_eq!(c.post("/queue", &rival, &json!({ "delete": ["p-1"] })).await.0, 200);
        assert_eq!(
            c.get("/queue", &acme).await.1["queue_pending"].as_array().unwrap().len(),
            3,
            "the rival deletes nothing"
        );
        assert_eq!(c.post("/queue", &acme, &json!({ "delete": ["p-1"] })).await.0, 200);
        assert_eq!(c.get("/v1/runs?state=cancelled", &acme).await.1["runs"].as_array().unwrap().len(), 1);
        assert_eq!(c.post("/v1/queue/resume", &acme, &json!({})).await.0, 200);
        for id in ["p-0", "p-2"] {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while c.get(&format!("/history/{id}"), &acme).await.1.get(id).is_none() {
                assert!(std::time::Instant::now() < deadline, "{id} ends");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        let (_, history) = c.get("/history", &acme).await;
        let cancelled = &history["p-1"]["status"];
        assert_eq!(cancelled["status_str"], "error", "{history}");
        assert_eq!(cancelled["messages"][1][0], "execution_interrupted");
        let started = |id: &str| history[id]["status"]["messages"][0][1]["timestamp"].as_i64().unwrap();
        assert!(started("p-2") <= started("p-0"), "`front` ran first: {history}");
        assert_eq!(c.post("/history", &acme, &json!({ "clear": true })).await.0, 200);
        assert_eq!(c.get("/history", &acme).await.1, json!({}));
    });
}

/// The frontend's saved workflows: `/userdata` keeps them per tenant, refuses to overwrite
/// with `overwrite=false` (409), lists, moves and deletes them; settings persist.
#[test]
fn userdata_keeps_each_tenants_workflows() {
    let dir = tempfile::tempdir().unwrap();
    let (acme, rival) = (create_key(dir.path(), "acme", "runner"), create_key(dir.path(), "rival", "runner"));
    let server = serve(dir.path());
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let file = "/api/userdata/workflows%2Fshot.json";
        let workflow = json!({ "version": 0.4, "nodes": [], "links": [] });
        assert_eq!(c.post(&format!("{file}?overwrite=false&full_info=true"), &acme, &workflow).await.0, 200);
        let (status, reply) = c.post(&format!("{file}?overwrite=false"), &acme, &workflow).await;
        assert_eq!(status, 409, "{reply}");
        assert_eq!(c.post(&format!("{file}?overwrite=true"), &acme, &workflow).await.0, 200);
        assert_eq!(c.get(file, &acme).await.1, workflow);
        let (_, list) = c.get("/api/userdata?dir=workflows&recurse=true&split=false&full_info=true", &acme).await;
        assert_eq!(list[0]["path"], "shot.json", "{list}");
        let (_, v2) = c.get("/api/v2/userdata?path=workflows", &acme).await;
        assert_eq!((v2[0]["name"].as_str(), v2[0]["type"].as_str()), (Some("shot.json"), Some("file")), "{v2}");
        assert_eq!(c.get(file, &rival).await.0, 404, "another tenant's file is not found");
        assert_eq!(c.get("/api/userdata?dir=workflows", &rival).await.0, 404);
        let moved = "/api/userdata/workflows%2Fshot.json/move/workflows%2Fplate.json";
        assert_eq!(c.post(moved, &rival, &json!(null)).await.0, 404);
        assert_eq!(c.post(moved, &acme, &json!(null)).await.0, 200);
        let (_, list) = c.get("/api/userdata?dir=workflows", &acme).await;
        assert_eq!(list, json!(["plate.json"]));
        let gone = c.send(reqwest::Method::DELETE, "/api/userdata/workflows%2Fplate.json", Some(&rival), None).await;
        assert_eq!(gone.0, 404);
        let gone = c.send(reqwest::Method::DELETE, "/api/userdata/workflows%2Fplate.json", Some(&acme), None).await;
        assert_eq!(gone.0, 204);
        assert_eq!(c.get("/api/userdata/..%2F..%2Fserver.db", &acme).await.0, 400, "only plain names");
        assert_eq!(c.post("/api/settings/Comfy.ColorPalette", &acme, &json!("light")).await.0, 200);
        assert_eq!(c.get("/api/settings", &acme).await.1, json!({ "Comfy.ColorPalette": "light" }));
        assert_eq!(c.get("/api/settings", &rival).await.1, json!({}));
    });
}

/// A prompt with a partner node is quoted, placed and billed like any other run: the key's
/// tenant's only account pays; with two accounts the prompt must name one.
#[test]
fn a_cloud_prompt_is_billed_to_the_tenants_account() {
    let farm = crate::spend::Farm::new();
    let data = farm.dir.path().join("srv");
    let admin = create_key(&data, "acme", "admin");
    let server = serve_with(farm.cmd(), &data, &[]);
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let (status, made) = c.post("/v1/keys", &admin, &json!({ "role": "billing" })).await;
        assert_eq!(status, 201, "{made}");
        let billing = made["token"].as_str().unwrap().to_string();
        assert_eq!(c.post("/v1/accounts/studio/grants", &billing, &json!({ "plan": "pro" })).await.0, 201);
        let prompt = json!({
            "1": { "class_type": "OpenAIGPTImage1", "inputs": {
                "prompt": "a lighthouse at dusk", "seed": 7, "quality": "low", "background": "auto",
                "size": "1024x1024", "n": 1, "model": "gpt-image-1" } },
            "2": { "class_type": "SaveImage", "inputs": { "images": ["1", 0], "filename_prefix": "shot" } },
        });
        let (status, posted) = c.post("/prompt", &admin, &json!({ "prompt": prompt })).await;
        assert_eq!(status, 200, "{posted}");
        let id = posted["prompt_id"].as_str().unwrap().to_string();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let entry = loop {
            if let Some(entry) = c.get(&format!("/history/{id}"), &admin).await.1.get(&id) {
                break entry.clone();
            }
            assert!(std::time::Instant::now() < deadline, "the prompt ends");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(entry["status"]["status_str"], "success", "{entry}");
        let (_, run) = c.get(&format!("/v1/runs/{id}"), &admin).await;
        assert_eq!(run["account"], "studio", "{run}");
        let charged = run["summary"]["credits"]["charged"].as_i64().unwrap();
        assert!(charged > 0, "{run}");
        let (_, wallet) = c.get("/v1/credits/studio", &admin).await;
        assert_eq!(wallet["available"].as_i64(), Some(20_000 - charged), "{wallet}");

        assert_eq!(c.post("/v1/accounts/other/grants", &billing, &json!({ "plan": "pro" })).await.0, 201);
        let (status, reply) = c.post("/prompt", &admin, &json!({ "prompt": prompt })).await;
        assert_eq!((status, reply["error"]["type"].as_str()), (400, Some("account_required")), "{reply}");
        assert!(reply["error"]["message"].as_str().unwrap().contains("other, studio"), "{reply}");
        let named = json!({ "prompt": prompt, "extra_data": { "switchyard": { "account": "other", "budget": 1 } } });
        let (status, reply) = c.post("/prompt", &admin, &named).await;
        assert_eq!(status, 402, "over its budget of 1: {reply}");
        assert_eq!(reply["error"]["type"], "does-not-fit", "{reply}");
    });
}

/// A browser signs in at `/login` (a form, or `?token=` in the address): the key goes into
/// an HttpOnly cookie that ComfyUI's paths accept, never into the access log, and a wrong
/// key gets the sign-in page again. `/v1` takes only the header.
#[test]
fn a_browser_signs_in_with_a_cookie_and_the_key_is_never_logged() {
    use std::io::Read as _;
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "acme", "runner");
    let frontend = dir.path().join("frontend");
    std::fs::create_dir_all(&frontend).unwrap();
    std::fs::write(frontend.join("index.html"), "<!doctype html><title>ComfyUI</title>").unwrap();
    std::fs::write(frontend.join("app.js"), "console.log(1)").unwrap();
    let log = dir.path().join("server.log");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.env("SWITCHYARD_LOG", "debug");
    let extra = ["--comfy-frontend", &frontend.display().to_string()];
    let mut server = serve_logged(cmd, dir.path(), &extra, std::fs::File::create(&log).unwrap().into());
    crate::support::runtime().block_on(async {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let get = |path: &str, cookie: Option<&str>| {
            let mut req = http.get(format!("{}{path}", server.url));
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            req.send()
        };
        let page = get("/", None).await.unwrap();
        assert_eq!(page.status().as_u16(), 200);
        assert!(page.text().await.unwrap().contains("Sign in"), "no cookie: the sign-in page");
        assert_eq!(get("/app.js", None).await.unwrap().status().as_u16(), 200, "the frontend's files need no key");
        let wrong = get("/login?token=sy_0000000000000000_00", None).await.unwrap();
        assert_eq!(wrong.status().as_u16(), 401);
        let signed = get(&format!("/login?token={key}"), None).await.unwrap();
        assert_eq!(signed.status().as_u16(), 303);
        let cookie = signed.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
        let pair = cookie.split(';').next().unwrap().to_string();
        let form = http
            .post(format!("{}/login", server.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("key={key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(form.status().as_u16(), 303, "the form signs in too");
        let home = get("/", Some(&pair)).await.unwrap();
        assert!(home.text().await.unwrap().contains("<title>ComfyUI</title>"), "signed in: the frontend");
        assert_eq!(
            get("/api/queue", Some(&pair)).await.unwrap().status().as_u16(),
            200,
            "the cookie opens ComfyUI's API"
        );
        assert_eq!(get(&format!("/api/queue?token={key}"), None).await.unwrap().status().as_u16(), 200);
        assert_eq!(get("/v1/runs", Some(&pair)).await.unwrap().status().as_u16(), 401, "/v1 takes only the header");
        assert_eq!(get("/no-such-file.js", None).await.unwrap().status().as_u16(), 404);
    });
    let _ = server.child.kill();
    let _ = server.child.wait();
    let mut text = String::new();
    std::fs::File::open(&log).unwrap().read_to_string(&mut text).unwrap();
    assert!(text.contains("/api/queue"), "the access log records requests: {text}");
    let secret = key.rsplit('_').next().unwrap();
    assert!(!text.contains(secret), "the key never reaches the log");
}

/// `POST /interrupt` stops the tenant's running prompt; its socket hears
/// `execution_interrupted`, then `executing` with `node: null`.
#[test]
fn interrupt_stops_the_running_prompt_and_the_socket_says_so() {
    use futures::StreamExt as _;
    let dir = tempfile::tempdir().unwrap();
    let acme = create_key(dir.path(), "acme", "runner");
    let server = serve(dir.path());
    crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let mut socket = comfy_socket(&server.url, "cli", &acme).await;
        let prompt = json!({
            "1": { "class_type": "image.noise", "inputs": { "width": 4096, "height": 4096 } },
            "2": { "class_type": "image.blur", "inputs": { "image": ["1", 0], "sigma": 60.0 } },
            "3": { "class_type": "image.save", "inputs": { "image": ["2", 0], "path": "slow.png" } },
        });
        let (status, posted) = c.post("/prompt", &acme, &json!({ "prompt": prompt, "client_id": "cli" })).await;
        assert_eq!(status, 200, "{posted}");
        let id = posted["prompt_id"].as_str().unwrap().to_string();
        loop {
            let msg = tokio::time::timeout(std::time::Duration::from_secs(60), socket.next()).await.unwrap();
            if msg.unwrap().unwrap().to_string().contains("execution_start") {
                break;
            }
        }
        assert_eq!(c.post("/interrupt", &acme, &json!({})).await.0, 200);
        let seen = messages_until_done(&mut socket, &id).await;
        let types: Vec<&str> = seen.iter().map(|m| m["type"].as_str().unwrap()).collect();
        assert!(types.contains(&"execution_interrupted"), "{types:?}");
        assert!(!types.contains(&"execution_success"), "{types:?}");
        let (_, history) = c.get(&format!("/history/{id}"), &acme).await;
        assert_eq!(history[&id]["status"]["messages"][1][0], "execution_interrupted", "{history}");
    });
}
