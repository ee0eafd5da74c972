//! The values of the CPU backend's (`burn-flex`) tensors, for the fused kernels in
//! `activation`, `loss` and `optimizer`, and new tensors from computed values.

use std::borrow::Cow;

use burn::backend::{DType, Shape};
use burn::prelude::*;
use burn_flex::FlexTensor;

/// The values of a dense f32 tensor, borrowed; `None` for other dtypes and strided views.
pub(crate) fn dense_f32(x: &FlexTensor) -> Option<&[f32]> {
    let layout = x.layout();
    (x.dtype() == DType::F32 && layout.is_contiguous() && layout.start_offset() == 0)
        .then(|| &x.storage::<f32>()[..layout.num_elements()])
}

/// The values as f32 in row-major order: borrowed when dense f32, else converted.
pub(crate) fn f32_values(x: &FlexTensor) -> Cow<'_, [f32]> {
    match dense_f32(x) {
        Some(values) => Cow::Borrowed(values),
        None => Cow::Owned(
            x.clone()
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("converted to f32"),
        ),
    }
}

pub(crate) fn from_values(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// A tensor of `x`'s shape holding `values`.
pub(crate) fn like(x: &FlexTensor, values: Vec<f32>) -> FlexTensor {
    from_values(values, x.layout().shape().clone())
}
