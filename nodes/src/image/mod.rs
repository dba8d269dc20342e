//! Built-in image nodes. Every op works on linear-light `f32` RGBA with straight alpha;
//! filters (blur, resize) work premultiplied so transparent edges do not darken.

mod adjust;
mod blend;
mod blur;
mod compare;
mod crop;
pub mod embedded;
mod grid;
mod io_load;
mod io_save;
mod mask;
mod noise;
mod resize;
mod simple;

use switchyard_engine::{DuplicateNodeType, Registry};

pub(crate) fn register(r: &mut Registry) -> Result<(), DuplicateNodeType> {
    r.register(io_load::ImageLoad::new())?;
    r.register(io_save::node())?;
    r.register(noise::node())?;
    r.register(resize::node())?;
    r.register(crop::node())?;
    r.register(blur::node())?;
    r.register(adjust::node())?;
    r.register(blend::blend_node())?;
    r.register(blend::composite_node())?;
    r.register(grid::node())?;
    r.register(mask::from_image_node())?;
    r.register(simple::invert_node())?;
    r.register(simple::fill_node())?;
    r.register(simple::scale_node())?;
    r.register(compare::node())?;
    Ok(())
}

/// The `image` port description shared by most nodes.
const IMAGE_IN: &str = "The image to process";
const IMAGE_OUT: &str = "The result";
