//! Value and text sources: `text.prompt`, `value.int`, `value.float`, `value.bool`.

use switchyard_engine::{
    DuplicateNodeType, NodeContext, NodeError, NodeSpec, Outputs, ParamKind, ParamSpec, ParamValue, PortType, Registry,
    Value,
};

use crate::kit::InlineNode;

/// The longest prompt accepted, in bytes.
const PROMPT_MAX_BYTES: usize = 64 * 1024;
/// The range of `value.float`; finite so JSON can carry it.
const FLOAT_LIMIT: f64 = 1e15;

pub(crate) fn register(r: &mut Registry) -> Result<(), DuplicateNodeType> {
    let prompt = NodeSpec::new("text.prompt", "text", "A text prompt")
        .output("text", PortType::Text, "The text")
        .param(ParamSpec::new(
            "text",
            ParamKind::Text { multiline: true, max_len: PROMPT_MAX_BYTES },
            ParamValue::Text("".into()),
            "The prompt",
        ));
    r.register(InlineNode::new(prompt, |ctx| Ok(Outputs::new().with("text", Value::Text(ctx.text("text")?.into())))))?;

    let int = NodeSpec::new("value.int", "value", "An integer to wire into params such as seeds and sizes")
        .output("value", PortType::Int, "The integer")
        .param(ParamSpec::new(
            "value",
            ParamKind::Int { min: i64::MIN, max: i64::MAX },
            ParamValue::Int(0),
            "The integer",
        ));
    r.register(InlineNode::new(int, |ctx| Ok(Outputs::new().with("value", Value::Int(ctx.int("value")?)))))?;

    let float = NodeSpec::new("value.float", "value", "A number to wire into params such as strengths")
        .output("value", PortType::Float, "The number")
        .param(ParamSpec::new(
            "value",
            ParamKind::Float { min: -FLOAT_LIMIT, max: FLOAT_LIMIT },
            ParamValue::Float(0.0),
            "The number",
        ));
    r.register(InlineNode::new(float, |ctx| Ok(Outputs::new().with("value", Value::Float(ctx.float("value")?)))))?;

    let boolean = NodeSpec::new("value.bool", "value", "A switch to wire into boolean params")
        .output("value", PortType::Bool, "The switch")
        .param(ParamSpec::new("value", ParamKind::Bool, ParamValue::Bool(false), "The switch"));
    r.register(InlineNode::new(boolean, run_bool))
}

fn run_bool(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    Ok(Outputs::new().with("value", Value::Bool(ctx.bool("value")?)))
}
