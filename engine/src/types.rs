//! Port types: the closed set of value kinds that travel along wires.

use std::fmt;

/// The type of a port. A closed enum: every wire is checked against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PortType {
    /// An RGBA image, linear-light `f32`, straight alpha.
    Image,
    /// A single-channel `f32` mask, 0 transparent to 1 opaque.
    Mask,
    /// UTF-8 text, such as a prompt.
    Text,
    /// A 64-bit signed integer.
    Int,
    /// A 64-bit float.
    Float,
    /// A boolean.
    Bool,
    /// A sequence of image frames with a frame rate.
    VideoFrames,
    /// Interleaved `f32` audio samples with a sample rate.
    Audio,
}

impl PortType {
    /// Whether a wire from a port of type `from` may feed a port of this type.
    /// Int widens to Float; nothing else converts implicitly.
    pub fn accepts(self, from: PortType) -> bool {
        self == from || (self == PortType::Float && from == PortType::Int)
    }

    /// The lowercase name used in files and messages.
    pub fn name(self) -> &'static str {
        match self {
            PortType::Image => "image",
            PortType::Mask => "mask",
            PortType::Text => "text",
            PortType::Int => "int",
            PortType::Float => "float",
            PortType::Bool => "bool",
            PortType::VideoFrames => "video_frames",
            PortType::Audio => "audio",
        }
    }
}

impl fmt::Display for PortType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
