//! `switchyard nodes`: the catalog the editor and server will serve too.

use anyhow::Result;
use switchyard_engine::{NodeSpec, ParamKind, Registry};

use super::Exit;

pub fn print_nodes(registry: &Registry, json: bool) -> Result<Exit> {
    let specs: Vec<&NodeSpec> = registry.specs().collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&specs)?);
        return Ok(Exit::Ok);
    }
    for spec in specs {
        println!("{}  [{}]  {}", spec.type_name, spec.category, spec.description);
        for i in &spec.inputs {
            let opt = if i.optional { ", optional" } else { "" };
            let many = if i.max_sources > 1 { format!(", up to {} wires", i.max_sources) } else { String::new() };
            println!("    in   {}: {}{opt}{many}", i.name, i.ty);
        }
        for o in &spec.outputs {
            println!("    out  {}: {}", o.name, o.ty);
        }
        for p in &spec.params {
            let default =
                p.default.as_ref().map_or_else(|| "required".to_string(), |d| format!("default {}", d.to_json()));
            println!("    param {}: {} ({default}) - {}", p.name, describe(&p.kind), p.description);
        }
    }
    Ok(Exit::Ok)
}

fn describe(kind: &ParamKind) -> String {
    match kind {
        ParamKind::Path { role } => format!("{role:?} path").to_lowercase(),
        other => other.describe(),
    }
}
