//! `audio.save`: write audio to a 16-bit WAV file inside the output folder.

use std::io::BufWriter;

use switchyard_engine::{
    NodeContext, NodeError, NodeSpec, Outputs, ParamKind, ParamSpec, ParamValue, PathRole, PortType, Registry, Value,
};

use crate::kit::CpuNode;

pub(crate) fn register(r: &mut Registry) -> Result<(), switchyard_engine::DuplicateNodeType> {
    r.register(save_node())
}

fn save_node() -> CpuNode {
    let spec = NodeSpec::new(
        "audio.save",
        "audio",
        "Write audio as a 16-bit WAV; {n} in the name counts up without overwriting",
    )
    .with_side_effects()
    .input("audio", PortType::Audio, "The audio to write")
    .param(ParamSpec::new(
        "path",
        ParamKind::Path { role: PathRole::Output },
        ParamValue::Text("audio_{n}.wav".into()),
        "File name inside --out",
    ));
    CpuNode::new(spec, save)
}

fn save(ctx: &NodeContext) -> Result<Outputs, NodeError> {
    let Value::Audio(audio) = ctx.input("audio")? else {
        return Err(NodeError::Internal("audio.save got a value that is not audio".into()));
    };
    if audio.channels == 0 || audio.sample_rate_hz == 0 {
        return Err(NodeError::Invalid(format!(
            "audio with {} channels at {} Hz cannot be written",
            audio.channels, audio.sample_rate_hz
        )));
    }
    let (path, file) = ctx.paths().create_output(ctx.text("path")?).map_err(|e| NodeError::Invalid(e.to_string()))?;
    let fail = |e: hound::Error| NodeError::io(&path, format!("cannot write WAV: {e}"));
    let spec = hound::WavSpec {
        channels: audio.channels,
        sample_rate: audio.sample_rate_hz,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::new(BufWriter::new(file), spec).map_err(fail)?;
    for s in audio.samples.iter() {
        writer.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16).map_err(fail)?;
    }
    writer.finalize().map_err(fail)?;
    Ok(Outputs::new().with_file(path))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use switchyard_engine::{Audio, PathRoots};

    use super::*;

    #[test]
    fn writes_a_wav_that_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let samples: Arc<[f32]> = (0..480).map(|i| ((i as f32) / 10.0).sin() * 0.5).collect();
        let audio = Audio { samples: samples.clone(), sample_rate_hz: 24_000, channels: 1 };
        let ctx = NodeContext::standalone(
            "save",
            vec![("audio", vec![Value::Audio(audio)])],
            vec![("path", ParamValue::Text("voice.wav".into()))],
            PathRoots::new(".", dir.path()),
        );
        save(&ctx).unwrap();
        let reader = hound::WavReader::open(dir.path().join("voice.wav")).unwrap();
        assert_eq!((reader.spec().sample_rate, reader.spec().channels), (24_000, 1));
        let back: Vec<i16> = reader.into_samples().map(Result::unwrap).collect();
        assert_eq!(back.len(), 480);
        assert!((f32::from(back[100]) / 32767.0 - samples[100]).abs() < 1e-4);
    }
}
