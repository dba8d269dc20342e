//! `switchyard doctor`: what this machine offers for local work.

use std::path::PathBuf;

use anyhow::Result;
use switchyard_engine::capability::LocalCapability;
use switchyard_session::settings::Config;

use super::Exit;

pub fn doctor(json: bool, cache_dir: Option<PathBuf>, config: &Config) -> Result<Exit> {
    let cache_dir =
        cache_dir.or_else(|| dirs::cache_dir().map(|d| d.join("switchyard"))).unwrap_or_else(|| PathBuf::from("."));
    let settings = config.onnx_settings();
    let cap = switchyard_nodes::probe::probe(&cache_dir, &settings.runtime);
    if json {
        let doc = serde_json::json!({
            "local": &cap,
            "local_gpu": cap.has_gpu(),
            "cache_dir": cache_dir,
            "config_file": config.source,
            "models_dir": settings.models_dir,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_report(&cap, &cache_dir);
        let file = config.source.as_ref().map_or_else(|| "none (defaults)".into(), |p| p.display().to_string());
        println!("config     {file}");
        println!("models     {}", settings.models_dir.display());
    }
    Ok(Exit::Ok)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

fn print_report(cap: &LocalCapability, cache_dir: &std::path::Path) {
    println!("cpu        {} ({} cores, {} threads)", cap.cpu_model, cap.cpu_cores, cap.cpu_threads);
    println!("memory     {} total, {} available", gib(cap.memory_total_bytes), gib(cap.memory_available_bytes));
    if cap.adapters.is_empty() {
        println!("adapters   none found (no Vulkan, GL, Metal or DX12 driver)");
    }
    for a in &cap.adapters {
        let memory = a.memory_bytes.map_or_else(|| "memory unknown".to_string(), gib);
        println!("adapter    {} [{}] vendor {:#06x}, {:?}, {memory}", a.name, a.backend, a.vendor, a.device_type);
    }
    let gpu = if cap.has_gpu() { "yes" } else { "no (software adapters such as lavapipe do not count)" };
    println!("local gpu  {gpu}");
    match (&cap.onnx, &cap.onnx_error) {
        (Some(o), _) => {
            println!("onnx       ONNX Runtime {} at {}", o.version, o.library);
            println!("providers  {} (using {})", o.providers.join(", "), o.chosen_provider);
        }
        (None, Some(e)) => println!("onnx       unavailable: {e}"),
        (None, None) => println!("onnx       unavailable"),
    }
    let free = cap.cache_free_bytes.map_or_else(|| "unknown".to_string(), gib);
    println!("cache      {free} free at {}", cache_dir.display());
}
