//! ComfyUI's API on `switchyard serve`, with a real HTTP client: Switchyard's node types in
//! the shape of ComfyUI's `/object_info`, at ComfyUI's paths and under `/api/`.

use serde_json::json;

use super::support::{Client, create_key, serve};

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

        let (status, one) = c.get("/api/object_info/image.blur", &key).await;
        assert_eq!(status, 200);
        assert_eq!(one, json!({ "image.blur": blur.clone() }), "under /api/ too, one class");
        assert_eq!(c.get("/api/object_info/KSampler", &key).await.1, json!({}), "a class this server lacks: {{}}");
        let (status, _) = c.send(reqwest::Method::GET, "/object_info", None, None).await;
        assert_eq!(status, 401, "a key is needed here as everywhere");
    });
}
